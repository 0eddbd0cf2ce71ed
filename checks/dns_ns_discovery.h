// Authoritative NS discovery for the "dns" check: find the zone of a name (its SOA), the zone's NS
// servers, and each server's address, so the run can ask each one directly without recursion.
//
// Loop thread only. Queries go through the resolver `resolver()` returns at the time of each
// query (a cached ForServer() channel may be swept between runs, so no reference is kept).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/io/dns_resolver.h"
#include "checks/api/reason.h"

namespace gatewatch {

// Zone, then NS set, one query at a time. Destroying it (or Cancel()) cancels the query in flight
// without calling back.
class NsDiscovery {
 public:
  struct Found {
    std::vector<std::string> ns_names;  // sorted, at most max_servers
    size_t not_asked = 0;               // NS names past max_servers
  };
  // Exactly one of them is called, once, from the loop (never inside Start()). Either may destroy
  // this NsDiscovery: it touches nothing after calling.
  using FoundCallback = std::function<void(Found)>;
  using FailCallback = std::function<void(Reason, std::string detail)>;

  NsDiscovery(std::function<DnsResolver&()> resolver, size_t max_servers)
      : resolver_(std::move(resolver)), max_servers_(max_servers) {}
  NsDiscovery(const NsDiscovery&) = delete;
  NsDiscovery& operator=(const NsDiscovery&) = delete;

  // Finds the NS set of `zone`, or first the zone of `name` (from the SOA its resolution reports)
  // when `zone` is empty.
  void Start(const std::string& name, const std::string& zone, FoundCallback found,
             FailCallback fail);
  void Cancel() { query_.reset(); }

  bool running() const { return query_ != nullptr; }
  // "" until known (the zone query has not answered yet).
  const std::string& zone() const { return zone_; }
  // What it is doing, for a timeout detail: "finding the zone of the name", "finding the NS
  // servers of the zone".
  const char* stage() const { return stage_; }

 private:
  void OnZone(int status, const unsigned char* reply, int len);
  void AskNs();
  void OnNs(int status, const unsigned char* reply, int len);

  const std::function<DnsResolver&()> resolver_;
  const size_t max_servers_;
  std::string name_;
  std::string zone_;
  const char* stage_ = "finding the zone of the name";
  FoundCallback found_;
  FailCallback fail_;
  std::unique_ptr<DnsQuery> query_;
};

// The `resolver` label of the i-th NS name: the name if it is a plain hostname (IsPlainHostname),
// else a bounded placeholder "ns_<i>" until its address is known (a name from the wire may hold
// any byte and would break /metrics).
std::string NsLabel(const std::string& ns_name, size_t i);

// The address to ask of an NS server, from the resolution of its name: IPv4 first, else the
// first address.
struct NsAddress {
  std::string address;            // numeric; "" when none
  std::string server;             // "ip:port" / "[v6]:port" with `port`; "" when none
  Reason reason = Reason::kNone;  // without an address: dns_nodata or the resolve status's reason
  std::string error;              // without an address: "no addresses" or c-ares's words
};
NsAddress PickNsAddress(const ResolveResult& r, int port);

}  // namespace gatewatch
