#include "exporters/prometheus_exporter.h"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace gatewatch {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

double WallSeconds(const Clock& clock) {
  return std::chrono::duration<double>(clock.WallNow().time_since_epoch()).count();
}

const Histogram::BucketBoundaries kLagBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};

}  // namespace

// Handles of one check's series, so a result costs no label-map lookups.
struct PrometheusExporter::CheckSeries {
  std::string name;
  std::string type;
  std::map<std::string, std::string> labels;
  Gauge* success = nullptr;
  Gauge* duration = nullptr;
  Counter* runs_success = nullptr;
  Counter* runs_failure = nullptr;
  Counter* skipped = nullptr;
  Gauge* last_run = nullptr;
  Gauge* info = nullptr;
  std::unordered_map<int, Counter*> failures;                // by Reason
  std::unordered_map<std::string, ObservedSeries> observed;  // by name + label values
  uint64_t generation = 0;
};

PrometheusExporter::PrometheusExporter(BuildInfo info, const Clock& clock, Placement placement)
    : clock_(clock),
      registry_(std::make_shared<prometheus::Registry>()),
      success_(prometheus::BuildGauge()
                   .Name("gatewatch_check_success")
                   .Help("Whether the last run of the check succeeded (1) or failed (0).")
                   .Register(*registry_)),
      duration_(prometheus::BuildGauge()
                    .Name("gatewatch_check_duration_seconds")
                    .Help("Duration of the last run of the check.")
                    .Register(*registry_)),
      runs_(prometheus::BuildCounter()
                .Name("gatewatch_check_runs_total")
                .Help("Completed runs of the check, by result (success or failure).")
                .Register(*registry_)),
      failures_(prometheus::BuildCounter()
                    .Name("gatewatch_check_failures_total")
                    .Help("Failed runs of the check, by reason (see docs/reasons.md).")
                    .Register(*registry_)),
      skipped_(prometheus::BuildCounter()
                   .Name("gatewatch_check_skipped_total")
                   .Help("Runs not started because the previous run was still in flight or the "
                         "global cap on runs in flight was reached.")
                   .Register(*registry_)),
      last_run_(prometheus::BuildGauge()
                    .Name("gatewatch_check_last_run_timestamp_seconds")
                    .Help("Unix time at which the last run of the check ended.")
                    .Register(*registry_)),
      info_(prometheus::BuildGauge()
                .Name("gatewatch_check_info")
                .Help("Always 1: the check's type and the labels given to it in the config.")
                .Register(*registry_)),
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

PrometheusExporter::CheckSeries& PrometheusExporter::AddCheck(const CheckSpec& spec) {
  auto series = std::make_unique<CheckSeries>();
  series->name = spec.name;
  series->type = spec.type;
  series->labels = spec.labels;
  prometheus::Labels base{{"check", spec.name}, {"type", spec.type}};
  // Counters exist from the first scrape, so rate() works before the first failure. The gauges
  // (success, duration, last run) wait for the first result: a check that has not run yet must
  // not look failing.
  auto with = [&](const char* key, const char* value) {
    prometheus::Labels l = base;
    l[key] = value;
    return l;
  };
  series->runs_success = &runs_.Add(with("result", "success"));
  series->runs_failure = &runs_.Add(with("result", "failure"));
  series->skipped = &skipped_.Add({{"check", spec.name}});
  prometheus::Labels info = base;
  for (const auto& [k, v] : spec.labels) info[k] = v;
  series->info = &info_.Add(info);
  series->info->Set(1);
  auto& ref = *series;
  checks_[spec.name] = std::move(series);
  return ref;
}

void PrometheusExporter::RemoveCheck(CheckSeries& s) {
  if (s.success != nullptr) {
    success_.Remove(s.success);
    duration_.Remove(s.duration);
    last_run_.Remove(s.last_run);
  }
  runs_.Remove(s.runs_success);
  runs_.Remove(s.runs_failure);
  skipped_.Remove(s.skipped);
  info_.Remove(s.info);
  for (auto& [reason, counter] : s.failures) failures_.Remove(counter);
  for (auto& [key, obs] : s.observed) RemoveObserved(obs);
}

