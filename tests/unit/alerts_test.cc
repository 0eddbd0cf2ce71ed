// Alerts evaluated inside the agent, on a fake clock: `for`, hysteresis, min_events, the dominant
// reason, SLO burn rates; and the alert config rules with their exact messages.
#include "agent/alerts.h"

#include <gtest/gtest.h>

#include "agent/config.h"
#include "tests/testlib/fake_clock.h"

namespace gatewatch {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

// The http check's responses counter, as the evaluator reads it (by name).
const MetricDesc kResponses{"http_responses_total", MetricKind::kCounter, "", {"code"}};
const MetricDesc kProxyResponses{
    "proxy_responses_total", MetricKind::kCounter, "", {"upstream", "code"}};
const MetricDesc kProxyErrors{
    "proxy_upstream_errors_total", MetricKind::kCounter, "", {"upstream", "reason"}};

struct Recorded {
  bool firing = false;
  double value = 0;
  double threshold = 0;
  std::string reason;
};

class RecordingAlertSink final : public AlertStateSink {
 public:
  void OnAlertsConfigured(const std::vector<AlertSpec>& alerts) override {
    configured = alerts.size();
  }
  void OnAlertState(const AlertSpec& alert, bool firing, double value, double threshold,
                    const std::string& reason) override {
    last[alert.name] = {firing, value, threshold, reason};
  }
  void OnAlertVerdict(const AlertSpec& alert, const std::string& v) override {
    verdict[alert.name] = v;
  }
  size_t configured = 0;
  std::map<std::string, std::string> verdict;
  std::map<std::string, Recorded> last;
};

class AlertsTest : public ::testing::Test {
 protected:
  void Load(const std::string& alerts_yaml) {
    Config c = ParseConfig(R"(
checks:
  - {name: edge, type: http, url: "http://127.0.0.1:1/"}
)" + alerts_yaml,
                           "test.yml");
    for (const auto& e : c.checks) specs_.push_back(e.check->spec());
    evaluator_.SetAlerts(c.alerts);
  }
  // One probe run that got `status` (or no response if 0).
  void Run(int status) {
    Result r =
        status >= 200 && status < 400
            ? Result::Success()
            : Result::Failure(status == 0 ? Reason::kConnectionRefused : Reason::kHttp502, "");
    std::string code =
        status == 0 ? "none" : (status == 502 ? "502" : std::to_string(status / 100) + "xx");
    r.observations.push_back({&kResponses, {code}, 1});
    evaluator_.OnResult(specs_[0], r);
  }
  const Recorded& State(const std::string& alert) { return sink_.last.at(alert); }

  FakeClock clock_;
  RecordingAlertSink sink_;
  AlertEvaluator evaluator_{clock_, sink_};
  std::vector<CheckSpec> specs_;
};

constexpr char kHigh502[] = R"(
alerts:
  - name: High502Rate
    source: {check: edge}
    ratio: {of: [502], window: 5m}
    above: 0.5
    for: 2m
    min_events: 4
    severity: page
)";

TEST_F(AlertsTest, FiresOnlyAfterForAndCarriesTheDominantReason) {
  Load(kHigh502);
  for (int i = 0; i < 4; ++i) Run(502);
  EXPECT_FALSE(State("High502Rate").firing) << "pending, `for` not elapsed";
  EXPECT_DOUBLE_EQ(State("High502Rate").value, 1.0);
  EXPECT_DOUBLE_EQ(State("High502Rate").threshold, 0.5);
  clock_.Advance(minutes(1));
  Run(502);
  EXPECT_FALSE(State("High502Rate").firing);
  clock_.Advance(minutes(1));
  Run(502);
  EXPECT_TRUE(State("High502Rate").firing);
  EXPECT_EQ(State("High502Rate").reason, "http_502");
}

TEST_F(AlertsTest, AFiringAlertCarriesItsServiceVerdict) {
  Load(kHigh502);
  std::vector<std::string> asked;
  evaluator_.SetVerdictSource([&](const AlertSpec& a) {
    asked.push_back(a.check);
    return std::string("verdict: upstream_down (bad_gateway)");
  });
  for (int i = 0; i < 4; ++i) Run(502);
  EXPECT_EQ(sink_.verdict.at("High502Rate"), "") << "pending: no verdict yet";
  EXPECT_TRUE(asked.empty()) << "the diagnosis is asked only while firing";
  clock_.Advance(minutes(2));
  evaluator_.Evaluate();
  ASSERT_TRUE(State("High502Rate").firing);
  EXPECT_EQ(sink_.verdict.at("High502Rate"), "verdict: upstream_down (bad_gateway)");
  EXPECT_EQ(evaluator_.StateOf("High502Rate")->verdict, "verdict: upstream_down (bad_gateway)");
  EXPECT_EQ(asked.back(), "edge");
  for (int i = 0; i < 20; ++i) Run(200);
  EXPECT_FALSE(State("High502Rate").firing);
  EXPECT_EQ(sink_.verdict.at("High502Rate"), "") << "resolved: the verdict leaves the alert";
}

TEST_F(AlertsTest, StaysQuietUnderMinEvents) {
  Load(kHigh502);
  for (int i = 0; i < 3; ++i) {
    Run(502);
    clock_.Advance(minutes(1));
  }
  evaluator_.Evaluate();
  EXPECT_FALSE(State("High502Rate").firing);
  EXPECT_DOUBLE_EQ(State("High502Rate").value, 1.0);
}

