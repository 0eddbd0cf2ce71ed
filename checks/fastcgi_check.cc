#include "checks/fastcgi_check.h"

#include <mutex>

#include "agent/base/strings.h"
#include "agent/base/units.h"
#include "checks/api/check_run_base.h"
#include "checks/api/http_status.h"
#include "checks/fastcgi_protocol.h"

namespace gatewatch {

const FastcgiMetrics& FastcgiCheckMetrics() {
  static const FastcgiMetrics* metrics = new FastcgiMetrics();
  return *metrics;
}

std::shared_ptr<const FastcgiCheckConfig> ParseFastcgiCheckConfig(const ConfigNode& node) {
  auto cfg = std::make_shared<FastcgiCheckConfig>();
  ConfigNode address = node.Required("address");
  std::string text = address.AsString();
  std::string host = "localhost";
  int port = 0;
  if (text.rfind("unix:", 0) == 0) {
    cfg->target.unix_path = text.substr(5);
    if (cfg->target.unix_path.empty() || cfg->target.unix_path[0] != '/' ||
        cfg->target.unix_path.size() > 107) {
      address.Fail("must be host:port or unix:/absolute/path (at most 107 bytes)");
    }
  } else {
    std::optional<HostPort> hp = ParseHostPort(text, 0);
    if (!hp || hp->port == 0) address.Fail("must be host:port or unix:/absolute/path");
    cfg->target.host = hp->host;
    cfg->target.port = hp->port;
    host = hp->host;
    port = hp->port;
  }
  if (ConfigNode path = node.Child("path"); path.IsDefined()) {
    cfg->path = path.AsString();
    if (cfg->path.empty() || cfg->path[0] != '/') path.Fail("must start with /");
  }
  if (ConfigNode status = node.Child("status_path"); status.IsDefined()) {
    // One request per run: the status reply itself shows the pool answers.
    if (node.Child("path").IsDefined()) {
      status.Fail(
          "cannot be combined with path (one request per run; the status reply shows "
          "the pool answers)");
    }
    cfg->path = status.AsString();
    if (cfg->path.empty() || cfg->path[0] != '/') status.Fail("must start with /");
    cfg->pool_status = true;
  }
  for (const char* key : {"max_listen_queue", "fail_on_max_children_reached"}) {
    if (!cfg->pool_status && node.Child(key).IsDefined()) node.Child(key).Fail("needs status_path");
  }
  if (ConfigNode max = node.Child("max_listen_queue"); max.IsDefined()) {
    cfg->fpm.max_listen_queue = max.AsInt(0, 1 << 30);
  }
  cfg->fpm.fail_on_max_children_reached = node.BoolOr("fail_on_max_children_reached", true);
  std::string script = node.StringOr("script_filename", cfg->path);
  std::string method = node.StringOr("method", "GET");
  if (method.empty() || method.find_first_of(" \r\n\t") != std::string::npos) {
    node.Child("method").Fail("must be one token");
  }
  std::string query = node.StringOr("query", cfg->pool_status ? "json" : "");
  if (cfg->pool_status && query.find("json") == std::string::npos) {
    node.Child("query").Fail("must ask for json with status_path (e.g. \"json\" or \"json&full\")");
  }
  std::string body = node.StringOr("body", "");
  // What nginx's fastcgi_params sends, so the pool sees what it sees from the proxy.
  std::vector<std::pair<std::string, std::string>> params = {
      {"GATEWAY_INTERFACE", "CGI/1.1"},
      {"SERVER_SOFTWARE", "gatewatch"},
      {"REQUEST_METHOD", method},
      {"SCRIPT_FILENAME", script},
      {"SCRIPT_NAME", cfg->path},
      {"REQUEST_URI", query.empty() ? cfg->path : cfg->path + "?" + query},
      {"DOCUMENT_URI", cfg->path},
      {"QUERY_STRING", query},
      {"SERVER_PROTOCOL", "HTTP/1.1"},
      {"SERVER_NAME", host},
      {"SERVER_PORT", std::to_string(port)},
      {"REMOTE_ADDR", "127.0.0.1"},
      {"CONTENT_LENGTH", body.empty() ? "" : std::to_string(body.size())},
      {"CONTENT_TYPE", body.empty() ? "" : "application/x-www-form-urlencoded"},
  };
  if (ConfigNode extra = node.Child("params"); extra.IsDefined()) {
    extra.ExpectMap();
    for (const std::string& key : extra.Keys()) {
      std::string value = extra.Child(key).AsString();
      bool replaced = false;
      for (auto& [name, v] : params) {
        if (name == key) {
          v = value;
          replaced = true;
        }
      }
      if (!replaced) params.emplace_back(key, value);
    }
  }
  cfg->request = EncodeFcgiRequest(params, body);
  ConfigNode expect = node.Child("expect");
  if (!expect.IsDefined()) {
    cfg->expect_status.Add("2xx");
  } else {
    expect.ExpectMap();
    ConfigNode status = expect.Child("status");
    constexpr char kStatusForm[] = "must be a status code 100-599 or a class \"1xx\"..\"5xx\"";
    if (!status.IsDefined()) {
      cfg->expect_status.Add("2xx");
    } else if (status.IsSequence()) {
      if (status.size() == 0) status.Fail("must not be empty");
      for (size_t i = 0; i < status.size(); ++i) {
        if (!cfg->expect_status.Add(status.At(i).AsString())) status.At(i).Fail(kStatusForm);
      }
    } else if (!cfg->expect_status.Add(status.AsString())) {
      status.Fail(kStatusForm);
    }
    if (ConfigNode re = expect.Child("body_regex"); re.IsDefined()) {
      std::string error;
      cfg->body_regex = LinearRegex::Compile(re.AsString(), &error);
      if (cfg->body_regex == nullptr) re.Fail("invalid regular expression: " + error);
    }
  }
  if (ConfigNode max = node.Child("max_bytes"); max.IsDefined()) {
    cfg->max_bytes = max.AsBytes();
    if (cfg->max_bytes < 1 || cfg->max_bytes > (8u << 20)) max.Fail("must be between 1 and 8MiB");
  }
  return cfg;
}

namespace {

constexpr size_t kMaxStderr = 1024;

// What one check remembers between runs: php-fpm's max-children-reached counter at the last
// status read. Shared by the check and its runs; the mutex because a run may outlive a reload.
struct FpmRunState {
  std::mutex mu;
  std::optional<int64_t> max_children_reached;
};

class FastcgiCheckRun final : public CheckRunBase, public StreamSession::Handler {
 public:
  FastcgiCheckRun(std::shared_ptr<const FastcgiCheckConfig> cfg, std::shared_ptr<FpmRunState> state,
                  const RunContext& ctx, DoneCallback done)
      : CheckRunBase(std::move(done)),
        cfg_(std::move(cfg)),
        state_(std::move(state)),
        services_(ctx.services),
        started_(ctx.started),
        decoder_(cfg_->max_bytes, kMaxStderr),
        session_(services_, cfg_->target, ctx.deadline, this) {}

