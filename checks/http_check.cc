#include "checks/http_check.h"

#include <ares.h>
#include <curl/curl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <span>

#include "agent/base/logging.h"
#include "agent/base/strings.h"
#include "agent/base/version.h"
#include "agent/io/curl_multi.h"
#include "agent/io/dns_resolver.h"
#include "checks/http_fanout.h"
#include "checks/http_reasons.h"

namespace gatewatch {

namespace {

constexpr int64_t kDefaultMaxRedirects = 10;
constexpr int64_t kMaxMaxRedirects = 50;
constexpr uint64_t kDefaultBodyLimit = 64 * 1024;
// The body limit is also the memory a body assertion may hold per run.
constexpr uint64_t kMaxBodyLimit = 64 * 1024 * 1024;

// ----- Metrics ---------------------------------------------------------------------------------

struct HttpMetrics {
  MetricDesc status_code{"http_status_code",
                         MetricKind::kGauge,
                         "Final HTTP status code of the last run, 0 if there was no response.",
                         {}};
  MetricDesc responses{"http_responses_total",
                       MetricKind::kCounter,
                       "Runs by final response: code is 502, 503 or 504 exactly, else the class "
                       "(1xx..5xx), or none when no response arrived.",
                       {"code"}};
  MetricDesc phase_seconds{"http_phase_seconds",
                           MetricKind::kGauge,
                           "Time spent in each phase of the last run (resolve, connect, tls, "
                           "processing, transfer).",
                           {"phase"}};
  MetricDesc cert_expiry{"tls_cert_expiry_timestamp_seconds",
                         MetricKind::kGauge,
                         "Expiry of the leaf certificate the server presented (Unix seconds).",
                         {}};
  MetricDesc redirects{
      "http_redirects", MetricKind::kGauge, "Redirects followed in the last run.", {}};
  MetricDesc content_length{
      "http_content_length_bytes", MetricKind::kGauge, "Body bytes received in the last run.", {}};
  // fanout: true only.
  MetricDesc backend_up{"http_backend_up",
                        MetricKind::kGauge,
                        "1 if the backend address (one of the name's A/AAAA records) passed the "
                        "check's expectations in the last run (fanout checks).",
                        {"address"}};
  MetricDesc backends{"http_backends",
                      MetricKind::kGauge,
                      "Addresses the name resolved to in the last run (fanout checks); at most "
                      "32 are probed.",
                      {}};
};

// Leaked on purpose: Observations point at these descriptors until the process exits.
const HttpMetrics& Metrics() {
  static const HttpMetrics* metrics = new HttpMetrics();
  return *metrics;
}

// ----- Small helpers ---------------------------------------------------------------------------

// RFC 9110 token characters, the only ones allowed in a field name.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    if (std::strchr("!#$%&'*+-.^_`|~", c) == nullptr || c == '\0') return false;
  }
  return true;
}

// A field value must not smuggle in another header line.
bool IsSafeValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

int64_t WholeMs(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::string FormatUtc(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buf;
}

// ----- Config ----------------------------------------------------------------------------------

struct ParsedUrl {
  std::string scheme;
  std::string host;
  long port = 0;
};

// Uses curl's own parser, so the check and the transfer agree on what the URL means.
std::optional<ParsedUrl> ParseUrl(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
  if (u == nullptr) return std::nullopt;
  // NON_SUPPORT_SCHEME: parse any scheme, so "ftp://" fails on our scheme check below, not on
  // whatever this libcurl build happens to support.
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    return std::nullopt;
  }
  auto get = [&](CURLUPart part, unsigned flags) -> std::optional<std::string> {
    char* value = nullptr;
    if (curl_url_get(u.get(), part, &value, flags) != CURLUE_OK || value == nullptr) {
      return std::nullopt;
    }
    std::string s(value);
    curl_free(value);
    return s;
  };
  auto scheme = get(CURLUPART_SCHEME, 0);
  auto host = get(CURLUPART_HOST, 0);
  auto port = get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!scheme || !host || host->empty() || !port) return std::nullopt;
  ParsedUrl out;
  out.scheme = *scheme;
  out.host = *host;
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  out.port = std::strtol(port->c_str(), nullptr, 10);
  return out;
}

