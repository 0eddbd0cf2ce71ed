// The proxy_log check against a real nginx started by the test on 127.0.0.1: one healthy upstream
// (a second nginx server), one dead (a port that refuses), one that never answers behind a tiny
// proxy_read_timeout. A known number of requests goes to each; gatewatch's counters, exported by
// the real PrometheusExporter, must equal exactly what nginx logged, classified the way nginx
// explained it. Rotations (rename + reopen during traffic, copytruncate) lose and double nothing,
// and no counter ever goes down.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "agent/config.h"
#include "agent/probe.h"
#include "exporters/prometheus_exporter.h"
#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/loop_services.h"
#include "tests/testlib/metrics_text.h"
#include "tests/testlib/nginx.h"
#include "tests/testlib/require.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Space-separated, so upstream lists (", " and " : ") must be told from the separators.
constexpr char kCustomFormat[] =
    "$time_iso8601 $status $request_time $upstream_addr $upstream_status $upstream_response_time "
    "\"$http_user_agent\"";

size_t CountLines(const std::string& path) {
  std::ifstream in(path);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

class ProxyLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    proxy_port_ = FreeTcpPort();
    healthy_port_ = FreeTcpPort();
    // The deployed snippet itself: nginx must accept it and the parser must read what it writes.
    std::string block = std::string("  include ") + GATEWATCH_SOURCE_DIR +
                        "/deploy/nginx/gatewatch-log-format.conf;\n";
    // The same requests in JSON and in a user's own format, for the checks of the other formats.
    block +=
        "  log_format gw_json escape=json '{\"time\":\"$time_iso8601\",\"status\":$status,"
        "\"request_time\":$request_time,\"request\":\"$request\",\"upstream_addr\":"
        "\"$upstream_addr\",\"upstream_status\":\"$upstream_status\","
        "\"upstream_response_time\":\"$upstream_response_time\"}';\n";
    block += "  log_format gw_custom '" + std::string(kCustomFormat) + "';\n";
    block += "  server {\n    listen 127.0.0.1:" + std::to_string(proxy_port_) + ";\n";
    block += "    access_log " + Dir() + "/proxy.log gatewatch;\n";
    block += "    access_log " + Dir() + "/proxy.json gw_json;\n";
    block += "    access_log " + Dir() + "/proxy.custom gw_custom;\n";
    block += "    proxy_connect_timeout 1s;\n    proxy_read_timeout 300ms;\n";
    block +=
        "    location /ok { proxy_pass http://127.0.0.1:" + std::to_string(healthy_port_) + "; }\n";
    block += "    location /dead { proxy_pass http://127.0.0.1:" + std::to_string(dead_.port()) +
             "; }\n";
    block += "    location /slow { proxy_pass http://127.0.0.1:" + std::to_string(slow_.port()) +
             "; }\n  }\n";
    block += "  server {\n    listen 127.0.0.1:" + std::to_string(healthy_port_) +
             ";\n    access_log off;\n    location / { return 200 \"ok\\n\"; }\n  }\n";
    nginx_ = std::make_unique<NginxInstance>(block);
    std::string error;
    if (!nginx_->Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);

    Config config = ParseConfig(
        "checks:\n  - {name: edge, type: proxy_log, interval: 1s, timeout: 500ms, format: "
        "upstream, "
        "access_log: '" +
            AccessLog() + "', error_log: '" + nginx_->error_log() +
            "', proxy_read_timeout: 300ms}\n"
            "  - {name: edge-json, type: proxy_log, interval: 1s, timeout: 500ms, format: json, "
            "access_log: '" +
            Dir() +
            "/proxy.json'}\n  - {name: edge-custom, type: proxy_log, interval: 1s, timeout: "
            "500ms, access_log: '" +
            Dir() + "/proxy.custom', format: '" + kCustomFormat + "'}\n",
        "test.yml");
    std::vector<const CheckSpec*> specs;
    for (const auto& c : config.checks) {
      checks_.push_back(c.check);
      states_.push_back(c.check->NewState());
      specs.push_back(&c.check->spec());
    }
    exporter_.OnConfig(specs);
    RunOnce();  // opens both logs at their end, as a sidecar starting next to a running proxy
  }

  std::string Dir() const { return dir_.path(); }
  std::string AccessLog() const { return Dir() + "/proxy.log"; }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(proxy_port_) + path;
  }

  // One run of each check, exported; every counter and histogram count must not have gone down.
  // Returns the result of "edge".
  Result RunOnce() {
    Result r;
    for (size_t i = 0; i < checks_.size(); ++i) {
      const auto& check = checks_[i];
      Result one = gatewatch::RunCheckOnce(*check, io_.services, states_[i].get());
      exporter_.OnResult(check->spec(), one);
      if (check == checks_.front()) r = std::move(one);
    }
    metrics_ = exporter_.Render();
    std::istringstream in(metrics_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("gatewatch_proxy_", 0) != 0) continue;
      size_t space = line.rfind(' ');
      std::string series = line.substr(0, space);
      double v = std::stod(line.substr(space + 1));
      auto it = last_.find(series);
      if (it != last_.end() && series.find("_ratio") == std::string::npos) {
        EXPECT_GE(v, it->second) << series << " went down";
      }
      last_[series] = v;
    }
    return r;
  }

  double Value(const std::string& series) const { return Sample(metrics_, series); }
  double Responses(int port, const std::string& code, const std::string& check = "edge") const {
    return Value("gatewatch_proxy_responses_total{check=\"" + check + "\",code=\"" + code +
                 "\",upstream=\"127.0.0.1:" + std::to_string(port) + "\"}");
  }
  double Errors(int port, const std::string& reason) const {
    return Value("gatewatch_proxy_upstream_errors_total{check=\"edge\",reason=\"" + reason +
                 "\",upstream=\"127.0.0.1:" + std::to_string(port) + "\"}");
  }
  double Lines(const std::string& log, const std::string& result,
               const std::string& check = "edge") const {
    return Value("gatewatch_proxy_log_lines_total{check=\"" + check + "\",log=\"" + log +
                 "\",result=\"" + result + "\"}");
  }
  // Runs the check every 100 ms (its interval in spirit) until `done` holds; bounded.
  bool RunUntil(const std::function<bool()>& done, milliseconds limit = seconds(10)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      RunOnce();
      if (done()) return true;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  }
  void Send(const std::string& path, int n, long want_status) {
    for (int i = 0; i < n; ++i) EXPECT_EQ(HttpGet(Url(path)).status, want_status) << path;
  }

  TempDir dir_;
  RefusingPort dead_;
  FakeHttpServer slow_{FakeHttpServer::Behaviour::kHang};
  int proxy_port_ = 0, healthy_port_ = 0;
  std::unique_ptr<NginxInstance> nginx_;

  LoopServices io_;
  std::vector<std::shared_ptr<const Check>> checks_;
  std::vector<std::unique_ptr<CheckState>> states_;  // one per check, kept across runs
  PrometheusExporter exporter_{BuildInfo{"t", "t", "t"}, io_.clock};
  std::string metrics_;
  std::map<std::string, double> last_;
};

