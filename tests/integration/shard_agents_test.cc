// Scale-out as a fleet runs it: several gatewatch processes with one config and --shard=I/N run
// every check exactly once between them, and an agent that is gone leaves exactly its checks
// unrun (what the central prober StatefulSet in deploy/kubernetes relies on).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "agent/shard.h"
#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/gatewatch_process.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/metrics_text.h"
#include "tests/testlib/process.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::seconds;
constexpr uint32_t kShards = 3;
constexpr int kChecks = 12;

std::string CheckName(int i) { return "c" + std::to_string(100 + i); }

class ShardAgentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string yaml = "defaults: {interval: 1s, timeout: 500ms}\nchecks:\n";
    for (int i = 0; i < kChecks; ++i) {
      yaml += "  - {name: " + CheckName(i) +
              ", type: http, url: \"http://127.0.0.1:" + std::to_string(upstream_.port()) + "/" +
              CheckName(i) + "\"}\n";
      by_shard_[ShardOf(CheckName(i), kShards)].insert(CheckName(i));
    }
    // The test means something only if every agent owns some checks.
    for (uint32_t s = 0; s < kShards; ++s) ASSERT_FALSE(by_shard_[s].empty()) << "shard " << s;
    config_ = dir_.path() + "/gatewatch.yml";
    std::ofstream(config_) << yaml;
  }

  void StartAgent(uint32_t shard) {
    auto started = StartGatewatch(
        {GATEWATCH_BINARY, "--config.file=" + config_, "--web.listen-address=127.0.0.1:0",
         "--shard=" + std::to_string(shard) + "/" + std::to_string(kShards),
         "--location=loc-" + std::to_string(shard)});
    agents_[shard] = std::move(started.process);
    ports_[shard] = started.port;
    ASSERT_NE(started.port, 0) << agents_[shard]->Stderr();
    ASSERT_TRUE(WaitFor([&] { return Get(shard, "/-/ready").status == 200; }, seconds(10)))
        << agents_[shard]->Stderr();
  }

  HttpResponse Get(uint32_t shard, const std::string& path) {
    return HttpGet("http://127.0.0.1:" + std::to_string(ports_[shard]) + path);
  }

  // The checks an agent exports (gatewatch_check_info exists for every scheduled check).
  std::set<std::string> ExportedChecks(uint32_t shard) {
    std::string metrics = Get(shard, "/metrics").body;
    std::set<std::string> out;
    const std::string prefix = "gatewatch_check_info{check=\"";
    std::istringstream in(metrics);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(prefix, 0) == 0) {
        out.insert(line.substr(prefix.size(), line.find('"', prefix.size()) - prefix.size()));
      }
    }
    return out;
  }

  // Requests the upstream received, by check (the path is the check's name).
  std::map<std::string, int> RequestsByCheck() {
    std::map<std::string, int> out;
    for (const auto& r : upstream_.requests()) {
      // "GET /c103 HTTP/1.1": the path after "GET /" up to the space.
      if (r.rfind("GET /", 0) == 0) ++out[r.substr(5, r.find(' ', 5) - 5)];
    }
    return out;
  }

  FakeHttpServer upstream_{FakeHttpServer::Behaviour::kRecord};
  TempDir dir_;
  std::string config_;
  std::map<uint32_t, std::set<std::string>> by_shard_;
  std::map<uint32_t, int> ports_;
  std::map<uint32_t, std::unique_ptr<Process>> agents_;
};

TEST_F(ShardAgentsTest, ThreeAgentsRunEachCheckExactlyOnceBetweenThem) {
  for (uint32_t s = 0; s < kShards; ++s) StartAgent(s);
  ASSERT_TRUE(WaitFor([&] { return RequestsByCheck().size() == kChecks; }, seconds(15)))
      << RequestsByCheck().size() << " of " << kChecks << " checks ran";

  std::set<std::string> all;
  for (uint32_t s = 0; s < kShards; ++s) {
    std::set<std::string> mine = ExportedChecks(s);
    // Exactly the checks the documented hash assigns to this shard: no overlap, nothing lost.
    EXPECT_EQ(mine, by_shard_[s]) << "shard " << s;
    for (const auto& name : mine) EXPECT_TRUE(all.insert(name).second) << name << " runs twice";
    std::string metrics = Get(s, "/metrics").body;
    EXPECT_NE(metrics.find("shard=\"" + std::to_string(s) + "/3\""), std::string::npos);
    EXPECT_NE(metrics.find("location=\"loc-" + std::to_string(s) + "\""), std::string::npos);
    EXPECT_EQ(Sample(metrics, "gatewatch_checks_configured"), by_shard_[s].size()) << metrics;
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kChecks));
}

TEST_F(ShardAgentsTest, RemovingOneShardsAgentLeavesExactlyItsChecksUnrun) {
  StartAgent(0);
  StartAgent(2);
  std::set<std::string> expected = by_shard_[0];
  expected.insert(by_shard_[2].begin(), by_shard_[2].end());
  // Every running check has run at least twice: a shard-1 check would have run by now too.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto seen = RequestsByCheck();
        for (const auto& name : expected) {
          if (seen[name] < 2) return false;
        }
        return true;
      },
      seconds(15)));
  std::set<std::string> ran;
  for (const auto& [name, n] : RequestsByCheck()) ran.insert(name);
  EXPECT_EQ(ran, expected);
  for (const auto& name : by_shard_[1]) EXPECT_EQ(ran.count(name), 0u) << name << " ran";
}

TEST(ShardFlagTest, InvalidShardOrLocationIsRefusedBeforeStarting) {
  const std::pair<const char*, const char*> cases[] = {
      {"--shard=3/3", "--shard: I must be below N (shards are numbered from 0) (got \"3/3\")"},
      {"--location=eu west",
       "--location: must be 1 to 64 letters, digits, '.', '_' or '-' (got \"eu west\")"},
  };
  for (const auto& [flag, message] : cases) {
    Process p({GATEWATCH_BINARY, flag, "--web.listen-address=127.0.0.1:0"});
    int status = 0;
    ASSERT_TRUE(p.WaitExit(seconds(10), &status)) << flag;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << flag;
    EXPECT_EQ(p.Stderr(), std::string(message) + "\n");
  }
}

TEST(ShardFlagTest, ConfigCheckCountsTheShardsChecks) {
  TempDir dir;
  std::ofstream(dir.path() + "/g.yml")
      << "checks:\n"
         "  - {name: a, type: http, url: \"http://127.0.0.1:1/\"}\n"
         "  - {name: b, type: http, url: \"http://127.0.0.1:1/\"}\n";
  size_t mine = InShard("a", Shard{1, 2}) + InShard("b", Shard{1, 2});
  Process p({GATEWATCH_BINARY, "--config.file=" + dir.path() + "/g.yml", "--config.check",
             "--shard=1/2"});
  int status = 0;
  ASSERT_TRUE(p.WaitExit(seconds(10), &status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << p.Stderr();
  EXPECT_EQ(p.Stdout(),
            dir.path() + "/g.yml: ok (2 checks, " + std::to_string(mine) + " in shard 1/2)\n");
}

}  // namespace
}  // namespace gatewatch::testing