std::unique_ptr<PosixRegex> CompileAt(const ConfigNode& node) {
  std::string error;
  auto re = PosixRegex::Compile(node.AsString(), &error);
  if (re == nullptr) node.Fail("invalid regular expression: " + error);
  return re;
}

void ParseExpect(const ConfigNode& expect, HttpCheckConfig& cfg) {
  if (!expect.IsDefined()) {
    cfg.expect_status.Add("2xx");
    return;
  }
  expect.ExpectMap();

  ConfigNode status = expect.Child("status");
  constexpr char kStatusForm[] = "must be a status code 100-599 or a class \"1xx\"..\"5xx\"";
  if (!status.IsDefined()) {
    cfg.expect_status.Add("2xx");
  } else if (status.IsSequence()) {
    if (status.size() == 0) status.Fail("must not be empty");
    for (size_t i = 0; i < status.size(); ++i) {
      ConfigNode item = status.At(i);
      if (!cfg.expect_status.Add(item.AsString())) item.Fail(kStatusForm);
    }
  } else if (!cfg.expect_status.Add(status.AsString())) {
    status.Fail(kStatusForm);
  }

  if (ConfigNode re = expect.Child("body_regex"); re.IsDefined()) cfg.body_regex = CompileAt(re);
  if (ConfigNode re = expect.Child("body_not_regex"); re.IsDefined()) {
    cfg.body_not_regex = CompileAt(re);
  }
  if (cfg.head && cfg.keeps_body()) {
    expect.Child(cfg.body_regex ? "body_regex" : "body_not_regex")
        .Fail("method HEAD receives no body to match");
  }

  if (ConfigNode headers = expect.Child("headers"); headers.IsDefined()) {
    if (!headers.IsMap()) headers.Fail("must be a map");
    for (const std::string& name : headers.Keys()) {
      ConfigNode value = headers.Child(name);
      if (!IsToken(name)) value.Fail("is not a valid header name");
      cfg.expect_headers.push_back({name, CompileAt(value)});
    }
  }
  expect.RejectUnknownKeys();
}

void ParseRequestHeaders(const ConfigNode& node, HttpRequest& cfg) {
  ConfigNode headers = node.Child("headers");
  bool has_host_header = false;
  if (headers.IsDefined()) {
    if (!headers.IsMap()) headers.Fail("must be a map");
    for (const std::string& name : headers.Keys()) {
      ConfigNode value = headers.Child(name);
      if (!IsToken(name)) value.Fail("is not a valid header name");
      std::string v = value.AsString();
      if (!IsSafeValue(v)) value.Fail("must not contain line breaks");
      // "Name;" is curl's way to send a header with an empty value ("Name:" would remove it).
      cfg.request_headers.push_back(v.empty() ? name + ";" : name + ": " + v);
      if (EqualsIgnoreCase(name, "Host")) has_host_header = true;
    }
  }
  if (ConfigNode host = node.Child("host"); host.IsDefined()) {
    std::string h = host.AsString();
    if (h.empty() || !IsSafeValue(h) || h.find_first_of(" \t") != std::string::npos) {
      host.Fail("must be a host name, optionally with :port");
    }
    if (has_host_header) host.Fail("conflicts with headers.Host; set only one");
    cfg.request_headers.push_back("Host: " + h);
  }
}

// ----- The check -------------------------------------------------------------------------------

class HttpRun final : public CheckRun {
 public:
  HttpRun(std::shared_ptr<const HttpCheckConfig> cfg, const RunContext& ctx, DoneCallback done)
      : cfg_(std::move(cfg)),
        services_(ctx.services),
        started_(ctx.started),
        deadline_(ctx.deadline),
        done_(std::move(done)) {}

  ~HttpRun() override {
    // Destroying a run aborts it silently: no callback may reach a dead run.
    transfer_.reset();
    backends_.clear();
    dns_query_.reset();
  }

  HttpRun(const HttpRun&) = delete;
  HttpRun& operator=(const HttpRun&) = delete;