TEST_F(ProxyLogTest, CountersEqualWhatNginxLoggedClassifiedByItsOwnReasons) {
  Send("/ok", 20, 200);
  Send("/dead", 10, 502);
  Send("/slow", 3, 504);
  ASSERT_TRUE(RunUntil([&] {
    return Responses(healthy_port_, "2xx") >= 20 && Responses(dead_.port(), "502") >= 10 &&
           Responses(slow_.port(), "504") >= 3 &&
           Errors(dead_.port(), "connection_refused") >= 10 &&
           Errors(slow_.port(), "upstream_timeout") >= 3;
  })) << metrics_
      << nginx_->ErrorLogText();
  RunOnce();  // nothing more arrives: still exact
  EXPECT_EQ(Responses(healthy_port_, "2xx"), 20);
  EXPECT_EQ(Responses(dead_.port(), "502"), 10);
  EXPECT_EQ(Responses(slow_.port(), "504"), 3);
  EXPECT_EQ(Responses(dead_.port(), "2xx"), -1);
  EXPECT_EQ(Errors(dead_.port(), "connection_refused"), 10);
  EXPECT_EQ(Errors(slow_.port(), "upstream_timeout"), 3);
  // Every line nginx wrote was parsed; none skipped.
  EXPECT_EQ(Lines("access", "parsed"), static_cast<double>(CountLines(AccessLog())));
  EXPECT_EQ(Lines("access", "parsed"), 33);
  EXPECT_EQ(Lines("access", "skipped"), 0);
  EXPECT_EQ(Lines("error", "parsed"), 13);
  // Histograms: one request time per response, one upstream time per attempt.
  EXPECT_EQ(Value("gatewatch_proxy_request_duration_seconds_count{check=\"edge\"}"), 33);
  EXPECT_EQ(Value("gatewatch_proxy_upstream_response_seconds_count{check=\"edge\",upstream="
                  "\"127.0.0.1:" +
                  std::to_string(slow_.port()) + "\"}"),
            3);
  // The slow upstream ran into proxy_read_timeout: the early-warning gauge says so.
  EXPECT_GE(Value("gatewatch_proxy_upstream_response_timeout_ratio{check=\"edge\"}"), 0.99);
  // The same requests logged as JSON and in a user's own log_format count the same.
  for (const char* check : {"edge-json", "edge-custom"}) {
    SCOPED_TRACE(check);
    EXPECT_EQ(Responses(healthy_port_, "2xx", check), 20);
    EXPECT_EQ(Responses(dead_.port(), "502", check), 10);
    EXPECT_EQ(Responses(slow_.port(), "504", check), 3);
    EXPECT_EQ(Lines("access", "parsed", check), 33);
    EXPECT_EQ(Lines("access", "skipped", check), 0);
  }
  // 13 of 33 were 5xx: the check fails with the dominant reason nginx logged.
  Result r = RunOnce();
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::kConnectionRefused) << r.detail;
}

