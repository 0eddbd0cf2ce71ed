// The agent reloading while it is read: SIGHUP and POST /-/reload, good and bad configs, while
// threads scrape /metrics and read /api/v1/status without pause. Every answer must stay whole
// (200, valid exposition, valid JSON), the agent must end cleanly on SIGTERM, and under the
// ThreadSanitizer build (label "tsan") a data race anywhere in it fails the exit status.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/gatewatch_process.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/metrics_text.h"
#include "tests/testlib/process.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path + ".tmp", std::ios::trunc);
  out << text;
  out.close();
  std::rename((path + ".tmp").c_str(), path.c_str());  // a reader never sees half a file
}

// `n` checks against `ok` and `down`, every 100 ms, so runs finish during every reload.
std::string Config(int n, int ok_port, int down_port, const std::string& label) {
  std::string y = "defaults:\n  interval: 200ms\n  timeout: 150ms\nchecks:\n";
  for (int i = 0; i < n; ++i) {
    int port = i % 3 == 0 ? down_port : ok_port;
    y += "  - name: c" + std::to_string(i) +
         "\n    type: http\n    url: http://127.0.0.1:" + std::to_string(port) + "/x" +
         std::to_string(i) + "\n    labels: {gen: \"" + label + "\"}\n";
  }
  return y;
}

TEST(ReloadUnderLoadTest, ReloadsWhileScrapedAndReadKeepEveryAnswerWholeAndEndCleanly) {
  TempDir dir;
  FakeHttpServer ok(FakeHttpServer::Behaviour::kOk, 200);
  FakeHttpServer down(FakeHttpServer::Behaviour::kOk, 502);
  std::string config = dir.path() + "/gatewatch.yml";
  WriteFile(config, Config(12, ok.port(), down.port(), "a"));
  auto started = StartGatewatch({GATEWATCH_BINARY, "--config.file=" + config,
                                 "--web.listen-address=127.0.0.1:0", "--web.enable-lifecycle"},
                                seconds(30));
  ASSERT_NE(started.port, 0) << started.process->Stderr();
  std::unique_ptr<Process>& agent = started.process;
  std::string base = "http://127.0.0.1:" + std::to_string(started.port);
  ASSERT_TRUE(WaitFor([&] { return HttpGet(base + "/-/ready").status == 200; }, seconds(30)))
      << agent->Stderr();

  std::atomic<bool> stop{false};
  std::atomic<int> scrapes{0}, reads{0}, bad_answers{0};
  std::string first_bad;
  std::mutex bad_mu;
  auto bad = [&](const std::string& what) {
    bad_answers++;
    std::lock_guard<std::mutex> lock(bad_mu);
    if (first_bad.empty()) first_bad = what;
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop) {
        HttpResponse r = HttpGet(base + "/metrics", seconds(10));
        if (r.status != 200 || r.body.find("gatewatch_check_runs_total") == std::string::npos) {
          bad("/metrics: " + std::to_string(r.status));
        }
        scrapes++;
      }
    });
    readers.emplace_back([&] {
      while (!stop) {
        HttpResponse r = HttpGet(base + "/api/v1/status", seconds(10));
        if (r.status != 200 || !nlohmann::json::accept(r.body)) {
          bad("/api/v1/status: " + std::to_string(r.status) + " " + r.body.substr(0, 200));
        }
        reads++;
      }
    });
  }

  // 40 reloads, alternating SIGHUP and POST, with a changed config, the same one, and a broken one
  // (which must keep the previous config running).
  for (int i = 0; i < 40; ++i) {
    int kind = i % 4;
    if (kind == 0) WriteFile(config, Config(8 + i % 9, ok.port(), down.port(), std::to_string(i)));
    if (kind == 2) WriteFile(config, "checks: [ {name: broken, type: http} \n");
    if (i % 2 == 0) {
      agent->Signal(SIGHUP);
    } else {
      HttpResponse r = HttpPost(base + "/-/reload", seconds(10));
      if (r.status != 200 && r.status != 400 && r.status != 429 && r.status != 500) {
        bad("POST /-/reload: " + std::to_string(r.status));
      }
    }
    std::this_thread::sleep_for(milliseconds(50));
    if (kind == 2) WriteFile(config, Config(10, ok.port(), down.port(), "restored"));
  }
  // Readers keep going a little after the last reload, then stop.
  std::this_thread::sleep_for(milliseconds(300));
  stop = true;
  for (std::thread& t : readers) t.join();

  EXPECT_EQ(bad_answers.load(), 0) << first_bad;
  EXPECT_GT(scrapes.load(), 0);
  EXPECT_GT(reads.load(), 0);
  // Still serving after all that, with the last good config.
  HttpResponse metrics = HttpGet(base + "/metrics");
  ASSERT_EQ(metrics.status, 200) << agent->Stderr();

  agent->Signal(SIGTERM);
  int status = 0;
  ASSERT_TRUE(agent->WaitExit(seconds(30), &status)) << agent->Stderr();
  ASSERT_TRUE(WIFEXITED(status)) << agent->Stderr();
  // ThreadSanitizer exits with 66 after a report (TSAN_OPTIONS exitcode).
  EXPECT_EQ(WEXITSTATUS(status), 0) << agent->Stderr().substr(0, 20000);
  EXPECT_EQ(agent->Stderr().find("WARNING: ThreadSanitizer"), std::string::npos)
      << agent->Stderr().substr(0, 20000);
}

}  // namespace
}  // namespace gatewatch::testing
