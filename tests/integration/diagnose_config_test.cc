// `gatewatch diagnose --config.file`: the checks of a config's services run once, here, behind a
// real nginx, and judged by the diagnosis engine (docs/diagnosis.md, "gatewatch diagnose").
//  - an upstream that refuses: upstream_down (connection_refused) naming the upstream's address,
//    which only nginx's own log knows (so the proxy_log check must see this run's requests);
//  - everything healthy: no verdict, exit 0;
//  - the agent's own network path broken (a network namespace of the test's making, with
//    `unshare --net`): agent_network (agent_path_down), not upstream_down;
//  - config errors and unknown services: exit 2 with the exact path.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/integration/diagnosis_fixture.h"
#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/nginx.h"
#include "tests/testlib/process.h"
#include "tests/testlib/require.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::seconds;

class DiagnoseConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_unique<FakeHttpServer>(FakeHttpServer::Behaviour::kOk);
    canary_ = std::make_unique<FakeHttpServer>(FakeHttpServer::Behaviour::kOk);
    upstream_port_ = upstream_->port();
    proxy_port_ = FreeTcpPort();
    nginx_ = std::make_unique<NginxInstance>(
        ProxyServerBlock(proxy_port_, upstream_port_, dir_.path() + "/proxy.log", "1s"));
    std::string error;
    if (!nginx_->Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);
    config_ = dir_.path() + "/gatewatch.yml";
  }

  // The probe through nginx, nginx's logs and, with `canary`, an agent_path tcp check of a server
  // outside the proxy's path: the shop service of all of them.
  void WriteConfig(bool canary) {
    std::ofstream out(config_);
    out << "checks:\n"
           "  - {name: shop, type: http, interval: 10s, timeout: 2s, url: 'http://127.0.0.1:"
        << proxy_port_
        << "/'}\n"
           "  - {name: nginx, type: proxy_log, interval: 10s, timeout: 2s, format: upstream, "
           "access_log: '"
        << dir_.path() << "/proxy.log', error_log: '" << nginx_->error_log() << "'}\n";
    if (canary) {
      out << "  - {name: canary, type: tcp, interval: 10s, timeout: 2s, address: '127.0.0.1:"
          << canary_->port() << "'}\n";
    }
    out << "services:\n  - {name: shop, checks: [shop, nginx"
        << (canary ? ", {check: canary, role: agent_path}" : "") << "]}\n";
  }

  std::vector<std::string> Diagnose(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {GATEWATCH_BINARY, "diagnose", "--config.file=" + config_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }

  static nlohmann::json Verdict(const CommandResult& r) {
    auto doc = nlohmann::json::parse(r.out, nullptr, false);
    if (!doc.is_object() || !doc["services"].is_array() || doc["services"].size() != 1) {
      return nullptr;
    }
    return doc["services"][0]["verdict"];
  }

  TempDir dir_;
  std::unique_ptr<FakeHttpServer> upstream_;
  std::unique_ptr<FakeHttpServer> canary_;
  int upstream_port_ = 0;
  int proxy_port_ = 0;
  std::unique_ptr<NginxInstance> nginx_;
  std::string config_;
};

TEST_F(DiagnoseConfigTest, HealthyIsNoVerdictAndExitZero) {
  WriteConfig(/*canary=*/true);
  CommandResult r = RunToExit(Diagnose(), seconds(30));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("SERVICE      shop"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("VERDICT      none (healthy)"), std::string::npos) << r.out;
}

TEST_F(DiagnoseConfigTest, RefusingUpstreamIsUpstreamDownNamedFromNginxLog) {
  WriteConfig(/*canary=*/true);
  upstream_.reset();  // nginx's upstream refuses: the probe sees only a 502
  const std::string upstream = "127.0.0.1:" + std::to_string(upstream_port_);

  CommandResult r = RunToExit(Diagnose({"--json"}), seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  nlohmann::json v = Verdict(r);
  ASSERT_TRUE(v.is_object()) << r.out << r.err;
  EXPECT_EQ(v["cause"], "upstream_down") << v.dump(2);
  // Only nginx's error log says "refused" and names the upstream: the proxy_log check read the
  // lines of this run's probe (its logs were opened before the probe ran).
  EXPECT_EQ(v["why"], "connection_refused") << v.dump(2);
  ASSERT_TRUE(v["upstreams"].is_array());
  ASSERT_FALSE(v["upstreams"].empty()) << v.dump(2);
  EXPECT_EQ(v["upstreams"][0], upstream);
  bool from_log = false, from_probe = false;
  for (const auto& f : v["evidence"]) {
    from_log = from_log || (f["check"] == "nginx" && f["reason"] == "connection_refused");
    from_probe = from_probe || (f["check"] == "shop" && f["reason"] == "http_502");
  }
  EXPECT_TRUE(from_log) << v.dump(2);
  EXPECT_TRUE(from_probe) << v.dump(2);

  // The table, as a person reads it: the same verdict, --service picks the one service.
  r = RunToExit(Diagnose({"--service", "shop"}), seconds(30));
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("VERDICT      upstream_down (connection_refused)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("UPSTREAMS    " + upstream), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nginx (proxy_log)"), std::string::npos) << r.out;
}

