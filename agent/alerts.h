// Alert thresholds for 502 rates, kept in gatewatch's own config:
//
//   alerts:
//     - name: High502Rate
//       source: {check: edge-nginx}      # a proxy_log check (real traffic) or an http check
//       (probes) ratio: {of: [502], window: 5m}   # share of responses (or runs) with these codes
//       above: 0.05
//       for: 2m
//       min_events: 20                   # no alert on 1 of 3 requests
//       severity: page
//       service: shop                    # optional, default: the source check's name
//       annotations: {runbook: "https://runbooks.example/502"}
//     - name: Slo502Burn                 # multi-window multi-burn-rate, SRE workbook style
//       source: {check: edge-nginx}
//       slo: {objective: 0.999, of: [502, 503, 504]}
//       severity: page
//
// The same definitions are evaluated inside the agent (AlertEvaluator, so the status page and
// metrics say "alerting" before Prometheus does) and rendered as Prometheus rules
// (exporters/rules).
#pragma once

#include <array>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/config_node.h"
#include "checks/api/result_sink.h"
#include "exporters/alert_spec.h"

namespace gatewatch {

// Parses the top-level `alerts:` list. `check_types` maps check name -> type, to validate sources.
// Throws ConfigError with exact paths.
std::vector<AlertSpec> ParseAlerts(const ConfigNode& node,
                                   const std::map<std::string, std::string>& check_types);

// Evaluates alerts from the results the scheduler reports. Memory per alert is bounded: each
// window is kept as a ring of fixed slots, not as a list of events.
//
// Thread-safety: loop thread only (it is a ResultSink, fed by the scheduler).
class AlertEvaluator final : public ResultSink {
 public:
  AlertEvaluator(const Clock& clock, AlertStateSink& sink);

  void SetAlerts(std::vector<AlertSpec> alerts);
  // Where a firing alert's verdict text comes from (the agent: the diagnosis of the service its
  // source check belongs to); "" for none. Called on the loop thread while an alert fires.
  using VerdictSource = std::function<std::string(const AlertSpec&)>;
  void SetVerdictSource(VerdictSource source) { verdict_source_ = std::move(source); }
  // Re-evaluates every alert at the current time (the agent calls it once a second, so `for`
  // and window expiry advance even when no result arrives).
  void Evaluate();

  void OnConfig(const std::vector<const CheckSpec*>&) override {}
  void OnResult(const CheckSpec& check, const Result& result) override;
  void OnSkipped(const CheckSpec&) override {}
  void OnSchedulerLag(Duration) override {}

  struct State {
    bool firing = false;
    std::optional<TimePoint> pending_since;
    double value = 0;
    double events = 0;
    std::string reason = "none";
    std::string verdict;  // while firing: the service's verdict (VerdictSource), else ""
  };
  const State* StateOf(const std::string& alert) const;

 private:
  static constexpr int kSlots = 60;
  // Counts in fixed time slots covering one window.
  struct Window {
    Duration slot;
    std::array<double, kSlots> total{};
    std::array<double, kSlots> bad{};
    int64_t current = -1;  // absolute index of the newest slot
    void Advance(TimePoint now);
    void Add(TimePoint now, double total_delta, double bad_delta);
    std::pair<double, double> Sum(TimePoint now);  // {total, bad}
  };
  struct Tracked {
    AlertSpec spec;
    std::vector<Window> windows;            // ratio: one; SLO: long and short of each burn pair
    std::map<std::string, double> reasons;  // failure reasons seen, decayed per window
    TimePoint reasons_reset;
    State state;
  };
  void Record(Tracked& t, TimePoint now, double total, double bad);
  void EvaluateOne(Tracked& t, TimePoint now);

  const Clock& clock_;
  AlertStateSink& sink_;
  VerdictSource verdict_source_;
  std::vector<Tracked> alerts_;
  std::unordered_map<std::string, std::vector<size_t>> by_check_;
};

}  // namespace gatewatch
