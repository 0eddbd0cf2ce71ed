#include "checks/tcp_check.h"

#include <algorithm>

#include "agent/base/strings.h"
#include "agent/base/units.h"
#include "checks/api/check_run_base.h"
#include "checks/http_report.h"

namespace gatewatch {

const TcpMetrics& TcpCheckMetrics() {
  static const TcpMetrics* metrics = new TcpMetrics();
  return *metrics;
}

std::shared_ptr<const TcpCheckConfig> ParseTcpCheckConfig(const ConfigNode& node) {
  auto cfg = std::make_shared<TcpCheckConfig>();
  ConfigNode address = node.Required("address");
  std::optional<HostPort> hp = ParseHostPort(address.AsString(), 0);
  if (!hp || hp->port == 0) address.Fail("must be host:port (a port is required)");
  cfg->target.host = hp->host;
  cfg->target.port = hp->port;
  cfg->target.tls = node.BoolOr("tls", false);
  for (const char* key : {"server_name", "insecure", "ca_file", "cert_file", "key_file"}) {
    if (!cfg->target.tls && node.Has(key)) node.Child(key).Fail("needs tls: true");
  }
  cfg->target.server_name = node.StringOr("server_name", "");
  cfg->target.insecure = node.BoolOr("insecure", false);
  cfg->target.ca_file = node.StringOr("ca_file", "");
  cfg->target.cert_file = node.StringOr("cert_file", "");
  cfg->target.key_file = node.StringOr("key_file", "");
  if (!cfg->target.key_file.empty() && cfg->target.cert_file.empty()) {
    node.Child("key_file").Fail("needs cert_file");
  }
  cfg->send = node.StringOr("send", "");
  if (ConfigNode expect = node.Child("expect"); expect.IsDefined()) {
    std::string error;
    cfg->expect = LinearRegex::Compile(expect.AsString(), &error);
    if (cfg->expect == nullptr) expect.Fail("invalid regular expression: " + error);
  }
  if (ConfigNode max = node.Child("max_bytes"); max.IsDefined()) {
    cfg->max_bytes = max.AsBytes();
    if (cfg->max_bytes < 1 || cfg->max_bytes > kTcpMaxBytesLimit) {
      max.Fail("must be between 1 and 1MiB");
    }
    if (cfg->expect == nullptr) max.Fail("needs expect");
  }
  return cfg;
}

namespace {

class TcpCheckRun final : public CheckRunBase, public StreamSession::Handler {
 public:
  TcpCheckRun(std::shared_ptr<const TcpCheckConfig> cfg, const RunContext& ctx, DoneCallback done)
      : CheckRunBase(std::move(done)),
        cfg_(std::move(cfg)),
        services_(ctx.services),
        started_(ctx.started),
        session_(services_, cfg_->target, ctx.deadline, this) {}

  void Begin() { session_.Begin(); }

  Result Abort() override {
    auto [reason, detail] = session_.Abort(services_.clock.Now() - started_);
    if (reason == Reason::kNone) {
      reason = Reason::kTimeout;
      std::string after = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             services_.clock.Now() - started_)
                                             .count()) +
                          " ms";
      if (!cfg_->send.empty() && !sent_) {
        detail = "sending to " + session_.Where() + " did not finish within " + after;
      } else {
        detail = "no match for " + QuoteForDetail(cfg_->expect->pattern()) + " from " +
                 session_.Where() + " within " + after + " (" + std::to_string(received_.size()) +
                 " bytes: " + QuoteForDetail(received_) + ")";
      }
    }
    return Describe(Result::Failure(reason, std::move(detail)));
  }

  // ----- StreamSession::Handler
  void OnConnected() override {
    connected_at_ = services_.clock.Now();
    if (cfg_->send.empty() && cfg_->expect == nullptr) {
      Succeed("connected to " + session_.Where());
      return;
    }
    if (!cfg_->send.empty()) session_.Send(cfg_->send);
    if (cfg_->expect != nullptr) session_.Read();
  }

  void OnSent() override {
    sent_ = true;
    if (cfg_->expect == nullptr)
      Succeed("sent " + std::to_string(cfg_->send.size()) + " bytes to " + session_.Where());
  }

