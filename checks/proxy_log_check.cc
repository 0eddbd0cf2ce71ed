#include "checks/proxy_log_check.h"

#include <algorithm>
#include <cstdio>

#include "agent/base/logging.h"
#include "checks/api/http_status.h"
#include "checks/syslog_message.h"

namespace gatewatch {

namespace {

// A probe's access line as it may leave the process (history, diagnosis): query values redacted
// and, in nginx's combined shape ("ADDR - USER [TIME] ..."), the basic-auth user name too.
std::string RedactAccessLine(std::string_view line) {
  std::string out = RedactQueryValues(line);
  size_t dash = out.find(' ');  // ADDR has no space
  if (dash == std::string::npos || out.compare(dash, 3, " - ") != 0) return out;
  size_t user = dash + 3;
  size_t end = out.find(' ', user);
  if (end == std::string::npos || end == user || out.compare(end, 2, " [") != 0) return out;
  if (out.compare(user, end - user, "-") != 0) out.replace(user, end - user, "<redacted>");
  return out;
}

constexpr uint64_t kMinMaxLine = 256;
constexpr uint64_t kMaxMaxLine = 1024 * 1024;
// An optional byte cap per log per run, on top of the CPU budget.
constexpr uint64_t kMaxReadLimit = 1024ull * 1024 * 1024;
// A run parses on the loop thread: the CPU budget bounds how long one log holds every other check
// back when it is behind (CPU, not wall time: on a busy machine the share of a core the loop gets
// must not decide how much a run can take); 1s every 5s keeps up with over 200,000 lines a second
// even on a loaded machine (docs/proxy-log.md, Throughput).
constexpr Duration kMinReadBudget = std::chrono::milliseconds(1);
constexpr Duration kMaxReadBudget = std::chrono::seconds(5);
// A saved reading position is resumed by a check that runs within this many intervals (the
// longer of the old and new check's) of the old one's last run: a rebuild by a reload always is.
constexpr int kResumeIntervals = 2;
// The least time a syslog socket nobody holds stays open for a rebuilt check to take it over.
constexpr Duration kSyslogGrace = std::chrono::seconds(10);
// Room for the RFC 3164 header in front of a line of max_line bytes.
constexpr size_t kSyslogHeaderRoom = 1024;

// ----- Metrics ---------------------------------------------------------------------------------

// Request times run from sub-millisecond cache hits to proxy_read_timeout (60 s by default).
#define GATEWATCH_PROXY_BUCKETS \
  { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 }

struct ProxyMetrics {
  MetricDesc responses{"proxy_responses_total",
                       MetricKind::kCounter,
                       "Responses the proxy logged, by the upstream that produced the final "
                       "response (none when no upstream was involved, unknown when the log "
                       "format has no $upstream_addr, other past max_upstreams) and code (5xx "
                       "exact, other codes by class).",
                       {"upstream", "code"}};
  MetricDesc upstream_errors{"proxy_upstream_errors_total",
                             MetricKind::kCounter,
                             "Upstream failures and the proxy's own exhaustion in the proxy's "
                             "error log, by upstream (none when the line concerns no upstream) "
                             "and reason (docs/reasons.md).",
                             {"upstream", "reason"}};
  MetricDesc request_seconds{"proxy_request_duration_seconds",
                             MetricKind::kHistogram,
                             "Request processing time the proxy logged ($request_time).",
                             {},
                             GATEWATCH_PROXY_BUCKETS};
  MetricDesc upstream_seconds{"proxy_upstream_response_seconds",
                              MetricKind::kHistogram,
                              "Upstream response time of each attempt the proxy logged "
                              "($upstream_response_time), by upstream.",
                              {"upstream"},
                              GATEWATCH_PROXY_BUCKETS};
  MetricDesc lines{"proxy_log_lines_total",
                   MetricKind::kCounter,
                   "Log lines read, by log (access, error) and result: parsed (used), skipped "
                   "(not in the format, not an upstream failure, or a NaN/Inf time) or too_long "
                   "(over max_line).",
                   {"log", "result"}};
  MetricDesc rotations{"proxy_log_rotations_total",
                       MetricKind::kCounter,
                       "Log rotations followed (rename and create, or copytruncate), by log.",
                       {"log"}};
  MetricDesc backlog{"proxy_log_backlog_bytes",
                     MetricKind::kGauge,
                     "Bytes written to the log file but not read yet when the run ended (the "
                     "file and a renamed one still being drained), by log: above 0 run after run "
                     "means the check does not keep up.",
                     {"log"}};
  MetricDesc syslog_messages{"proxy_syslog_messages_total",
                             MetricKind::kCounter,
                             "Syslog datagrams the receiver got, by result: accepted (an RFC "
                             "3164 message, its line parsed), malformed (not RFC 3164), too_long "
                             "(over max_line) or dropped (the queue or the kernel's receive "
                             "buffer was full).",
                             {"result"}};
  MetricDesc timeout_ratio{"proxy_upstream_response_timeout_ratio",
                           MetricKind::kGauge,
                           "Slowest upstream response time over the check's window divided by "
                           "its configured proxy_read_timeout: 1 means 504s.",
                           {}};
};
#undef GATEWATCH_PROXY_BUCKETS

// Leaked on purpose: Observations point at these descriptors until the process exits.
const ProxyMetrics& Metrics() {
  static const ProxyMetrics* metrics = new ProxyMetrics();
  return *metrics;
}

// 5xx exactly, other codes by class: 200..299 all count as 200.
int CodeSlot(int status) { return status >= 500 ? status : status / 100 * 100; }

std::string Percent(double ratio) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.1f%%", ratio * 100);
  return buf;
}

std::string FormatDouble(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The most frequent reason of the cause resources (the proxy's own exhaustion) among the window's
// errors, with its count.
std::optional<std::pair<Reason, double>> TopExhaustion(
    const std::map<std::pair<int, int>, double>& errors) {
  std::map<int, double> by_reason;
  for (const auto& [key, n] : errors) {
    if (ReasonCause(static_cast<Reason>(key.first)) == Cause::kResources) by_reason[key.first] += n;
  }
  auto top = std::max_element(by_reason.begin(), by_reason.end(),
                              [](const auto& a, const auto& b) { return a.second < b.second; });
  if (top == by_reason.end()) return std::nullopt;
  return std::make_pair(static_cast<Reason>(top->first), top->second);
}

class FinishedRun final : public CheckRun {
 public:
  // Runs finish inside Start(): an Abort would be a scheduler bug.
  Result Abort() override {
    return Result::Failure(Reason::kInternalError, "proxy_log run aborted after it finished");
  }
};

class ProxyLogCheck final : public Check {
 public:
  ProxyLogCheck(CheckSpec spec, std::shared_ptr<const ProxyLogConfig> cfg)
      : Check(std::move(spec)), cfg_(std::move(cfg)) {}

  std::unique_ptr<CheckState> NewState() const override {
    return std::make_unique<ProxyLogMonitor>(cfg_, spec().interval);
  }

  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    // Made by NewState() of this check or of one with the same fingerprint (same type).
    auto* monitor = static_cast<ProxyLogMonitor*>(ctx.state);
    if (monitor == nullptr) {
      done(Result::Failure(Reason::kInternalError, "proxy_log run started without its state"));
    } else {
      done(monitor->Run(ctx.services.clock.Now(), ctx.services.tails, ctx.services.loop,
                        ctx.services.request_log));
    }
    return std::make_unique<FinishedRun>();
  }

 private:
  std::shared_ptr<const ProxyLogConfig> cfg_;
};

}  // namespace

// ----- Config ----------------------------------------------------------------------------------

std::shared_ptr<const ProxyLogConfig> ParseProxyLogConfig(const ConfigNode& node) {
  auto cfg = std::make_shared<ProxyLogConfig>();
  cfg->access_log = node.StringOr("access_log", "");
  cfg->error_log = node.StringOr("error_log", "");
  if (ConfigNode syslog = node.Child("syslog"); syslog.IsDefined()) {
    ConfigNode listen = syslog.Child("listen");
    if (!listen.IsDefined()) syslog.Fail("needs listen (udp://127.0.0.1:5514 or unix:///PATH)");
    cfg->syslog_listen = listen.AsString();
    if (auto address = ParseDatagramAddress(cfg->syslog_listen); !address) {
      listen.Fail(address.error().message);
    }
    if (ConfigNode queue = syslog.Child("queue"); queue.IsDefined()) {
      cfg->syslog_queue = queue.AsBytes();
      if (cfg->syslog_queue < 64 * 1024 || cfg->syslog_queue > 1024 * 1024 * 1024) {
        queue.Fail("must be between 64KiB and 1GiB");
      }
    }
  }
  if (cfg->access_log.empty() && cfg->error_log.empty() && cfg->syslog_listen.empty()) {
    node.Fail("needs access_log, error_log, syslog or several");
  }
  if (ConfigNode format = node.Child("format"); format.IsDefined()) {
    cfg->format = format.AsString();
    std::string error;
    if (AccessLogFormat::Compile(cfg->format, &error) == nullptr) {
      format.Fail("not combined, upstream, json or a usable log_format string: " + error);
    }
  }
  if (ConfigNode start = node.Child("start_at"); start.IsDefined()) {
    std::string v = start.AsString();
    if (v != "end" && v != "beginning") start.Fail("must be end or beginning");
    cfg->start_at_end = v == "end";
  }
  if (ConfigNode max_line = node.Child("max_line"); max_line.IsDefined()) {
    cfg->max_line = max_line.AsBytes();
    if (cfg->max_line < kMinMaxLine || cfg->max_line > kMaxMaxLine) {
      max_line.Fail("must be between 256B and 1MiB");
    }
  }
  if (ConfigNode limit = node.Child("read_limit"); limit.IsDefined()) {
    cfg->read_limit = limit.AsBytes();
    if (cfg->read_limit < cfg->max_line || cfg->read_limit > kMaxReadLimit) {
      limit.Fail("must be between max_line and 1GiB");
    }
  }
  if (ConfigNode budget = node.Child("read_budget"); budget.IsDefined()) {
    cfg->read_budget = budget.AsDuration();
    if (cfg->read_budget < kMinReadBudget || cfg->read_budget > kMaxReadBudget) {
      budget.Fail("must be between 1ms and 5s");
    }
  }
  cfg->max_upstreams = static_cast<size_t>(node.IntOr("max_upstreams", 64, 1, 1000));
  if (ConfigNode timeout = node.Child("proxy_read_timeout"); timeout.IsDefined()) {
    cfg->proxy_read_timeout = timeout.AsDuration();
    if (*cfg->proxy_read_timeout <= Duration::zero()) timeout.Fail("must be positive");
  }
  if (ConfigNode ratio = node.Child("max_5xx_ratio"); ratio.IsDefined()) {
    cfg->max_5xx_ratio = ratio.AsDouble(0, 1);
  }
  cfg->min_requests = node.IntOr("min_requests", 20, 1, 1'000'000'000);
  if (ConfigNode window = node.Child("window"); window.IsDefined()) {
    cfg->window = window.AsDuration();
    if (cfg->window < std::chrono::seconds(1) || cfg->window > std::chrono::hours(24)) {
      window.Fail("must be between 1s and 24h");
    }
  }
  return cfg;
}

CheckType ProxyLogCheckType() {
  const ProxyMetrics& m = Metrics();
  CheckType type;
  type.name = "proxy_log";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return std::make_unique<ProxyLogCheck>(spec, ParseProxyLogConfig(node));
  };
  type.metrics = {&m.responses,        &m.upstream_errors, &m.request_seconds,
                  &m.upstream_seconds, &m.lines,           &m.rotations,
                  &m.backlog,          &m.syslog_messages, &m.timeout_ratio};
  return type;
}

// ----- Monitor ---------------------------------------------------------------------------------

ProxyLogMonitor::ProxyLogMonitor(std::shared_ptr<const ProxyLogConfig> cfg, Duration interval)
    : cfg_(std::move(cfg)), interval_(interval) {
  std::string error;
  format_ = AccessLogFormat::Compile(cfg_->format, &error);  // validated by the config
  bucket_width_ = std::max<Duration>(cfg_->window / kWindowBuckets, std::chrono::milliseconds(1));
  buckets_.resize(kWindowBuckets + 1);
}

ProxyLogMonitor::~ProxyLogMonitor() {
  if (tails_ == nullptr) return;
  // The socket stays open for the state of a rebuilt check (what arrives meanwhile waits in its
  // queue); closed if none takes it over.
  tails_->receivers().Release(std::move(syslog_),
                              std::max<Duration>(kResumeIntervals * interval_, kSyslogGrace));
  for (const auto* tailer : {access_.get(), error_.get()}) {
    if (tailer == nullptr) continue;
    if (auto position = tailer->position()) {
      tails_->SavePosition(tailer->path(), {std::move(*position), last_run_, interval_});
    }
  }
}

void ProxyLogMonitor::OpenTailers(TailRegistry& tails, TimePoint now) {
  // At the first run, not in the constructor: a check built only to validate a config (and
  // dropped) must not use up a path's one read from the beginning. A check rebuilt by a reload
  // carries on where the previous one stopped (its saved position); without one it must not
  // re-read a log from byte 0 either: the exporter keeps its counters, so they would jump by the
  // whole history and the window would fill with old 5xx.
  tailers_open_ = true;
  tails_ = &tails;
  auto tailer = [&](const std::string& path) {
    FileTailer::Options o;
    o.path = path;
    o.start_at_end = tails.FirstTail(path) ? cfg_->start_at_end : true;
    if (auto saved = tails.TakePosition(path)) {
      Duration within = kResumeIntervals * std::max(saved->interval, interval_);
      if (now - saved->at <= within) o.resume = std::move(saved->position);
    }
    o.max_line = cfg_->max_line;
    o.max_bytes_per_poll = cfg_->read_limit == 0 ? SIZE_MAX : cfg_->read_limit;
    o.cpu_budget = cfg_->read_budget;
    return std::make_unique<FileTailer>(o);
  };
  if (!cfg_->access_log.empty()) access_ = tailer(cfg_->access_log);
  if (!cfg_->error_log.empty()) error_ = tailer(cfg_->error_log);
}

int ProxyLogMonitor::UpstreamId(std::string_view addr) {
  auto it = upstream_ids_.find(addr);
  if (it != upstream_ids_.end()) return it->second;
  bool special = addr == "none" || addr == "unknown" || addr == "other";
  // A name of no upstream shape (bytes from a hostile request or a broken line) never becomes a
  // label value and never takes one of the max_upstreams slots.
  if (!special && !PlausibleUpstreamName(addr)) return UpstreamId("other");
  if (!special && real_upstreams_ >= cfg_->max_upstreams) return UpstreamId("other");
  if (!special) ++real_upstreams_;
  int id = static_cast<int>(upstream_names_.size());
  upstream_names_.emplace_back(addr);
  upstream_ids_.emplace(std::string(addr), id);
  new_upstreams_.push_back(id);
  return id;
}

void ProxyLogMonitor::OnAccessLine(std::string_view line) {
  AccessRecord r;
  if (format_ == nullptr || !format_->Parse(line, &r)) {
    ++access_skipped_;
    return;
  }
  ++access_parsed_;
  int upstream;
  int failed_attempts = -1;  // unknown without upstream fields
  if (!format_->has_upstream()) {
    upstream = UpstreamId("unknown");
  } else {
    SplitUpstreams(r, &attempts_);
    for (const UpstreamAttempt& a : attempts_) {
      if (a.response_time < 0) continue;
      Histogram& h = upstream_seconds_[UpstreamId(a.addr)];
      AddToBuckets(Metrics().upstream_seconds, a.response_time, &h.buckets);
      h.sum += a.response_time;
      ++h.count;
      run_.max_upstream_seconds = std::max(run_.max_upstream_seconds, a.response_time);
    }
    failed_attempts = static_cast<int>(
        std::count_if(attempts_.begin(), attempts_.end(),
                      [](const UpstreamAttempt& a) { return a.status == 0 || a.status >= 500; }));
    // The response the client got is the last attempt's.
    upstream = UpstreamId(attempts_.empty() ? std::string_view("none") : attempts_.back().addr);
  }
  if (request_log_ != nullptr && IsProbeRequestId(r.request_id)) {
    std::optional<int64_t> at = ParseTimeLocal(r.time_local);
    request_log_->AddAccess(r.request_id, r.connection, at.value_or(-1), r.request_time,
                            failed_attempts, RedactAccessLine(line));
  }
  responses_[static_cast<uint64_t>(upstream) << 16 | static_cast<uint64_t>(CodeSlot(r.status))] +=
      1;
  run_.total += 1;
  if (r.status >= 500) {
    run_.bad += 1;
    run_.bad_codes[r.status] += 1;
  }
  if (r.request_time >= 0) {
    AddToBuckets(Metrics().request_seconds, r.request_time, &request_seconds_.buckets);
    request_seconds_.sum += r.request_time;
    ++request_seconds_.count;
  }
}

void ProxyLogMonitor::OnErrorLine(std::string_view line) {
  std::optional<UpstreamError> e = ClassifyErrorLine(line);
  if (!e) {
    ++error_skipped_;
    return;
  }
  ++error_parsed_;
  if (request_log_ != nullptr) {
    if (uint64_t connection = ErrorLineConnection(line); connection != 0) {
      request_log_->AddError(
          connection, ParseErrorLineTime(line).value_or(-1),
          RedactQueryValues(ErrorLineEvidence(line, RequestLogIndex::kMaxLineBytes)));
    }
  }
  int upstream = UpstreamId(e->upstream);
  errors_[static_cast<uint64_t>(upstream) << 8 | static_cast<uint64_t>(e->reason)] += 1;
  run_.errors[{static_cast<int>(e->reason), upstream}] += 1;
}

void ProxyLogMonitor::OnSyslogMessage(std::string_view datagram) {
  std::optional<SyslogMessage> m = ParseRfc3164(datagram);
  if (!m) {
    ++syslog_malformed_;
    return;
  }
  if (m->content.size() > cfg_->max_line) {  // as the file tailer skips such lines
    ++syslog_too_long_;
    return;
  }
  if (IsNginxErrorLine(m->content)) {
    OnErrorLine(m->content);
  } else {
    OnAccessLine(m->content);
  }
}

bool ProxyLogMonitor::ReadSyslog(TailRegistry& tails, EventLoop* loop, std::string* error) {
  if (syslog_ == nullptr) {
    if (loop == nullptr) {
      *error = "no event loop to receive on";
      return false;
    }
    DatagramReceiver::Options o;
    o.listen = cfg_->syslog_listen;
    o.max_queue_bytes = cfg_->syslog_queue;
    o.max_datagram = cfg_->max_line + kSyslogHeaderRoom;
    auto r = tails.receivers().Acquire(*loop, o);
    if (!r) {
      *error = r.error().message;
      return false;
    }
    syslog_ = std::move(*r);
  }
  syslog_->ReadPending();  // what arrived since the loop last looked
  syslog_->Drain([this](std::string_view d) { OnSyslogMessage(d); });
  syslog_counts_ = syslog_->TakeNewCounts();
  return true;
}

Result ProxyLogMonitor::Run(TimePoint now, TailRegistry& tails, EventLoop* loop,
                            RequestLogIndex* request_log) {
  request_log_ = request_log;
  if (!tailers_open_) OpenTailers(tails, now);
  last_run_ = now;
  std::string syslog_error;
  if (!cfg_->syslog_listen.empty() && !ReadSyslog(tails, loop, &syslog_error)) {
    syslog_error_ = "syslog " + cfg_->syslog_listen + ": " + syslog_error;
  } else {
    syslog_error_.clear();
  }
  std::optional<FileTailer::PollStats> access, error;
  if (access_ != nullptr) {
    access = access_->Poll([this](std::string_view line) { OnAccessLine(line); });
  }
  if (error_ != nullptr) {
    error = error_->Poll([this](std::string_view line) { OnErrorLine(line); });
  }
  return Finish(now, access ? &*access : nullptr, error ? &*error : nullptr);
}

void ProxyLogMonitor::CountLines(Result& r, const char* log, const FileTailer::PollStats* stats,
                                 uint64_t parsed, uint64_t skipped) const {
  const ProxyMetrics& m = Metrics();
  r.observations.push_back({&m.lines, {log, "parsed"}, static_cast<double>(parsed)});
  r.observations.push_back({&m.lines, {log, "skipped"}, static_cast<double>(skipped)});
  r.observations.push_back(
      {&m.lines, {log, "too_long"}, static_cast<double>(stats != nullptr ? stats->too_long : 0)});
  r.observations.push_back(
      {&m.rotations, {log}, static_cast<double>(stats != nullptr ? stats->rotations : 0)});
  if (stats != nullptr) {
    r.observations.push_back({&m.backlog, {log}, static_cast<double>(stats->backlog)});
  }
}

void ProxyLogMonitor::Subtract(const WindowEntry& e) {
  // Counts are whole numbers held exactly in doubles: a key at 0 is gone, not a rounding residue.
  window_sum_.total -= e.total;
  window_sum_.bad -= e.bad;
  for (const auto& [code, n] : e.bad_codes) {
    auto it = window_sum_.bad_codes.find(code);
    if (it != window_sum_.bad_codes.end() && (it->second -= n) <= 0) {
      window_sum_.bad_codes.erase(it);
    }
  }
  for (const auto& [key, n] : e.errors) {
    auto it = window_sum_.errors.find(key);
    if (it != window_sum_.errors.end() && (it->second -= n) <= 0) window_sum_.errors.erase(it);
  }
}

void ProxyLogMonitor::AdvanceWindow(TimePoint now) {
  const int64_t bucket = std::max<int64_t>(0, now.time_since_epoch() / bucket_width_);
  const int64_t oldest = bucket - kWindowBuckets;  // buckets before it have left the window
  for (WindowEntry& b : buckets_) {
    if (b.bucket >= 0 && b.bucket < oldest) {
      Subtract(b);
      b = WindowEntry{};
    }
  }
  WindowEntry& slot = buckets_[static_cast<size_t>(bucket % (kWindowBuckets + 1))];
  if (slot.bucket != bucket) {
    if (slot.bucket >= 0) Subtract(slot);  // only when the clock went back
    slot = WindowEntry{};
    slot.bucket = bucket;
  }
  slot.total += run_.total;
  slot.bad += run_.bad;
  slot.max_upstream_seconds = std::max(slot.max_upstream_seconds, run_.max_upstream_seconds);
  window_sum_.total += run_.total;
  window_sum_.bad += run_.bad;
  for (const auto& [code, n] : run_.bad_codes) {
    slot.bad_codes[code] += n;
    window_sum_.bad_codes[code] += n;
  }
  for (const auto& [key, n] : run_.errors) {
    slot.errors[key] += n;
    window_sum_.errors[key] += n;
  }
  run_ = WindowEntry{};
}

Result ProxyLogMonitor::Finish(TimePoint now, const FileTailer::PollStats* access,
                               const FileTailer::PollStats* error) {
  const ProxyMetrics& m = Metrics();

  // The window decides success.
  AdvanceWindow(now);
  const WindowEntry& sum = window_sum_;
  double max_upstream_seconds = 0;
  for (const WindowEntry& b : buckets_) {
    if (b.bucket >= 0)
      max_upstream_seconds = std::max(max_upstream_seconds, b.max_upstream_seconds);
  }
  double ratio = sum.total > 0 ? sum.bad / sum.total : 0;
  std::string window_text = FormatDuration(cfg_->window);

  Result r;
  std::string log_error;
  if (access != nullptr && !access->error.empty()) log_error = "access_log: " + access->error;
  if (error != nullptr && !error->error.empty()) {
    log_error += (log_error.empty() ? "" : "; ") + ("error_log: " + error->error);
  }
  if (!log_error.empty()) {
    r = Result::Failure(Reason::kLogUnreadable, log_error + " (retrying every run)");
  } else if (!syslog_error_.empty()) {
    r = Result::Failure(Reason::kLogUnreadable, syslog_error_ + " (retrying every run)");
  } else if (sum.total >= static_cast<double>(cfg_->min_requests) && ratio > cfg_->max_5xx_ratio) {
    std::string detail = FormatDouble(sum.bad) + " of " + FormatDouble(sum.total) +
                         " responses in the last " + window_text + " were 5xx (" + Percent(ratio) +
                         ", above " + Percent(cfg_->max_5xx_ratio) + ")";
    // The dominant reason over all upstreams (as the generated rules' topk by reason), then the
    // upstream that logged it most.
    std::map<int, double> by_reason;
    for (const auto& [key, n] : sum.errors) by_reason[key.first] += n;
    auto by_count = [](const auto& a, const auto& b) { return a.second < b.second; };
    auto top_reason = std::max_element(by_reason.begin(), by_reason.end(), by_count);
    if (top_reason != by_reason.end()) {
      Reason reason = static_cast<Reason>(top_reason->first);
      std::pair<int, double> top_upstream{0, -1};
      for (const auto& [key, n] : sum.errors) {
        if (key.first == top_reason->first && n > top_upstream.second)
          top_upstream = {key.second, n};
      }
      r = Result::Failure(reason, detail + "; the proxy logged " + std::string(ReasonName(reason)) +
                                      " " + FormatDouble(top_reason->second) +
                                      " times, mostly at " + upstream_names_[top_upstream.first]);
    } else {
      auto top_code =
          std::max_element(sum.bad_codes.begin(), sum.bad_codes.end(),
                           [](const auto& a, const auto& b) { return a.second < b.second; });
      r = Result::Failure(ReasonForHttpStatus(top_code->first),
                          detail + "; mostly " + std::to_string(top_code->first));
    }
  } else if (std::optional<std::pair<Reason, double>> own = TopExhaustion(sum.errors)) {
    // The proxy's own exhaustion fails the run whatever the 5xx share: a client nginx could not
    // accept never reaches the access log, so the share can look healthy while users are refused.
    r = Result::Failure(own->first, "the proxy logged " + std::string(ReasonName(own->first)) +
                                        " " + FormatDouble(own->second) + " times in the last " +
                                        window_text + " (its own limits, not an upstream's)");
  } else {
    r = Result::Success();
    r.detail = FormatDouble(sum.total) + " responses in the last " + window_text + ", " +
               FormatDouble(sum.bad) + " 5xx (" + Percent(ratio) + ")";
  }

  // Observations: this run's increments, pre-bucketed histograms.
  auto& obs = r.observations;
  for (int id : new_upstreams_) {
    // The codes alerts are written against exist from an upstream's first line, at 0, so the
    // first 502 is an increase Prometheus can see.
    for (const char* zero : kGatewayCodes) {
      obs.push_back({&m.responses, {upstream_names_[id], zero}, 0});
    }
  }
  new_upstreams_.clear();
  for (const auto& [key, n] : responses_) {
    int slot = static_cast<int>(key & 0xffff);
    obs.push_back(
        {&m.responses,
         {upstream_names_[key >> 16], StatusCodeLabel(slot, CodeLabelScheme::kServerErrorsExact)},
         n});
  }
  for (const auto& [key, n] : errors_) {
    obs.push_back(
        {&m.upstream_errors,
         {upstream_names_[key >> 8], std::string(ReasonName(static_cast<Reason>(key & 0xff)))},
         n});
  }
  if (request_seconds_.count > 0) {
    obs.push_back({&m.request_seconds, {}, request_seconds_.sum, request_seconds_.buckets});
  }
  for (const auto& [id, h] : upstream_seconds_) {
    obs.push_back({&m.upstream_seconds, {upstream_names_[id]}, h.sum, h.buckets});
  }
  bool has_syslog = !cfg_->syslog_listen.empty();
  bool has_access = !cfg_->access_log.empty() || has_syslog;
  bool has_error = !cfg_->error_log.empty() || has_syslog;
  if (has_access) CountLines(r, "access", access, access_parsed_, access_skipped_);
  if (has_error) CountLines(r, "error", error, error_parsed_, error_skipped_);
  if (has_syslog) {
    const DatagramReceiver::Counters& c = syslog_counts_;
    double malformed = static_cast<double>(syslog_malformed_);
    double too_long = static_cast<double>(syslog_too_long_);
    obs.push_back(
        {&m.syslog_messages, {"accepted"}, static_cast<double>(c.received) - malformed - too_long});
    obs.push_back({&m.syslog_messages, {"malformed"}, malformed});
    obs.push_back({&m.syslog_messages, {"too_long"}, static_cast<double>(c.too_long) + too_long});
    obs.push_back({&m.syslog_messages, {"dropped"}, static_cast<double>(c.dropped)});
  }
  if (cfg_->proxy_read_timeout) {
    obs.push_back(
        {&m.timeout_ratio, {}, max_upstream_seconds / ToSeconds(*cfg_->proxy_read_timeout)});
  }

  auto& report = r.report;
  if (has_access) {
    report.emplace_back("access_log", cfg_->access_log);
    report.emplace_back("access_offset", std::to_string(access_ ? access_->offset() : 0));
    if (access != nullptr)
      report.emplace_back("access_backlog_bytes", std::to_string(access->backlog));
    report.emplace_back("access_lines_this_run", std::to_string(access_parsed_ + access_skipped_));
  }
  if (has_error) {
    report.emplace_back("error_log", cfg_->error_log);
    report.emplace_back("error_offset", std::to_string(error_ ? error_->offset() : 0));
    if (error != nullptr)
      report.emplace_back("error_backlog_bytes", std::to_string(error->backlog));
    report.emplace_back("upstream_errors_this_run", std::to_string(error_parsed_));
  }
  if (has_syslog) {
    report.emplace_back("syslog_listen", cfg_->syslog_listen);
    report.emplace_back("syslog_messages_this_run", std::to_string(syslog_counts_.received));
    report.emplace_back("syslog_dropped_this_run", std::to_string(syslog_counts_.dropped));
  }
  report.emplace_back("window_responses", FormatDouble(sum.total));
  report.emplace_back("window_5xx_ratio", FormatDouble(ratio));
  if (cfg_->proxy_read_timeout) {
    report.emplace_back("max_upstream_seconds", FormatDouble(max_upstream_seconds));
  }
  report.emplace_back("reason", std::string(ReasonName(r.reason)));

  responses_.clear();
  errors_.clear();
  request_seconds_ = Histogram{};
  upstream_seconds_.clear();
  access_parsed_ = access_skipped_ = error_parsed_ = error_skipped_ = 0;
  syslog_counts_ = {};
  syslog_malformed_ = syslog_too_long_ = 0;
  return r;
}

}  // namespace gatewatch
