// The gatewatch binary as a user runs it: config file, /metrics, /-/ready, reloads by SIGHUP and
// by POST /-/reload, and a clean stop on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/gatewatch_process.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/metrics_text.h"
#include "tests/testlib/process.h"
#include "tests/testlib/promtool.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

class AgentTest : public ::testing::Test {
 protected:
  void Start(const std::string& config_yaml) {
    config_path_ = dir_.path() + "/gatewatch.yml";
    WriteFile(config_path_, config_yaml);
    auto started = StartGatewatch({GATEWATCH_BINARY, "--config.file=" + config_path_,
                                   "--web.listen-address=127.0.0.1:0", "--log.level=debug",
                                   "--web.enable-lifecycle"});
    agent_ = std::move(started.process);
    port_ = started.port;
    ASSERT_NE(port_, 0) << agent_->Stderr();
    ASSERT_TRUE(WaitFor([&] { return Get("/-/ready").status == 200; }, seconds(10)))
        << agent_->Stderr();
  }

  HttpResponse Get(const std::string& path) {
    return HttpGet("http://127.0.0.1:" + std::to_string(port_) + path);
  }
  std::string Metrics() { return Get("/metrics").body; }
  bool WaitForSample(const std::string& series, double value,
                     std::chrono::milliseconds limit = seconds(10)) {
    return WaitFor([&] { return Sample(Metrics(), series) == value; }, limit);
  }

  TempDir dir_;
  std::string config_path_;
  int port_ = 0;
  std::unique_ptr<Process> agent_;
};

TEST_F(AgentTest, ServesMetricsThatPassPromtoolAndClassifyAResult) {
  FakeHttpServer up(FakeHttpServer::Behaviour::kOk);
  RefusingPort dead;
  Start(R"(
defaults: {interval: 1s, timeout: 500ms}
checks:
  - name: api
    type: http
    url: http://127.0.0.1:)" +
        std::to_string(up.port()) + R"(/healthz
    labels: {team: edge}
  - name: dead
    type: http
    url: http://127.0.0.1:)" +
        std::to_string(dead.port()) + R"(/
)");
  ASSERT_TRUE(WaitForSample(R"(gatewatch_check_success{check="api",type="http"})", 1)) << Metrics();
  ASSERT_TRUE(WaitForSample(R"(gatewatch_check_success{check="dead",type="http"})", 0));
  std::string metrics = Metrics();
  EXPECT_GE(
      Sample(
          metrics,
          R"(gatewatch_check_failures_total{check="dead",reason="connection_refused",type="http"})"),
      1)
      << metrics;
  EXPECT_EQ(Sample(metrics, R"(gatewatch_check_info{check="api",team="edge",type="http"})"), 1)
      << metrics;
  EXPECT_EQ(Sample(metrics, "gatewatch_config_last_reload_successful"), 1);
  EXPECT_EQ(Get("/-/healthy").status, 200);

  EXPECT_EQ(PromtoolProblems(metrics, dir_.path()), "");
  // The start-up line names the config it runs (read before the parsed config is released).
  std::string log = agent_->Stderr();
  EXPECT_NE(log.find("msg=\"gatewatch started\""), std::string::npos) << log;
  EXPECT_NE(log.find(" config=" + config_path_ + " checks=2 "), std::string::npos) << log;
}

