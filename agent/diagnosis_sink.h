// The diagnosis engine wired into the agent: a ResultSink that hands every result to the engine
// (no I/O of its own: it judges results the agent already has), re-judges on the loop once a
// second, and publishes what others read: /api/v1/diagnosis, gatewatch_diagnosis{service,cause}
// and `gatewatch diagnose`.
//
// Thread-safety: the ResultSink methods, Configure and Evaluate run on the loop thread; Json(),
// GaugeRows() and SummaryOf() may be called from any thread (web workers): they read the last
// published snapshot under a mutex and do no heavy work (civetweb's 100 KB worker stacks).
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/diagnosis.h"
#include "checks/api/result_sink.h"
#include "exporters/status_page.h"
#include "exporters/web_response.h"

namespace gatewatch {

// The /api/v1/diagnosis document (docs/api.md): every service, its verdict or null. Strings are
// valid UTF-8 of bounded size (agent/base/utf8.h); `service` non-empty keeps only that one.
nlohmann::json DiagnosisJson(const std::vector<ServiceSpec>& services,
                             const std::vector<Verdict>& verdicts);

// What `gatewatch diagnose` prints for one /api/v1/diagnosis document, as a person reads it.
std::string FormatDiagnosis(const nlohmann::json& doc, const std::string& service = "");

// A verdict as alert text (docs/alerting.md), the line on-call reads on the page:
//   verdict: upstream_down (connection_refused); upstreams: 10.0.0.4:8080; evidence: 14:02:12
//   shop-nginx-log: 10.0.0.4:8080 connection_refused 37 times | 14:02:12 shop-edge: ...
// The cause and why, at most 3 upstreams and the top 3 evidence facts. One printable line of
// valid UTF-8 within kMaxDetailBytes, whatever bytes the evidence carries.
std::string VerdictAlertText(const Verdict& v);

// Every service as the status page shows it (exporters/status_page.h): its verdict, or healthy.
std::vector<ServiceVerdictView> ServiceViews(const std::vector<ServiceSpec>& services,
                                             const std::vector<Verdict>& verdicts);

using DiagnosisRows = std::vector<std::pair<std::vector<std::string>, double>>;

class DiagnosisSink final : public ResultSink {
 public:
  explicit DiagnosisSink(const Clock& clock) : engine_(clock) {}

  void Configure(std::vector<ServiceSpec> services, DiagnosisOptions options);
  void Evaluate();  // loop thread, once a second: verdicts hold and clear with time
  // Loop thread: DiagnosisEngine::AttachRequestLog, published at the next Evaluate().
  bool AttachRequestLog(const std::string& check, const std::string& request_id,
                        const std::string& text);

  void OnConfig(const std::vector<const CheckSpec*>&) override {}
  void OnResult(const CheckSpec& check, const Result& result) override;
  void OnSkipped(const CheckSpec&) override {}
  void OnSchedulerLag(Duration) override {}

  // Any thread.
  std::string Json(const std::string& service) const;
  std::vector<std::pair<std::vector<std::string>, double>> GaugeRows() const;
  // gatewatch_diagnosis_info{service,check,cause,why} = 1: one row per check of each service
  // with a verdict, so a rule on a check finds its service's verdict (docs/metrics.md).
  DiagnosisRows InfoRows() const;
  // The services' verdicts for the status page "/".
  std::vector<ServiceVerdictView> PageViews() const;

  // Loop thread: VerdictAlertText of the verdict of the service `check` belongs to (else of the
  // service named `service`); "" when that service is healthy or there is none.
  std::string AlertText(const std::string& check, const std::string& service) const;

 private:
  void Publish();

  DiagnosisEngine engine_;
  bool dirty_ = true;

  mutable std::mutex mu_;
  nlohmann::json doc_;                                             // guarded by mu_
  std::vector<std::pair<std::vector<std::string>, double>> rows_;  // guarded by mu_
  DiagnosisRows info_rows_;                                        // guarded by mu_
  std::vector<ServiceVerdictView> views_;                          // guarded by mu_
};

// GET /api/v1/diagnosis[?service=S]: the sink's JSON (any thread).
WebResponse DiagnosisResponse(const DiagnosisSink& sink, const std::string& query);

}  // namespace gatewatch