  // May call `done` before returning (nothing to resolve and curl could not be set up).
  void Begin() {
    if (DnsResolver::IsIpLiteral(cfg_->host)) {
      address_ = cfg_->host;
      StartTransfer();
      return;
    }
    stage_ = Stage::kResolving;
    resolve_started_ = services_.clock.Now();
    dns_query_ = Resolver().Resolve(cfg_->host, AF_UNSPEC,
                                    [this](const ResolveResult& r) { OnResolved(r); });
  }

  Result Abort() override {
    Result result;
    switch (stage_) {
      case Stage::kResolving: {
        dns_query_.reset();
        stage_ = Stage::kDone;
        resolve_time_ = services_.clock.Now() - resolve_started_;
        result = Result::Failure(Reason::kDnsTimeout,
                                 "resolving " + cfg_->host + " timed out after " +
                                     std::to_string(WholeMs(*resolve_time_)) + " ms");
        Describe(nullptr, result);
        break;
      }
      case Stage::kTransferring: {
        if (cfg_->fanout) {
          // The backends still running time out; the finished ones keep their results.
          for (size_t i = 0; i < backends_.size(); ++i) {
            if (backends_[i].outcome) continue;
            HttpOutcome o = backends_[i].transfer->Abort();
            auto [reason, detail] = DescribeAbortedTransfer(o, services_.clock.Now() - started_);
            backends_[i].result = Result::Failure(reason, std::move(detail));
            backends_[i].outcome = std::move(o);
          }
          stage_ = Stage::kDone;
          return FanoutResult();
        }
        HttpOutcome outcome = transfer_->Abort();
        stage_ = Stage::kDone;
        auto [reason, detail] = DescribeAbortedTransfer(outcome, services_.clock.Now() - started_);
        result = Result::Failure(reason, std::move(detail));
        Describe(&outcome, result);
        break;
      }
      case Stage::kIdle:
      case Stage::kDone:
        // Abort is only called on a run in flight; anything else is a scheduler bug.
        result = Result::Failure(Reason::kInternalError, "http run aborted while not running");
        break;
    }
    return result;
  }

 private:
  enum class Stage { kIdle, kResolving, kTransferring, kDone };

  void OnResolved(const ResolveResult& r) {
    dns_query_.reset();  // allowed from inside its callback
    resolve_time_ = r.elapsed;
    // For the probe's report: which resolver said what.
    resolved_text_ =
        cfg_->host + " via " + (cfg_->resolver.empty() ? "system resolver" : cfg_->resolver) + ": ";
    if (r.status != ARES_SUCCESS) resolved_text_ += ares_strerror(r.status);
    for (size_t i = 0; i < r.addresses.size() && i < 8; ++i) {
      resolved_text_ += (i == 0 ? "" : " ") + r.addresses[i].address;
    }
    if (r.addresses.size() > 8)
      resolved_text_ += " (+" + std::to_string(r.addresses.size() - 8) + ")";
    Reason reason = ReasonForResolveStatus(r.status);
    if (reason == Reason::kNone && r.addresses.empty()) reason = Reason::kDnsNodata;
    if (reason != Reason::kNone) {
      std::string why = r.status == ARES_SUCCESS ? "no addresses" : ares_strerror(r.status);
      Finish(Result::Failure(reason, "resolving " + cfg_->host + " failed: " + why), nullptr);
      return;
    }
    if (cfg_->fanout) {
      StartFanout(r.addresses);
      return;
    }
    // c-ares sorts getaddrinfo answers by RFC 6724, so the first is the one a client would try.
    address_ = r.addresses.front().address;
    StartTransfer();
  }

  // The system resolver, or the check's own `resolver:` (a cached per-server channel).
  DnsResolver& Resolver() {
    if (cfg_->resolver.empty()) return services_.dns;
    DnsResolver::Options o;
    o.servers = cfg_->resolver;
    return services_.dns.ForServer(o);
  }

