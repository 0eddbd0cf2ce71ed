// Hostile bytes in nginx's logs (issue 15): an upstream name of no upstream shape never becomes a
// label value nor takes a max_upstreams slot, and a NaN/Inf time never reaches a histogram sum.
// Lines are fed to the check's monitor; the exposition goes through the exporter's pure
// Result -> /metrics path and promtool.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "agent/base/utf8.h"
#include "checks/nginx_log_parse.h"
#include "checks/proxy_log_check.h"
#include "exporters/series_render.h"
#include "tests/testlib/nginx_log_lines.h"
#include "tests/testlib/promtool.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch {
namespace {

using std::chrono::seconds;
using testing::ObservedSum;
using testing::RefusedErrorLine;

std::string Line(const std::string& addr, const std::string& utime, const std::string& rt) {
  return testing::UpstreamLogLine(502, addr, "502", utime, rt);
}

std::set<std::string> Upstreams(const Result& r) {
  std::set<std::string> out;
  for (const auto& o : r.observations) {
    if (o.desc->name == "proxy_responses_total" || o.desc->name == "proxy_upstream_errors_total") {
      out.insert(o.label_values[0]);
    }
  }
  return out;
}

ProxyLogConfig Cfg(size_t max_upstreams) {
  ProxyLogConfig c;
  c.access_log = "/nonexistent/access.log";
  c.format = "upstream";
  c.max_upstreams = max_upstreams;
  return c;
}

TEST(PlausibleUpstreamNameTest, Table) {
  for (const char* ok :
       {"10.0.0.1:80", "127.0.0.1:9001", "[::1]:8080", "[2001:db8::1]:443", "unix:/run/app.sock",
        "backend", "api.example.com", "api-v2_pool:8080", "app.internal"}) {
    EXPECT_TRUE(PlausibleUpstreamName(ok)) << ok;
  }
  for (std::string bad :
       {std::string(""), std::string("\xff\xfe:80"), std::string("caf\xC3"), std::string("a b:80"),
        std::string("x\"y"), std::string("host:port"), std::string("host:123456"),
        std::string("[::1"), std::string("[zz::1]:80"), std::string("unix:"),
        std::string("unix:relative"), std::string("unix:/a b"), std::string("..."),
        std::string(300, 'a'), std::string("a\0b", 3), std::string("<script>")}) {
    EXPECT_FALSE(PlausibleUpstreamName(bad)) << ::testing::PrintToString(bad);
  }
}

TEST(ProxyLogHostileTest, JunkUpstreamNamesCountUnderOtherWithoutTakingASlot) {
  // Today's code: every junk name takes one of the max_upstreams slots (forever) and becomes a
  // label value, so the first real upstream after them lands under "other".
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(Cfg(1)));
  m.OnErrorLine(
      RefusedErrorLine("\xff\xfe"
                       "caf\xC3:80"));
  m.OnAccessLine(Line("\xff\xfe evil", "0.001", "0.001"));
  m.OnAccessLine(Line("x\"y", "0.001", "0.001"));
  m.OnAccessLine(Line("10.0.0.1:80", "0.001", "0.001"));
  Result r = m.Finish(TimePoint(seconds(1)), nullptr, nullptr);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "502"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"other", "502"}), 2);
  EXPECT_EQ(ObservedSum(r, "proxy_upstream_errors_total", {"other", "connection_refused"}), 1);
  EXPECT_EQ(Upstreams(r), (std::set<std::string>{"10.0.0.1:80", "other"}));
}

TEST(ProxyLogHostileTest, InvalidUtf8UpstreamInTheErrorLogKeepsMetricsParseable) {
  // Today's code: the raw bytes become a label value and every later /metrics text is rejected.
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(Cfg(64)));
  m.OnErrorLine(
      RefusedErrorLine("\xff"
                       "caf\xC3"));
  m.OnErrorLine(RefusedErrorLine("10.0.0.2:80"));
  Result r = m.Finish(TimePoint(seconds(1)), nullptr, nullptr);
  CheckSpec spec;
  spec.name = "edge";
  spec.type = "proxy_log";
  std::string text = MetricsTextOfResult(spec, r, 1000);
  EXPECT_TRUE(IsValidUtf8(text));
  EXPECT_NE(text.find("upstream=\"other\""), std::string::npos) << text;
  gatewatch::testing::TempDir dir;
  EXPECT_EQ(gatewatch::testing::PromtoolProblems(text, dir.path()), "");
}

TEST(ProxyLogHostileTest, NonFiniteTimesAreUnparsedAndNeverReachAHistogramSum) {
  // Today's code: "nan" parses (std::from_chars accepts it), and one NaN makes the sum NaN forever.
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(Cfg(64)));
  m.OnAccessLine(Line("10.0.0.1:80", "0.250", "0.250"));
  for (std::string bad : {"nan", "inf", "-inf", "infinity", "NaN", "1e999", "1e300"}) {
    m.OnAccessLine(Line("10.0.0.1:80", "0.1", bad));  // $request_time
    m.OnAccessLine(Line("10.0.0.1:80", bad, "0.1"));  // $upstream_response_time
    m.OnAccessLine(Line("10.0.0.1:80, 10.0.0.2:80", "0.1, " + bad, "0.1"));
  }
  Result r = m.Finish(TimePoint(seconds(1)), nullptr, nullptr);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "parsed"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "skipped"}), 21);
  EXPECT_DOUBLE_EQ(ObservedSum(r, "proxy_request_duration_seconds", {}), 0.25);
  EXPECT_DOUBLE_EQ(ObservedSum(r, "proxy_upstream_response_seconds", {"10.0.0.1:80"}), 0.25);
  for (const auto& o : r.observations) EXPECT_TRUE(std::isfinite(o.value)) << o.desc->name;

  // The json format too: a string "nan", and a number out of range.
  ProxyLogConfig c = Cfg(64);
  c.format = "json";
  ProxyLogMonitor j(std::make_shared<ProxyLogConfig>(c));
  j.OnAccessLine(R"({"status":"200","request_time":"0.5","upstream_addr":"10.0.0.1:80"})");
  j.OnAccessLine(R"({"status":"200","request_time":"nan","upstream_addr":"10.0.0.1:80"})");
  j.OnAccessLine(R"({"status":"200","request_time":1e999,"upstream_addr":"10.0.0.1:80"})");
  j.OnAccessLine(
      R"({"status":"200","upstream_response_time":"inf","upstream_addr":"10.0.0.1:80"})");
  r = j.Finish(TimePoint(seconds(1)), nullptr, nullptr);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "parsed"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "skipped"}), 3);
  EXPECT_DOUBLE_EQ(ObservedSum(r, "proxy_request_duration_seconds", {}), 0.5);
}

}  // namespace
}  // namespace gatewatch
