#include "checks/http_fanout.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

#include "checks/api/check_run_base.h"
#include "checks/http_check.h"
#include "checks/http_expect.h"
#include "checks/http_report.h"
#include "checks/http_run.h"
#include "checks/reason_vote.h"

namespace gatewatch {

namespace {

// One lookup (every address), then one HttpRun per probed address, all at once. Each connects
// to its address through CURLOPT_CONNECT_TO, per transfer: concurrent CURLOPT_RESOLVE pins of
// one host would share curl's DNS cache.
class FanoutRun final : public CheckRunBase {
 public:
  FanoutRun(std::shared_ptr<const HttpCheckConfig> cfg, const RunContext& ctx, DoneCallback done)
      : CheckRunBase(std::move(done)),
        cfg_(std::move(cfg)),
        services_(ctx.services),
        started_(ctx.started),
        deadline_(ctx.deadline),
        lookup_(cfg_, *services_.curl, services_.clock, LookupTarget(), [this] { OnResolved(); }) {}

  // May call `done` before returning.
  void Begin() {
    running_ = true;
    lookup_.Begin();
  }

  Result Abort() override {
    if (!running_) {
      // Abort is only called on a run in flight; anything else is a scheduler bug.
      return Result::Failure(Reason::kInternalError, "http run aborted while not running");
    }
    running_ = false;
    Duration elapsed = services_.clock.Now() - started_;
    if (!lookup_.finished()) {
      lookup_.Abort(elapsed);
      Result result = Result::Failure(lookup_.failure(), lookup_.failure_detail());
      Describe(nullptr, result);
      return result;
    }
    // The backends still running time out; the finished ones keep their results.
    for (Backend& b : backends_) {
      if (b.run->finished()) continue;
      b.run->Abort(elapsed);
      b.result = Result::Failure(b.run->failure(), b.run->failure_detail());
    }
    return FanoutResult();
  }

 private:
  struct Backend {
    std::string address;  // "ip:port"
    std::unique_ptr<HttpRun> run;
    Result result;  // set when done (or aborted)
  };

  HttpRun::Target LookupTarget() const {
    HttpRun::Target t = HttpCheckTarget(*cfg_, services_, deadline_);
    t.resolve_only = true;
    return t;
  }

  void Describe(const HttpOutcome* shown, Result& result) const {
    DescribeHttpRun(*cfg_, shown, lookup_.resolve_time(), lookup_.resolved_text(),
                    services_.clock.WallNow(), result);
  }

  void OnResolved() {
    if (lookup_.failure() != Reason::kNone) {
      running_ = false;
      Result result = Result::Failure(lookup_.failure(), lookup_.failure_detail());
      Describe(nullptr, result);
      Finish(std::move(result));
      return;
    }
    FanoutAddresses chosen = SelectBackends(lookup_.addresses());
    resolved_count_ = chosen.probe.size() + chosen.not_probed;
    not_probed_ = chosen.not_probed;
    backends_.resize(chosen.probe.size());
    pending_ = backends_.size() + 1;  // +1 until every transfer is started: no early Finish
    for (size_t i = 0; i < backends_.size(); ++i) {
      HttpRun::Target target;
      target.host = chosen.probe[i];  // numeric: no lookup
      target.connect_port = cfg_->port;
      target.resolver = services_.dns;  // never asked
      target.keep_body = cfg_->keeps_body();
      target.deadline = deadline_;
      backends_[i].address = FormatHostPort(chosen.probe[i], cfg_->port);
      backends_[i].run = std::make_unique<HttpRun>(cfg_, *services_.curl, services_.clock, target,
                                                   [this, i] { OnBackendDone(i); });
    }
    for (auto& b : backends_) b.run->Begin();  // a setup failure calls back at once
    OnBackendSettled();
  }

  void OnBackendDone(size_t i) {
    Backend& b = backends_[i];
    b.result = b.run->failure() != Reason::kNone
                   ? Result::Failure(b.run->failure(), b.run->failure_detail())
                   : EvaluateHttpOutcome(*cfg_, *cfg_, *b.run->outcome());
    OnBackendSettled();
  }

  void OnBackendSettled() {
    if (--pending_ > 0) return;
    running_ = false;
    Finish(FanoutResult());  // `this` may be gone now
  }

  Result FanoutResult() const {
    std::vector<BackendResult> results;
    for (const Backend& b : backends_) {
      results.push_back({b.address, b.result.reason, b.result.detail});
    }
    FanoutVerdict v = CombineBackends(results, not_probed_, cfg_->fanout_policy);
    Result result = v.reason == Reason::kNone ? Result::Success() : Result::Failure(v.reason, "");
    result.detail = v.detail;
    const HttpOutcome* shown =
        v.representative >= 0 ? backends_[v.representative].run->outcome() : nullptr;
    Describe(shown, result);
    DescribeFanoutBackends(results, resolved_count_, not_probed_, result);
    return result;
  }