TEST_F(AgentTest, BrokenReloadKeepsTheRunningConfigAndAGoodOneReplacesIt) {
  FakeHttpServer up(FakeHttpServer::Behaviour::kOk);
  std::string url = "http://127.0.0.1:" + std::to_string(up.port()) + "/";
  Start("defaults: {interval: 1s, timeout: 500ms}\nchecks:\n  - {name: api, type: http, url: '" +
        url + "'}\n  - {name: old, type: http, url: '" + url + "'}\n");
  ASSERT_TRUE(WaitForSample(R"(gatewatch_check_success{check="api",type="http"})", 1));

  WriteFile(config_path_, "checks:\n  - {name: api, type: http, url: '" + url +
                              "', timeout: 5s, interval: 1s}\n");
  agent_->Signal(SIGHUP);
  ASSERT_TRUE(WaitForSample("gatewatch_config_last_reload_successful", 0)) << agent_->Stderr();
  EXPECT_NE(agent_->Stderr().find("checks[0].timeout: must be less than interval (1s)"),
            std::string::npos)
      << agent_->Stderr();
  // The old config still runs: its counter keeps rising.
  std::string runs = R"(gatewatch_check_runs_total{check="api",result="success",type="http"})";
  double before = Sample(Metrics(), runs);
  ASSERT_TRUE(WaitFor([&] { return Sample(Metrics(), runs) >= before + 2; }, seconds(10)));
  EXPECT_EQ(Sample(Metrics(), R"(gatewatch_check_success{check="old",type="http"})"), 1);

  auto bad = HttpPost("http://127.0.0.1:" + std::to_string(port_) + "/-/reload");
  EXPECT_EQ(bad.status, 500);
  EXPECT_NE(bad.body.find("checks[0].timeout"), std::string::npos) << bad.body;

  WriteFile(
      config_path_,
      "defaults: {interval: 1s, timeout: 500ms}\nchecks:\n  - {name: api, type: http, url: '" +
          url + "'}\n  - {name: new, type: http, url: '" + url + "'}\n");
  // Reloads are limited to one a second (429 with Retry-After): retry as a script would.
  HttpResponse good;
  WaitFor(
      [&] {
        good = HttpPost("http://127.0.0.1:" + std::to_string(port_) + "/-/reload");
        return good.status != 429;
      },
      seconds(5));
  EXPECT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(Sample(Metrics(), "gatewatch_config_last_reload_successful"), 1);
  ASSERT_TRUE(WaitForSample(R"(gatewatch_check_success{check="new",type="http"})", 1));
  std::string metrics = Metrics();
  EXPECT_EQ(metrics.find("check=\"old\""), std::string::npos) << "series of a removed check remain";
  // The surviving check kept its counter across both reloads.
  EXPECT_GE(Sample(metrics, runs), before + 2);
}

TEST_F(AgentTest, SigtermStopsWithinTwoSecondsEvenWithRunsInFlight) {
  FakeHttpServer hang(FakeHttpServer::Behaviour::kHang);
  Start(
      "defaults: {interval: 10s, timeout: 9s}\nchecks:\n  - {name: hang, type: http, url: "
      "'http://127.0.0.1:" +
      std::to_string(hang.port()) + "/'}\n");
  ASSERT_TRUE(WaitFor([&] { return hang.accepted() > 0; }, seconds(15)));
  agent_->Signal(SIGTERM);
  int status = -1;
  ASSERT_TRUE(agent_->WaitExit(seconds(2), &status)) << "still running 2 s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(AgentTest, InvalidConfigIsRefusedWithItsPath) {
  std::string path = dir_.path() + "/bad.yml";
  WriteFile(path,
            "checks:\n  - {name: api, type: http, url: 'http://127.0.0.1:1/', interval: 10s, "
            "timeout: 10s}\n");
  for (const char* mode : {"--config.check", "--log.level=info"}) {
    Process p(
        {GATEWATCH_BINARY, "--config.file=" + path, mode, "--web.listen-address=127.0.0.1:0"});
    int status = -1;
    ASSERT_TRUE(p.WaitExit(seconds(10), &status));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << mode;
    EXPECT_NE(p.Stderr().find("checks[0].timeout: must be less than interval (10s)"),
              std::string::npos)
        << p.Stderr();
  }
}

