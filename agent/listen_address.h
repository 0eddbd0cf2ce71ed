// --web.listen-address in Prometheus style: "host:port", ":port" (all interfaces), "[v6]:port".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gatewatch {

struct ListenAddress {
  std::string host;  // as written, IPv6 in brackets ("[::1]"); "" for ":port"
  uint16_t port = 0;

  // The host a client on this machine uses to reach the listener: the wildcard addresses
  // ("", "0.0.0.0", "[::]") map to loopback of the same family.
  std::string LocalHost() const;
};

// nullopt when `text` has no ":port" or the port is not 0..65535. Port 0 is valid (any free
// port). TODO(after the merge of agent/base/strings ParseHostPort): call ParseHostPort for the
// host/port split and keep only the listen-address rules (":port", wildcards) here.
std::optional<ListenAddress> ParseListenAddress(std::string_view text);

}  // namespace gatewatch
