#include "agent/sinks.h"

#include "agent/base/logging.h"

namespace gatewatch {

void LoggingSink::OnConfig(const std::vector<const CheckSpec*>& checks) {
  std::unordered_map<std::string, Reason> kept;
  for (const auto* spec : checks) {
    auto it = last_.find(spec->name);
    if (it != last_.end()) kept.emplace(spec->name, it->second);
  }
  last_ = std::move(kept);
  next_.OnConfig(checks);
}

void LoggingSink::OnResult(const CheckSpec& check, const Result& result) {
  auto [it, first] = last_.try_emplace(check.name, Reason::kNone);
  if (first || it->second != result.reason) {
    if (result.success) {
      Log(first ? LogLevel::kDebug : LogLevel::kInfo, "check ok",
          {{"check", check.name}, {"type", check.type}});
    } else {
      Log(LogLevel::kWarn, "check failing",
          {{"check", check.name},
           {"type", check.type},
           {"reason", std::string(ReasonName(result.reason))},
           {"cause", std::string(CauseName(ReasonCause(result.reason)))},
           {"detail", result.detail}});
    }
    it->second = result.reason;
  }
  next_.OnResult(check, result);
}

void LoggingSink::OnSkipped(const CheckSpec& check) {
  Log(LogLevel::kDebug, "run skipped: previous run still in flight or cap reached",
      {{"check", check.name}});
  next_.OnSkipped(check);
}

void LoggingAlertSink::OnAlertsConfigured(const std::vector<AlertSpec>& alerts) {
  std::unordered_map<std::string, bool> kept;
  for (const auto& a : alerts) kept[a.name] = firing_[a.name];
  firing_ = std::move(kept);
  std::unordered_map<std::string, std::string> verdicts;
  for (const auto& a : alerts) verdicts[a.name] = verdict_[a.name];
  verdict_ = std::move(verdicts);
  next_.OnAlertsConfigured(alerts);
}

void LoggingAlertSink::OnAlertState(const AlertSpec& alert, bool firing, double value,
                                    double threshold, const std::string& reason) {
  bool& was = firing_[alert.name];
  if (firing != was) {
    Log(firing ? LogLevel::kWarn : LogLevel::kInfo, firing ? "alert firing" : "alert resolved",
        {{"alert", alert.name},
         {"severity", alert.severity},
         {"check", alert.check},
         {"value", std::to_string(value)},
         {"threshold", std::to_string(threshold)},
         {"reason", reason},
         {"verdict", firing && !verdict_[alert.name].empty() ? verdict_[alert.name] : "none"}});
    was = firing;
  }
  next_.OnAlertState(alert, firing, value, threshold, reason);
}

void LoggingAlertSink::OnAlertVerdict(const AlertSpec& alert, const std::string& verdict) {
  verdict_[alert.name] = verdict;
  next_.OnAlertVerdict(alert, verdict);
}

void FanoutSink::OnConfig(const std::vector<const CheckSpec*>& checks) {
  for (auto* s : sinks_) s->OnConfig(checks);
}
void FanoutSink::OnResult(const CheckSpec& check, const Result& result) {
  for (auto* s : sinks_) s->OnResult(check, result);
}
void FanoutSink::OnSkipped(const CheckSpec& check) {
  for (auto* s : sinks_) s->OnSkipped(check);
}
void FanoutSink::OnSchedulerLag(Duration lag) {
  for (auto* s : sinks_) s->OnSchedulerLag(lag);
}

}  // namespace gatewatch