TEST_F(AlertsTest, HysteresisKeepsFiringUntilBelowClearThreshold) {
  Load(kHigh502);
  for (int i = 0; i < 10; ++i) Run(502);
  clock_.Advance(minutes(2));
  evaluator_.Evaluate();
  ASSERT_TRUE(State("High502Rate").firing);
  // 10 bad of 21: 0.476 is under `above` (0.5) but over clear_below (0.45): still firing.
  for (int i = 0; i < 11; ++i) Run(200);
  EXPECT_NEAR(State("High502Rate").value, 10.0 / 21, 1e-9);
  EXPECT_TRUE(State("High502Rate").firing);
  // 10 of 23 = 0.435 <= 0.45: resolved.
  Run(200);
  Run(200);
  EXPECT_FALSE(State("High502Rate").firing);
}

TEST_F(AlertsTest, OldEventsLeaveTheWindow) {
  Load(kHigh502);
  for (int i = 0; i < 10; ++i) Run(502);
  clock_.Advance(minutes(2));
  evaluator_.Evaluate();
  ASSERT_TRUE(State("High502Rate").firing);
  clock_.Advance(minutes(6));  // the whole window passed with no events
  evaluator_.Evaluate();
  EXPECT_FALSE(State("High502Rate").firing);
  EXPECT_DOUBLE_EQ(State("High502Rate").value, 0.0);
}

TEST_F(AlertsTest, SloBurnPagesOnAFastBurnOnly) {
  Load(R"(
alerts:
  - name: SloBurn
    source: {check: edge}
    slo: {objective: 0.99, of: [502]}
    min_events: 10
)");
  // 20 runs a minute for an hour with 1% errors: burn rate 1, no page.
  for (int m = 0; m < 60; ++m) {
    for (int i = 0; i < 20; ++i) Run(m % 5 == 0 && i == 0 ? 502 : 200);
    clock_.Advance(minutes(1));
  }
  evaluator_.Evaluate();
  EXPECT_FALSE(State("SloBurn").firing);
  // Then everything fails for 10 minutes: both 1h and 5m windows burn > 14.4x.
  for (int m = 0; m < 10; ++m) {
    for (int i = 0; i < 20; ++i) Run(502);
    clock_.Advance(minutes(1));
  }
  evaluator_.Evaluate();
  EXPECT_TRUE(State("SloBurn").firing);
  EXPECT_GT(State("SloBurn").value, 14.4);
}

TEST_F(AlertsTest, ProxyLogSourcesCountResponsesAndUpstreamReasons) {
  Config c = ParseConfig(R"(
checks:
  - {name: edge, type: http, url: "http://127.0.0.1:1/"}
alerts:
  - {name: Edge5xx, source: {check: edge}, ratio: {of: ["5xx"]}, above: 0.1}
)",
                         "t");
  // Same evaluator, proxy-log flavoured source: feed it as the proxy_log check would.
  c.alerts[0].source_kind = AlertSourceKind::kProxyLog;
  evaluator_.SetAlerts(c.alerts);
  CheckSpec spec = c.checks[0].check->spec();
  Result r = Result::Success();
  r.observations.push_back({&kProxyResponses, {"127.0.0.1:9000", "2xx"}, 80});
  r.observations.push_back({&kProxyResponses, {"127.0.0.1:9001", "502"}, 20});
  r.observations.push_back({&kProxyErrors, {"127.0.0.1:9001", "connection_refused"}, 20});
  r.observations.push_back({&kProxyErrors, {"127.0.0.1:9000", "upstream_timeout"}, 1});
  evaluator_.OnResult(spec, r);
  EXPECT_TRUE(State("Edge5xx").firing);
  EXPECT_DOUBLE_EQ(State("Edge5xx").value, 0.2);
  EXPECT_EQ(State("Edge5xx").reason, "connection_refused");
}

std::string AlertError(const std::string& alerts) {
  try {
    ParseConfig(
        "checks:\n  - {name: edge, type: http, url: 'http://127.0.0.1:1/'}\nalerts:\n" + alerts,
        "t");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(AlertConfigTest, ErrorsNameTheirPath) {
  EXPECT_EQ(AlertError("  - {name: A, source: {check: nope}, ratio: {of: [502]}, above: 0.1}\n"),
            "alerts[0].source.check: no check named \"nope\"");
  EXPECT_EQ(AlertError("  - {name: A, source: {check: edge}, above: 0.1}\n"),
            "alerts[0]: needs exactly one of ratio or slo");
  EXPECT_EQ(AlertError("  - {name: A, source: {check: edge}, ratio: {of: [500]}, above: 0.1}\n"),
            "alerts[0].ratio.of[0]: http checks count 502, 503 and 504 exactly and other codes by "
            "class: use \"5xx\"");
  EXPECT_EQ(AlertError("  - {name: A, source: {check: edge}, ratio: {of: [502]}, above: 2}\n"),
            "alerts[0].above: must be a number between 0 and 1 (got \"2\")");
  EXPECT_EQ(AlertError("  - {name: A-b, source: {check: edge}, ratio: {of: [502]}, above: 0.1}\n"),
            "alerts[0].name: must match [a-zA-Z_][a-zA-Z0-9_]* (got \"A-b\")");
  EXPECT_EQ(AlertError("  - {name: A, source: {check: edge}, slo: {objective: 1.5, of: [502]}}\n"),
            "alerts[0].slo.objective: must be a number between 0 and 1 (got \"1.5\")");
  EXPECT_EQ(AlertError(
                "  - {name: A, source: {check: edge}, ratio: {of: [502]}, above: 0.1, fore: 1m}\n"),
            "alerts[0].fore: unknown key (did you mean \"for\"?)");
  EXPECT_EQ(AlertError("  - {name: A, source: {check: edge}, ratio: {of: [502]}, above: 0.1}\n"
                       "  - {name: A, source: {check: edge}, ratio: {of: [502]}, above: 0.2}\n"),
            "alerts[1].name: duplicate alert name \"A\"");
}

}  // namespace
}  // namespace gatewatch
