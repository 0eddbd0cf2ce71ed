// The result and alert sinks the agent chains between the scheduler and the exporter: log
// transitions, fan one stream out to several consumers.
//
// Ownership: each sink keeps a reference to its `next` (or pointers to its targets), which must
// outlive it. Thread-safety: loop thread only, like every ResultSink.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "checks/api/result_sink.h"
#include "exporters/alert_spec.h"

namespace gatewatch {

// Forwards results to `next` and logs each check's transitions (ok -> failing and back), not
// every run: a check failing every 10 s must not flood the log.
class LoggingSink final : public ResultSink {
 public:
  explicit LoggingSink(ResultSink& next) : next_(next) {}

  void OnConfig(const std::vector<const CheckSpec*>& checks) override;
  void OnResult(const CheckSpec& check, const Result& result) override;
  void OnSkipped(const CheckSpec& check) override;
  void OnSchedulerLag(Duration lag) override { next_.OnSchedulerLag(lag); }

 private:
  ResultSink& next_;
  std::unordered_map<std::string, Reason> last_;  // by check name: the last run's reason
};

// Logs alert transitions (the agent's own evaluation) and forwards every state to `next`.
class LoggingAlertSink final : public AlertStateSink {
 public:
  explicit LoggingAlertSink(AlertStateSink& next) : next_(next) {}

  void OnAlertsConfigured(const std::vector<AlertSpec>& alerts) override;
  void OnAlertState(const AlertSpec& alert, bool firing, double value, double threshold,
                    const std::string& reason) override;
  void OnAlertVerdict(const AlertSpec& alert, const std::string& verdict) override;

 private:
  AlertStateSink& next_;
  std::unordered_map<std::string, bool> firing_;          // by alert name
  std::unordered_map<std::string, std::string> verdict_;  // by alert name: the latest verdict
};

// Hands every scheduler event to several sinks (the exporter, the alert evaluator), in order.
class FanoutSink final : public ResultSink {
 public:
  explicit FanoutSink(std::vector<ResultSink*> sinks) : sinks_(std::move(sinks)) {}

  void OnConfig(const std::vector<const CheckSpec*>& checks) override;
  void OnResult(const CheckSpec& check, const Result& result) override;
  void OnSkipped(const CheckSpec& check) override;
  void OnSchedulerLag(Duration lag) override;

 private:
  std::vector<ResultSink*> sinks_;
};

}  // namespace gatewatch
