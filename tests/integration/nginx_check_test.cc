// The "nginx" check against a real nginx 1.22: two upstream groups (one by address, one by name
// that nginx resolves through dnsmasq with `resolver`), a backup server and proxy_read_timeout
// 2s. gatewatch finds exactly those servers and settings in nginx's own config (the file, and
// `nginx -T` output), flags a 3 s backend as a coming 504 that a plain 10 s http check passes,
// follows a config rewrite and reload on the next run, and reads stub_status.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <thread>

#include "agent/probe.h"
#include "checks/api/reason.h"
#include "tests/testlib/dnsmasq.h"
#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/loop_services.h"
#include "tests/testlib/nginx.h"
#include "tests/testlib/process.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

std::map<std::string, double> ObservedMap(const Result& r, std::string_view metric) {
  std::map<std::string, double> out;
  for (const Observation& o : r.observations) {
    if (o.desc->name != metric) continue;
    std::string key;
    for (const std::string& v : o.label_values) key += (key.empty() ? "" : " ") + v;
    out[key] = o.value;
  }
  return out;
}

std::string HttpBlock(int nginx_port, int dns_port, const std::vector<std::string>& app_servers,
                      int api_port) {
  std::string block = "  resolver 127.0.0.1:" + std::to_string(dns_port) + " valid=5s ipv6=off;\n";
  block += "  upstream app {\n";
  for (const std::string& s : app_servers) block += "    server " + s + ";\n";
  block += "    keepalive 8;\n  }\n";
  block += "  server {\n    listen 127.0.0.1:" + std::to_string(nginx_port) + ";\n" +
           "    proxy_connect_timeout 1s;\n" +
           "    location / { proxy_read_timeout 2s; proxy_pass http://app; }\n" +
           "    location /api/ { proxy_pass http://api.example.test:" + std::to_string(api_port) +
           "$request_uri; }\n" + "    location = /status { stub_status; }\n  }\n";
  return block;
}

class NginxCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(dns_.Start(&error)) << error;
  }

  Dnsmasq dns_{{"--local=/example.test/", "--address=/api.example.test/127.0.0.1"}};
};

