#include "exporters/prometheus_exporter.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "agent/base/utf8.h"
#include "exporters/series_render.h"
#include "exporters/status_json.h"

namespace gatewatch {
namespace {

using prometheus::Histogram;

double WallSeconds(const Clock& clock) {
  return std::chrono::duration<double>(clock.WallNow().time_since_epoch()).count();
}

const Histogram::BucketBoundaries kLagBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};

}  // namespace

PrometheusExporter::PrometheusExporter(BuildInfo info, const Clock& clock, Placement placement)
    : clock_(clock),
      registry_(std::make_shared<prometheus::Registry>()),
      reload_ok_(prometheus::BuildGauge()
                     .Name("gatewatch_config_last_reload_successful")
                     .Help("Whether the last config load or reload succeeded.")
                     .Register(*registry_)
                     .Add({})),
      reload_timestamp_(prometheus::BuildGauge()
                            .Name("gatewatch_config_last_reload_success_timestamp_seconds")
                            .Help("Unix time of the last successful config load or reload.")
                            .Register(*registry_)
                            .Add({})),
      checks_configured_(prometheus::BuildGauge()
                             .Name("gatewatch_checks_configured")
                             .Help("Number of checks in the running config.")
                             .Register(*registry_)
                             .Add({})),
      runs_in_flight_(prometheus::BuildGauge()
                          .Name("gatewatch_runs_in_flight")
                          .Help("Check runs started and not yet finished.")
                          .Register(*registry_)
                          .Add({})),
      lag_(prometheus::BuildHistogram()
               .Name("gatewatch_scheduler_lag_seconds")
               .Help("How late due runs were picked up by the event loop.")
               .Register(*registry_)
               .Add({}, kLagBuckets)),
      alert_firing_(prometheus::BuildGauge()
                        .Name("gatewatch_alert_firing")
                        .Help("Whether the alert, as evaluated inside gatewatch, fires (1) or not "
                              "(0); `reason` is the dominant failure reason of its source.")
                        .Register(*registry_)),
      alert_value_(prometheus::BuildGauge()
                       .Name("gatewatch_alert_value")
                       .Help("The alert's current value: the ratio over its window, or the "
                             "burn rate for SLO alerts.")
                       .Register(*registry_)),
      alert_threshold_(prometheus::BuildGauge()
                           .Name("gatewatch_alert_threshold")
                           .Help("The value above which the alert fires.")
                           .Register(*registry_)) {
  prometheus::Labels build = {{"version", info.version},
                              {"revision", info.revision},
                              {"compiler", info.compiler},
                              {"shard", placement.shard}};
  if (!placement.location.empty()) build["location"] = placement.location;
  prometheus::BuildGauge()
      .Name("gatewatch_build_info")
      .Help(
          "Always 1: the version, git revision and compiler gatewatch was built with, its shard "
          "(--shard) and location (--location).")
      .Register(*registry_)
      .Add(build)
      .Set(1);
  prometheus::BuildGauge()
      .Name("gatewatch_start_time_seconds")
      .Help("Unix time at which gatewatch started.")
      .Register(*registry_)
      .Add({})
      .Set(WallSeconds(clock_));
}

PrometheusExporter::~PrometheusExporter() = default;

void PrometheusExporter::OnConfig(const std::vector<const CheckSpec*>& checks) {
  checks_.SetChecks(checks);
  checks_configured_.Set(static_cast<double>(checks.size()));
}

void PrometheusExporter::OnResult(const CheckSpec& check, const Result& result) {
  checks_.OnResult(check, result, WallSeconds(clock_));
}

void PrometheusExporter::OnSkipped(const CheckSpec& check) { checks_.OnSkipped(check); }

void PrometheusExporter::OnSchedulerLag(Duration lag) {
  lag_.Observe(std::max(0.0, ToSeconds(lag)));
}

void PrometheusExporter::OnAlertsConfigured(const std::vector<AlertSpec>& alerts) {
  std::unordered_map<std::string, AlertSeries> next;
  for (const auto& a : alerts) {
    auto it = alerts_.find(a.name);
    if (it != alerts_.end()) {
      next.emplace(a.name, it->second);
      alerts_.erase(it);
    } else {
      AlertSeries s;
      s.value = &alert_value_.Add({{"alert", a.name}});
      s.threshold = &alert_threshold_.Add({{"alert", a.name}});
      next.emplace(a.name, s);
    }
  }
  for (auto& [name, s] : alerts_) {
    if (s.firing != nullptr) alert_firing_.Remove(s.firing);
    alert_value_.Remove(s.value);
    alert_threshold_.Remove(s.threshold);
  }
  alerts_ = std::move(next);
  std::lock_guard<std::mutex> lock(status_mu_);
  std::map<std::string, AlertStatus> status;
  for (const auto& a : alerts) status[a.name].severity = a.severity;
  alert_status_ = std::move(status);
}