  const std::shared_ptr<const HttpCheckConfig> cfg_;
  CheckServices& services_;
  const TimePoint started_;
  const TimePoint deadline_;
  bool running_ = false;
  HttpRun lookup_;
  // One entry per probed address; sized once before any transfer starts. Destroying a run
  // cancels its lookup and transfers silently: no callback may reach a dead run.
  std::vector<Backend> backends_;
  size_t pending_ = 0;
  size_t resolved_count_ = 0;
  size_t not_probed_ = 0;
};

}  // namespace

std::unique_ptr<CheckRun> StartFanoutRun(std::shared_ptr<const HttpCheckConfig> cfg,
                                         const RunContext& ctx, DoneCallback done) {
  auto run = std::make_unique<FanoutRun>(std::move(cfg), ctx, std::move(done));
  run->Begin();
  return run;
}

FanoutAddresses SelectBackends(const std::vector<ResolvedAddress>& addresses) {
  // Binary form sorts numerically ("127.0.0.10" after "127.0.0.2"); the family byte puts v4 first.
  std::vector<std::pair<std::array<unsigned char, 17>, std::string>> keyed;
  for (const auto& a : addresses) {
    std::array<unsigned char, 17> key{};
    key[0] = a.family == AF_INET ? 4 : 6;
    if (inet_pton(a.family, a.address.c_str(), key.data() + 1) != 1) continue;
    keyed.emplace_back(key, a.address);
  }
  std::sort(keyed.begin(), keyed.end());
  keyed.erase(std::unique(keyed.begin(), keyed.end()), keyed.end());
  FanoutAddresses out;
  for (const auto& [key, address] : keyed) {
    if (out.probe.size() == kMaxFanoutBackends) {
      ++out.not_probed;
    } else {
      out.probe.push_back(address);
    }
  }
  return out;
}

std::optional<FanoutPolicy> ParseFanoutPolicy(std::string_view text) {
  if (text == "all") return FanoutPolicy::kAll;
  if (text == "any") return FanoutPolicy::kAny;
  if (text == "quorum") return FanoutPolicy::kQuorum;
  return std::nullopt;
}

std::string_view FanoutPolicyName(FanoutPolicy policy) {
  switch (policy) {
    case FanoutPolicy::kAny:
      return "any";
    case FanoutPolicy::kQuorum:
      return "quorum";
    case FanoutPolicy::kAll:
      break;
  }
  return "all";
}

FanoutVerdict CombineBackends(const std::vector<BackendResult>& backends, size_t not_probed,
                              FanoutPolicy policy) {
  FanoutVerdict v;
  ReasonVote votes;
  std::string down;
  size_t listed = 0;
  int first_down = -1;
  int first_up = -1;
  for (size_t i = 0; i < backends.size(); ++i) {
    const BackendResult& b = backends[i];
    if (b.reason == Reason::kNone) {
      ++v.up;
      if (first_up < 0) first_up = static_cast<int>(i);
      continue;
    }
    if (first_down < 0) first_down = static_cast<int>(i);
    votes.Add(b.reason);
    if (listed++ < 3) {
      down += (down.empty() ? "" : "; ") + b.address + " " + std::string(ReasonName(b.reason)) +
              ": " + b.detail;
    } else if (listed == 4) {
      down += "; ...";
    }
  }
  bool met = false;
  switch (policy) {
    case FanoutPolicy::kAll:
      met = v.up == backends.size();
      break;
    case FanoutPolicy::kAny:
      met = v.up > 0;
      break;
    case FanoutPolicy::kQuorum:
      met = 2 * v.up > backends.size();
      break;
  }
  v.reason = met ? Reason::kNone : votes.Winner(Reason::kNone);
  v.representative = met ? first_up : first_down;
  if (v.representative < 0 && !backends.empty()) v.representative = 0;
  std::string total = std::to_string(backends.size());
  std::string rest =
      not_probed > 0 ? " (" + std::to_string(not_probed) + " more addresses not probed)" : "";
  std::string down_count = std::to_string(backends.size() - v.up) + "/" + total + " backends down";
  if (backends.empty()) {
    v.reason = Reason::kDnsNodata;
    v.detail = "no addresses to probe";
  } else if (v.up == backends.size()) {
    v.detail = total + "/" + total + " backends up" + rest;
  } else if (met) {
    v.detail =
        down_count + " (policy " + std::string(FanoutPolicyName(policy)) + ")" + rest + ": " + down;
  } else {
    v.detail =
        down_count +
        (policy == FanoutPolicy::kAll ? ""
                                      : " (policy " + std::string(FanoutPolicyName(policy)) + ")") +
        rest + ": " + down;
  }
  return v;
}

}  // namespace gatewatch
