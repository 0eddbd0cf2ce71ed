// The "nginx" check against a real nginx 1.22: two upstream groups (one by address, one by name
// that nginx resolves through dnsmasq with `resolver`), a backup server and proxy_read_timeout
// 2s. gatewatch finds exactly those servers and settings in nginx's own config (the file, and
// `nginx -T` output), flags a 3 s backend as a coming 504 that a plain 10 s http check passes,
// follows a config rewrite and reload on the next run, and reads stub_status.
#include <gtest/gtest.h>

#include <map>

#include "agent/probe.h"
#include "checks/api/reason.h"
#include "tests/testlib/dnsmasq.h"
#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/loop_services.h"
#include "tests/testlib/nginx.h"
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

}  // namespace
}  // namespace gatewatch::testing
