#include "checks/cdn_origin_check.h"

#include <algorithm>
#include <functional>

#include "agent/base/strings.h"
#include "agent/base/units.h"
#include "agent/io/dns_resolver.h"
#include "checks/api/check_run_base.h"
#include "checks/api/http_status.h"
#include "checks/http_reasons.h"
#include "checks/http_report.h"
#include "checks/http_request.h"
#include "checks/http_run.h"
#include "checks/proxy_status.h"

namespace gatewatch {

namespace {

// ----- Metrics ---------------------------------------------------------------------------------

struct CdnMetrics {
  MetricDesc verdict{"cdn_verdict",
                     MetricKind::kGauge,
                     "Verdict of the last run as a state set: 1 for the current verdict (ok, "
                     "edge_fault, origin_fault, both_down, content_mismatch), 0 for the others.",
                     {"verdict"}};
  MetricDesc status_code{"cdn_status_code",
                         MetricKind::kGauge,
                         "Final HTTP status of each side (edge, origin) in the last run, 0 "
                         "without a response.",
                         {"side"}};
  MetricDesc duration{"cdn_duration_seconds",
                      MetricKind::kGauge,
                      "Time each side (edge, origin) took in the last run, resolving included.",
                      {"side"}};
  MetricDesc cache_status{"cdn_cache_status_total",
                          MetricKind::kCounter,
                          "Runs in which the edge answered, by the cache status it reported "
                          "(hit, miss, expired, stale, updating, revalidated, bypass, dynamic, "
                          "none).",
                          {"status"}};
  MetricDesc cache_forward{"cdn_cache_forward_responses_total",
                           MetricKind::kCounter,
                           "Runs in which the edge's Cache-Status (RFC 9211) said it forwarded "
                           "the request, by the fwd-status its next hop returned: code is 502, "
                           "503 or 504 exactly, else the class (1xx..5xx).",
                           {"code"}};
  MetricDesc content_match{"cdn_content_match",
                           MetricKind::kGauge,
                           "1 if edge and origin agreed on every compared field in the last run, "
                           "0 if not; absent when either side did not answer healthily.",
                           {}};
};

// Leaked on purpose: Observations point at these descriptors until the process exits.
const CdnMetrics& Metrics() {
  static const CdnMetrics* metrics = new CdnMetrics();
  return *metrics;
}

std::string FieldValue(CompareField field, const CdnSide& side) {
  switch (field) {
    case CompareField::kStatus:
      return std::to_string(side.status);
    case CompareField::kEtag:
      return side.etag.empty() ? "-" : Printable(side.etag, 80);
    case CompareField::kLastModified:
      return side.last_modified.empty() ? "-" : Printable(side.last_modified, 80);
    case CompareField::kContentLength:
      return side.body_too_large ? "> body_limit" : std::to_string(side.body_bytes);
    case CompareField::kBodyHash: {
      if (side.body_too_large) return "> body_limit";
      if (!side.body_hash) return "-";
      return FormatHex64(*side.body_hash);
    }
  }
  return "-";
}

// ----- One side --------------------------------------------------------------------------------

// connect_port 0: the request's own URL host:port; else connect_host:connect_port.
HttpRun::Target SideTarget(const HttpRequest& request, const std::string& connect_host,
                           long connect_port, bool hash_body, CheckServices& services,
                           TimePoint deadline) {
  HttpRun::Target t;
  t.host = connect_port != 0 ? connect_host : request.host;
  t.connect_port = connect_port;
  t.resolver = services.dns;
  t.resolver_label = "system resolver";
  t.hash_body = hash_body;
  t.deadline = deadline;
  return t;
}

// One side of a run: one HttpRun (resolve the host to connect to, unless numeric, then one
// HttpTransfer) judged as a cdn side. `on_done` runs once when the side finished on its own
// (never after Abort()) and may destroy the side.
class SideRun {
 public:
  SideRun(std::shared_ptr<const HttpRequest> request, std::string connect_host, long connect_port,
          bool hash_body, CheckServices& services, TimePoint deadline,
          std::function<void()> on_done)
      : services_(services),
        on_done_(std::move(on_done)),
        run_(request, *services.curl, services.clock,
             SideTarget(*request, connect_host, connect_port, hash_body, services, deadline),
             [this] { OnRunDone(); }) {}
  SideRun(const SideRun&) = delete;
  SideRun& operator=(const SideRun&) = delete;

  // May call on_done before returning (curl could not be set up).
  void Begin() {
    started_ = services_.clock.Now();
    run_.Begin();
  }