  // fanout: one transfer per address, all at once, each connecting to its address while URL,
  // Host and SNI stay the name's (CURLOPT_CONNECT_TO, per transfer: concurrent CURLOPT_RESOLVE
  // pins of one host would share curl's DNS cache).
  void StartFanout(const std::vector<ResolvedAddress>& addresses) {
    FanoutAddresses chosen = SelectBackends(addresses);
    resolved_count_ = chosen.probe.size() + chosen.not_probed;
    not_probed_ = chosen.not_probed;
    stage_ = Stage::kTransferring;
    backends_.resize(chosen.probe.size());
    pending_ = backends_.size() + 1;  // +1 until every transfer is started: no early Finish
    for (size_t i = 0; i < backends_.size(); ++i) {
      HttpTransfer::Target target;
      target.connect_to = FormatHostPort(chosen.probe[i], cfg_->port);
      target.keep_body = cfg_->keeps_body();
      target.deadline = deadline_;
      backends_[i].address = target.connect_to;
      backends_[i].transfer =
          std::make_unique<HttpTransfer>(cfg_, services_.curl, services_.clock, target,
                                         [this, i](HttpOutcome o) { OnBackendDone(i, o); });
    }
    for (auto& b : backends_) b.transfer->Start();  // a setup failure calls back at once
    OnBackendSettled();
  }

  void OnBackendDone(size_t i, HttpOutcome& o) {
    Backend& b = backends_[i];
    b.result = o.started ? Evaluate(o) : Result::Failure(Reason::kInternalError, o.setup_error);
    b.outcome = std::move(o);
    OnBackendSettled();
  }

  void OnBackendSettled() {
    if (--pending_ > 0) return;
    stage_ = Stage::kDone;
    Result result = FanoutResult();
    DoneCallback done = std::move(done_);
    done(std::move(result));  // `this` may be gone now
  }

  Result FanoutResult() {
    std::vector<BackendResult> results;
    for (const Backend& b : backends_) {
      results.push_back({b.address, b.result.reason, b.result.detail});
    }
    FanoutVerdict v = CombineBackends(results, not_probed_);
    Result result = v.reason == Reason::kNone ? Result::Success() : Result::Failure(v.reason, "");
    result.detail = v.detail;
    const HttpOutcome* shown =
        v.representative >= 0 ? &*backends_[v.representative].outcome : nullptr;
    Describe(shown, result);
    const HttpMetrics& m = Metrics();
    result.observations.push_back({&m.backends, {}, static_cast<double>(resolved_count_)});
    for (const Backend& b : backends_) {
      bool up = b.result.reason == Reason::kNone;
      result.observations.push_back({&m.backend_up, {b.address}, up ? 1.0 : 0.0});
      result.report.emplace_back(
          "backend " + b.address,
          up ? "up " + b.result.detail
             : "down " + std::string(ReasonName(b.result.reason)) + ": " + b.result.detail);
    }
    if (not_probed_ > 0) result.report.emplace_back("not_probed", std::to_string(not_probed_));
    return result;
  }

  void StartTransfer() {
    HttpTransfer::Target target;
    target.pinned_address = address_;
    target.keep_body = cfg_->keeps_body();
    target.deadline = deadline_;
    stage_ = Stage::kTransferring;
    transfer_ = std::make_unique<HttpTransfer>(cfg_, services_.curl, services_.clock, target,
                                               [this](HttpOutcome o) { OnTransferDone(o); });
    transfer_->Start();  // may finish the run (and destroy it) on a setup failure
  }

  void OnTransferDone(const HttpOutcome& outcome) {
    stage_ = Stage::kDone;
    if (!outcome.started) {
      Finish(Result::Failure(Reason::kInternalError, outcome.setup_error), &outcome);
      return;
    }
    Finish(Evaluate(outcome), &outcome);
  }

