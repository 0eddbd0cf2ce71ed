// A real dnsmasq started by a test as a resolver on 127.0.0.1 and a free port, with no upstream,
// no /etc/hosts and no system config: it answers only what the arguments say
// (`--address=/www.example.test/10.0.0.1`, `--host-record=...`; `--local=/example.test/` makes
// other names under example.test NXDOMAIN).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/testlib/process.h"

namespace gatewatch::testing {

inline constexpr char kDnsmasqBinary[] = "/usr/sbin/dnsmasq";

class Dnsmasq {
 public:
  explicit Dnsmasq(std::vector<std::string> records);
  ~Dnsmasq();

  // Starts it and waits (at most 5 s) until it answers a query over UDP.
  bool Start(std::string* error);
  int port() const { return port_; }
  std::string server() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  std::vector<std::string> records_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace gatewatch::testing
