// Turns scheduler events into Prometheus series, like blackbox_exporter's common handler: the
// exporter owns success, duration, runs and failure counters for every check, and exposes each
// check type's Observations under `gatewatch_<desc.name>{check, ...}`. The per-check series live
// in a compact CheckSeriesStore (exporters/check_series.h, rendered by exporters/series_render.h,
// its status by exporters/status_json.h); the global series (reload, lag, build info, alerts) are
// plain prometheus-cpp families. Render() serializes both with prometheus-cpp's TextSerializer.
//
// Thread-safety: the ResultSink methods and the setters run on the loop thread. Render() and
// StatusJson() may be called from any thread (web-server threads) at the same time: prometheus-cpp
// synchronises its families, the store locks one check's record at a time (so a scrape does not
// hold the loop up for its whole duration), and the alert status has its own mutex.
//
// Label sets are bounded by construction: `check` comes from the config, `reason` from the fixed
// taxonomy, and observation labels from each check type's bounded sets. User labels from the
// config appear only on gatewatch_check_info.
#pragma once

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "agent/base/clock.h"
#include "checks/api/result_sink.h"
#include "exporters/alert_spec.h"
#include "exporters/check_series.h"

namespace gatewatch {

struct BuildInfo {
  std::string version;
  std::string revision;
  std::string compiler;
};

// Where this agent sits in a fleet (docs/scaling.md): labels on gatewatch_build_info.
struct Placement {
  std::string shard = "0/1";  // --shard as "I/N"; "0/1" when unsharded
  std::string location;       // --location; no label when empty
};

class PrometheusExporter final : public ResultSink, public AlertStateSink {
 public:
  // `clock` gives wall-clock timestamps (last run, reload time); it must outlive the exporter.
  PrometheusExporter(BuildInfo info, const Clock& clock, Placement placement = {});
  ~PrometheusExporter() override;

  void OnConfig(const std::vector<const CheckSpec*>& checks) override;
  void OnResult(const CheckSpec& check, const Result& result) override;
  void OnSkipped(const CheckSpec& check) override;
  void OnSchedulerLag(Duration lag) override;

  // AlertStateSink: gatewatch_alert_firing{alert,severity,reason}, _value and _threshold.
  void OnAlertsConfigured(const std::vector<AlertSpec>& alerts) override;
  void OnAlertState(const AlertSpec& alert, bool firing, double value, double threshold,
                    const std::string& reason) override;
  // Kept for /api/v1/status's alert `verdict`.
  void OnAlertVerdict(const AlertSpec& alert, const std::string& verdict) override;

  // A counter of the agent's own machinery (e.g. gatewatch_curl_multi_errors_total), without
  // labels, whose value `read` gives at every scrape: the exporter knows nothing of agent/io.
  // `read` runs on the scraping thread, so it must be thread-safe (an atomic load). Call before
  // Render() may run (before the web server starts).
  void AddInternalCounter(std::string name, std::string help, std::function<double()> read);

  // A gauge family of the agent's own making (e.g. gatewatch_diagnosis{service,cause}) whose
  // series `read` gives at every scrape, each as its label values (in `label_names` order) and
  // value. Same rules as AddInternalCounter: `read` is thread-safe, its labels bounded.
  using GaugeRows = std::vector<std::pair<std::vector<std::string>, double>>;
  void AddInternalGauges(std::string name, std::string help, std::vector<std::string> label_names,
                         std::function<GaugeRows()> read);

  void SetReloadResult(bool ok);
  void SetRunsInFlight(size_t n);

  // The text exposition format (0.0.4) of every family.
  std::string Render() const;
  // Latest result of every check, for /api/v1/status.
  nlohmann::json StatusJson() const;

 private:
  const Clock& clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Gauge& reload_ok_;
  prometheus::Gauge& reload_timestamp_;
  prometheus::Gauge& checks_configured_;
  prometheus::Gauge& runs_in_flight_;
  prometheus::Histogram& lag_;

  prometheus::Family<prometheus::Gauge>& alert_firing_;
  prometheus::Family<prometheus::Gauge>& alert_value_;
  prometheus::Family<prometheus::Gauge>& alert_threshold_;
  struct AlertSeries {
    prometheus::Gauge* firing = nullptr;
    std::string firing_reason;
    prometheus::Gauge* value = nullptr;
    prometheus::Gauge* threshold = nullptr;
  };

  // Loop thread only.
  std::unordered_map<std::string, AlertSeries> alerts_;

  struct AlertStatus {
    std::string severity;
    bool firing = false;
    double value = 0;
    double threshold = 0;
    std::string reason;
    std::string verdict;  // the service's diagnosis while firing (OnAlertVerdict), else ""
  };

  CheckSeriesStore checks_;

  struct InternalCounter {
    std::string name;
    std::string help;
    std::function<double()> read;
  };
  std::vector<InternalCounter> internal_counters_;  // fixed before the first Render()
  struct InternalGauges {
    std::string name;
    std::string help;
    std::vector<std::string> label_names;
    std::function<GaugeRows()> read;
  };
  std::vector<InternalGauges> internal_gauges_;  // fixed before the first Render()

  mutable std::mutex status_mu_;
  std::map<std::string, AlertStatus> alert_status_;  // guarded by status_mu_
};

}  // namespace gatewatch