  Result Evaluate(const HttpOutcome& o) {
    const HttpCheckConfig& c = *cfg_;
    const TransferInfo& info = o.info;
    const std::string& where = o.address;
    std::string status_text = "HTTP " + std::to_string(info.status);
    std::string from = info.effective_url.empty() ? c.redacted_url : info.effective_url;
    bool status_ok = c.expect_status.Matches(info.status);
    auto bad_status = [&] {
      return Result::Failure(ReasonForStatus(info.status), status_text + " from " + from + " (" +
                                                               where + "), expected " +
                                                               c.expect_status.ToString());
    };

    if (o.code != CURLE_OK) {
      if (o.body_too_large) {
        // A 502 page that is also too long is still a 502: the status is the better cause.
        if (info.status != 0 && !status_ok) return bad_status();
        return Result::Failure(Reason::kBodyTooLarge, status_text + " from " + from +
                                                          ": body exceeds body_limit of " +
                                                          std::to_string(c.body_limit) + " bytes");
      }
      auto [reason, detail] = DescribeTransportFailure(o);
      return Result::Failure(reason, std::move(detail));
    }

    if (!status_ok) return bad_status();
    for (const HeaderExpectation& want : c.expect_headers) {
      auto values = o.headers.Values(want.name);
      if (values.empty()) {
        return Result::Failure(Reason::kHeaderMismatch,
                               status_text + " from " + from + " without header " + want.name);
      }
      bool any = std::any_of(values.begin(), values.end(),
                             [&](std::string_view v) { return want.value->Search(v); });
      if (!any) {
        return Result::Failure(Reason::kHeaderMismatch,
                               status_text + " from " + from + ": header " + want.name + " " +
                                   QuoteForDetail(values.front()) + " does not match " +
                                   QuoteForDetail(want.value->pattern()));
      }
    }
    if (c.body_regex != nullptr && !c.body_regex->Search(o.body)) {
      return Result::Failure(Reason::kBodyMismatch, status_text + " from " + from +
                                                        ": body does not match body_regex " +
                                                        QuoteForDetail(c.body_regex->pattern()));
    }
    if (c.body_not_regex != nullptr && c.body_not_regex->Search(o.body)) {
      return Result::Failure(Reason::kBodyMismatch,
                             status_text + " from " + from + ": body matches body_not_regex " +
                                 QuoteForDetail(c.body_not_regex->pattern()));
    }
    Result ok = Result::Success();
    ok.detail = status_text + " from " + from + " (" + where + ") in " +
                std::to_string(info.times.total / 1000) + " ms";
    return ok;
  }

