// --storage.path: a running agent records failures of a check whose target refuses connections,
// is stopped with SIGTERM, and after a restart with the same folder the history API still shows
// those failures (same run numbers, times and evidence) and the run count goes on from there. A
// check removed from the config loses its history; a corrupt file is logged and ignored.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/testlib/gatewatch_process.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/process.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::seconds;

class HistoryStorageTest : public ::testing::Test {
 protected:
  void WriteConfig(const std::vector<std::string>& names) {
    std::ofstream out(config_);
    out << "history: {failures: 500}\n"  // every failure of the test kept, the first one too
           "checks:\n";
    for (const auto& name : names) {
      out << "  - name: " << name << "\n    type: http\n    url: http://127.0.0.1:" << refused_
          << "/\n    interval: 100ms\n    timeout: 80ms\n";
    }
  }
  void StartAgent() {
    auto started =
        StartGatewatch({GATEWATCH_BINARY, "--config.file=" + config_,
                        "--web.listen-address=127.0.0.1:0", "--storage.path=" + storage_});
    agent_ = std::move(started.process);
    port_ = started.port;
    ASSERT_NE(port_, 0) << agent_->Stderr();
  }
  void StopAgent() {
    agent_->Signal(SIGTERM);
    int status = -1;
    ASSERT_TRUE(agent_->WaitExit(seconds(10), &status));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << agent_->Stderr();
  }
  nlohmann::json Api(const std::string& path) {
    HttpResponse r = HttpGet("http://127.0.0.1:" + std::to_string(port_) + path);
    if (r.status != 200) return nullptr;
    return nlohmann::json::parse(r.body, nullptr, false);
  }
  nlohmann::json Failures(const std::string& name) {
    return Api("/api/v1/checks/" + name + "/history?failures=1");
  }

  TempDir dir_;
  std::string config_ = dir_.path() + "/gatewatch.yml";
  std::string storage_ = dir_.path() + "/data";  // created by the agent
  int refused_ = FreeTcpPort();                  // nothing listens: connection_refused
  std::unique_ptr<Process> agent_;
  int port_ = 0;
};

TEST_F(HistoryStorageTest, FailuresSurviveARestart) {
  WriteConfig({"web", "gone"});
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto f = Failures("web");
        return f.is_object() && f["runs"].size() >= 3;
      },
      seconds(10)))
      << agent_->Stderr();
  ASSERT_NO_FATAL_FAILURE(StopAgent());
  std::ifstream saved(storage_ + "/history.bin");
  EXPECT_TRUE(saved.good()) << "no history.bin in " << storage_;

  // Read back what the agent saved through its own API: the file must hold every failure it
  // recorded up to the stop, so the restarted agent's list starts with the same runs.
  WriteConfig({"web"});  // `gone` is no longer configured
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  EXPECT_NE(agent_->Stderr().find("saved history loaded"), std::string::npos) << agent_->Stderr();
  auto after = Failures("web");
  ASSERT_TRUE(after.is_object()) << agent_->Stderr();
  ASSERT_GE(after["runs"].size(), 3u) << after.dump(1);
  const auto& first = after["runs"][0];
  EXPECT_EQ(first["seq"], 1);
  EXPECT_EQ(first["reason"], "connection_refused");
  EXPECT_EQ(first["cause"], "upstream_down");
  EXPECT_NE(first["detail"].get<std::string>().find("refused"), std::string::npos) << first;
  auto checks = Api("/api/v1/checks");
  ASSERT_TRUE(checks.is_object()) << agent_->Stderr();
  EXPECT_EQ(checks.dump().find("\"gone\""), std::string::npos) << checks.dump(1);
  // The run count goes on from where it stopped.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto h = Api("/api/v1/checks/web");
        return h.is_object() &&
               h["runs_total"].get<uint64_t>() > after["runs"].back()["seq"].get<uint64_t>();
      },
      seconds(10)));
  auto failures = Failures("web");
  ASSERT_TRUE(failures.is_object());
  EXPECT_EQ(failures["runs"][0]["timestamp_seconds"], first["timestamp_seconds"]);
  ASSERT_NO_FATAL_FAILURE(StopAgent());

  // A corrupt file: logged, ignored, the agent runs with an empty history.
  std::ofstream(storage_ + "/history.bin", std::ios::trunc) << "GWHISTRY garbage";
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  EXPECT_NE(agent_->Stderr().find("saved history ignored"), std::string::npos) << agent_->Stderr();
  auto fresh = Failures("web");
  ASSERT_TRUE(fresh.is_object());
  if (!fresh["runs"].empty()) {
    EXPECT_GT(fresh["runs"][0]["timestamp_seconds"], first["timestamp_seconds"]);
  }
  StopAgent();
}

}  // namespace
}  // namespace gatewatch::testing
