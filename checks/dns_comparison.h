// The resolver comparison of the "dns" check: one record asked of many servers, their answers
// compared (CompareOutcomes), and the run's Result built from what each server said: the
// reason and detail, the observations and the probe's report. In authoritative mode the
// consistency rule (checks/dns_consistency.h) comes first.
//
// Pure: the run (checks/dns_check.cc) owns the I/O and hands its per-server state in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "checks/api/metric.h"
#include "checks/api/result.h"
#include "checks/dns_answers.h"
#include "checks/dns_check.h"

namespace gatewatch {

struct DnsMetrics {
  MetricDesc ratio;
  MetricDesc up;
  MetricDesc match;
  MetricDesc rcode;
  MetricDesc ttl;
  MetricDesc duration;
  MetricDesc serial;
  MetricDesc ns_info;  // authoritative: which NS name is at which position
};
// Created once and leaked on purpose: Observations point at these until the process exits.
const DnsMetrics& DnsCheckMetrics();

// What one server asked in a run (a configured resolver, or an authoritative NS server) said.
struct DnsServerState {
  std::string label;    // a configured resolver's address (its `resolver` label), or an NS's plain
                        // hostname or address (authoritative: the label is ns_<position>)
  std::string ns_name;  // authoritative: the NS name from the wire, to resolve (any bytes)
  std::string server;   // "ip:port" (authoritative: known once the NS name is resolved)
  TimePoint started{};
  bool answer_done = false;
  bool soa_done = false;
  Duration elapsed{};
  int rcode = -1;  // -1: no reply
  ResolverOutcome outcome;
  std::string note;  // why there is no answer ("no answer within 500 ms", "malformed: ...")
  std::optional<uint32_t> serial;
  bool done() const { return answer_done && soa_done; }
};

// A run as the comparison sees it. References only: valid during the call.
struct DnsRunView {
  const DnsCheckConfig& cfg;
  const std::string& zone;  // authoritative: the zone asked ("" until known)
  const std::vector<DnsServerState>& servers;
  size_t ns_not_asked = 0;  // NS servers past DnsCheckConfig::kMaxAuthoritative
};

// The Result of a run whose servers are all done (answered, failed or timed out).
Result EvaluateDnsRun(const DnsRunView& run);
// The Result of a run that ended before any server was asked (zone or NS discovery failed or
// timed out): `reason` and `detail` with the report of what is known.
Result EarlyDnsFailure(const DnsRunView& run, Reason reason, std::string detail);

}  // namespace gatewatch