// A reload that changes a key of a proxy_log check rebuilds it; the lines nginx writes meanwhile
// were lost (the new check opened the log at its end: 300 written, 200 counted). Lines are
// appended without pause while two reloads (POST, then SIGHUP) change a key each time; every line
// is counted exactly once.
TEST_F(AgentTest, ProxyLogLinesWrittenDuringReloadsAreCountedExactlyOnce) {
  std::string log = dir_.path() + "/access.log";
  WriteFile(log, "");
  auto config = [&](int min_requests) {
    return "checks:\n  - {name: edge, type: proxy_log, interval: 200ms, timeout: 100ms, format: "
           "upstream, access_log: '" +
           log + "', min_requests: " + std::to_string(min_requests) + "}\n";
  };
  Start(config(20));
  const std::string runs =
      R"(gatewatch_check_runs_total{check="edge",result="success",type="proxy_log"})";
  ASSERT_TRUE(WaitFor([&] { return Sample(Metrics(), runs) >= 1; }, seconds(10))) << Metrics();
  const std::string line =
      "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET / HTTP/1.1\" 200 10 \"-\" \"curl/7.88.1\" "
      "rt=0.010 ua=\"10.0.0.1:80\" us=\"200\" urt=\"0.001\"\n";
  auto append = [&](int n, milliseconds pause) {
    std::ofstream out(log, std::ios::app);
    for (int i = 0; i < n; ++i) {
      out << line << std::flush;
      if (pause.count() > 0) std::this_thread::sleep_for(pause);
    }
  };
  append(100, milliseconds(0));
  const std::string parsed =
      R"(gatewatch_proxy_log_lines_total{check="edge",log="access",result="parsed"})";
  ASSERT_TRUE(WaitForSample(parsed, 100)) << Sample(Metrics(), parsed);

  std::thread writer([&] { append(300, milliseconds(2)); });  // ~0.6 s of steady writing
  WriteFile(config_path_, config(7));
  auto reloaded = HttpPost("http://127.0.0.1:" + std::to_string(port_) + "/-/reload");
  EXPECT_EQ(reloaded.status, 200) << reloaded.body;
  std::this_thread::sleep_for(milliseconds(250));
  WriteFile(config_path_, config(9));
  agent_->Signal(SIGHUP);
  writer.join();
  EXPECT_TRUE(WaitForSample(parsed, 400)) << Sample(Metrics(), parsed) << "\n" << agent_->Stderr();
  // And nothing counted twice later on.
  double before = Sample(Metrics(), runs);
  ASSERT_TRUE(WaitFor([&] { return Sample(Metrics(), runs) >= before + 3; }, seconds(10)));
  EXPECT_EQ(Sample(Metrics(), parsed), 400);
  EXPECT_NE(agent_->Stderr().find("config reloaded"), std::string::npos);
}

// Query values (signed URLs, ?token=) and URL credentials never leave the process: not in
// /api/v1/status, not in the logs, not in `gatewatch probe` output; the keys stay for debugging.
TEST_F(AgentTest, QueryValuesAndCredentialsAreRedactedInStatusLogsAndProbeOutput) {
  FakeHttpServer failing(FakeHttpServer::Behaviour::kOk, 500);
  std::string url = "http://user:pa55w0rd@127.0.0.1:" + std::to_string(failing.port()) +
                    "/x?token=s3cret&sig=abc123";
  Start("defaults: {interval: 1s, timeout: 500ms}\nchecks:\n  - {name: api, type: http, url: '" +
        url + "'}\n");
  ASSERT_TRUE(WaitForSample(R"(gatewatch_check_success{check="api",type="http"})", 0));
  std::string status = Get("/api/v1/status").body;
  EXPECT_NE(status.find("/x?token=<redacted>&sig=<redacted>"), std::string::npos) << status;
  Process probe({GATEWATCH_BINARY, "probe", url, "--json", "--timeout", "2s"});
  int exit = -1;
  ASSERT_TRUE(probe.WaitExit(seconds(10), &exit));
  EXPECT_NE(probe.Stdout().find("token=<redacted>"), std::string::npos) << probe.Stdout();
  for (const char* secret : {"s3cret", "abc123", "pa55w0rd"}) {
    EXPECT_EQ(status.find(secret), std::string::npos) << status;
    EXPECT_EQ(agent_->Stderr().find(secret), std::string::npos) << agent_->Stderr();
    EXPECT_EQ(probe.Stdout().find(secret), std::string::npos) << probe.Stdout();
    EXPECT_EQ(probe.Stderr().find(secret), std::string::npos) << probe.Stderr();
  }
}