TEST_F(NginxCheckTest, DiscoversServersFlagsA504AndFollowsAReload) {
  FakeHttpServer ok(FakeHttpServer::Behaviour::kOk);
  FakeHttpServer slow(FakeHttpServer::Behaviour::kSlow);
  FakeHttpServer backup(FakeHttpServer::Behaviour::kOk);
  FakeHttpServer api(FakeHttpServer::Behaviour::kOk);
  FakeHttpServer added(FakeHttpServer::Behaviour::kOk);
  int port = FreeTcpPort();
  auto addr = [](const FakeHttpServer& s) { return "127.0.0.1:" + std::to_string(s.port()); };
  NginxInstance nginx(
      HttpBlock(port, dns_.port(),
                {addr(ok) + " max_fails=3 fail_timeout=7s", addr(slow), addr(backup) + " backup"},
                api.port()));
  std::string error;
  ASSERT_TRUE(nginx.Start(&error)) << error;
  // nginx itself reaches the name through dnsmasq: the group by name is real.
  EXPECT_EQ(HttpGet("http://127.0.0.1:" + std::to_string(port) + "/api/x").status, 200)
      << nginx.ErrorLogText();

  LoopServices io;
  Config config =
      ParseConfig("checks:\n  - {name: n, type: nginx, interval: 10s, timeout: 6s, config_file: '" +
                      nginx.conf_path() +
                      "', status_url: 'http://127.0.0.1:" + std::to_string(port) + "/status'}\n",
                  "test.yml");
  const Check& check = *config.checks.at(0).check;
  auto state = check.NewState();
  Result first = RunCheckOnce(check, io.services, state.get());
  ASSERT_NE(ReportValue(first, "upstreams"), "") << first.detail;

  // Exactly the servers of nginx's config, with nginx's settings.
  EXPECT_EQ(ObservedMap(first, "nginx_upstream_servers"),
            (std::map<std::string, double>{{"app", 3},
                                           {"api.example.test:" + std::to_string(api.port()), 1}}));
  EXPECT_EQ(ObservedMap(first, "nginx_upstream_read_timeout_seconds"),
            (std::map<std::string, double>{
                {"app", 2}, {"api.example.test:" + std::to_string(api.port()), 60}}));
  std::map<std::string, double> up = ObservedMap(first, "nginx_upstream_server_up");
  EXPECT_EQ(up,
            (std::map<std::string, double>{{"app " + addr(ok), 1},
                                           {"app " + addr(slow), 0},
                                           {"app " + addr(backup), 1},
                                           {"api.example.test:" + std::to_string(api.port()) +
                                                " api.example.test:" + std::to_string(api.port()),
                                            1}}));
  EXPECT_EQ(first.reason, Reason::kUpstreamTimeout) << first.detail;
  // `keepalive 8` without proxy_http_version 1.1: nginx never reuses, so nothing is measured.
  EXPECT_NE(ReportValue(first, "keepalive").find("app: keepalive 8 unused"), std::string::npos);
  EXPECT_TRUE(ObservedMap(first, "nginx_upstream_keepalive_timeout_seconds").empty());
  EXPECT_NE(first.detail.find("nginx would answer 504"), std::string::npos) << first.detail;
  EXPECT_NE(first.detail.find("proxy_read_timeout 2s"), std::string::npos) << first.detail;
  EXPECT_NE(ReportValue(first, "server app " + addr(backup) + " (backup)").find("up"),
            std::string::npos);
  // The probe asked the backend what nginx asks: Host is the upstream's name.
  // (The slow backend's plain http check below passes: only nginx's 2 s makes it a failure.)
  Result plain = RunYamlCheckOnce("{name: p, type: http, url: 'http://" + addr(slow) +
                                  "/', interval: 15s, timeout: 10s}");
  EXPECT_TRUE(plain.success) << plain.detail;

  // stub_status: the connections gauges and counters.
  std::map<std::string, double> conns = ObservedMap(first, "nginx_connections");
  EXPECT_GE(conns["active"], 1);
  EXPECT_GE(conns["writing"], 1);  // the status request itself
  EXPECT_EQ(ObservedMap(first, "nginx_connections_dropped_total")[""], 0);

  // nginx's config rewritten and reloaded: the slow server removed, another added.
  ASSERT_TRUE(nginx.Reload(
      HttpBlock(port, dns_.port(), {addr(ok), addr(added), addr(backup) + " backup"}, api.port()),
      &error))
      << error;
  for (int i = 0; i < 3; ++i) HttpGet("http://127.0.0.1:" + std::to_string(port) + "/api/y");
  Result second = RunCheckOnce(check, io.services, state.get());
  EXPECT_TRUE(second.success) << second.detail;
  up = ObservedMap(second, "nginx_upstream_server_up");
  EXPECT_EQ(up.count("app " + addr(slow)), 0u);
  EXPECT_EQ(up["app " + addr(added)], 1);
  EXPECT_EQ(up.size(), 4u);
  // Counters grew by what nginx counted between the runs: at least the three requests.
  EXPECT_GE(ObservedMap(second, "nginx_http_requests_total")[""], 3);
  EXPECT_GE(ObservedMap(second, "nginx_connections_accepted_total")[""], 3);
}