  // Observations and report facts, the same set for every outcome so series stay stable.
  // `outcome` is null when no transfer was made (the name did not resolve).
  void Describe(const HttpOutcome* outcome, Result& result) const {
    const HttpMetrics& m = Metrics();
    TransferInfo none;
    none.https = cfg_->https;
    const TransferInfo& info = outcome != nullptr ? outcome->info : none;
    bool curl_ran = outcome != nullptr && outcome->started;
    uint64_t body_bytes = outcome != nullptr ? outcome->body_bytes : 0;
    HttpPhases phases =
        ComputePhases(curl_ran ? info.times : CurlTimesUs{}, info.https, resolve_time_);
    // Reserved: an Observation carries its label values inline, so regrowing moves big objects.
    auto& obs = result.observations;
    obs.reserve(obs.size() + 12);
    obs.push_back({&m.status_code, {}, static_cast<double>(info.status)});
    std::string code = ResponseCodeLabel(info.status);
    obs.push_back({&m.responses, {code}, 1});
    // The codes alerts are written against exist from the first run (at 0), so that the first
    // 502 is an increase Prometheus can see rather than a new series starting at 1.
    for (const char* zero : {"502", "503", "504"}) {
      if (code != zero) obs.push_back({&m.responses, {zero}, 0});
    }
    struct NamedPhase {
      const char* name;
      const char* report_key;
      Duration d;
    };
    NamedPhase named_phases[5];
    size_t phase_count = 0;
    named_phases[phase_count++] = {"resolve", "resolve_ms", phases.resolve};
    named_phases[phase_count++] = {"connect", "connect_ms", phases.connect};
    if (info.https) named_phases[phase_count++] = {"tls", "tls_ms", phases.tls};
    named_phases[phase_count++] = {"processing", "processing_ms", phases.processing};
    named_phases[phase_count++] = {"transfer", "transfer_ms", phases.transfer};
    std::span<const NamedPhase> named(named_phases, phase_count);
    for (const NamedPhase& p : named) obs.push_back({&m.phase_seconds, {p.name}, ToSeconds(p.d)});
    if (info.cert_expiry) {
      obs.push_back({&m.cert_expiry, {}, static_cast<double>(*info.cert_expiry)});
    }
    obs.push_back({&m.redirects, {}, static_cast<double>(info.redirects)});
    obs.push_back({&m.content_length, {}, static_cast<double>(body_bytes)});

    auto& report = result.report;
    report.reserve(report.size() + 14);
    report.emplace_back("url", cfg_->redacted_url);
    if (!resolved_text_.empty()) report.emplace_back("resolve", resolved_text_);
    if (!info.effective_url.empty() && info.effective_url != cfg_->redacted_url) {
      report.emplace_back("final_url", info.effective_url);
    }
    report.emplace_back("address", outcome != nullptr ? outcome->address : "-");
    report.emplace_back("status", info.status != 0 ? std::to_string(info.status) : "-");
    for (const NamedPhase& p : named) report.emplace_back(p.report_key, FormatMillis(p.d));
    report.emplace_back("redirects", std::to_string(info.redirects));
    report.emplace_back("body_bytes", std::to_string(body_bytes));
    if (info.cert_expiry) {
      int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                        services_.clock.WallNow().time_since_epoch())
                        .count();
      int64_t days = (*info.cert_expiry - now) / 86400;
      report.emplace_back("tls_cert_expiry",
                          FormatUtc(*info.cert_expiry) + " (" + std::to_string(days) + " days)");
    }
    report.emplace_back("reason", std::string(ReasonName(result.reason)));
  }

  // Reports and hands the result over. `this` may be destroyed inside done_: nothing after it.
  void Finish(Result result, const HttpOutcome* outcome) {
    stage_ = Stage::kDone;
    Describe(outcome, result);
    DoneCallback done = std::move(done_);
    done(std::move(result));
  }

  const std::shared_ptr<const HttpCheckConfig> cfg_;
  CheckServices& services_;
  const TimePoint started_;
  const TimePoint deadline_;
  DoneCallback done_;
  Stage stage_ = Stage::kIdle;

  std::unique_ptr<DnsQuery> dns_query_;
  TimePoint resolve_started_{};
  std::optional<Duration> resolve_time_;
  std::string address_;  // numeric address we connect to
  std::string resolved_text_;
  std::unique_ptr<HttpTransfer> transfer_;

  // fanout: one entry per probed address; sized once before any transfer starts.
  struct Backend {
    std::string address;  // "ip:port"
    std::unique_ptr<HttpTransfer> transfer;
    std::optional<HttpOutcome> outcome;  // set when done (or aborted)
    Result result;
  };
  std::vector<Backend> backends_;
  size_t pending_ = 0;
  size_t resolved_count_ = 0;
  size_t not_probed_ = 0;
};
class HttpCheck final : public Check {
 public:
  HttpCheck(CheckSpec spec, std::shared_ptr<const HttpCheckConfig> cfg)
      : Check(std::move(spec)), cfg_(std::move(cfg)) {}

  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    auto run = std::make_unique<HttpRun>(cfg_, ctx, std::move(done));
    run->Begin();
    return run;
  }

 private:
  std::shared_ptr<const HttpCheckConfig> cfg_;
};

}  // namespace

// ----- Public pure helpers ---------------------------------------------------------------------

std::unique_ptr<PosixRegex> PosixRegex::Compile(const std::string& pattern, std::string* error) {
  std::unique_ptr<PosixRegex> re(new PosixRegex(pattern));
  int rc = regcomp(&re->re_, pattern.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char buf[256];
    regerror(rc, &re->re_, buf, sizeof buf);
    if (error != nullptr) *error = buf;
    return nullptr;  // compiled_ stays false: a failed regcomp leaves nothing to regfree
  }
  re->compiled_ = true;
  return re;
}

PosixRegex::~PosixRegex() {
  if (compiled_) regfree(&re_);
}

bool PosixRegex::Search(std::string_view text) const {
  regmatch_t range[1];
  range[0].rm_so = 0;
  range[0].rm_eo = static_cast<regoff_t>(text.size());
  // REG_STARTEND bounds the search by the range instead of a NUL terminator.
  const char* data = text.data() != nullptr ? text.data() : "";
  return regexec(&re_, data, 1, range, REG_STARTEND) == 0;
}