void PrometheusExporter::RemoveObserved(const ObservedSeries& obs) {
  if (auto* g = std::get_if<Family<Gauge>*>(&obs.family)) {
    (*g)->Remove(static_cast<Gauge*>(obs.metric));
  } else if (auto* c = std::get_if<Family<Counter>*>(&obs.family)) {
    (*c)->Remove(static_cast<Counter*>(obs.metric));
  } else {
    std::get<Family<Histogram>*>(obs.family)->Remove(static_cast<Histogram*>(obs.metric));
  }
}

void PrometheusExporter::OnConfig(const std::vector<const CheckSpec*>& checks) {
  std::unordered_map<std::string, const CheckSpec*> wanted;
  for (const auto* spec : checks) wanted.emplace(spec->name, spec);
  for (auto it = checks_.begin(); it != checks_.end();) {
    auto w = wanted.find(it->first);
    // A check that changed type or labels is re-created; its counters restart, as its identity did.
    if (w == wanted.end() || w->second->type != it->second->type ||
        w->second->labels != it->second->labels) {
      RemoveCheck(*it->second);
      it = checks_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto* spec : checks) {
    if (!checks_.contains(spec->name)) AddCheck(*spec);
  }
  checks_configured_.Set(static_cast<double>(checks.size()));

  std::lock_guard<std::mutex> lock(status_mu_);
  std::map<std::string, Status> next;
  for (const auto* spec : checks) {
    auto it = status_.find(spec->name);
    Status s =
        it != status_.end() && it->second.type == spec->type ? std::move(it->second) : Status{};
    s.type = spec->type;
    next.emplace(spec->name, std::move(s));
  }
  status_ = std::move(next);
}

PrometheusExporter::AnyFamily PrometheusExporter::FamilyFor(const MetricDesc& desc) {
  std::string name = "gatewatch_" + std::string(desc.name);
  auto it = families_.find(name);
  if (it != families_.end()) return it->second;
  AnyFamily family;
  std::string help(desc.help);
  switch (desc.kind) {
    case MetricKind::kGauge:
      family = &prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
      break;
    case MetricKind::kCounter:
      family = &prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
      break;
    case MetricKind::kHistogram:
      family = &prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
      break;
  }
  families_.emplace(name, family);
  return family;
}

void PrometheusExporter::Observe(CheckSeries& s, const Observation& obs, uint64_t generation) {
  // A reused buffer: building the key must not allocate on every observation of every run.
  std::string& key = key_scratch_;
  key.assign(obs.desc->name);
  for (const auto& v : obs.label_values) {
    key += '\x1f';
    key += v;
  }
  auto it = s.observed.find(key);
  if (it == s.observed.end()) {
    prometheus::Labels labels{{"check", s.name}};
    for (size_t i = 0; i < obs.desc->labels.size() && i < obs.label_values.size(); ++i) {
      labels[std::string(obs.desc->labels[i])] = obs.label_values[i];
    }
    AnyFamily family = FamilyFor(*obs.desc);
    void* metric = nullptr;
    if (auto* g = std::get_if<Family<Gauge>*>(&family)) {
      metric = &(*g)->Add(labels);
    } else if (auto* c = std::get_if<Family<Counter>*>(&family)) {
      metric = &(*c)->Add(labels);
    } else {
      auto* h = std::get<Family<Histogram>*>(family);
      metric = &h->Add(
          labels, Histogram::BucketBoundaries(obs.desc->buckets.begin(), obs.desc->buckets.end()));
    }
    it = s.observed.emplace(key, ObservedSeries{family, metric, generation}).first;
  }
  it->second.generation = generation;
  switch (obs.desc->kind) {
    case MetricKind::kGauge:
      static_cast<Gauge*>(it->second.metric)->Set(obs.value);
      break;
    case MetricKind::kCounter:
      if (obs.value > 0) static_cast<Counter*>(it->second.metric)->Increment(obs.value);
      break;
    case MetricKind::kHistogram:
      if (obs.bucket_counts.empty()) {
        static_cast<Histogram*>(it->second.metric)->Observe(obs.value);
      } else if (obs.bucket_counts.size() == obs.desc->buckets.size() + 1) {
        static_cast<Histogram*>(it->second.metric)->ObserveMultiple(obs.bucket_counts, obs.value);
      }  // a batch of another shape is a check bug: dropped rather than mis-bucketed
      break;
  }
}

void PrometheusExporter::OnResult(const CheckSpec& check, const Result& result) {
  auto it = checks_.find(check.name);
  CheckSeries& s = it != checks_.end() ? *it->second : AddCheck(check);
  double seconds = ToSeconds(result.duration);
  double now = WallSeconds(clock_);
  if (s.success == nullptr) {
    prometheus::Labels base{{"check", s.name}, {"type", s.type}};
    s.success = &success_.Add(base);
    s.duration = &duration_.Add(base);
    s.last_run = &last_run_.Add({{"check", s.name}});
  }
  s.success->Set(result.success ? 1 : 0);
  s.duration->Set(seconds);
  s.last_run->Set(now);
  if (result.success) {
    s.runs_success->Increment();
  } else {
    s.runs_failure->Increment();
    auto& counter = s.failures[static_cast<int>(result.reason)];
    if (counter == nullptr) {
      counter = &failures_.Add({{"check", s.name},
                                {"type", s.type},
                                {"reason", std::string(ReasonName(result.reason))}});
    }
    counter->Increment();
  }

  uint64_t generation = ++s.generation;
  for (const auto& obs : result.observations) Observe(s, obs, generation);
  // Gauges describe the current state: drop those this result no longer reports.
  for (auto o = s.observed.begin(); o != s.observed.end();) {
    if (std::holds_alternative<Family<Gauge>*>(o->second.family) &&
        o->second.generation != generation) {
      RemoveObserved(o->second);
      o = s.observed.erase(o);
    } else {
      ++o;
    }
  }

  std::lock_guard<std::mutex> lock(status_mu_);
  Status& st = status_[check.name];
  st.type = check.type;
  st.has_result = true;
  st.success = result.success;
  st.reason = std::string(ReasonName(result.reason));
  st.detail = result.detail;
  st.duration_seconds = seconds;
  st.last_run_timestamp = now;
  st.report = result.report;
}

void PrometheusExporter::OnSkipped(const CheckSpec& check) {
  auto it = checks_.find(check.name);
  (it != checks_.end() ? *it->second : AddCheck(check)).skipped->Increment();
  std::lock_guard<std::mutex> lock(status_mu_);
  status_[check.name].skipped++;
}

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
  alert_status_[alert.name] = {alert.severity, firing, value, threshold, reason};
}