  // Stops whatever is in flight and records how far it got. No callback afterwards.
  void Abort() {
    if (finished_) return;
    finished_ = true;
    elapsed_ = services_.clock.Now() - started_;
    run_.Abort(elapsed_);
    reason_ = run_.failure();
    detail_ = run_.failure_detail();
  }

  bool finished() const { return finished_; }
  Reason reason() const { return reason_; }  // kNone when the side answered healthily
  const std::string& detail() const { return detail_; }
  Duration elapsed() const { return elapsed_; }
  const HttpOutcome* outcome() const { return run_.outcome(); }

  CdnSide Side() const {
    CdnSide s;
    if (run_.outcome() == nullptr) return s;
    const HttpOutcome& o = *run_.outcome();
    s.status = o.info.status;
    s.complete = o.started && (o.code == CURLE_OK || o.body_too_large);
    s.cache = ClassifyCacheStatus(o.headers);
    s.etag = std::string(o.headers.First("ETag"));
    s.last_modified = std::string(o.headers.First("Last-Modified"));
    s.body_bytes = o.body_bytes;
    s.body_too_large = o.body_too_large;
    s.body_hash = o.body_hash;
    return s;
  }

 private:
  void OnRunDone() {
    if (run_.failure() != Reason::kNone) {
      Finish(run_.failure(), run_.failure_detail());
      return;
    }
    const HttpOutcome& out = *run_.outcome();
    long status = out.info.status;
    if (status >= 500 || (status != 0 && status < 100)) {
      // A 5xx is the better cause even when the body was also cut or too long; what the hop in
      // front says about it (Proxy-Status, Cloudflare's 52x) is better still.
      std::string detail = "HTTP " + std::to_string(status) + " from " + out.address;
      if (std::optional<HopAttribution> hop = AttributeHopFailure(status, out.headers)) {
        Finish(hop->reason, detail + "; " + hop->hop + " (" + hop->source + ") says " + hop->said);
        return;
      }
      Finish(ReasonForHttpStatus(status), std::move(detail));
    } else if (out.code != CURLE_OK && !out.body_too_large) {
      auto [reason, detail] = DescribeTransportFailure(out);
      Finish(reason, std::move(detail));
    } else {
      Finish(Reason::kNone, "HTTP " + std::to_string(status) + " from " + out.address);
    }
  }

  // `this` may be destroyed inside on_done_: nothing after it.
  void Finish(Reason reason, std::string detail) {
    finished_ = true;
    elapsed_ = services_.clock.Now() - started_;
    reason_ = reason;
    detail_ = std::move(detail);
    std::function<void()> done = std::move(on_done_);
    done();
  }

  CheckServices& services_;
  std::function<void()> on_done_;
  TimePoint started_{};
  bool finished_ = false;
  Duration elapsed_{};
  Reason reason_ = Reason::kNone;
  std::string detail_;
  HttpRun run_;
};

// ----- The run ---------------------------------------------------------------------------------

bool Compares(const CdnOriginConfig& cfg, CompareField field) {
  return std::find(cfg.compare.begin(), cfg.compare.end(), field) != cfg.compare.end();
}

// "status, body_hash"
std::string JoinFields(const std::vector<CompareField>& fields) {
  std::string out;
  for (CompareField f : fields) out += (out.empty() ? "" : ", ") + std::string(CompareFieldName(f));
  return out;
}

class CdnRun final : public CheckRunBase {
 public:
  CdnRun(std::shared_ptr<const CdnOriginConfig> cfg, const RunContext& ctx, DoneCallback done)
      : CheckRunBase(std::move(done)),
        cfg_(std::move(cfg)),
        edge_(cfg_->edge, "", 0, Compares(*cfg_, CompareField::kBodyHash), ctx.services,
              ctx.deadline, [this] { OnSideDone(); }),
        origin_(cfg_->origin, cfg_->origin_connect_host, cfg_->origin_connect_port,
                Compares(*cfg_, CompareField::kBodyHash), ctx.services, ctx.deadline,
                [this] { OnSideDone(); }) {}

  // Both sides start now and run concurrently. May call `done` before returning.
  void Begin() {
    edge_.Begin();
    origin_.Begin();
  }

  Result Abort() override {
    if (reported_) {
      // Abort is only called on a run in flight; anything else is a scheduler bug.
      return Result::Failure(Reason::kInternalError, "cdn_origin run aborted while not running");
    }
    reported_ = true;
    edge_.Abort();
    origin_.Abort();
    return Evaluate();
  }

 private:
  void OnSideDone() {
    if (!edge_.finished() || !origin_.finished()) return;
    reported_ = true;
    Finish(Evaluate());  // may destroy `this`: nothing after it
  }