void PrometheusExporter::OnAlertState(const AlertSpec& alert, bool firing, double value,
                                      double threshold, const std::string& reason) {
  auto it = alerts_.find(alert.name);
  if (it == alerts_.end()) return;
  AlertSeries& s = it->second;
  // One firing series per alert: a new dominant reason replaces the old series.
  std::string label = firing ? reason : "none";
  if (s.firing == nullptr || s.firing_reason != label) {
    if (s.firing != nullptr) alert_firing_.Remove(s.firing);
    s.firing = &alert_firing_.Add(
        {{"alert", alert.name}, {"severity", alert.severity}, {"reason", label}});
    s.firing_reason = label;
  }
  s.firing->Set(firing ? 1 : 0);
  s.value->Set(value);
  s.threshold->Set(threshold);
  std::lock_guard<std::mutex> lock(status_mu_);
  AlertStatus& status = alert_status_[alert.name];
  status = {alert.severity, firing, value, threshold, reason, std::move(status.verdict)};
}

void PrometheusExporter::OnAlertVerdict(const AlertSpec& alert, const std::string& verdict) {
  std::lock_guard<std::mutex> lock(status_mu_);
  auto it = alert_status_.find(alert.name);
  // The sender made it alert text (valid UTF-8, capped); capped again as every status string is.
  if (it != alert_status_.end()) it->second.verdict = SanitizeUtf8(verdict, kMaxDetailBytes);
}

void PrometheusExporter::AddInternalCounter(std::string name, std::string help,
                                            std::function<double()> read) {
  internal_counters_.push_back({std::move(name), std::move(help), std::move(read)});
}

void PrometheusExporter::AddInternalGauges(std::string name, std::string help,
                                           std::vector<std::string> label_names,
                                           std::function<GaugeRows()> read) {
  internal_gauges_.push_back(
      {std::move(name), std::move(help), std::move(label_names), std::move(read)});
}

void PrometheusExporter::SetReloadResult(bool ok) {
  reload_ok_.Set(ok ? 1 : 0);
  if (ok) reload_timestamp_.Set(WallSeconds(clock_));
}

void PrometheusExporter::SetRunsInFlight(size_t n) { runs_in_flight_.Set(static_cast<double>(n)); }

std::string PrometheusExporter::Render() const {
  // prometheus-cpp 1.0.1's Registry holds only its own families (no RegisterCollectable): the
  // store's families come first, then the registry's.
  std::vector<prometheus::MetricFamily> families = CollectCheckSeries(checks_);
  std::vector<prometheus::MetricFamily> global = registry_->Collect();
  families.insert(families.end(), std::make_move_iterator(global.begin()),
                  std::make_move_iterator(global.end()));
  for (const InternalCounter& c : internal_counters_) {
    prometheus::ClientMetric metric;
    metric.counter.value = c.read();
    families.push_back({c.name, c.help, prometheus::MetricType::Counter, {std::move(metric)}});
  }
  for (const InternalGauges& g : internal_gauges_) {
    prometheus::MetricFamily family{g.name, g.help, prometheus::MetricType::Gauge, {}};
    for (auto& [values, value] : g.read()) {
      prometheus::ClientMetric metric;
      for (size_t i = 0; i < g.label_names.size() && i < values.size(); ++i) {
        metric.label.push_back({g.label_names[i], SanitizeUtf8(values[i], kMaxLabelValueBytes)});
      }
      metric.gauge.value = value;
      family.metric.push_back(std::move(metric));
    }
    if (!family.metric.empty()) families.push_back(std::move(family));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return std::move(out).str();  // C++20: moves the buffer out instead of copying it
}

nlohmann::json PrometheusExporter::StatusJson() const {
  nlohmann::json checks = gatewatch::StatusJson(checks_);
  std::lock_guard<std::mutex> lock(status_mu_);
  nlohmann::json alerts = nlohmann::json::array();
  for (const auto& [name, a] : alert_status_) {
    alerts.push_back({{"name", name},
                      {"state", a.firing ? "firing" : "ok"},
                      {"severity", a.severity},
                      {"value", a.value},
                      {"threshold", a.threshold},
                      {"reason", a.reason},
                      {"verdict", a.verdict}});
  }
  return nlohmann::json{{"checks", std::move(checks)}, {"alerts", std::move(alerts)}};
}

}  // namespace gatewatch