  void Begin() { session_.Begin(); }

  Result Abort() override {
    Duration elapsed = services_.clock.Now() - started_;
    auto [reason, detail] = session_.Abort(elapsed);
    if (reason == Reason::kNone && cfg_->pool_status) {
      // php-fpm answers the status page without running a script, so no reply means no child
      // was free to take the request.
      reason = Reason::kPoolSaturated;
      detail =
          "pool saturated: " + session_.Where() + " accepted the connection but no child " +
          "answered the status page within " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) +
          " ms (every child busy: pm.max_children reached)" + LastFigures();
    } else if (reason == Reason::kNone) {
      // Accepted (the kernel's listen queue takes connections for the pool) but no reply: every
      // child busy (pm.max_children reached) or a slow script.
      reason = Reason::kTimeout;
      detail =
          session_.Where() + " accepted the connection but sent " +
          (decoder_.got_bytes() ? "no complete reply" : "nothing") + " within " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()) +
          " ms (pool saturated: every child busy, or a slow script)";
    }
    return Describe(Result::Failure(reason, std::move(detail)));
  }

  void OnConnected() override {
    connected_at_ = services_.clock.Now();
    session_.Send(cfg_->request);
    session_.Read();
  }

  void OnData(std::string_view chunk, bool eof) override {
    if (!decoder_.Feed(chunk)) {
      Fail(Reason::kProtocolError,
           "not a FastCGI reply from " + session_.Where() + ": " + decoder_.error());
      return;
    }
    if (decoder_.ended()) {
      Judge();
      return;
    }
    if (eof) {
      if (!decoder_.got_bytes()) {
        Fail(Reason::kEmptyReply, session_.Where() + " closed the connection without a reply");
      } else {
        Fail(Reason::kConnectionReset,
             session_.Where() + " closed the connection before FCGI_END_REQUEST");
      }
    }
  }

