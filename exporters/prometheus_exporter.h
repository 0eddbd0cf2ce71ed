// Turns scheduler events into Prometheus series (prometheus-cpp), like blackbox_exporter's common
// handler: the exporter owns success, duration, runs and failure counters for every check, and
// exposes each check type's Observations under `gatewatch_<desc.name>{check, ...}`.
//
// Thread-safety: the ResultSink methods and the setters run on the loop thread. Render() and
// StatusJson() may be called from any thread (web-server threads) at the same time: prometheus-cpp
// synchronises its families, and the status snapshot has its own mutex.
//
// Label sets are bounded by construction: `check` comes from the config, `reason` from the fixed
// taxonomy, and observation labels from each check type's bounded sets. User labels from the
// config appear only on gatewatch_check_info.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <variant>

#include "agent/clock.h"
#include "exporters/alert_spec.h"
#include "exporters/result_sink.h"

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

  void SetReloadResult(bool ok);
  void SetRunsInFlight(size_t n);

  // The text exposition format (0.0.4) of every family.
  std::string Render() const;
  // Latest result of every check, for /api/v1/status.
  nlohmann::json StatusJson() const;
  std::shared_ptr<prometheus::Registry> registry() const { return registry_; }

 private:
  using AnyFamily =
      std::variant<prometheus::Family<prometheus::Gauge>*, prometheus::Family<prometheus::Counter>*,
                   prometheus::Family<prometheus::Histogram>*>;
  struct ObservedSeries {
    AnyFamily family;
    void* metric;
    uint64_t generation;
  };
  struct CheckSeries;
  struct Status {
    std::string type;
    bool has_result = false;
    bool success = false;
    std::string reason;
    std::string detail;
    double duration_seconds = 0;
    double last_run_timestamp = 0;
    std::vector<std::pair<std::string, std::string>> report;
    uint64_t skipped = 0;
  };

  CheckSeries& AddCheck(const CheckSpec& spec);
  void RemoveCheck(CheckSeries& series);
  static void RemoveObserved(const ObservedSeries& obs);
  AnyFamily FamilyFor(const MetricDesc& desc);
  void Observe(CheckSeries& series, const Observation& obs, uint64_t generation);

  const Clock& clock_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& success_;
  prometheus::Family<prometheus::Gauge>& duration_;
  prometheus::Family<prometheus::Counter>& runs_;
  prometheus::Family<prometheus::Counter>& failures_;
  prometheus::Family<prometheus::Counter>& skipped_;
  prometheus::Family<prometheus::Gauge>& last_run_;
  prometheus::Family<prometheus::Gauge>& info_;
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
  std::unordered_map<std::string, std::unique_ptr<CheckSeries>> checks_;
  std::unordered_map<std::string, AnyFamily> families_;  // observation families by name
  std::string key_scratch_;                              // Observe()'s series key, reused

  struct AlertStatus {
    std::string severity;
    bool firing = false;
    double value = 0;
    double threshold = 0;
    std::string reason;
  };

  mutable std::mutex status_mu_;
  std::map<std::string, Status> status_;             // guarded by status_mu_
  std::map<std::string, AlertStatus> alert_status_;  // guarded by status_mu_
};

}  // namespace gatewatch