  void OnData(std::string_view chunk, bool eof) override {
    size_t room = cfg_->max_bytes - received_.size();
    received_.append(chunk.substr(0, room));
    if (cfg_->expect->Search(received_)) {
      Succeed(session_.Where() + " answered " + QuoteForDetail(received_));
      return;
    }
    if (received_.size() >= cfg_->max_bytes) {
      Fail(Reason::kBodyMismatch, "no match for " + QuoteForDetail(cfg_->expect->pattern()) +
                                      " in the first " + std::to_string(cfg_->max_bytes) +
                                      " bytes from " + session_.Where() + ": " +
                                      QuoteForDetail(received_));
      return;
    }
    if (eof) {
      if (received_.empty()) {
        Fail(Reason::kEmptyReply, session_.Where() + " closed the connection without a byte");
      } else {
        Fail(Reason::kBodyMismatch, "no match for " + QuoteForDetail(cfg_->expect->pattern()) +
                                        " before " + session_.Where() +
                                        " closed: " + QuoteForDetail(received_));
      }
    }
  }

  void OnFailed(Reason reason, std::string detail) override { Fail(reason, std::move(detail)); }

 private:
  void Succeed(std::string detail) {
    Result r = Result::Success();
    r.detail = std::move(detail);
    Finish(Describe(std::move(r)));  // `this` may be gone now
  }
  void Fail(Reason reason, std::string detail) {
    Finish(Describe(Result::Failure(reason, std::move(detail))));  // `this` may be gone now
  }

  Result Describe(Result r) const {
    const TcpMetrics& m = TcpCheckMetrics();
    const StreamInfo& info = session_.info();
    Duration exchange{};
    if (info.connected) exchange = services_.clock.Now() - connected_at_;
    auto& obs = r.observations;
    obs.push_back({&m.phase_seconds, {"resolve"}, ToSeconds(info.resolve.value_or(Duration{}))});
    obs.push_back({&m.phase_seconds, {"connect"}, ToSeconds(info.connect)});
    if (cfg_->target.tls) obs.push_back({&m.phase_seconds, {"tls"}, ToSeconds(info.tls)});
    obs.push_back({&m.phase_seconds, {"exchange"}, ToSeconds(exchange)});
    if (cfg_->expect != nullptr) {
      obs.push_back({&m.received_bytes, {}, static_cast<double>(received_.size())});
    }
    if (info.cert_expiry) {
      obs.push_back({&HttpCheckMetrics().cert_expiry, {}, static_cast<double>(*info.cert_expiry)});
    }
    auto& report = r.report;
    report.emplace_back("address", session_.Where());
    if (info.resolve) report.emplace_back("resolve_ms", FormatMillis(*info.resolve));
    report.emplace_back("connect_ms", FormatMillis(info.connect));
    if (cfg_->target.tls) report.emplace_back("tls_ms", FormatMillis(info.tls));
    if (!cfg_->send.empty() || cfg_->expect != nullptr) {
      report.emplace_back("exchange_ms", FormatMillis(exchange));
    }
    if (cfg_->expect != nullptr) report.emplace_back("received", QuoteForDetail(received_));
    if (info.cert_expiry) {
      report.emplace_back("cert_expiry_unix", std::to_string(*info.cert_expiry));
    }
    return r;
  }

  const std::shared_ptr<const TcpCheckConfig> cfg_;
  CheckServices& services_;
  const TimePoint started_;
  TimePoint connected_at_{};
  bool sent_ = false;
  std::string received_;
  StreamSession session_;  // last: destroyed first, so it never calls into a half-gone run
};

class TcpCheck final : public Check {
 public:
  TcpCheck(CheckSpec spec, std::shared_ptr<const TcpCheckConfig> cfg)
      : Check(std::move(spec)), cfg_(std::move(cfg)) {}

  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    auto run = std::make_unique<TcpCheckRun>(cfg_, ctx, std::move(done));
    run->Begin();
    return run;
  }

 private:
  std::shared_ptr<const TcpCheckConfig> cfg_;
};

}  // namespace

CheckType TcpCheckType() {
  const TcpMetrics& m = TcpCheckMetrics();
  CheckType type;
  type.name = "tcp";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return std::make_unique<TcpCheck>(spec, ParseTcpCheckConfig(node));
  };
  type.metrics = {&m.phase_seconds, &m.received_bytes, &HttpCheckMetrics().cert_expiry};
  return type;
}

}  // namespace gatewatch