  void OnFailed(Reason reason, std::string detail) override { Fail(reason, std::move(detail)); }

 private:
  void Judge() {
    response_time_ = services_.clock.Now() - connected_at_;
    std::string where = session_.Where();
    switch (decoder_.protocol_status()) {
      case fcgi::kRequestComplete:
        break;
      case fcgi::kOverloaded:
        Fail(Reason::kHttp503, where + " refused the request: FCGI_OVERLOADED");
        return;
      default:
        Fail(Reason::kProtocolError, where + " ended the request with protocol status " +
                                         std::to_string(decoder_.protocol_status()));
        return;
    }
    std::string error;
    std::optional<CgiResponse> cgi = ParseCgiResponse(decoder_.stdout_data(), &error);
    if (!cgi) {
      if (decoder_.stdout_bytes() == 0) error = "an empty FCGI_STDOUT";
      Fail(Reason::kProtocolError, "bad reply from " + where + ": " + error + StderrSuffix());
      return;
    }
    status_ = cgi->status;
    if (!cfg_->expect_status.Matches(cgi->status)) {
      Fail(ReasonForHttpStatus(cgi->status), "status " + std::to_string(cgi->status) + " from " +
                                                 where + " for " + cfg_->path + ", expected " +
                                                 cfg_->expect_status.ToString() + StderrSuffix());
      return;
    }
    if (cfg_->body_regex != nullptr && !cfg_->body_regex->Search(cgi->body)) {
      Fail(Reason::kBodyMismatch, "body from " + where + " does not match " +
                                      QuoteForDetail(cfg_->body_regex->pattern()) + ": " +
                                      QuoteForDetail(cgi->body));
      return;
    }
    if (cfg_->pool_status) {
      JudgePool(cgi->body);
      return;
    }
    Result r = Result::Success();
    r.detail = "status " + std::to_string(cgi->status) + " from " + where + " for " + cfg_->path;
    Finish(Describe(std::move(r)));  // `this` may be gone now
  }