  // "HTTP 200 (hit) in 3.1 ms", or what went wrong: "connect() to 10.0.0.5:443 refused after 3.1
  // ms".
  static std::string Summary(const SideRun& side, const CdnSide& s, bool show_cache) {
    std::string ms = FormatMillis(side.elapsed()) + " ms";
    if (side.reason() != Reason::kNone) return side.detail() + " after " + ms;
    std::string out = "HTTP " + std::to_string(s.status);
    if (show_cache && s.cache != CacheStatus::kNone) {
      out += " (" + std::string(CacheStatusName(s.cache)) + ")";
    }
    return out + " in " + ms;
  }

  Result Evaluate() const {
    const CdnOriginConfig& c = *cfg_;
    CdnSide edge = edge_.Side();
    CdnSide origin = origin_.Side();
    CdnJudgement j = JudgeCdn(edge, origin, c.compare);
    std::string e = "edge: " + Summary(edge_, edge, true);
    std::string o = "origin " + c.origin_label + ": " + Summary(origin_, origin, false);
    std::string differing = JoinFields(j.differing);

    Result result;
    switch (j.verdict) {
      case CdnVerdict::kOk:
        result = Result::Success();
        result.detail = e + "; " + o + (c.compare.empty() ? "" : "; same " + JoinFields(c.compare));
        break;
      case CdnVerdict::kContentMismatch:
        result = Result::Failure(Reason::kContentMismatch,
                                 "edge and origin differ in " + differing + "; " + e + "; " + o);
        break;
      case CdnVerdict::kEdgeFault:
        result = Result::Failure(
            Reason::kEdgeFault,
            edge.healthy() ? "the edge serves a stale copy it could not refresh although the "
                             "origin answers; " +
                                 e + "; " + o
                           : e + "; while " + o);
        break;
      case CdnVerdict::kOriginFault:
        result = Result::Failure(Reason::kOriginFault, o + "; " + e);
        break;
      case CdnVerdict::kBothDown:
        result = Result::Failure(Reason::kBothDown, e + "; " + o);
        break;
    }
    Describe(edge, origin, j, result);
    return result;
  }

  void Describe(const CdnSide& edge, const CdnSide& origin, const CdnJudgement& j,
                Result& result) const {
    const CdnMetrics& m = Metrics();
    auto& obs = result.observations;
    obs.reserve(obs.size() + kAllCdnVerdicts.size() + kAllCacheStatuses.size() + 9);
    for (CdnVerdict v : kAllCdnVerdicts) {
      obs.push_back({&m.verdict, {std::string(CdnVerdictName(v))}, v == j.verdict ? 1.0 : 0.0});
    }
    obs.push_back({&m.status_code, {"edge"}, static_cast<double>(edge.status)});
    obs.push_back({&m.status_code, {"origin"}, static_cast<double>(origin.status)});
    obs.push_back({&m.duration, {"edge"}, ToSeconds(edge_.elapsed())});
    obs.push_back({&m.duration, {"origin"}, ToSeconds(origin_.elapsed())});
    // Every status exists from the first run, so the first stale answer is a visible increase.
    for (CacheStatus s : kAllCacheStatuses) {
      double counted = edge.answered() && s == edge.cache ? 1 : 0;
      obs.push_back({&m.cache_status, {std::string(CacheStatusName(s))}, counted});
    }
    if (j.compared) obs.push_back({&m.content_match, {}, j.differing.empty() ? 1.0 : 0.0});
    // The gateway codes exist from the first run, so the first forwarded 502 is an increase.
    std::string fwd_code;
    if (const HttpOutcome* eo = edge_.outcome(); eo != nullptr && edge.answered()) {
      if (std::optional<long> fwd = CacheForwardStatus(eo->headers)) {
        fwd_code = StatusCodeLabel(*fwd, CodeLabelScheme::kGatewayExact);
      }
    }
    bool gateway_code = false;
    for (const char* code : kGatewayCodes) {
      gateway_code = gateway_code || fwd_code == code;
      obs.push_back({&m.cache_forward, {code}, fwd_code == code ? 1.0 : 0.0});
    }
    if (!fwd_code.empty() && !gateway_code) obs.push_back({&m.cache_forward, {fwd_code}, 1});

    const CdnOriginConfig& c = *cfg_;
    auto& report = result.report;
    report.emplace_back("url", c.edge->redacted_url);
    report.emplace_back("origin", c.origin_label);
    auto side = [&](const char* name, const SideRun& run, const CdnSide& s) {
      std::string n(name);
      const HttpOutcome* o = run.outcome();
      report.emplace_back(n + "_address", o != nullptr ? o->address : "-");
      report.emplace_back(n + "_status", s.status != 0 ? std::to_string(s.status) : "-");
      report.emplace_back(n + "_cache", s.answered() ? std::string(CacheStatusName(s.cache)) : "-");
      report.emplace_back(n + "_ms", FormatMillis(run.elapsed()));
      report.emplace_back(n + "_reason", std::string(ReasonName(run.reason())));
      if (run.reason() != Reason::kNone) report.emplace_back(n + "_error", run.detail());
      if (o != nullptr) DescribeHopInFront(s.status, o->headers, run.reason(), n + "_", report);
    };
    side("edge", edge_, edge);
    side("origin", origin_, origin);
    if (j.compared) {
      for (CompareField f : c.compare) {
        std::string ev = FieldValue(f, edge);
        std::string ov = FieldValue(f, origin);
        report.emplace_back(
            std::string(CompareFieldName(f)),
            SameField(f, edge, origin) ? "same " + ev : "differs: edge " + ev + ", origin " + ov);
      }
    }
    report.emplace_back("verdict", std::string(CdnVerdictName(j.verdict)));
    report.emplace_back("reason", std::string(ReasonName(result.reason)));
  }

