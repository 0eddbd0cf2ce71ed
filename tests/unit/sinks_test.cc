// The agent's sinks, driven directly: what they forward and which transitions they log.
#include "agent/sinks.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/base/logging.h"
#include "agent/base/units.h"

namespace gatewatch {
namespace {

using ::testing::internal::CaptureStderr;
using ::testing::internal::GetCapturedStderr;

// Records every call as one line.
class RecordingSink final : public ResultSink {
 public:
  explicit RecordingSink(std::string tag = "") : tag_(std::move(tag)) {}
  void OnConfig(const std::vector<const CheckSpec*>& checks) override {
    calls.push_back(tag_ + "config " + std::to_string(checks.size()));
  }
  void OnResult(const CheckSpec& check, const Result& result) override {
    calls.push_back(tag_ + "result " + check.name + " " + std::string(ReasonName(result.reason)));
  }
  void OnSkipped(const CheckSpec& check) override {
    calls.push_back(tag_ + "skipped " + check.name);
  }
  void OnSchedulerLag(Duration lag) override { calls.push_back(tag_ + "lag " + FormatMillis(lag)); }
  std::vector<std::string> calls;

 private:
  std::string tag_;
};

class RecordingAlertSink final : public AlertStateSink {
 public:
  void OnAlertsConfigured(const std::vector<AlertSpec>& alerts) override {
    calls.push_back("configured " + std::to_string(alerts.size()));
  }
  void OnAlertState(const AlertSpec& alert, bool firing, double, double,
                    const std::string& reason) override {
    calls.push_back(alert.name + (firing ? " firing " : " ok ") + reason);
  }
  std::vector<std::string> calls;
};

CheckSpec Spec(std::string name) {
  CheckSpec spec;
  spec.name = std::move(name);
  spec.type = "http";
  return spec;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class SinksTest : public ::testing::Test {
 protected:
  void SetUp() override { SetLogLevel(LogLevel::kInfo); }
  void TearDown() override { SetLogLevel(LogLevel::kInfo); }
};

TEST_F(SinksTest, LoggingSinkForwardsEverythingAndLogsOnlyTransitions) {
  RecordingSink next;
  LoggingSink sink(next);
  CheckSpec a = Spec("a");
  std::vector<const CheckSpec*> checks = {&a};

  // One line per step: the result fed, then how many "check failing" / "check ok" lines it logs.
  struct Step {
    Result result;
    int failing_lines, ok_lines;
  };
  const Step steps[] = {
      {Result::Success(), 0, 0},  // first ok: debug only
      {Result::Success(), 0, 0},
      {Result::Failure(Reason::kConnectionRefused, "refused"), 1, 0},
      {Result::Failure(Reason::kConnectionRefused, "refused"), 0, 0},  // same reason: quiet
      {Result::Failure(Reason::kDnsNxdomain, "nxdomain"), 1, 0},       // new reason: logged
      {Result::Success(), 0, 1},                                       // recovery: info
  };
  sink.OnConfig(checks);
  for (const auto& step : steps) {
    CaptureStderr();
    sink.OnResult(a, step.result);
    std::string log = GetCapturedStderr();
    SCOPED_TRACE(log);
    EXPECT_EQ(Count(log, "check failing"), static_cast<size_t>(step.failing_lines));
    EXPECT_EQ(Count(log, "check ok"), static_cast<size_t>(step.ok_lines));
  }
  sink.OnSkipped(a);
  sink.OnSchedulerLag(std::chrono::milliseconds(250));
  ASSERT_EQ(next.calls.size(), 9u);
  EXPECT_EQ(next.calls[0], "config 1");
  EXPECT_EQ(next.calls[3], "result a connection_refused");
  EXPECT_EQ(next.calls[5], "result a dns_nxdomain");
  EXPECT_EQ(next.calls[7], "skipped a");
  EXPECT_EQ(next.calls[8], "lag " + FormatMillis(std::chrono::milliseconds(250)));
}

TEST_F(SinksTest, LoggingSinkFailingFirstRunIsLoggedAndForgetsRemovedChecks) {
  RecordingSink next;
  LoggingSink sink(next);
  CheckSpec a = Spec("a");
  CheckSpec b = Spec("b");
  sink.OnConfig({&a, &b});
  sink.OnResult(a, Result::Failure(Reason::kConnectionRefused, "refused"));
  CaptureStderr();
  sink.OnResult(b, Result::Failure(Reason::kConnectionRefused, "refused"));
  EXPECT_EQ(Count(GetCapturedStderr(), "check failing"), 1u);

  // a is dropped and comes back: its history is gone, so the same failure is logged again.
  sink.OnConfig({&b});
  sink.OnConfig({&a, &b});
  CaptureStderr();
  sink.OnResult(a, Result::Failure(Reason::kConnectionRefused, "refused"));
  sink.OnResult(b, Result::Failure(Reason::kConnectionRefused, "refused"));  // b was kept: quiet
  std::string log = GetCapturedStderr();
  EXPECT_EQ(Count(log, "check failing"), 1u) << log;
  EXPECT_NE(log.find("check=a"), std::string::npos) << log;
}

TEST_F(SinksTest, LoggingAlertSinkLogsFiringAndResolvedOnce) {
  RecordingAlertSink next;
  LoggingAlertSink sink(next);
  AlertSpec alert;
  alert.name = "High502Rate";
  alert.check = "edge";
  alert.severity = "page";
  sink.OnAlertsConfigured({alert});

  struct Step {
    bool firing;
    const char* logged;  // "" for nothing
  };
  const Step steps[] = {
      {false, ""}, {true, "alert firing"}, {true, ""}, {false, "alert resolved"}, {false, ""},
  };
  for (const auto& step : steps) {
    CaptureStderr();
    sink.OnAlertState(alert, step.firing, 0.5, 0.05, "http_502");
    std::string log = GetCapturedStderr();
    SCOPED_TRACE(log);
    EXPECT_EQ(Count(log, "alert "), std::string(step.logged).empty() ? 0u : 1u);
    if (*step.logged) {
      EXPECT_NE(log.find(step.logged), std::string::npos);
    }
  }
  // A reconfigure keeps the state of alerts still present: no second "firing" line.
  sink.OnAlertState(alert, true, 0.5, 0.05, "http_502");
  sink.OnAlertsConfigured({alert});
  CaptureStderr();
  sink.OnAlertState(alert, true, 0.5, 0.05, "http_502");
  EXPECT_EQ(Count(GetCapturedStderr(), "alert firing"), 0u);
  EXPECT_EQ(next.calls.size(), 9u);  // 2 configured + 7 states, every one forwarded
  EXPECT_EQ(next.calls[2], "High502Rate firing http_502");
}

TEST_F(SinksTest, FanoutSinkCallsEverySinkInOrder) {
  RecordingSink first("1:"), second("2:");
  FanoutSink fanout({&first, &second});
  CheckSpec a = Spec("a");
  fanout.OnConfig({&a});
  fanout.OnResult(a, Result::Success());
  fanout.OnSkipped(a);
  fanout.OnSchedulerLag(std::chrono::milliseconds(5));
  const std::vector<std::string> want = {"config 1", "result a none", "skipped a",
                                         "lag " + FormatMillis(std::chrono::milliseconds(5))};
  ASSERT_EQ(first.calls.size(), want.size());
  ASSERT_EQ(second.calls.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(first.calls[i], "1:" + want[i]);
    EXPECT_EQ(second.calls[i], "2:" + want[i]);
  }
}

}  // namespace
}  // namespace gatewatch
