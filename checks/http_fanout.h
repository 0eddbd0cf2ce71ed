// The pure parts of `fanout: true` on an http check: which resolved addresses a run probes (all of
// them, deduplicated, in address order, at most kMaxFanoutBackends), and the run's verdict from
// the per-address results: one dead backend behind a name fails the run with that backend's
// reason. Table-tested in tests/unit/http_fanout_test.cc. And the fan-out run built from them
// (StartFanoutRun), covered by tests/integration/http_fanout_test.cc.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/io/dns_resolver.h"
#include "checks/api/check.h"
#include "checks/api/reason.h"

namespace gatewatch {

struct HttpCheckConfig;  // checks/http_check.h

inline constexpr size_t kMaxFanoutBackends = 32;

// When a fan-out run fails: kAll when any backend is down (the default), kAny only when every
// backend is down, kQuorum when no strict majority of the probed backends is up.
enum class FanoutPolicy { kAll, kAny, kQuorum };
std::optional<FanoutPolicy> ParseFanoutPolicy(std::string_view text);
std::string_view FanoutPolicyName(FanoutPolicy policy);

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
  // kNone when the policy is met; else the most frequent reason among the down backends (the
  // first down backend's on a tie).
  Reason reason = Reason::kNone;
  // Index of the backend whose transfer stands for the run in the ordinary http metrics: on a
  // failed run the first down one, on a passing run the first up one (-1 for no backends).
  int representative = -1;
  // "3/3 backends up", "1/3 backends down: 127.0.0.4:80 connect() ..." or, passing under any or
  // quorum, "1/3 backends down (policy any): ...".
  std::string detail;
};

FanoutVerdict CombineBackends(const std::vector<BackendResult>& backends, size_t not_probed,
                              FanoutPolicy policy = FanoutPolicy::kAll);

// Starts one run of a `fanout: true` http check: resolve the name (every A/AAAA), then one
// transfer per selected address, all at once, each connecting to its address while URL, Host and
// SNI stay the name's. The run's Result is CombineBackends' verdict with the representative
// backend's http metrics. May call `done` before returning. Abort() times out the backends still
// running; the finished ones keep their results.
std::unique_ptr<CheckRun> StartFanoutRun(std::shared_ptr<const HttpCheckConfig> cfg,
                                         const RunContext& ctx, DoneCallback done);

}  // namespace gatewatch