bool StatusExpectation::Add(std::string_view item) {
  if (item.size() != 3) return false;
  if ((item[1] == 'x' || item[1] == 'X') && (item[2] == 'x' || item[2] == 'X')) {
    if (item[0] < '1' || item[0] > '5') return false;
    classes_ |= 1u << (item[0] - '0');
  } else {
    long code = 0;
    for (char c : item) {
      if (c < '0' || c > '9') return false;
      code = code * 10 + (c - '0');
    }
    if (code < 100 || code > 599) return false;
    codes_.push_back(code);
  }
  if (!text_.empty()) text_ += ", ";
  text_ += std::string(item);
  return true;
}

bool StatusExpectation::Matches(long status) const {
  if (status < 100 || status > 599) return false;
  if (classes_ & (1u << (status / 100))) return true;
  return std::find(codes_.begin(), codes_.end(), status) != codes_.end();
}

bool SetRequestUrl(const std::string& url, HttpRequest& request) {
  auto parsed = ParseUrl(url);
  if (!parsed || (parsed->scheme != "http" && parsed->scheme != "https")) return false;
  request.url = url;
  request.redacted_url = RedactUrl(url);
  request.https = parsed->scheme == "https";
  request.host = parsed->host;
  request.port = parsed->port;
  return true;
}

void ParseHttpRequest(const ConfigNode& node, HttpRequest& request) {
  HttpRequest* cfg = &request;

  ConfigNode url = node.Required("url");
  if (!SetRequestUrl(url.AsString(), request)) url.Fail("must be an http or https URL");

  if (ConfigNode method = node.Child("method"); method.IsDefined()) {
    std::string m = method.AsString();
    if (m == "HEAD") {
      cfg->head = true;
    } else if (m != "GET") {
      method.Fail("must be GET or HEAD");
    }
  }

  ParseRequestHeaders(node, *cfg);

  cfg->follow_redirects = node.BoolOr("follow_redirects", true);
  cfg->max_redirects =
      static_cast<long>(node.IntOr("max_redirects", kDefaultMaxRedirects, 0, kMaxMaxRedirects));
  cfg->insecure = node.BoolOr("insecure", false);

  if (ConfigNode ca = node.Child("ca_file"); ca.IsDefined()) {
    cfg->ca_file = ca.AsString();
    // Caught at load, not as a tls_certificate failure on every run.
    if (access(cfg->ca_file.c_str(), R_OK) != 0) {
      ca.Fail("cannot read " + cfg->ca_file + ": " + std::strerror(errno));
    }
  }

  if (ConfigNode limit = node.Child("body_limit"); limit.IsDefined()) {
    cfg->body_limit = limit.AsBytes();
    if (cfg->body_limit > kMaxBodyLimit) limit.Fail("must be at most 64MiB");
  } else {
    cfg->body_limit = kDefaultBodyLimit;
  }
}

std::shared_ptr<const HttpCheckConfig> ParseHttpCheckConfig(const ConfigNode& node) {
  auto cfg = std::make_shared<HttpCheckConfig>();
  ParseHttpRequest(node, *cfg);
  ParseExpect(node.Child("expect"), *cfg);
  if (ConfigNode resolver = node.Child("resolver"); resolver.IsDefined()) {
    auto server = DnsResolver::ParseServer(resolver.AsString());
    if (!server) resolver.Fail("must be ip[:port]");
    cfg->resolver = *server;
  }
  cfg->fanout = node.BoolOr("fanout", false);
  if (cfg->fanout && DnsResolver::IsIpLiteral(cfg->host)) {
    node.Child("fanout").Fail("needs a host name in url, not an address");
  }
  return cfg;
}

CheckType HttpCheckType() {
  const HttpMetrics& m = Metrics();
  CheckType type;
  type.name = "http";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return std::make_unique<HttpCheck>(spec, ParseHttpCheckConfig(node));
  };
  type.metrics = {&m.status_code, &m.responses,      &m.phase_seconds, &m.cert_expiry,
                  &m.redirects,   &m.content_length, &m.backend_up,    &m.backends};
  return type;
}

}  // namespace gatewatch