void PrometheusExporter::SetReloadResult(bool ok) {
  reload_ok_.Set(ok ? 1 : 0);
  if (ok) reload_timestamp_.Set(WallSeconds(clock_));
}

void PrometheusExporter::SetRunsInFlight(size_t n) { runs_in_flight_.Set(static_cast<double>(n)); }

std::string PrometheusExporter::Render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return std::move(out).str();  // C++20: moves the buffer out instead of copying it
}

nlohmann::json PrometheusExporter::StatusJson() const {
  nlohmann::json checks = nlohmann::json::array();
  std::lock_guard<std::mutex> lock(status_mu_);
  for (const auto& [name, s] : status_) {
    nlohmann::json c{{"name", name}, {"type", s.type}, {"skipped_total", s.skipped}};
    if (s.has_result) {
      c["success"] = s.success;
      c["reason"] = s.reason;
      c["cause"] = CauseName(ReasonCause(*ParseReason(s.reason)));
      c["detail"] = s.detail;
      c["duration_seconds"] = s.duration_seconds;
      c["last_run_timestamp_seconds"] = s.last_run_timestamp;
      nlohmann::json report = nlohmann::json::object();
      for (const auto& [k, v] : s.report) report[k] = v;
      c["report"] = std::move(report);
    } else {
      c["success"] = nullptr;  // not run yet
    }
    checks.push_back(std::move(c));
  }
  nlohmann::json alerts = nlohmann::json::array();
  for (const auto& [name, a] : alert_status_) {
    alerts.push_back({{"name", name},
                      {"state", a.firing ? "firing" : "ok"},
                      {"severity", a.severity},
                      {"value", a.value},
                      {"threshold", a.threshold},
                      {"reason", a.reason}});
  }
  return nlohmann::json{{"checks", std::move(checks)}, {"alerts", std::move(alerts)}};
}

}  // namespace gatewatch
