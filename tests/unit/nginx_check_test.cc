// The pure parts of the "nginx" check: which servers are probed and how (nginx's timeouts,
// resolver, SNI, Host), stub_status pages, and the check's config errors by exact path.
#include "checks/nginx_check.h"

#include <gtest/gtest.h>

#include "checks/api/check_type.h"
#include "checks/check_types.h"
#include "tests/testlib/config_error.h"

namespace gatewatch {
namespace {

NginxTopology Topology(const char* conf) {
  NginxConfParse p = ParseNginxConf(conf, "/etc/nginx/nginx.conf");
  EXPECT_FALSE(p.error) << p.error->Text();
  return ExtractNginxTopology(p.directives);
}

TEST(NginxProbesTest, ProbesEveryServerAsNginxTalksToIt) {
  NginxTopology t = Topology(R"(http {
  resolver 127.0.0.1:5353 valid=5s;
  proxy_connect_timeout 1s;
  upstream app {
    server 127.0.0.1:8081;
    server 127.0.0.1:8082 backup;
    server 127.0.0.1:8083 down;
    server unix:/run/a.sock;
  }
  upstream unused { server 10.0.0.9:80; }
  server {
    location / { proxy_read_timeout 2s; proxy_pass http://app; }
    location /api/ { proxy_pass http://api.example.test:8090$request_uri; }
    location /tls/ {
      proxy_ssl_server_name on;
      proxy_ssl_verify on;
      proxy_pass https://secure.example.test:8443;
    }
    location /plain-tls/ { proxy_pass https://10.0.0.7; }
    location /php { fastcgi_pass 127.0.0.1:9000; }
  }
})");
  NginxProbeOptions options;
  options.health_paths["app"] = "/healthz";
  NginxProbePlan plan = BuildNginxProbes(t, options);
  ASSERT_EQ(plan.probes.size(), 5u);
  EXPECT_EQ(plan.servers, 9u);

  const NginxProbe& a = plan.probes[0];
  EXPECT_EQ(a.group, "app");
  EXPECT_EQ(a.server, "127.0.0.1:8081");
  EXPECT_EQ(a.url, "http://127.0.0.1:8081/healthz");
  EXPECT_EQ(a.host_header, "app");  // $proxy_host
  EXPECT_EQ(a.connect_timeout_ms, 1000);
  EXPECT_EQ(a.read_timeout_ms, 2000);
  EXPECT_EQ(a.timeouts_from, "/etc/nginx/nginx.conf:12");
  EXPECT_EQ(a.resolver, "");  // names in upstream{} are resolved at start, by the system
  EXPECT_FALSE(a.backup);
  EXPECT_TRUE(plan.probes[1].backup);

  const NginxProbe& api = plan.probes[2];
  EXPECT_EQ(api.group, "api.example.test:8090");
  EXPECT_EQ(api.url, "http://api.example.test:8090/");
  EXPECT_EQ(api.connect_host, "api.example.test");
  EXPECT_EQ(api.resolver, "127.0.0.1:5353");  // a variable: nginx resolves at request time
  EXPECT_EQ(api.read_timeout_ms, 60000);      // nginx's default
  EXPECT_EQ(api.host_header, "");

  const NginxProbe& tls = plan.probes[3];
  EXPECT_EQ(tls.url, "https://secure.example.test:8443/");  // SNI and verification name
  EXPECT_EQ(tls.connect_port, 8443);
  EXPECT_FALSE(tls.insecure);
  EXPECT_EQ(tls.resolver, "");  // no variable: resolved at start

  const NginxProbe& plain = plan.probes[4];
  EXPECT_EQ(plain.url, "https://10.0.0.7:443/");  // no SNI (proxy_ssl_server_name off)
  EXPECT_TRUE(plain.insecure);                    // proxy_ssl_verify off

  // down, unix, unused, fastcgi: listed as not probed.
  ASSERT_EQ(plan.skipped.size(), 4u);
  EXPECT_NE(plan.skipped[0].find("127.0.0.1:8083: marked down"), std::string::npos);
  EXPECT_NE(plan.skipped[1].find("unix socket"), std::string::npos);
  EXPECT_NE(plan.skipped[2].find("unused"), std::string::npos);
  EXPECT_NE(plan.skipped[3].find("fastcgi_pass"), std::string::npos);

  options.max_servers = 2;
  plan = BuildNginxProbes(t, options);
  EXPECT_EQ(plan.probes.size(), 2u);
  EXPECT_EQ(plan.not_probed, 3u);
}

TEST(NginxProbesTest, SslNameAndIpv6) {
  NginxTopology t = Topology(R"(http {
  upstream b { server [::1]:8443; }
  server { location / {
    proxy_ssl_server_name on; proxy_ssl_name api.internal; proxy_pass https://b; } }
  server { location / { proxy_pass http://[::1]:9000; } }
})");
  NginxProbePlan plan = BuildNginxProbes(t, {});
  ASSERT_EQ(plan.probes.size(), 2u);
  EXPECT_EQ(plan.probes[0].url, "https://api.internal:8443/");
  EXPECT_EQ(plan.probes[0].connect_host, "::1");
  EXPECT_EQ(plan.probes[1].url, "http://[::1]:9000/");
  EXPECT_EQ(plan.probes[1].group, "[::1]:9000");
}

TEST(NginxProbesTest, KeepaliveOfTheGroup) {
  NginxTopology t = Topology(R"(http {
  upstream ka { server 127.0.0.1:8081; keepalive 16; keepalive_timeout 4s; }
  upstream dflt { server 127.0.0.1:8082; keepalive 2; }
  upstream none { server 127.0.0.1:8083; }
  upstream old { server 127.0.0.1:8085; keepalive 4; }
  server {
    proxy_http_version 1.1;
    location /e/ { proxy_http_version 1.0; proxy_pass http://old; }
    location /a/ { proxy_pass http://ka; }
    location /b/ { proxy_pass http://dflt; }
    location /c/ { proxy_pass http://none; }
    location /d/ { proxy_pass http://127.0.0.1:8084; }
  }
})");
  NginxProbePlan plan = BuildNginxProbes(t, {});
  ASSERT_EQ(plan.probes.size(), 5u);
  EXPECT_EQ(plan.probes[0].keepalive, 16);
  EXPECT_EQ(plan.probes[0].keepalive_timeout_ms, 4000);
  EXPECT_EQ(plan.probes[0].keepalive_from, "/etc/nginx/nginx.conf:2");
  EXPECT_EQ(plan.probes[0].port, 8081);
  EXPECT_EQ(plan.probes[0].path, "/");
  EXPECT_EQ(plan.probes[1].keepalive, 2);
  EXPECT_EQ(plan.probes[1].keepalive_timeout_ms, 60000);  // nginx's default
  EXPECT_EQ(plan.probes[2].keepalive, 0);                 // no keepalive: not measured
  EXPECT_EQ(plan.probes[4].keepalive, 0);                 // a proxy_pass without a block
  // HTTP/1.0 to the upstream: nginx sends Connection: close and never reuses, nothing to measure.
  EXPECT_EQ(plan.probes[3].group, "old");
  EXPECT_EQ(plan.probes[3].keepalive, 0);
  ASSERT_EQ(plan.keepalive_unused.size(), 1u);
  EXPECT_NE(plan.keepalive_unused[0].find("old: keepalive 4 unused: proxy_http_version 1.0"),
            std::string::npos)
      << plan.keepalive_unused[0];
}

TEST(NginxProbesTest, EveryAddressOfAName) {
  NginxProbe named;
  named.group = "api.example.test:8090";
  named.server = "api.example.test:8090";
  named.connect_host = "api.example.test";
  named.url = "http://api.example.test:8090/";
  // One address: the server keeps its label, the address is pinned.
  std::vector<NginxProbe> one = ProbesPerAddress(named, {"10.0.0.1", "10.0.0.1"});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].server, "api.example.test:8090");
  EXPECT_EQ(one[0].address, "10.0.0.1");
  EXPECT_EQ(one[0].url, "http://api.example.test:8090/");  // Host stays the name
  // Several: one probe (and label) each, duplicates dropped, at most kMaxAddressesPerName.
  std::vector<NginxProbe> two = ProbesPerAddress(named, {"10.0.0.1", "::1", "10.0.0.1"});
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0].server, "api.example.test:8090@10.0.0.1");
  EXPECT_EQ(two[1].server, "api.example.test:8090@::1");
  EXPECT_EQ(two[1].address, "::1");
  std::vector<std::string> many;
  for (int i = 0; i < 50; ++i) many.push_back("10.0.1." + std::to_string(i));
  EXPECT_EQ(ProbesPerAddress(named, many).size(), kMaxAddressesPerName);
  EXPECT_TRUE(ProbesPerAddress(named, {}).empty());
}

TEST(StubStatusTest, Pages) {
  auto s = ParseStubStatus(
      "Active connections: 3 \nserver accepts handled requests\n 120 117 340 \n"
      "Reading: 0 Writing: 1 Waiting: 2 \n");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->active, 3);
  EXPECT_EQ(s->accepts, 120);
  EXPECT_EQ(s->handled, 117);
  EXPECT_EQ(s->requests, 340);
  EXPECT_EQ(s->reading, 0);
  EXPECT_EQ(s->writing, 1);
  EXPECT_EQ(s->waiting, 2);
  for (const char* bad : {"", "<html>502 Bad Gateway</html>", "Active connections: x\n",
                          "Active connections: 1 \nserver accepts handled requests\n 1 1 \n",
                          "Active connections: 1 \nserver accepts handled requests\n 1 1 1 "
                          "\nReading: 0 Writing: 1\n"}) {
    EXPECT_FALSE(ParseStubStatus(bad)) << bad;
  }
}

TEST(StubStatusTest, IncrementsBetweenRuns) {
  StubStatus a{1, 100, 100, 300, 0, 1, 0};
  StubStatusIncrements first = IncrementsSince(std::nullopt, a);
  EXPECT_EQ(first.accepted, 0);
  EXPECT_EQ(first.dropped, 0);
  StubStatus b{1, 150, 140, 390, 0, 1, 0};  // 10 connections dropped since a
  StubStatusIncrements inc = IncrementsSince(a, b);
  EXPECT_EQ(inc.accepted, 50);
  EXPECT_EQ(inc.handled, 40);
  EXPECT_EQ(inc.requests, 90);
  EXPECT_EQ(inc.dropped, 10);
  // Drops before the last run are not counted again.
  StubStatus c{1, 160, 150, 400, 0, 1, 0};
  EXPECT_EQ(IncrementsSince(b, c).dropped, 0);
  // nginx restarted: everything since its start.
  StubStatus restarted{1, 5, 4, 6, 0, 1, 0};
  inc = IncrementsSince(c, restarted);
  EXPECT_EQ(inc.accepted, 5);
  EXPECT_EQ(inc.requests, 6);
  EXPECT_EQ(inc.dropped, 1);
}

TEST(NginxCheckConfigTest, ErrorsNameThePath) {
  RegisterBuiltinCheckTypes();
  const CheckType* type = CheckRegistry::Instance().Find("nginx");
  ASSERT_NE(type, nullptr);
  struct Case {
    const char* yaml;
    const char* error;
  } cases[] = {
      {"{}", "checks[0]: needs config_file, config_command or status_url"},
      {"{config_file: /a, config_command: [nginx, -T]}",
       "checks[0].config_command: config_file and config_command exclude each other"},
      {"{config_command: nginx -T}", "checks[0].config_command: must be a list"},
      {"{config_file: /a, health_path: healthz}", "checks[0].health_path: must start with /"},
      {"{config_file: /a, health_paths: {app: x}}",
       "checks[0].health_paths.app: must start with /"},
      {"{status_url: 'ftp://x/'}", "checks[0].status_url: must be an http or https URL"},
      {"{config_file: /a, max_dropped: 1}", "checks[0].max_dropped: needs status_url"},
      {"{config_file: /a, max_servers: 0}", "checks[0].max_servers"},
  };
  for (const Case& c : cases) {
    std::string error = testing::CheckConfigErrorOf(*type, c.yaml);
    EXPECT_NE(error.find(c.error), std::string::npos) << c.yaml << ": " << error;
  }
}

}  // namespace
}  // namespace gatewatch
