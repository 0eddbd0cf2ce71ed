// The fault-matrix fixture of the diagnosis (issue 18): a real nginx fronting an upstream on
// 127.0.0.1 (a FakeHttpServer, or any process the test puts on upstream_port_), and a running
// agent whose service `shop` holds the public probe `shop`, the proxy_log check `nginx` and the
// checks the test adds. Used by diagnosis_test.cc, diagnosis_faults_test.cc and
// diagnosis_soak_test.cc; diagnose_config_test.cc uses its nginx block.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/gatewatch_process.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/nginx.h"
#include "tests/testlib/process.h"
#include "tests/testlib/require.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {

// nginx's http-level block for the tests: a server on 127.0.0.1:`proxy_port` proxying to the
// upstream on 127.0.0.1:`upstream_port`, its access log in gatewatch's recommended format.
inline std::string ProxyServerBlock(int proxy_port, int upstream_port,
                                    const std::string& access_log,
                                    const std::string& read_timeout) {
  std::string block = std::string("  include ") + GATEWATCH_SOURCE_DIR +
                      "/deploy/nginx/gatewatch-log-format.conf;\n";
  block += "  server {\n    listen 127.0.0.1:" + std::to_string(proxy_port) + ";\n";
  block += "    access_log " + access_log + " gatewatch;\n";
  block += "    proxy_connect_timeout 1s;\n    proxy_read_timeout " + read_timeout + ";\n";
  block += "    location / { proxy_pass http://127.0.0.1:" + std::to_string(upstream_port) +
           "; }\n  }\n";
  return block;
}

class DiagnosisFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_unique<FakeHttpServer>(FakeHttpServer::Behaviour::kOk);
    upstream_port_ = upstream_->port();
    proxy_port_ = FreeTcpPort();
    // nginx gives up on a silent upstream before the probe does: it answers 504 and logs why.
    nginx_ = std::make_unique<NginxInstance>(
        ProxyServerBlock(proxy_port_, upstream_port_, dir_.path() + "/proxy.log", "150ms"));
    std::string error;
    if (!nginx_->Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);
  }

  // The agent: every check runs every `interval_`; `extra` are more YAML check list items, named
  // in `extra_names` (", a, b") for the service; `flags` more command-line flags.
  void StartAgent(const std::string& extra = "", const std::string& extra_names = "",
                  const std::vector<std::string>& flags = {}) {
    std::string config = dir_.path() + "/gatewatch.yml";
    const std::string every = "interval: " + interval_ + ", timeout: " + timeout_;
    std::ofstream(config) << "diagnosis: {window: " << window_ << ", hold: 1s}\n"
                          << "checks:\n"
                          << "  - {name: shop, type: http, " << every
                          << ", url: 'http://127.0.0.1:" << proxy_port_ << "/'}\n"
                          << "  - {name: nginx, type: proxy_log, " << every
                          << ", format: upstream, access_log: '" << dir_.path()
                          << "/proxy.log', error_log: '" << nginx_->error_log() << "'}\n"
                          << extra << "services:\n  - {name: shop, checks: [shop, nginx"
                          << extra_names << "]}\n";
    std::vector<std::string> argv = {GATEWATCH_BINARY, "--config.file=" + config,
                                     "--web.listen-address=127.0.0.1:0"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto started = StartGatewatch(argv);
    agent_ = std::move(started.process);
    agent_port_ = started.port;
    ASSERT_NE(agent_port_, 0) << agent_->Stderr();
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(agent_port_); }
  std::string Upstream() const { return "127.0.0.1:" + std::to_string(upstream_port_); }

  // The shop service's entry of /api/v1/diagnosis, null when the agent did not answer.
  nlohmann::json Shop() {
    HttpResponse r = HttpGet(Url() + "/api/v1/diagnosis?service=shop");
    if (r.status != 200) return nullptr;
    auto doc = nlohmann::json::parse(r.body, nullptr, false);
    if (!doc.is_object() || doc["services"].size() != 1) return nullptr;
    return doc["services"][0];
  }

  // Runs of `check` so far, whatever their result (gatewatch_check_runs_total); -1 if unknown.
  double Runs(const std::string& check) {
    HttpResponse r = HttpGet(Url() + "/metrics");
    if (r.status != 200) return -1;
    std::istringstream lines(r.body);
    std::string line;
    double sum = 0;
    const std::string prefix = "gatewatch_check_runs_total{check=\"" + check + "\",";
    while (std::getline(lines, line)) {
      if (!line.starts_with(prefix)) continue;
      sum += std::stod(line.substr(line.rfind(' ') + 1));
    }
    return sum;
  }

  // Waits (at most `limit`) for a verdict of `cause` and `why` (naming an upstream if
  // `with_upstream`); returns it, null on timeout (the last seen in *last).
  nlohmann::json WaitForCause(const std::string& cause, const std::string& why,
                              nlohmann::json* last, bool with_upstream = false,
                              std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    nlohmann::json found;
    WaitFor(
        [&] {
          *last = Shop();
          if (last->is_object() && (*last)["verdict"].is_object() &&
              (*last)["verdict"]["cause"] == cause && (*last)["verdict"]["why"] == why &&
              (!with_upstream || !(*last)["verdict"]["upstreams"].empty())) {
            found = (*last)["verdict"];
            return true;
          }
          return false;
        },
        limit);
    return found;
  }

  // The fault was just injected: waits for its verdict and checks that it came within two runs
  // of `check` (the check that sees the fault) after the fault was visible to it, counted in runs,
  // not in time: one run more for the run in flight when the fault came, one for the engine's
  // once-a-second judgement at these 1 s intervals. Prints the runs and milliseconds it took.
  nlohmann::json WaitForFault(const std::string& cause, const std::string& why,
                              const std::string& check, double runs_at_fault,
                              bool with_upstream = false) {
    const auto start = std::chrono::steady_clock::now();
    nlohmann::json last;
    nlohmann::json v = WaitForCause(cause, why, &last, with_upstream);
    const double runs = Runs(check) - runs_at_fault;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    EXPECT_TRUE(v.is_object()) << "no " << cause << " (" << why << "); last seen:\n"
                               << last.dump(1);
    std::printf("fault -> %s (%s): %.0f runs of %s, %lld ms\n", cause.c_str(), why.c_str(), runs,
                check.c_str(), static_cast<long long>(ms));
    EXPECT_LE(runs, 4) << "the verdict came " << runs << " runs of " << check << " after the fault";
    return v;
  }

  // `gatewatch diagnose --url` as a person reads it, printed for the test log.
  CommandResult Diagnose(const std::string& row) {
    CommandResult cli =
        RunToExit({GATEWATCH_BINARY, "diagnose", "--url=" + Url(), "--service", "shop"},
                  std::chrono::seconds(10));
    std::printf("gatewatch diagnose --url=%s --service shop (%s):\n%s\n", Url().c_str(),
                row.c_str(), cli.out.c_str());
    return cli;
  }

  static bool Mentions(const nlohmann::json& j, const std::string& text) {
    return j.dump().find(text) != std::string::npos;
  }

  std::string interval_ = "1s";
  std::string timeout_ = "500ms";
  std::string window_ = "4s";
  TempDir dir_;
  std::unique_ptr<FakeHttpServer> upstream_;
  int upstream_port_ = 0;
  int proxy_port_ = 0;
  int agent_port_ = 0;
  std::unique_ptr<NginxInstance> nginx_;
  std::unique_ptr<Process> agent_;
};

}  // namespace gatewatch::testing
