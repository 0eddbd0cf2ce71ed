// The "dns" check: asks each configured resolver the same question, each on its own c-ares
// channel (so a broken one is reported, not skipped), and compares the answers: with `expect`,
// or with each other (the majority answer is the reference). With `authoritative: true` it finds
// the zone's NS servers, asks each directly without recursion and compares SOA serials too.
//
// Config (errors name their exact path, e.g. `checks[2].resolvers[1]: must be ip[:port]`):
//   query: {name: www.example.com, type: A}   type: A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, CAA
//   resolvers: ["127.0.0.1:5301", "10.0.0.2"] ip[:port] (port 53 by default), at most 32; or the
//                                             name of a top-level `resolvers:` list. Required
//                                             unless authoritative (then: who finds the NS set;
//                                             default the system resolver)
//   expect: ["203.0.113.10"]                  optional: the answer set that counts as propagated
//   min_ratio: 1.0                            success when at least this share of servers match
//   authoritative: false
//   zone: example.com                         authoritative only; default: the zone of the SOA
//                                             the name's resolution reports
//   authoritative_port: 53                    authoritative only: port the NS servers listen on
//   query_timeout: 1s                         per try; default timeout/4 (c-ares doubles it on
//   tries: 2                                  each retry: 2 tries take 3x query_timeout)
//
// Units: this one holds the config and the run (its I/O); checks/dns_ns_discovery.h finds the
// NS servers, checks/dns_comparison.h turns what the servers said into the Result,
// checks/dns_consistency.h is the authoritative rule, checks/dns_answers.h reads the wire.
//
// Channels: every run asks services.dns.ForServer(...) for the per-server resolver, so channels
// are shared across runs and checks and never built per query (see DnsResolver::ForServer).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "checks/api/check_type.h"
#include "checks/dns_answers.h"

namespace gatewatch {

// The "dns" check type. Registered by checks/check_types.cc.
CheckType DnsCheckType();

struct DnsCheckConfig {
  static constexpr size_t kMaxResolvers = 32;
  static constexpr size_t kMaxAuthoritative = 16;  // NS servers asked; the rest are counted

  std::string name;                    // as asked (no trailing dot)
  int type = 1;                        // ns_t_a
  std::vector<std::string> resolvers;  // "ip:port"; the `resolver` label values
  std::optional<DnsAnswerSet> expect;
  std::vector<std::string> expect_records;  // canonical, for reports
  double min_ratio = 1.0;
  bool authoritative = false;
  std::string zone;
  int authoritative_port = 53;
  Duration query_timeout{};
  int tries = 2;
};

// Reads the check's own keys; throws ConfigError naming the exact path.
std::shared_ptr<const DnsCheckConfig> ParseDnsCheckConfig(const CheckSpec& spec,
                                                          const ConfigNode& node);

}  // namespace gatewatch
