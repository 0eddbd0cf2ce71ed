#include "checks/http_report.h"

#include <chrono>
#include <ctime>

#include "agent/base/units.h"
#include "checks/api/http_status.h"
#include "checks/http_reasons.h"
#include "checks/proxy_status.h"

namespace gatewatch {

const HttpMetrics& HttpCheckMetrics() {
  static const HttpMetrics* metrics = new HttpMetrics();
  return *metrics;
}

double HttpVersionNumber(long v) {
  switch (v) {
    case CURL_HTTP_VERSION_1_0:
      return 1.0;
    case CURL_HTTP_VERSION_1_1:
      return 1.1;
    case CURL_HTTP_VERSION_2_0:
      return 2;
    case CURL_HTTP_VERSION_3:
      return 3;
    default:
      return 0;
  }
}

std::string HttpVersionText(long v) {
  switch (v) {
    case CURL_HTTP_VERSION_1_0:
      return "1.0";
    case CURL_HTTP_VERSION_1_1:
      return "1.1";
    case CURL_HTTP_VERSION_2_0:
      return "2";
    case CURL_HTTP_VERSION_3:
      return "3";
    default:
      return "-";
  }
}

std::vector<NamedPhase> NamePhases(const HttpPhases& phases, bool https) {
  std::vector<NamedPhase> named;
  named.reserve(5);
  named.push_back({"resolve", "resolve_ms", phases.resolve});
  named.push_back({"connect", "connect_ms", phases.connect});
  if (https) named.push_back({"tls", "tls_ms", phases.tls});
  named.push_back({"processing", "processing_ms", phases.processing});
  named.push_back({"transfer", "transfer_ms", phases.transfer});
  return named;
}

void DescribeHttpRun(const HttpRequest& request, const HttpOutcome* outcome,
                     std::optional<Duration> resolve_time, const std::string& resolved_text,
                     std::chrono::system_clock::time_point wall_now, Result& result) {
  const HttpMetrics& m = HttpCheckMetrics();
  TransferInfo none;
  none.https = request.https;
  const TransferInfo& info = outcome != nullptr ? outcome->info : none;
  bool curl_ran = outcome != nullptr && outcome->started;
  uint64_t body_bytes = outcome != nullptr ? outcome->body_bytes : 0;
  HttpPhases phases =
      ComputePhases(curl_ran ? info.times : CurlTimesUs{}, info.https, resolve_time);
  // Reserved: an Observation carries its label values inline, so regrowing moves big objects.
  auto& obs = result.observations;
  obs.reserve(obs.size() + 13);
  obs.push_back({&m.status_code, {}, static_cast<double>(info.status)});
  std::string code = StatusCodeLabel(info.status, CodeLabelScheme::kGatewayExact);
  obs.push_back({&m.responses, {code}, 1});
  // The codes alerts are written against exist from the first run (at 0), so that the first
  // 502 is an increase Prometheus can see rather than a new series starting at 1.
  for (const char* zero : kGatewayCodes) {
    if (code != zero) obs.push_back({&m.responses, {zero}, 0});
  }
  std::vector<NamedPhase> named = NamePhases(phases, info.https);
  for (const NamedPhase& p : named) obs.push_back({&m.phase_seconds, {p.name}, ToSeconds(p.d)});
  if (info.cert_expiry) {
    obs.push_back({&m.cert_expiry, {}, static_cast<double>(*info.cert_expiry)});
  }
  obs.push_back({&m.redirects, {}, static_cast<double>(info.redirects)});
  obs.push_back({&m.content_length, {}, static_cast<double>(body_bytes)});
  obs.push_back({&m.http_version, {}, HttpVersionNumber(info.status != 0 ? info.http_version : 0)});

  auto& report = result.report;
  report.reserve(report.size() + 15);
  report.emplace_back("url", request.redacted_url);
  if (!resolved_text.empty()) report.emplace_back("resolve", resolved_text);
  if (!info.effective_url.empty() && info.effective_url != request.redacted_url) {
    report.emplace_back("final_url", info.effective_url);
  }
  report.emplace_back("address", outcome != nullptr ? outcome->address : "-");
  report.emplace_back("status", info.status != 0 ? std::to_string(info.status) : "-");
  report.emplace_back("http_version", HttpVersionText(info.status != 0 ? info.http_version : 0));
  for (const NamedPhase& p : named) report.emplace_back(p.report_key, FormatMillis(p.d));
  report.emplace_back("redirects", std::to_string(info.redirects));
  report.emplace_back("body_bytes", std::to_string(body_bytes));
  if (info.cert_expiry) {
    int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(wall_now.time_since_epoch()).count();
    int64_t days = (*info.cert_expiry - now) / 86400;
    report.emplace_back(
        "tls_cert_expiry",
        FormatUtc(std::chrono::system_clock::from_time_t(static_cast<time_t>(*info.cert_expiry)),
                  "%Y-%m-%dT%H:%M:%SZ") +
            " (" + std::to_string(days) + " days)");
  }
  if (outcome != nullptr) {
    DescribeHopInFront(info.status, outcome->headers, result.reason, "", result.report);
  }
  report.emplace_back("reason", std::string(ReasonName(result.reason)));
  // A failed run keeps what the server said (capped in the transfer, sanitised where it leaves):
  // the history and `gatewatch probe` show it as evidence.
  if (result.reason != Reason::kNone && outcome != nullptr) {
    if (!outcome->head_prefix.empty()) report.emplace_back("response_head", outcome->head_prefix);
    if (!outcome->body_prefix.empty()) report.emplace_back("response_body", outcome->body_prefix);
  }
}

void DescribeHopInFront(long status, const ResponseHeaders& headers, Reason reason,
                        const std::string& prefix,
                        std::vector<std::pair<std::string, std::string>>& report) {
  std::string proxies = DescribeProxyStatus(ProxyStatusOf(headers));
  if (!proxies.empty()) report.emplace_back(prefix + "proxy_status", std::move(proxies));
  if (reason != Reason::kNone) {
    // Only when the hop's reason is the one the run failed with (not, say, a body mismatch).
    std::optional<HopAttribution> hop = AttributeHopFailure(status, headers);
    if (hop && hop->reason == reason) {
      report.emplace_back(prefix + "hop_reason", std::string(ReasonName(hop->reason)) + " from " +
                                                     hop->hop + " (" + hop->source + ")");
    }
  }
  if (std::optional<long> fwd = CacheForwardStatus(headers)) {
    report.emplace_back(prefix + "cache_fwd_status", std::to_string(*fwd));
  }
}

void DescribeFanoutBackends(const std::vector<BackendResult>& backends, size_t resolved,
                            size_t not_probed, Result& result) {
  const HttpMetrics& m = HttpCheckMetrics();
  result.observations.push_back({&m.backends, {}, static_cast<double>(resolved)});
  for (const BackendResult& b : backends) {
    bool up = b.reason == Reason::kNone;
    result.observations.push_back({&m.backend_up, {b.address}, up ? 1.0 : 0.0});
    result.report.emplace_back(
        "backend " + b.address,
        up ? "up " + b.detail : "down " + std::string(ReasonName(b.reason)) + ": " + b.detail);
  }
  if (not_probed > 0) result.report.emplace_back("not_probed", std::to_string(not_probed));
}

}  // namespace gatewatch
