// What an http check run reports besides its verdict: the metric descriptors of the "http" check
// type, the observations every run emits (the same set for every outcome, so series stay stable)
// and the report lines (url, resolve, address, status, one line per phase, redirects, body,
// certificate expiry, reason; per backend for fan-out). Pure: no I/O, the wall time is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/clock.h"
#include "checks/api/metric.h"
#include "checks/api/result.h"
#include "checks/http_fanout.h"
#include "checks/http_transfer.h"

namespace gatewatch {

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
  MetricDesc http_version{"http_version",
                          MetricKind::kGauge,
                          "HTTP version of the last response (1, 1.1, 2 or 3), 0 without one.",
                          {}};
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

// The process-wide descriptors (leaked on purpose: Observations point at them until exit).
const HttpMetrics& HttpCheckMetrics();

// One phase as reported: metric label, report key, time.
struct NamedPhase {
  const char* name;
  const char* report_key;
  Duration d;
};

// CURLINFO_HTTP_VERSION as a number (1.1, 2) and as text ("1.1", "2"); 0 and "-" for none.
double HttpVersionNumber(long curl_version);
std::string HttpVersionText(long curl_version);

// resolve, connect, tls (https only), processing, transfer, in that order.
std::vector<NamedPhase> NamePhases(const HttpPhases& phases, bool https);

// Appends the observations and report lines of one run to `result` (whose reason is final).
// `outcome` is null when no transfer was made (the name did not resolve); `resolve_time` and
// `resolved_text` are the check's own lookup (HttpRun), `wall_now` dates the certificate expiry.
void DescribeHttpRun(const HttpRequest& request, const HttpOutcome* outcome,
                     std::optional<Duration> resolve_time, const std::string& resolved_text,
                     std::chrono::system_clock::time_point wall_now, Result& result);

// Appends what the hop in front said about the response to the report: `proxy_status` (every
// Proxy-Status member), `hop_reason` (when the run failed with the reason a hop gave, and which
// hop) and `cache_fwd_status` (RFC 9211 fwd-status), each key prefixed with `prefix` ("edge_").
// `reason` is what the run (or side) failed with, kNone on success. Nothing for a response
// without those headers.
void DescribeHopInFront(long status, const ResponseHeaders& headers, Reason reason,
                        const std::string& prefix,
                        std::vector<std::pair<std::string, std::string>>& report);

// Appends the fan-out observations (http_backends, http_backend_up per backend) and report lines
// ("backend ip:port" up/down, not_probed) to `result`.
void DescribeFanoutBackends(const std::vector<BackendResult>& backends, size_t resolved,
                            size_t not_probed, Result& result);

}  // namespace gatewatch