// A config path that is not a regular file (/dev/zero grew memory without bound; a directory, a
// FIFO that would block the open) exits non-zero at once, naming the rule and its limit.
TEST_F(AgentTest, ConfigThatIsNotARegularFileIsRefusedAtOnce) {
  std::string fifo = dir_.path() + "/fifo.yml";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"/dev/zero", "/dev/zero: is a character device, not a regular file"},
      {dir_.path(), dir_.path() + ": is a directory, not a regular file"},
      {fifo, fifo + ": is a FIFO, not a regular file"},
  };
  for (const auto& [path, error] : rows) {
    Process p({GATEWATCH_BINARY, "--config.file=" + path, "--web.listen-address=127.0.0.1:0"});
    int status = -1;
    ASSERT_TRUE(p.WaitExit(seconds(10), &status)) << path;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << path;
    EXPECT_NE(p.Stderr().find(error), std::string::npos) << p.Stderr();
    EXPECT_NE(p.Stderr().find("config files must be regular files of at most 16 MiB"),
              std::string::npos)
        << p.Stderr();
  }
}

// /api/v1/status and `gatewatch probe --json` show a result in one shape (exporters/status_json.h):
// the same keys with the same types, beside what names the result.
TEST_F(AgentTest, StatusApiAndProbeJsonShareTheResultShape) {
  FakeHttpServer up(FakeHttpServer::Behaviour::kOk);
  std::string url = "http://127.0.0.1:" + std::to_string(up.port()) + "/healthz";
  Start("defaults: {interval: 1s, timeout: 500ms}\nchecks:\n  - {name: api, type: http, url: '" +
        url + "'}\n");
  nlohmann::json check;
  ASSERT_TRUE(WaitFor(
      [&] {
        nlohmann::json status = nlohmann::json::parse(Get("/api/v1/status").body, nullptr, false);
        if (!status.is_object() || status["checks"].empty()) return false;
        check = status["checks"][0];
        return check["success"] == true;
      },
      seconds(10)))
      << check.dump(2);
  Process probe({GATEWATCH_BINARY, "probe", url, "--json", "--timeout", "2s"});
  int exit = -1;
  ASSERT_TRUE(probe.WaitExit(seconds(10), &exit));
  ASSERT_TRUE(WIFEXITED(exit) && WEXITSTATUS(exit) == 0) << probe.Stdout() << probe.Stderr();
  nlohmann::json probed = nlohmann::json::parse(probe.Stdout());
  EXPECT_EQ(probed["url"], url);

  // Key -> JSON type name, without the keys that name the result or say when it ran.
  auto shape = [](const nlohmann::json& j) {
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : j.items()) {
      if (key == "name" || key == "type" || key == "skipped_total" ||
          key == "last_run_timestamp_seconds" || key == "url") {
        continue;
      }
      out[key] = value.type_name();
    }
    return out;
  };
  EXPECT_EQ(shape(probed), shape(check)) << probed.dump(2) << "\n" << check.dump(2);
  EXPECT_EQ(shape(check).size(), 6u) << check.dump(2);
  EXPECT_EQ(probed["report"]["status"], check["report"]["status"]);
}

TEST_F(AgentTest, EmbeddedDefaultConfigChecksTheAgentItself) {
  auto started = StartGatewatch({GATEWATCH_BINARY, "--web.listen-address=127.0.0.1:0"});
  agent_ = std::move(started.process);
  port_ = started.port;
  ASSERT_NE(port_, 0) << agent_->Stderr();
  ASSERT_TRUE(WaitFor([&] { return Get("/-/ready").status == 200; }, seconds(10)))
      << agent_->Stderr();
  ASSERT_TRUE(WaitForSample(R"(gatewatch_check_success{check="gatewatch-self",type="http"})", 1,
                            seconds(30)))
      << Metrics();
  EXPECT_EQ(Get("/").status, 200);
}

}  // namespace
}  // namespace gatewatch::testing