TEST_F(ProxyLogTest, RenameAndReopenDuringTrafficLosesNothingAndCountsNothingTwice) {
  constexpr int kOk = 150, kDead = 30;
  // The sender pauses only until each rotation step is done, so every step has traffic before
  // and after it while the check keeps running.
  std::atomic<int> sent{0}, step{0};
  std::thread traffic([&] {
    for (int i = 0; i < kOk + kDead; ++i) {
      if (i == 40 || i == 90) {
        for (int w = 0; w < 500 && step.load() < (i == 40 ? 1 : 2); ++w) {
          std::this_thread::sleep_for(milliseconds(10));
        }
      }
      HttpGet(Url(i % 6 == 5 ? "/dead" : "/ok"));
      sent.fetch_add(1);
    }
  });
  auto run_until_sent = [&](int n) {
    for (int i = 0; i < 500 && sent.load() < n; ++i) {
      RunOnce();
      std::this_thread::sleep_for(milliseconds(10));
    }
  };
  run_until_sent(40);
  std::filesystem::rename(AccessLog(), AccessLog() + ".1");
  std::filesystem::rename(nginx_->error_log(), nginx_->error_log() + ".1");
  step = 1;
  run_until_sent(90);  // nginx keeps writing into the renamed files meanwhile
  nginx_->Reopen();
  EXPECT_TRUE(WaitFor([&] { return std::filesystem::exists(AccessLog()); }, seconds(5)));
  step = 2;
  run_until_sent(kOk + kDead);
  traffic.join();
  ASSERT_TRUE(RunUntil([&] {
    return Responses(healthy_port_, "2xx") >= kOk && Responses(dead_.port(), "502") >= kDead &&
           Errors(dead_.port(), "connection_refused") >= kDead;
  })) << metrics_;
  for (int i = 0; i < 3; ++i) {
    RunOnce();
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_EQ(Responses(healthy_port_, "2xx"), kOk);
  EXPECT_EQ(Responses(dead_.port(), "502"), kDead);
  EXPECT_EQ(Errors(dead_.port(), "connection_refused"), kDead);
  EXPECT_EQ(Lines("access", "parsed"),
            static_cast<double>(CountLines(AccessLog()) + CountLines(AccessLog() + ".1")));
  EXPECT_EQ(Value("gatewatch_proxy_log_rotations_total{check=\"edge\",log=\"access\"}"), 1);
  EXPECT_EQ(Value("gatewatch_proxy_log_rotations_total{check=\"edge\",log=\"error\"}"), 1);
  // Both files got traffic: the rotation really happened in the middle of it.
  EXPECT_GE(CountLines(AccessLog() + ".1"), 90u);
  EXPECT_GE(CountLines(AccessLog()), 1u);
}

TEST_F(ProxyLogTest, CopytruncateBetweenBurstsLosesNothingAndCountsNothingTwice) {
  Send("/ok", 20, 200);
  Send("/dead", 5, 502);
  ASSERT_TRUE(RunUntil([&] {
    return Responses(healthy_port_, "2xx") >= 20 && Responses(dead_.port(), "502") >= 5 &&
           Errors(dead_.port(), "connection_refused") >= 5;
  })) << metrics_;
  // logrotate's copytruncate: nginx keeps its fd (O_APPEND) and writes from 0 again. Lines
  // written between the last read and the truncate exist only in the copy (copytruncate's own
  // loss), so the rotation comes between bursts, after everything logged was read.
  std::filesystem::copy_file(AccessLog(), AccessLog() + ".1");
  ASSERT_EQ(truncate(AccessLog().c_str(), 0), 0);
  std::filesystem::copy_file(nginx_->error_log(), nginx_->error_log() + ".1");
  ASSERT_EQ(truncate(nginx_->error_log().c_str(), 0), 0);
  RunOnce();
  Send("/ok", 10, 200);
  Send("/dead", 5, 502);
  ASSERT_TRUE(RunUntil([&] {
    return Responses(healthy_port_, "2xx") >= 30 && Responses(dead_.port(), "502") >= 10 &&
           Errors(dead_.port(), "connection_refused") >= 10;
  })) << metrics_;
  RunOnce();
  EXPECT_EQ(Responses(healthy_port_, "2xx"), 30);
  EXPECT_EQ(Responses(dead_.port(), "502"), 10);
  EXPECT_EQ(Errors(dead_.port(), "connection_refused"), 10);
  EXPECT_EQ(Lines("access", "parsed"), 40);
  EXPECT_EQ(Value("gatewatch_proxy_log_rotations_total{check=\"edge\",log=\"access\"}"), 1);
}

TEST_F(ProxyLogTest, VanishedLogIsReportedThenFollowedWhenItComesBack) {
  std::filesystem::rename(AccessLog(), AccessLog() + ".old");
  nginx_->Reopen();  // creates a fresh file
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(AccessLog()); }, seconds(5)));
  RunOnce();
  std::filesystem::remove(AccessLog());
  Result r;
  for (int i = 0; i < 5; ++i) r = RunOnce();  // the old fds drain and close
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::kLogUnreadable);
  EXPECT_NE(r.detail.find("No such file or directory"), std::string::npos) << r.detail;
  nginx_->Reopen();
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(AccessLog()); }, seconds(5)));
  Send("/ok", 4, 200);
  ASSERT_TRUE(RunUntil([&] { return Responses(healthy_port_, "2xx") >= 4; })) << metrics_;
  EXPECT_EQ(Responses(healthy_port_, "2xx"), 4);
  EXPECT_TRUE(RunOnce().success);
}

}  // namespace
}  // namespace gatewatch::testing
