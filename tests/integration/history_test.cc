// The history API of a running agent against a real nginx: the check's target goes up -> down
// (nginx stopped: connection_refused) -> 502 (nginx up, its upstream refused) -> timeout (the
// upstream hangs) -> up again; /api/v1/checks/{name}/history returns those runs in order with their
// reasons and evidence, and the failures are still there, unchanged, after 200 later successes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/gatewatch_process.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/nginx.h"
#include "tests/testlib/process.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Later successes the kept failures must survive (the figure). At the minimum interval
// (100 ms) this is the bulk of the test's ~25 s.
constexpr int kLaterSuccesses = 200;

std::string NginxOk(int port) {
  return "  server {\n    listen 127.0.0.1:" + std::to_string(port) +
         ";\n    location / { return 200 \"ok\\n\"; }\n  }\n";
}

std::string NginxProxy(int port, int upstream) {
  return "  server {\n    listen 127.0.0.1:" + std::to_string(port) +
         ";\n    location / { proxy_pass http://127.0.0.1:" + std::to_string(upstream) +
         "; proxy_read_timeout 30s; }\n  }\n";
}

// Consecutive equal values collapsed: [a, a, b, a] -> [a, b, a].
std::vector<std::string> Collapse(const std::vector<std::string>& v) {
  std::vector<std::string> out;
  for (const auto& s : v) {
    if (out.empty() || out.back() != s) out.push_back(s);
  }
  return out;
}

class HistoryIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    port_ = FreeTcpPort();
    std::string config = dir_.path() + "/gatewatch.yml";
    std::ofstream(config) << "history: {runs: 50, failures: 100, evidence_bytes: 1MiB}\n"
                             "checks:\n"
                             "  - name: web\n"
                             "    type: http\n"
                             "    url: http://127.0.0.1:"
                          << port_ << "/\n    interval: 100ms\n    timeout: 80ms\n";
    nginx_ = std::make_unique<NginxInstance>(NginxOk(port_));
    std::string error;
    ASSERT_TRUE(nginx_->Start(&error)) << error;
    auto started = StartGatewatch(
        {GATEWATCH_BINARY, "--config.file=" + config, "--web.listen-address=127.0.0.1:0"});
    agent_ = std::move(started.process);
    agent_port_ = started.port;
    ASSERT_NE(agent_port_, 0) << agent_->Stderr();
  }

  nlohmann::json Api(const std::string& path) {
    HttpResponse r = HttpGet("http://127.0.0.1:" + std::to_string(agent_port_) + path);
    if (r.status != 200) return nullptr;
    return nlohmann::json::parse(r.body, nullptr, false);
  }

  // Waits until the last `n` kept runs all have `reason`.
  bool WaitForRuns(const std::string& reason, int n, milliseconds limit = seconds(10)) {
    return WaitFor(
        [&] {
          auto h = Api("/api/v1/checks/web/history?limit=" + std::to_string(n));
          if (!h.is_object() || h["runs"].size() != static_cast<size_t>(n)) return false;
          for (const auto& run : h["runs"]) {
            if (run["reason"] != reason) return false;
          }
          return true;
        },
        limit);
  }

  TempDir dir_;
  int port_ = 0;
  int agent_port_ = 0;
  std::unique_ptr<NginxInstance> nginx_;
  std::unique_ptr<Process> agent_;
};