  void JudgePool(const std::string& body) {
    std::string error;
    std::optional<FpmPoolStatus> pool = ParseFpmStatusJson(body, &error);
    if (!pool) {
      Fail(Reason::kProtocolError, "bad pool status from " + session_.Where() + " for " +
                                       cfg_->path + ": " + error + ": " + QuoteForDetail(body));
      return;
    }
    std::optional<int64_t> previous;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      previous = state_->max_children_reached;
      state_->max_children_reached = pool->max_children_reached;
    }
    pool_ = *pool;
    FpmVerdict verdict = JudgeFpmStatus(*pool, cfg_->fpm, previous);
    if (verdict.reason != Reason::kNone) {
      Fail(verdict.reason, session_.Where() + ": " + verdict.detail);
      return;
    }
    Result r = Result::Success();
    r.detail = "pool " + pool->pool + " at " + session_.Where() + ": " +
               std::to_string(pool->active_processes) + " active, " +
               std::to_string(pool->idle_processes) + " idle of " +
               std::to_string(pool->total_processes) + ", listen queue " +
               std::to_string(pool->listen_queue);
    Finish(Describe(std::move(r)));  // `this` may be gone now
  }

  // For a run with no reply: the counter seen by the last run that got one.
  std::string LastFigures() const {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (!state_->max_children_reached) return "";
    return "; max children reached " + std::to_string(*state_->max_children_reached) +
           " at the last status read";
  }

  // What php-fpm logged for the request ("Primary script unknown"), for the detail.
  std::string StderrSuffix() const {
    if (decoder_.stderr_data().empty()) return "";
    return " (stderr: " + QuoteForDetail(decoder_.stderr_data()) + ")";
  }

  void Fail(Reason reason, std::string detail) {
    Finish(Describe(Result::Failure(reason, std::move(detail))));  // `this` may be gone now
  }

  Result Describe(Result r) const {
    const FastcgiMetrics& m = FastcgiCheckMetrics();
    const StreamInfo& info = session_.info();
    auto& obs = r.observations;
    obs.push_back({&m.status_code, {}, static_cast<double>(status_)});
    obs.push_back({&m.phase_seconds, {"resolve"}, ToSeconds(info.resolve.value_or(Duration{}))});
    obs.push_back({&m.phase_seconds, {"connect"}, ToSeconds(info.connect)});
    obs.push_back({&m.phase_seconds, {"response"}, ToSeconds(response_time_)});
    auto& report = r.report;
    report.emplace_back("address", session_.Where());
    report.emplace_back("path", cfg_->path);
    if (info.resolve) report.emplace_back("resolve_ms", FormatMillis(*info.resolve));
    report.emplace_back("connect_ms", FormatMillis(info.connect));
    report.emplace_back("response_ms", FormatMillis(response_time_));
    report.emplace_back("status", status_ != 0 ? std::to_string(status_) : "-");
    report.emplace_back("stdout_bytes", std::to_string(decoder_.stdout_bytes()));
    if (!decoder_.stderr_data().empty()) {
      report.emplace_back("stderr", Printable(decoder_.stderr_data(), 200));
    }
    if (pool_) {
      const std::pair<const MetricDesc*, int64_t> figures[] = {
          {&m.pool_active, pool_->active_processes},
          {&m.pool_idle, pool_->idle_processes},
          {&m.pool_total, pool_->total_processes},
          {&m.pool_listen_queue, pool_->listen_queue},
          {&m.pool_max_listen_queue, pool_->max_listen_queue},
          {&m.pool_listen_queue_length, pool_->listen_queue_len},
          {&m.pool_max_children_reached, pool_->max_children_reached},
          {&m.pool_slow_requests, pool_->slow_requests},
      };
      for (const auto& [desc, value] : figures) {
        obs.push_back({desc, {}, static_cast<double>(value)});
        report.emplace_back(std::string(desc->name.substr(sizeof("fastcgi_pool_") - 1)),
                            std::to_string(value));
      }
      report.emplace_back("pool", Printable(pool_->pool, 100));
      report.emplace_back("process_manager", Printable(pool_->process_manager, 20));
    }
    return r;
  }

  const std::shared_ptr<const FastcgiCheckConfig> cfg_;
  const std::shared_ptr<FpmRunState> state_;
  std::optional<FpmPoolStatus> pool_;  // the figures of a status reply
  CheckServices& services_;
  const TimePoint started_;
  TimePoint connected_at_{};
  Duration response_time_{};
  int status_ = 0;
  FcgiReplyDecoder decoder_;
  StreamSession session_;  // last: destroyed first
};

class FastcgiCheck final : public Check {
 public:
  FastcgiCheck(CheckSpec spec, std::shared_ptr<const FastcgiCheckConfig> cfg)
      : Check(std::move(spec)), cfg_(std::move(cfg)) {}

  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    auto run = std::make_unique<FastcgiCheckRun>(cfg_, state_, ctx, std::move(done));
    run->Begin();
    return run;
  }

 private:
  std::shared_ptr<const FastcgiCheckConfig> cfg_;
  std::shared_ptr<FpmRunState> state_ = std::make_shared<FpmRunState>();
};

}  // namespace

CheckType FastcgiCheckType() {
  const FastcgiMetrics& m = FastcgiCheckMetrics();
  CheckType type;
  type.name = "fastcgi";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return std::make_unique<FastcgiCheck>(spec, ParseFastcgiCheckConfig(node));
  };
  type.metrics = {&m.status_code,
                  &m.phase_seconds,
                  &m.pool_active,
                  &m.pool_idle,
                  &m.pool_total,
                  &m.pool_listen_queue,
                  &m.pool_max_listen_queue,
                  &m.pool_listen_queue_length,
                  &m.pool_max_children_reached,
                  &m.pool_slow_requests};
  return type;
}

}  // namespace gatewatch
