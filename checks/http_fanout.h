// The pure parts of `fanout: true` on an http check: which resolved addresses a run probes (all of
// them, deduplicated, in address order, at most kMaxFanoutBackends), and the run's verdict from
// the per-address results: one dead backend behind a name fails the run with that backend's
// reason. Table-tested in tests/unit/http_fanout_test.cc. And the fan-out run built from them
// (StartFanoutRun), covered by tests/integration/http_fanout_test.cc.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/io/dns_resolver.h"
#include "checks/api/check.h"
#include "checks/api/reason.h"

namespace gatewatch {

struct HttpCheckConfig;  // checks/http_check.h

inline constexpr size_t kMaxFanoutBackends = 32;

struct FanoutAddresses {
  std::vector<std::string> probe;  // numeric addresses: IPv4 first, each family in address order
  size_t not_probed = 0;           // addresses beyond the cap, counted
};

FanoutAddresses SelectBackends(const std::vector<ResolvedAddress>& addresses);

struct BackendResult {
  std::string address;  // "ip:port" as probed
  Reason reason = Reason::kNone;
  std::string detail;
};

struct FanoutVerdict {
  size_t up = 0;
  // kNone when every probed backend is up; else the most frequent reason among the down ones
  // (the first down backend's on a tie).
  Reason reason = Reason::kNone;
  // Index of the backend whose transfer stands for the run in the ordinary http metrics: the
  // first down one, else the first (-1 for no backends).
  int representative = -1;
  std::string detail;  // "3/3 backends up" or "1/3 backends down: 127.0.0.4:80 connect() ..."
};

FanoutVerdict CombineBackends(const std::vector<BackendResult>& backends, size_t not_probed);

// Starts one run of a `fanout: true` http check: resolve the name (every A/AAAA), then one
// transfer per selected address, all at once, each connecting to its address while URL, Host and
// SNI stay the name's. The run's Result is CombineBackends' verdict with the representative
// backend's http metrics. May call `done` before returning. Abort() times out the backends still
// running; the finished ones keep their results.
std::unique_ptr<CheckRun> StartFanoutRun(std::shared_ptr<const HttpCheckConfig> cfg,
                                         const RunContext& ctx, DoneCallback done);

}  // namespace gatewatch
