#include "checks/http_check.h"

#include <strings.h>

#include <algorithm>

#include "agent/io/dns_resolver.h"
#include "checks/api/check_run_base.h"
#include "checks/api/request_log.h"
#include "checks/http_fanout.h"
#include "checks/http_report.h"

namespace gatewatch {

namespace {

// One run without fan-out: HttpRun (resolve -> transfer), then the expectations.
class HttpCheckRun final : public CheckRunBase {
 public:
  HttpCheckRun(std::shared_ptr<const HttpCheckConfig> cfg, const RunContext& ctx, DoneCallback done)
      : CheckRunBase(std::move(done)),
        cfg_(std::move(cfg)),
        services_(ctx.services),
        started_(ctx.started),
        request_id_(cfg_->request_id_header.empty() ? std::string() : NewProbeRequestId()),
        run_(cfg_, *services_.curl, services_.clock, Target(ctx), [this] { OnDone(); }) {}

  // May call `done` before returning (nothing to resolve and curl could not be set up).
  void Begin() {
    running_ = true;
    run_.Begin();
  }

  Result Abort() override {
    if (!running_) {
      // Abort is only called on a run in flight; anything else is a scheduler bug.
      return Result::Failure(Reason::kInternalError, "http run aborted while not running");
    }
    running_ = false;
    run_.Abort(services_.clock.Now() - started_);
    Result result = Result::Failure(run_.failure(), run_.failure_detail());
    Describe(result);
    return result;
  }

 private:
  void OnDone() {
    running_ = false;
    Result result = run_.failure() != Reason::kNone
                        ? Result::Failure(run_.failure(), run_.failure_detail())
                        : EvaluateHttpOutcome(*cfg_, *cfg_, *run_.outcome());
    Describe(result);
    Finish(std::move(result));  // `this` may be gone now
  }

  HttpRun::Target Target(const RunContext& ctx) const {
    HttpRun::Target t = HttpCheckTarget(*cfg_, services_, ctx.deadline);
    if (!request_id_.empty()) t.extra_header = cfg_->request_id_header + ": " + request_id_;
    return t;
  }

  void Describe(Result& result) const {
    DescribeHttpRun(*cfg_, run_.outcome(), run_.resolve_time(), run_.resolved_text(),
                    services_.clock.WallNow(), result);
    // The key the agent joins nginx's log lines by (agent/request_log_attach.h): early in the
    // report (after the url), where the history's report cap never cuts it.
    if (!request_id_.empty()) {
      auto& report = result.report;
      auto at = std::find_if(report.begin(), report.end(),
                             [](const auto& kv) { return kv.first == "url"; });
      report.insert(at == report.end() ? report.begin() : at + 1, {"request_id", request_id_});
    }
  }

  const std::shared_ptr<const HttpCheckConfig> cfg_;
  CheckServices& services_;
  const TimePoint started_;
  const std::string request_id_;  // "" when the check sends none
  bool running_ = false;
  HttpRun run_;  // destroying it cancels the run silently
};

class HttpCheck final : public Check {
 public:
  HttpCheck(CheckSpec spec, std::shared_ptr<const HttpCheckConfig> cfg)
      : Check(std::move(spec)), cfg_(std::move(cfg)) {}

  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    if (cfg_->fanout) return StartFanoutRun(cfg_, ctx, std::move(done));
    auto run = std::make_unique<HttpCheckRun>(cfg_, ctx, std::move(done));
    run->Begin();
    return run;
  }

 private:
  std::shared_ptr<const HttpCheckConfig> cfg_;
};

}  // namespace

HttpRun::Target HttpCheckTarget(const HttpCheckConfig& cfg, CheckServices& services,
                                TimePoint deadline) {
  HttpRun::Target t;
  t.host = cfg.host;
  t.ChooseResolver(*services.dns, cfg.resolver, cfg.resolver);
  t.keep_body = cfg.keeps_body();
  t.deadline = deadline;
  return t;
}

std::shared_ptr<const HttpCheckConfig> ParseHttpCheckConfig(const ConfigNode& node) {
  auto cfg = std::make_shared<HttpCheckConfig>();
  ParseHttpRequest(node, *cfg);
  ParseHttpExpect(node.Child("expect"), cfg->head, *cfg);
  if (ConfigNode resolver = node.Child("resolver"); resolver.IsDefined()) {
    auto server = DnsResolver::ParseServer(resolver.AsString());
    if (!server) resolver.Fail("must be ip[:port]");
    cfg->resolver = *server;
  }
  cfg->fanout = node.BoolOr("fanout", false);
  if (cfg->fanout && DnsResolver::IsIpLiteral(cfg->host)) {
    node.Child("fanout").Fail("needs a host name in url, not an address");
  }
  if (ConfigNode policy = node.Child("fanout_policy"); policy.IsDefined()) {
    std::optional<FanoutPolicy> p = ParseFanoutPolicy(policy.AsString());
    if (!p) policy.Fail("must be all, any or quorum");
    if (!cfg->fanout) policy.Fail("needs fanout: true");
    cfg->fanout_policy = *p;
  }
  if (ConfigNode header = node.Child("request_id_header"); header.IsDefined()) {
    std::string name = header.AsString();
    if (!name.empty() && !IsHttpToken(name)) header.Fail("must be a header name or \"\"");
    cfg->request_id_header = name;
  }
  // A configured header of that name wins: the user sends their own id.
  for (const std::string& h : cfg->request_headers) {
    std::string_view hv = h;
    if (!cfg->request_id_header.empty() && hv.size() > cfg->request_id_header.size() &&
        strncasecmp(hv.data(), cfg->request_id_header.c_str(), cfg->request_id_header.size()) ==
            0 &&
        (hv[cfg->request_id_header.size()] == ':' || hv[cfg->request_id_header.size()] == ';')) {
      cfg->request_id_header.clear();
    }
  }
  return cfg;
}

CheckType HttpCheckType() {
  const HttpMetrics& m = HttpCheckMetrics();
  CheckType type;
  type.name = "http";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return std::make_unique<HttpCheck>(spec, ParseHttpCheckConfig(node));
  };
  type.metrics = {&m.status_code,    &m.responses,  &m.phase_seconds,
                  &m.cert_expiry,    &m.redirects,  &m.http_version,
                  &m.content_length, &m.backend_up, &m.backends};
  return type;
}

}  // namespace gatewatch
