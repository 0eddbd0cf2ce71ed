// The proxy_log check against a real nginx started by the test on 127.0.0.1: one healthy upstream
// (a second nginx server), one dead (a port that refuses), one that never answers behind a tiny
// proxy_read_timeout. A known number of requests goes to each; gatewatch's counters, exported by
// the real PrometheusExporter, must equal exactly what nginx logged, classified the way nginx
// explained it. Rotations (rename + reopen during traffic, copytruncate) lose and double nothing,
// and no counter ever goes down.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
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
      // Gauges (backlog bytes, ratios, open files) may go down; only counters and histogram
      // counts are held to it.
      std::string name = series.substr(0, series.find('{'));
      bool monotone =
          name.ends_with("_total") || name.ends_with("_count") || name.ends_with("_bucket");
      auto it = last_.find(series);
      if (it != last_.end() && monotone) {
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

// Opens a TCP connection to 127.0.0.1:port and sends one request on it; the connection stays open
// (the upstream hangs) until the fd goes. An invalid fd if the connect itself failed.
UniqueFd OpenRequest(int port, const std::string& path) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return UniqueFd();
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  if (send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) < 0) return UniqueFd();
  return fd;
}

// Lines of an nginx error log holding `needle` at level error or worse (nginx also warns
// "N worker_connections are not enough, reusing connections" when it can still cope).
size_t CountMatching(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    bool serious = line.find(" [error] ") != std::string::npos ||
                   line.find(" [crit] ") != std::string::npos ||
                   line.find(" [alert] ") != std::string::npos;
    if (serious && line.find(needle) != std::string::npos) ++n;
  }
  return n;
}

// The proxy's own exhaustion, provoked for real: an nginx with 8 worker_connections (the listening
// socket and the master's channel take two) in front of an upstream that never answers. Each held
// request takes two connections (client and upstream), so a bounded burst of requests runs the
// worker out; nginx logs "worker_connections are not enough" (refusing clients, or failing the
// upstream connect), and the proxy_log check must count every such line and fail naming it, with
// the cause resources, although the access log shows no 5xx share to speak of.
TEST(ProxyExhaustionTest, WorkerConnectionsExhaustionIsCountedAndNamed) {
  TempDir dir;
  FakeHttpServer hang(FakeHttpServer::Behaviour::kHang);
  int port = FreeTcpPort();
  std::string block = "  server {\n    listen 127.0.0.1:" + std::to_string(port) +
                      ";\n    proxy_read_timeout 5s;\n    location / { proxy_pass "
                      "http://127.0.0.1:" +
                      std::to_string(hang.port()) + "; }\n  }\n";
  NginxInstance nginx(block, 8);
  std::string error;
  if (!nginx.Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);

  LoopServices io;
  Config config = ParseConfig(
      "checks:\n  - {name: edge, type: proxy_log, interval: 1s, timeout: "
      "500ms, error_log: '" +
          nginx.error_log() + "'}\n",
      "test.yml");
  const auto& check = config.checks.at(0).check;
  auto state = check->NewState();
  PrometheusExporter exporter{BuildInfo{"t", "t", "t"}, io.clock};
  exporter.OnConfig({&check->spec()});
  auto run = [&] {
    Result r = gatewatch::RunCheckOnce(*check, io.services, state.get());
    exporter.OnResult(check->spec(), r);
    return r;
  };
  Result r = run();  // opens the error log at its end
  ASSERT_TRUE(r.success) << r.detail;

  constexpr int kRequests = 12;  // bounded: far more than 8 connections can hold
  std::vector<UniqueFd> held;
  for (int i = 0; i < kRequests; ++i) held.push_back(OpenRequest(port, "/"));
  const std::string needle = "worker_connections are not enough";
  ASSERT_TRUE(WaitFor([&] { return CountMatching(nginx.ErrorLogText(), needle) >= 1; },
                      std::chrono::seconds(5)))
      << nginx.ErrorLogText();
  std::this_thread::sleep_for(milliseconds(200));  // the burst's last lines
  r = run();
  std::string log = nginx.ErrorLogText();
  size_t logged = CountMatching(log, needle);
  std::string metrics = exporter.Render();
  double counted = 0;
  for (const char* upstream : {"none", ""}) {
    std::string series = std::string(
                             "gatewatch_proxy_upstream_errors_total{check=\"edge\",reason="
                             "\"worker_connections_exhausted\",upstream=\"") +
                         (*upstream ? upstream : "127.0.0.1:" + std::to_string(hang.port())) +
                         "\"}";
    counted += std::max(0.0, Sample(metrics, series));
  }
  EXPECT_EQ(counted, static_cast<double>(logged)) << metrics << log;
  EXPECT_GE(counted, 1);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::kWorkerConnectionsExhausted) << r.detail;
  EXPECT_EQ(CauseName(ReasonCause(r.reason)), "resources");
  EXPECT_NE(r.detail.find("worker_connections_exhausted"), std::string::npos) << r.detail;
  held.clear();
}