TEST_F(NginxCheckTest, ReadsNginxDashTOutput) {
  FakeHttpServer ok(FakeHttpServer::Behaviour::kOk);
  FakeHttpServer api(FakeHttpServer::Behaviour::kOk);
  int port = FreeTcpPort();
  NginxInstance nginx(
      HttpBlock(port, dns_.port(), {"127.0.0.1:" + std::to_string(ok.port())}, api.port()));
  std::string error;
  ASSERT_TRUE(nginx.Start(&error)) << error;
  Result r =
      RunYamlCheckOnce("{name: n, type: nginx, interval: 10s, timeout: 5s, config_command: ['" +
                       std::string(kNginxBinary) + "', -T, -p, '" + nginx.dir() + "/', -c, '" +
                       nginx.conf_path() + "']}");
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(ObservedMap(r, "nginx_upstream_server_up").size(), 2u);
  EXPECT_EQ(ReportValue(r, "upstreams"), "2 groups, 2 servers, 2 probed");

  // A broken config is reported with file:line, and a failing command by its status.
  r = RunYamlCheckOnce(
      "{name: n, type: nginx, interval: 10s, timeout: 5s, config_command: [sh, "
      "-c, 'printf \"# configuration file /x.conf:\\nhttp {\\n\"']}");
  EXPECT_EQ(r.reason, Reason::kNginxConfigInvalid);
  EXPECT_NE(r.detail.find("/x.conf:2:"), std::string::npos) << r.detail;
  r = RunYamlCheckOnce(
      "{name: n, type: nginx, interval: 10s, timeout: 5s, config_command: [sh, -c, 'exit 3']}");
  EXPECT_EQ(r.reason, Reason::kNginxConfigInvalid);
  EXPECT_NE(r.detail.find("exited with status 3"), std::string::npos) << r.detail;
}

