// Hostile bytes at the exits (issue 15, item 1): whatever bytes a target or a log put into a
// Result (detail, report, observation label values), /api/v1/status stays valid JSON, /metrics
// stays valid UTF-8 that promtool accepts, label values stay within kMaxLabelValueBytes, and a
// web handler that throws answers 500 instead of taking the process down.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "agent/base/utf8.h"
#include "exporters/check_series.h"
#include "exporters/series_render.h"
#include "exporters/status_json.h"
#include "exporters/web_server.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/promtool.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch {
namespace {

const std::string kCutE = "caf\xC3";  // "café" cut inside its last character
const MetricDesc kUpstreamTotal{
    "t_upstream_requests_total", MetricKind::kCounter, "Requests by upstream.", {"upstream"}};

std::string Garbage(size_t n) {
  std::mt19937 rng(7);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

CheckSpec Spec() {
  CheckSpec s;
  s.name = "api";
  s.type = "http";
  return s;
}

// A failed result quoting the target everywhere a target's bytes can reach.
Result HostileResult() {
  Result r = Result::Failure(Reason::kBodyMismatch, "body \"\xff " + kCutE + "\" does not match");
  r.report.emplace_back("etag", "\"\xff" + kCutE + "\"");
  r.report.emplace_back("server", Garbage(1 << 20));
  r.report.emplace_back("key\xff", "v");
  r.observations.push_back(Observation{&kUpstreamTotal, {"\xff" + kCutE}, 1});
  r.observations.push_back(Observation{&kUpstreamTotal, {Garbage(1 << 20)}, 1});
  return r;
}

TEST(HostileOutputTest, StatusAfterInvalidUtf8InDetailAndReportIsValidJson) {
  // Today's code: dump() throws nlohmann type_error.316 here, and in the web handler that is
  // std::terminate.
  CheckSpec spec = Spec();
  CheckSeriesStore store;
  store.SetChecks({&spec});
  store.OnResult(spec, HostileResult(), 1000);
  std::string text;
  ASSERT_NO_THROW(text = StatusJson(store).dump(2));
  EXPECT_TRUE(IsValidUtf8(text));
  nlohmann::json j = nlohmann::json::parse(text);  // strict: throws on invalid UTF-8
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["detail"], "body \"\xEF\xBF\xBD caf\xEF\xBF\xBD\" does not match");
  EXPECT_EQ(j[0]["report"]["etag"],
            "\"\xEF\xBF\xBD"
            "caf\xEF\xBF\xBD\"");
  EXPECT_LE(j[0]["report"]["server"].get<std::string>().size(), kMaxDetailBytes);

  // The pure path a fuzzer drives, and probe --json's (a Result straight to JSON).
  std::string fuzzed = StatusTextOfResult(spec, HostileResult(), 1000);
  EXPECT_NO_THROW(nlohmann::json::parse(fuzzed));
  EXPECT_NO_THROW(nlohmann::json::parse(DumpJson(ResultJson(HostileResult()), 2)));
}

TEST(HostileOutputTest, MetricsAfterInvalidUtf8LabelValuesPassPromtool) {
  // Today's code: the raw bytes become a label value and promtool (and Prometheus) reject the
  // whole exposition.
  std::string text = MetricsTextOfResult(Spec(), HostileResult(), 1000);
  EXPECT_TRUE(IsValidUtf8(text));
  for (size_t at = text.find("upstream=\""); at != std::string::npos;
       at = text.find("upstream=\"", at + 1)) {
    size_t end = text.find("\"}", at);
    ASSERT_NE(end, std::string::npos);
    // The escaped value may be longer than the stored one only by its backslashes.
    EXPECT_LE(end - at - 10, 2 * kMaxLabelValueBytes);
  }
  EXPECT_NE(text.find("upstream=\"\xEF\xBF\xBD"
                      "caf\xEF\xBF\xBD\""),
            std::string::npos)
      << text;
  gatewatch::testing::TempDir dir;
  EXPECT_EQ(gatewatch::testing::PromtoolProblems(text, dir.path()), "");
}

TEST(HostileOutputTest, AThrowingHandlerAnswers500AndTheServerKeepsServing) {
  WebServer::Handlers h;
  h.metrics = []() -> std::string { throw std::runtime_error("boom"); };
  h.healthy = [] { return true; };
  h.ready = [] { return true; };
  h.reload = []() -> WebServer::ReloadOutcome { throw 42; };
  // Invalid UTF-8 straight into the JSON (as if something escaped the store's sanitizing).
  h.status = [] { return nlohmann::json{{"detail", "\xff" + kCutE}}; };
  WebServer::Options options;
  options.enable_lifecycle = true;
  WebServer server("127.0.0.1:0", h, options);
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  std::string base = "http://127.0.0.1:" + std::to_string(server.port());
  EXPECT_EQ(gatewatch::testing::HttpGet(base + "/metrics").status, 500);
  EXPECT_EQ(gatewatch::testing::HttpPost(base + "/-/reload").status, 500);
  // The reload that threw has ended: the next one (a second later, the gate's rate) runs again
  // instead of finding a reload "in progress" forever.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(gatewatch::testing::HttpPost(base + "/-/reload").status, 500);
  auto status = gatewatch::testing::HttpGet(base + "/api/v1/status");
  EXPECT_EQ(status.status, 200);
  EXPECT_NO_THROW(nlohmann::json::parse(status.body)) << status.body;
  EXPECT_EQ(gatewatch::testing::HttpGet(base + "/-/healthy").status, 200);
}

}  // namespace
}  // namespace gatewatch