// Logs without a shared file: two real nginx with the same servers in front of the same
// upstreams (healthy, refusing, hanging past proxy_read_timeout); the first logs to files, the
// second only over syslog, each log to a UDP receiver and to a unix datagram receiver. The same
// requests to each must give the same counts in all three checks.
TEST(ProxyLogSyslogTest, SyslogReceiversCountWhatTheFileTailerCounts) {
  TempDir dir;
  FakeHttpServer healthy(FakeHttpServer::Behaviour::kOk);
  FakeHttpServer hang(FakeHttpServer::Behaviour::kHang);
  RefusingPort dead;
  const int udp = FreeTcpPort();  // a free number for UDP too on this otherwise quiet loopback
  const std::string unix_path = dir.path() + "/gw.sock";
  auto server = [&](int port, const std::string& logs) {
    return "  include " + std::string(GATEWATCH_SOURCE_DIR) +
           "/deploy/nginx/gatewatch-log-format.conf;\n  server {\n    listen 127.0.0.1:" +
           std::to_string(port) + ";\n" + logs +
           "    proxy_connect_timeout 1s;\n    proxy_read_timeout 300ms;\n"
           "    location /ok { proxy_pass http://127.0.0.1:" +
           std::to_string(healthy.port()) +
           "; }\n"
           "    location /dead { proxy_pass http://127.0.0.1:" +
           std::to_string(dead.port()) +
           "; }\n"
           "    location /slow { proxy_pass http://127.0.0.1:" +
           std::to_string(hang.port()) + "; }\n  }\n";
  };
  const int file_port = FreeTcpPort(), syslog_port = FreeTcpPort();
  NginxInstance files(
      server(file_port, "    access_log " + dir.path() + "/proxy.log gatewatch;\n"));
  const std::string udp_server = "syslog:server=127.0.0.1:" + std::to_string(udp);
  const std::string unix_server = "syslog:server=unix:" + unix_path;
  NginxInstance syslog(server(syslog_port, "    access_log " + udp_server + " gatewatch;\n" +
                                               "    access_log " + unix_server + " gatewatch;\n" +
                                               "    error_log " + udp_server + " info;\n" +
                                               "    error_log " + unix_server + " info;\n"));

  LoopServices io;
  Config config = ParseConfig(
      "checks:\n"
      "  - {name: files, type: proxy_log, interval: 1s, timeout: 500ms, format: upstream, "
      "access_log: '" +
          dir.path() + "/proxy.log', error_log: '" + files.error_log() +
          "'}\n"
          "  - {name: udp, type: proxy_log, interval: 1s, timeout: 500ms, format: upstream, "
          "syslog: {listen: 'udp://127.0.0.1:" +
          std::to_string(udp) +
          "'}}\n"
          "  - {name: unix, type: proxy_log, interval: 1s, timeout: 500ms, format: upstream, "
          "syslog: {listen: 'unix://" +
          unix_path + "'}}\n",
      "test.yml");
  PrometheusExporter exporter{BuildInfo{"t", "t", "t"}, io.clock};
  std::vector<const CheckSpec*> specs;
  std::vector<std::unique_ptr<CheckState>> states;
  for (const auto& c : config.checks) {
    specs.push_back(&c.check->spec());
    states.push_back(c.check->NewState());
  }
  exporter.OnConfig(specs);
  std::string metrics;
  auto run = [&] {
    for (size_t i = 0; i < config.checks.size(); ++i) {
      const Check& check = *config.checks[i].check;
      Result r = gatewatch::RunCheckOnce(check, io.services, states[i].get());
      EXPECT_NE(r.reason, Reason::kLogUnreadable) << check.spec().name << ": " << r.detail;
      exporter.OnResult(check.spec(), r);
    }
    metrics = exporter.Render();
  };
  // The files exist (empty) and the receivers are bound before nginx writes or sends anything.
  std::ofstream(dir.path() + "/proxy.log").flush();
  std::ofstream(files.error_log()).flush();
  run();
  std::string error;
  if (!files.Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);
  if (!syslog.Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);

  // A unix datagram socket queues only net.unix.max_dgram_qlen datagrams (often 10) and nginx drops
  // what does not fit: its sender never learns, so the receiver cannot count that loss. Each
  // request sends up to 3 datagrams there (access line, error lines at level info), so the traffic
  // goes in bursts of 3 requests, each after the unix receiver has read the previous burst's access
  // lines: the test compares counts, and a machine too busy to schedule the reader must not make it
  // flaky.
  std::atomic<int> unix_access_lines{0};
  int syslog_sent = 0;
  auto send = [&](const std::string& path, int n, long status) {
    auto get = [&](int port) { return HttpGet("http://127.0.0.1:" + std::to_string(port) + path); };
    for (int i = 0; i < n; ++i) EXPECT_EQ(get(file_port).status, status);
    for (int i = 0; i < n; ++i) {
      EXPECT_EQ(get(syslog_port).status, status);
      if (++syslog_sent % 3 != 0) continue;
      for (auto end = std::chrono::steady_clock::now() + seconds(10);
           unix_access_lines < syslog_sent && std::chrono::steady_clock::now() < end;) {
        std::this_thread::sleep_for(milliseconds(10));
      }
    }
  };
  std::atomic<bool> sent{false};
  std::thread traffic([&] {
    send("/ok", 20, 200);
    send("/dead", 10, 502);
    send("/slow", 3, 504);
    sent = true;
  });

  auto value = [&](const std::string& check, const std::string& series, const std::string& labels) {
    return Sample(metrics, "gatewatch_" + series + "{check=\"" + check + "\"," + labels + "}");
  };
  auto responses = [&](const std::string& check, int port, const char* code) {
    return value(
        check, "proxy_responses_total",
        "code=\"" + std::string(code) + "\",upstream=\"127.0.0.1:" + std::to_string(port) + "\"");
  };
  auto errors = [&](const std::string& check, int port, const char* reason) {
    return value(check, "proxy_upstream_errors_total",
                 "reason=\"" + std::string(reason) +
                     "\",upstream=\"127.0.0.1:" + std::to_string(port) + "\"");
  };
  auto complete = [&](const std::string& c) {
    return responses(c, healthy.port(), "2xx") >= 20 && responses(c, dead.port(), "502") >= 10 &&
           responses(c, hang.port(), "504") >= 3 &&
           errors(c, dead.port(), "connection_refused") >= 10 &&
           errors(c, hang.port(), "upstream_timeout") >= 3;
  };
  // The loop runs meanwhile, as in the agent: the receivers read datagrams as they arrive; the
  // checks run every 100 ms.
  bool all = false;
  auto now = std::chrono::steady_clock::now;
  for (auto end = now() + seconds(60), next = now(); now() < end && !all;) {
    io.loop.RunOnce(milliseconds(10));
    if (now() < next) continue;
    next += milliseconds(100);
    run();
    unix_access_lines = static_cast<int>(
        value("unix", "proxy_log_lines_total", "log=\"access\",result=\"parsed\""));
    all = sent && complete("files") && complete("udp") && complete("unix");
  }
  traffic.join();
  ASSERT_TRUE(all) << metrics << syslog.ErrorLogText();
  run();  // nothing more arrives: still exact
  for (const char* c : {"files", "udp", "unix"}) {
    SCOPED_TRACE(c);
    EXPECT_EQ(responses(c, healthy.port(), "2xx"), 20);
    EXPECT_EQ(responses(c, dead.port(), "502"), 10);
    EXPECT_EQ(responses(c, hang.port(), "504"), 3);
    EXPECT_EQ(errors(c, dead.port(), "connection_refused"), 10);
    EXPECT_EQ(errors(c, hang.port(), "upstream_timeout"), 3);
    EXPECT_EQ(value(c, "proxy_log_lines_total", "log=\"access\",result=\"parsed\""), 33);
    EXPECT_EQ(value(c, "proxy_log_lines_total", "log=\"access\",result=\"skipped\""), 0);
    EXPECT_EQ(value(c, "proxy_log_lines_total", "log=\"error\",result=\"parsed\""), 13);
    EXPECT_EQ(Sample(metrics, "gatewatch_proxy_request_duration_seconds_count{check=\"" +
                                  std::string(c) + "\"}"),
              33);
  }
  for (const char* c : {"udp", "unix"}) {
    SCOPED_TRACE(c);
    EXPECT_GE(value(c, "proxy_syslog_messages_total", "result=\"accepted\""), 33 + 13);
    EXPECT_EQ(value(c, "proxy_syslog_messages_total", "result=\"malformed\""), 0);
    EXPECT_EQ(value(c, "proxy_syslog_messages_total", "result=\"dropped\""), 0);
    EXPECT_EQ(value(c, "proxy_syslog_messages_total", "result=\"too_long\""), 0);
  }
  // The syslog nginx wrote no upstream failure into a file.
  std::ifstream main_log(syslog.error_log());
  std::stringstream text;
  text << main_log.rdbuf();
  EXPECT_EQ(text.str().find("while connecting to upstream"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace gatewatch::testing