// A backend (tests/integration/servers/keepalive_server.py) that keeps HTTP/1.1 connections and
// closes one after `idle` seconds without a request. Skips nothing: python3 is Debian's.
class KeepaliveBackend {
 public:
  KeepaliveBackend(const std::string& address, const std::string& idle)
      : process_(std::vector<std::string>{
            "/usr/bin/python3",
            std::string(GATEWATCH_SOURCE_DIR) + "/tests/integration/servers/keepalive_server.py",
            address, idle}) {
    for (int i = 0; i < 200 && process_.Stdout().find('\n') == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    port_ = std::atoi(process_.Stdout().c_str());
  }
  int port() const { return port_; }
  std::string Error() const { return process_.Stderr(); }

 private:
  Process process_;
  int port_ = 0;
};

TEST_F(NginxCheckTest, FlagsAnUpstreamThatClosesIdleConnectionsBeforeKeepaliveTimeout) {
  KeepaliveBackend quick("127.0.0.1", "1");  // closes idle connections after 1 s
  KeepaliveBackend patient("127.0.0.1", "30");
  ASSERT_GT(quick.port(), 0) << quick.Error();
  ASSERT_GT(patient.port(), 0) << patient.Error();
  std::string quick_addr = "127.0.0.1:" + std::to_string(quick.port());
  std::string patient_addr = "127.0.0.1:" + std::to_string(patient.port());
  int port = FreeTcpPort();
  NginxInstance nginx("  upstream app {\n    server " + quick_addr + ";\n    server " +
                      patient_addr +
                      ";\n    keepalive 8;\n    keepalive_timeout 3s;\n  }\n"
                      "  upstream plain {\n    server " +
                      patient_addr +
                      ";\n  }\n"
                      "  server {\n    listen 127.0.0.1:" +
                      std::to_string(port) +
                      ";\n    proxy_http_version 1.1;\n    proxy_set_header Connection \"\";\n"
                      "    location / { proxy_pass http://app; }\n"
                      "    location /plain/ { proxy_pass http://plain; }\n  }\n");
  std::string error;
  ASSERT_TRUE(nginx.Start(&error)) << error;
  EXPECT_EQ(HttpGet("http://127.0.0.1:" + std::to_string(port) + "/").status, 200)
      << nginx.ErrorLogText();

  LoopServices io;
  Config config =
      ParseConfig("checks:\n  - {name: n, type: nginx, interval: 10s, timeout: 3s, config_file: '" +
                      nginx.conf_path() + "'}\n",
                  "test.yml");
  const Check& check = *config.checks.at(0).check;
  auto state = check.NewState();
  // The first run probes the servers and starts the measurements (they outlast a run).
  Result first = RunCheckOnce(check, io.services, state.get());
  EXPECT_TRUE(first.success) << first.detail;
  EXPECT_NE(ReportValue(first, "keepalive app " + quick_addr).find("measuring"), std::string::npos);
  EXPECT_EQ(ObservedMap(first, "nginx_upstream_keepalive_timeout_seconds"),
            (std::map<std::string, double>{{"app", 3}}));
  // The agent's loop keeps running between runs: so does this one, past the 3 s wait, and runs
  // again until the patient server's measurement (3 s idle, then a reuse) is done: a busy machine
  // may take longer than the wait, and then the run in between still says "measuring".
  Result second;
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(4500);
  while (true) {
    while (std::chrono::steady_clock::now() < until) {
      io.loop.RunOnce(std::chrono::milliseconds(50));
    }
    second = RunCheckOnce(check, io.services, state.get());
    if (ReportValue(second, "keepalive app " + patient_addr).find("measuring") ==
            std::string::npos ||
        std::chrono::steady_clock::now() > give_up) {
      break;
    }
    until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  }
  EXPECT_EQ(second.reason, Reason::kKeepaliveMismatch) << second.detail;
  EXPECT_NE(second.detail.find("app " + quick_addr + " closed idle connections after"),
            std::string::npos)
      << second.detail;
  EXPECT_EQ(second.detail.find(patient_addr), std::string::npos) << second.detail;
  std::map<std::string, double> idle = ObservedMap(second, "nginx_upstream_idle_close_seconds");
  ASSERT_EQ(idle.size(), 2u);  // only the group with keepalive is measured
  EXPECT_GE(idle["app " + quick_addr], 0.8);
  EXPECT_LT(idle["app " + quick_addr], 2.5);
  EXPECT_GE(idle["app " + patient_addr], 3);
  EXPECT_NE(ReportValue(second, "keepalive app " + patient_addr).find("kept the idle connection"),
            std::string::npos)
      << ReportValue(second, "keepalive app " + patient_addr);
  // The servers themselves are up: the mismatch is the only finding.
  std::map<std::string, double> up = ObservedMap(second, "nginx_upstream_server_up");
  EXPECT_EQ(up["app " + quick_addr], 1);
  EXPECT_EQ(up["app " + patient_addr], 1);
}

TEST(NginxCheckAddressesTest, ProbesEveryAddressOfAName) {
  // multi.example.test has two addresses; only 127.0.0.1 has a backend on the port.
  Dnsmasq dns({"--local=/example.test/", "--host-record=multi.example.test,127.0.0.1",
               "--host-record=multi.example.test,127.0.0.2"});
  std::string error;
  ASSERT_TRUE(dns.Start(&error)) << error;
  FakeHttpServer backend(FakeHttpServer::Behaviour::kOk);
  int port = FreeTcpPort();
  std::string target = "multi.example.test:" + std::to_string(backend.port());
  NginxInstance nginx("  resolver " + dns.server() + " valid=5s ipv6=off;\n  server {\n" +
                      "    listen 127.0.0.1:" + std::to_string(port) + ";\n" +
                      "    location / { proxy_pass http://" + target + "$request_uri; }\n  }\n");
  ASSERT_TRUE(nginx.Start(&error)) << error;
  Result r = RunYamlCheckOnce("{name: n, type: nginx, interval: 10s, timeout: 5s, config_file: '" +
                              nginx.conf_path() + "'}");
  EXPECT_EQ(ObservedMap(r, "nginx_upstream_server_up"),
            (std::map<std::string, double>{{target + " " + target + "@127.0.0.1", 1},
                                           {target + " " + target + "@127.0.0.2", 0}}));
  EXPECT_EQ(r.reason, Reason::kConnectionRefused) << r.detail;
  EXPECT_NE(r.detail.find("1/2 upstream servers down: " + target + " " + target + "@127.0.0.2"),
            std::string::npos)
      << r.detail;
  EXPECT_EQ(ReportValue(r, "upstreams"), "1 groups, 1 servers, 2 probed");
}

}  // namespace
}  // namespace gatewatch::testing