TEST_F(DiagnoseConfigTest, ConfigErrorsAndUnknownServiceExitTwo) {
  std::ofstream(config_) << "checks:\n"
                            "  - {name: shop, type: http, url: 'http://127.0.0.1:1/'}\n"
                            "services:\n  - {name: shop, checks: [shop, nope]}\n";
  CommandResult r = RunToExit(Diagnose(), seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("services[0].checks[1]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no check named \"nope\""), std::string::npos) << r.err;

  WriteConfig(/*canary=*/false);
  r = RunToExit(Diagnose({"--service", "cart"}), seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no service named \"cart\""), std::string::npos) << r.err;

  r = RunToExit(
      {GATEWATCH_BINARY, "diagnose", "--config.file=" + config_, "--url", "http://127.0.0.1:1"},
      seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.err;

  r = RunToExit({GATEWATCH_BINARY, "diagnose", "--config.file=" + dir_.path() + "/missing.yml"},
                seconds(10));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("missing.yml"), std::string::npos) << r.err;
}

// The agent's own network broken: in a network namespace of its own, nothing is reachable (its
// loopback is down: ENETUNREACH; or up but empty: every port refuses). The probe fails, nginx's
// log shows nothing, and the agent_path canary fails too: the verdict blames the agent's path,
// never the upstream. Outside the namespace the same config is healthy.
TEST_F(DiagnoseConfigTest, AgentsOwnNetworkBrokenIsAgentNetworkNotUpstream) {
  CommandResult probe = RunToExit({"unshare", "--net", "true"}, seconds(10));
  if (probe.exit_code != 0) {
    GTEST_SKIP() << "cannot create a network namespace (unshare --net needs CAP_SYS_ADMIN): "
                 << probe.err;
  }
  WriteConfig(/*canary=*/true);
  ASSERT_EQ(RunToExit(Diagnose(), seconds(30)).exit_code, 0);

  struct Row {
    const char* name;
    std::vector<std::string> argv;
    const char* probe_reason;
  };
  std::string diagnose;
  for (const auto& a : Diagnose({"--json"})) diagnose += "'" + a + "' ";
  std::vector<Row> rows = {
      // A fresh namespace's loopback is down: connect() says ENETUNREACH.
      {"loopback down", {"unshare", "--net", "sh", "-c", "exec " + diagnose}, "host_unreachable"},
      // Loopback up, but none of the test's servers is in this namespace.
      {"loopback up, empty",
       {"unshare", "--net", "sh", "-c", "ip link set lo up && exec " + diagnose},
       "connection_refused"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    CommandResult r = RunToExit(row.argv, seconds(30));
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    nlohmann::json v = Verdict(r);
    ASSERT_TRUE(v.is_object()) << r.out << r.err;
    EXPECT_EQ(v["cause"], "agent_network") << v.dump(2);
    EXPECT_EQ(v["why"], "agent_path_down") << v.dump(2);
    EXPECT_TRUE(v["upstreams"].empty()) << v.dump(2);
    bool canary = false, shop = false;
    for (const auto& f : v["evidence"]) {
      canary = canary || (f["check"] == "canary" && f["role"] == "agent_path" &&
                          f["reason"] == row.probe_reason);
      shop = shop || (f["check"] == "shop" && f["reason"] == row.probe_reason);
    }
    EXPECT_TRUE(canary) << v.dump(2);
    EXPECT_TRUE(shop) << v.dump(2);
  }

  // Without the canary the same broken path cannot be told from a broken network to the proxy:
  // the engine does not blame the agent (it has no proof), which is why the agent_path role exists.
  WriteConfig(/*canary=*/false);
  CommandResult r = RunToExit({"unshare", "--net", "sh", "-c", "exec " + diagnose}, seconds(30));
  nlohmann::json v = Verdict(r);
  ASSERT_TRUE(v.is_object()) << r.out << r.err;
  EXPECT_EQ(v["cause"], "network") << v.dump(2);
  EXPECT_EQ(v["why"], "host_unreachable") << v.dump(2);
}

}  // namespace
}  // namespace gatewatch::testing