TEST_F(HistoryIntegrationTest, RunsInOrderWithReasonsAndFailuresSurviveLaterSuccesses) {
  ASSERT_TRUE(WaitForRuns("none", 3)) << agent_->Stderr();

  nginx_->Stop();  // down: nothing listens
  ASSERT_TRUE(WaitForRuns("connection_refused", 3));

  auto dead_upstream = std::make_unique<RefusingPort>();
  const int upstream = dead_upstream->port();
  nginx_ = std::make_unique<NginxInstance>(NginxProxy(port_, upstream));
  std::string error;
  ASSERT_TRUE(nginx_->Start(&error)) << error;
  ASSERT_TRUE(WaitForRuns("http_502", 3));  // nginx answers 502: its upstream refuses

  dead_upstream.reset();  // the port is taken over by an upstream that never answers
  auto hang = std::make_unique<FakeHttpServer>(FakeHttpServer::Behaviour::kHang, 200, "127.0.0.1",
                                               upstream);
  ASSERT_TRUE(WaitForRuns("timeout", 3));  // nginx waits for the hanging upstream; the check can't

  // Everything so far, in order: up, refused, 502, timeout.
  auto before = Api("/api/v1/checks/web/history");
  ASSERT_TRUE(before.is_object());
  std::vector<std::string> reasons;
  for (const auto& run : before["runs"]) reasons.push_back(run["reason"]);
  EXPECT_EQ(Collapse(reasons),
            (std::vector<std::string>{"none", "connection_refused", "http_502", "timeout"}))
      << before.dump(1);
  double previous = 0;
  for (const auto& run : before["runs"]) {
    EXPECT_GT(run["timestamp_seconds"].get<double>(), previous);
    previous = run["timestamp_seconds"].get<double>();
  }
  auto failures_before = Api("/api/v1/checks/web/history?failures=1");
  ASSERT_TRUE(failures_before.is_object());
  ASSERT_GE(failures_before["runs"].size(), 9u);
  bool saw_502_evidence = false;
  for (const auto& f : failures_before["runs"]) {
    EXPECT_EQ(f["success"], false);
    EXPECT_EQ(f["evidence"], true);
    if (f["reason"] == "connection_refused") {
      EXPECT_EQ(f["cause"], "upstream_down");
      EXPECT_NE(f["detail"].get<std::string>().find("refused"), std::string::npos) << f.dump();
    }
    if (f["reason"] == "http_502") {
      EXPECT_EQ(f["report"]["status"], "502");
      // What nginx said, as evidence: its status line and its error page.
      EXPECT_NE(f["report"]["response_head"].get<std::string>().find("502 Bad Gateway"),
                std::string::npos)
          << f.dump();
      EXPECT_NE(f["report"]["response_body"].get<std::string>().find("nginx"), std::string::npos);
      saw_502_evidence = true;
    }
    if (f["reason"] == "timeout") {
      EXPECT_EQ(f["cause"], "overloaded");
    }
  }
  EXPECT_TRUE(saw_502_evidence);

  // Up again, then many successes: the runs ring holds only successes, the failures stay.
  hang.reset();
  FakeHttpServer ok(FakeHttpServer::Behaviour::kOk, 200, "127.0.0.1", upstream);
  auto check = Api("/api/v1/checks/web");
  ASSERT_TRUE(check.is_object());
  const uint64_t runs_then = check["runs_total"];
  ASSERT_TRUE(WaitFor(
      [&] {
        auto c = Api("/api/v1/checks/web");
        return c.is_object() && c["state"] == "ok" &&
               c["runs_total"].get<uint64_t>() >= runs_then + kLaterSuccesses;
      },
      seconds(kLaterSuccesses / 10 + 15)));
  ASSERT_TRUE(WaitForRuns("none", 50));

  auto failures_after = Api("/api/v1/checks/web/history?failures=1");
  ASSERT_TRUE(failures_after.is_object());
  // The failures kept before are all still there, unchanged and in order (a 502 may follow while
  // the upstream port changed hands).
  ASSERT_GE(failures_after["runs"].size(), failures_before["runs"].size());
  for (size_t i = 0; i < failures_before["runs"].size(); ++i) {
    EXPECT_EQ(failures_after["runs"][i], failures_before["runs"][i]) << i;
  }

  auto detail = Api("/api/v1/checks/web");
  ASSERT_TRUE(detail.is_object());
  EXPECT_EQ(detail["state"], "ok");
  EXPECT_EQ(detail["reason"], "none");
  // State changes: ok, then one failing period (whose first reason was refused), then ok.
  const auto& changes = detail["changes"];
  ASSERT_GE(changes.size(), 3u);
  EXPECT_EQ(changes[0]["state"], "ok");
  EXPECT_EQ(changes[1]["state"], "failing");
  EXPECT_EQ(changes[1]["reason"], "connection_refused");
  EXPECT_GT(changes[1]["duration_seconds"].get<double>(), 0.5);
  EXPECT_EQ(changes.back()["state"], "ok");
  EXPECT_TRUE(changes.back()["end_timestamp_seconds"].is_null());

  // Unknown names are 404; the list has the check.
  HttpResponse missing =
      HttpGet("http://127.0.0.1:" + std::to_string(agent_port_) + "/api/v1/checks/nope/history");
  EXPECT_EQ(missing.status, 404);
  auto list = Api("/api/v1/checks");
  ASSERT_TRUE(list.is_object());
  ASSERT_EQ(list["checks"].size(), 1u);
  EXPECT_EQ(list["checks"][0]["name"], "web");
  EXPECT_EQ(list["checks"][0]["state"], "ok");
}