  const std::shared_ptr<const CdnOriginConfig> cfg_;
  bool reported_ = false;
  SideRun edge_;
  SideRun origin_;
};

class CdnOriginCheck final : public Check {
 public:
  CdnOriginCheck(CheckSpec spec, std::shared_ptr<const CdnOriginConfig> cfg)
      : Check(std::move(spec)), cfg_(std::move(cfg)) {}

  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    auto run = std::make_unique<CdnRun>(cfg_, ctx, std::move(done));
    run->Begin();
    return run;
  }

 private:
  std::shared_ptr<const CdnOriginConfig> cfg_;
};

// "ip:port", "[ip6]:port" or "host:port" -> host (no brackets) and port; false if malformed.
bool SplitHostPort(const std::string& s, std::string* host, long* port) {
  std::string port_text;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
    *host = s.substr(1, close - 1);
    if (!DnsResolver::IsIpLiteral(*host)) return false;
    port_text = s.substr(close + 2);
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    *host = s.substr(0, colon);
    if (host->find(':') != std::string::npos) return false;  // IPv6 needs brackets
    port_text = s.substr(colon + 1);
  }
  if (host->empty() || host->find_first_of(" \t/@?#") != std::string::npos) return false;
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos) {
    return false;
  }
  *port = std::strtol(port_text.c_str(), nullptr, 10);
  return *port >= 1 && *port <= 65535;
}

}  // namespace

std::shared_ptr<const CdnOriginConfig> ParseCdnOriginConfig(const ConfigNode& node) {
  auto cfg = std::make_shared<CdnOriginConfig>();
  auto edge = std::make_shared<HttpRequest>();
  ParseHttpRequest(node, *edge);
  cfg->edge = edge;

  ConfigNode origin = node.Required("origin");
  std::string value = origin.AsString();
  if (value.find("://") != std::string::npos) {
    auto own = std::make_shared<HttpRequest>(*edge);
    if (!SetRequestUrl(value, *own)) origin.Fail("must be an http or https URL, or ip:port");
    cfg->origin = own;
    cfg->origin_label = own->redacted_url;
  } else {
    if (!SplitHostPort(value, &cfg->origin_connect_host, &cfg->origin_connect_port)) {
      origin.Fail("must be ip:port, [ipv6]:port, host:port or an http(s) URL");
    }
    cfg->origin = edge;
    cfg->origin_label = value;
  }

  ConfigNode compare = node.Child("compare");
  if (!compare.IsDefined()) {
    cfg->compare = {CompareField::kStatus, CompareField::kBodyHash};
  } else {
    if (!compare.IsSequence()) compare.Fail("must be a list");
    for (size_t i = 0; i < compare.size(); ++i) {
      ConfigNode item = compare.At(i);
      auto field = ParseCompareField(item.AsString());
      if (!field) {
        item.Fail("must be one of status, etag, last_modified, content_length, body_hash");
      }
      if (Compares(*cfg, *field)) item.Fail("is listed twice");
      cfg->compare.push_back(*field);
    }
  }
  if (edge->head && Compares(*cfg, CompareField::kBodyHash)) {
    (compare.IsDefined() ? compare : node.Child("method"))
        .Fail("method HEAD receives no body to compare (drop body_hash from compare)");
  }
  return cfg;
}

CheckType CdnOriginCheckType() {
  const CdnMetrics& m = Metrics();
  CheckType type;
  type.name = "cdn_origin";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return std::make_unique<CdnOriginCheck>(spec, ParseCdnOriginConfig(node));
  };
  type.metrics = {&m.verdict,      &m.status_code,   &m.duration,
                  &m.cache_status, &m.cache_forward, &m.content_match};
  return type;
}

}  // namespace gatewatch