// `gatewatch probe --check NAME` shows the evidence the agent keeps for the same check: the same
// report keys, the response body nginx sent and its status line, in the same JSON shape.
TEST(ProbeEvidenceTest, ProbeCheckShowsWhatTheHistoryKeeps) {
  TempDir dir;
  const int port = FreeTcpPort();
  NginxInstance nginx("  server {\n    listen 127.0.0.1:" + std::to_string(port) +
                      ";\n    location / { return 502 \"<h1>upstream said no</h1>\\n\"; }\n  }\n");
  std::string error;
  ASSERT_TRUE(nginx.Start(&error)) << error;
  std::string config = dir.path() + "/gatewatch.yml";
  std::ofstream(config) << "checks:\n  - name: web\n    type: http\n    url: http://127.0.0.1:"
                        << port << "/\n    interval: 200ms\n    timeout: 150ms\n";
  auto started = StartGatewatch(
      {GATEWATCH_BINARY, "--config.file=" + config, "--web.listen-address=127.0.0.1:0"});
  ASSERT_NE(started.port, 0) << started.process->Stderr();
  nlohmann::json kept;
  ASSERT_TRUE(WaitFor(
      [&] {
        HttpResponse r = HttpGet("http://127.0.0.1:" + std::to_string(started.port) +
                                 "/api/v1/checks/web/history?failures=1&limit=1");
        auto j = nlohmann::json::parse(r.body, nullptr, false);
        if (!j.is_object() || j["runs"].empty()) return false;
        kept = j["runs"][0];
        return true;
      },
      seconds(10)));

  Process probe({GATEWATCH_BINARY, "probe", "--check", "web", "--config.file=" + config, "--json"});
  int exit = -1;
  ASSERT_TRUE(probe.WaitExit(seconds(10), &exit));
  ASSERT_TRUE(WIFEXITED(exit) && WEXITSTATUS(exit) == 1) << probe.Stdout() << probe.Stderr();
  auto probed = nlohmann::json::parse(probe.Stdout(), nullptr, false);
  ASSERT_TRUE(probed.is_object()) << probe.Stdout();

  EXPECT_EQ(probed["reason"], "http_502");
  EXPECT_EQ(probed["reason"], kept["reason"]);
  EXPECT_EQ(probed["detail"], kept["detail"]);
  std::vector<std::string> probe_keys, kept_keys;
  for (const auto& [k, v] : probed["report"].items()) probe_keys.push_back(k);
  for (const auto& [k, v] : kept["report"].items()) kept_keys.push_back(k);
  EXPECT_EQ(probe_keys, kept_keys);
  EXPECT_EQ(probed["report"]["response_body"], "<h1>upstream said no</h1>\n");
  EXPECT_EQ(probed["report"]["response_body"], kept["report"]["response_body"]);
  auto status_line = [](const nlohmann::json& j) {
    std::string head = j["report"]["response_head"].get<std::string>();
    return head.substr(0, head.find('\r'));
  };
  EXPECT_EQ(status_line(probed), "HTTP/1.1 502 Bad Gateway");
  EXPECT_EQ(status_line(probed), status_line(kept));

  // And the table shows it too, as `gatewatch probe --check web` prints it for a person.
  Process table({GATEWATCH_BINARY, "probe", "--check", "web", "--config.file=" + config});
  ASSERT_TRUE(table.WaitExit(seconds(10), &exit));
  EXPECT_NE(table.Stdout().find("response_body"), std::string::npos) << table.Stdout();
  EXPECT_NE(table.Stdout().find("<h1>upstream said no</h1>"), std::string::npos) << table.Stdout();
  EXPECT_NE(table.Stdout().find("HTTP/1.1 502 Bad Gateway"), std::string::npos) << table.Stdout();
}

}  // namespace
}  // namespace gatewatch::testing
