// End to end, with the real programs: nginx in front of two upstreams, gatewatch probing through
// it, Prometheus (from Debian's package) scraping gatewatch and evaluating the rules
// `gatewatch rules` generated, Alertmanager routing with the inhibition from
// deploy/alertmanager/alertmanager.yml, and a webhook receiver standing in for on-call.
//
// The test kills both upstreams. Service "blog": its 502 alert reaches on-call with the reason.
// Service "shop": UpstreamDown reaches on-call and inhibits shop's 502 alert, which fires in
// Prometheus but never reaches on-call. Then blog's upstream returns: a resolved notification
// arrives. Everything runs on 127.0.0.1 with 1 s intervals and is bounded to a few minutes.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

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

using std::chrono::seconds;
using Behaviour = FakeHttpServer::Behaviour;

constexpr char kPrometheus[] = "/usr/bin/prometheus";
constexpr char kAlertmanager[] = "/usr/bin/prometheus-alertmanager";

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// Every alert notification the receiver got, flattened: {alertname, status, service, reason}.
struct Notification {
  std::string alertname, status, service, reason;
};

std::vector<Notification> Notifications(const FakeHttpServer& receiver) {
  std::vector<Notification> out;
  for (const auto& request : receiver.requests()) {
    auto body = request.find("\r\n\r\n");
    if (body == std::string::npos) continue;
    auto json = nlohmann::json::parse(request.substr(body + 4), nullptr, false);
    if (json.is_discarded()) continue;
    for (const auto& alert : json["alerts"]) {
      out.push_back({alert["labels"].value("alertname", ""), alert.value("status", ""),
                     alert["labels"].value("service", ""),
                     alert["annotations"].value("reason", "")});
    }
  }
  return out;
}

bool Has(const std::vector<Notification>& ns, const std::string& alertname,
         const std::string& status) {
  for (const auto& n : ns) {
    if (n.alertname == alertname && n.status == status) return true;
  }
  return false;
}

TEST(AlertingE2eTest, A502AlertWithItsReasonReachesOnCallAndInhibitionHolds) {
  for (const char* tool : {kPrometheus, kAlertmanager, kNginxBinary}) {
    if (access(tool, X_OK) != 0)
      GTEST_SKIP() << tool << " not installed; deploy/setup.sh installs it";
  }
  TempDir dir;
  auto shop_upstream = std::make_unique<FakeHttpServer>(Behaviour::kOk);
  auto blog_upstream = std::make_unique<FakeHttpServer>(Behaviour::kOk);
  int blog_port = blog_upstream->port();
  FakeHttpServer receiver(Behaviour::kRecord);

  int nginx_port = FreeTcpPort();
  NginxInstance nginx(
      "  server {\n    listen 127.0.0.1:" + std::to_string(nginx_port) + ";\n" +
      "    location /shop { proxy_pass http://127.0.0.1:" + std::to_string(shop_upstream->port()) +
      "; }\n    location /blog { proxy_pass http://127.0.0.1:" + std::to_string(blog_port) +
      "; }\n  }\n");
  std::string error;
  ASSERT_TRUE(nginx.Start(&error)) << error;

  // gatewatch: probes through nginx per service, and shop's upstream directly.
  std::string edge = "http://127.0.0.1:" + std::to_string(nginx_port);
  std::string config = dir.path() + "/gatewatch.yml";
  WriteFile(
      config,
      "defaults: {interval: 1s, timeout: 500ms}\nchecks:\n"
      "  - {name: shop-edge, type: http, url: '" +
          edge +
          "/shop'}\n"
          "  - {name: blog-edge, type: http, url: '" +
          edge +
          "/blog'}\n"
          "  - {name: shop-upstream, type: http, url: 'http://127.0.0.1:" +
          std::to_string(shop_upstream->port()) +
          "/'}\n"
          "alerts:\n"
          "  - {name: ShopHigh502Rate, source: {check: shop-edge}, ratio: {of: [502], window: 10s},"
          " above: 0.5, min_events: 3, service: shop}\n"
          "  - {name: BlogHigh502Rate, source: {check: blog-edge}, ratio: {of: [502], window: 10s},"
          " above: 0.5, min_events: 3, service: blog}\n"
          "  - {name: ShopUpstream5xx, source: {check: shop-upstream}, ratio: {of: [5xx], window: "
          "10s},"
          " above: 0.5, min_events: 3, service: shop}\n"
          // The diagnosis of blog, whose verdict the page of blog's alert carries.
          "services:\n  - {name: blog, checks: [blog-edge]}\n");
  StartedGatewatch started = StartGatewatch(
      {GATEWATCH_BINARY, "--config.file=" + config, "--web.listen-address=127.0.0.1:0"});
  Process& gatewatch = *started.process;
  int gw_port = started.port;
  ASSERT_NE(gw_port, 0) << gatewatch.Stderr();
  Process rules({GATEWATCH_BINARY, "rules", "--config.file=" + config});
  int status = -1;
  ASSERT_TRUE(rules.WaitExit(seconds(10), &status));
  ASSERT_EQ(status, 0) << rules.Stderr();
  WriteFile(dir.path() + "/rules.yml", rules.Stdout());

  // Alertmanager: the deployed inhibition, routes pointed at the receiver, short timers.
  YAML::Node am =
      YAML::LoadFile(std::string(GATEWATCH_SOURCE_DIR) + "/deploy/alertmanager/alertmanager.yml");
  YAML::Node route;
  route["receiver"] = "oncall";
  route["group_by"].push_back("alertname");
  route["group_by"].push_back("service");
  route["group_wait"] = "1s";
  route["group_interval"] = "1s";
  route["repeat_interval"] = "1h";
  am["route"] = route;
  YAML::Node receivers;
  receivers[0]["name"] = "oncall";
  receivers[0]["webhook_configs"][0]["url"] =
      "http://127.0.0.1:" + std::to_string(receiver.port()) + "/";
  receivers[0]["webhook_configs"][0]["send_resolved"] = true;
  am["receivers"] = receivers;
  WriteFile(dir.path() + "/alertmanager.yml", YAML::Dump(am));
  int am_port = FreeTcpPort();
  Process alertmanager({kAlertmanager, "--config.file=" + dir.path() + "/alertmanager.yml",
                        "--storage.path=" + dir.path() + "/am",
                        "--web.listen-address=127.0.0.1:" + std::to_string(am_port),
                        "--cluster.listen-address="});

  int prom_port = FreeTcpPort();
  WriteFile(
      dir.path() + "/prometheus.yml",
      "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
      "rule_files: [rules.yml]\n"
      "alerting: {alertmanagers: [{static_configs: [{targets: ['127.0.0.1:" +
          std::to_string(am_port) +
          "']}]}]}\n"
          "scrape_configs:\n  - job_name: gatewatch\n    static_configs: [{targets: ['127.0.0.1:" +
          std::to_string(gw_port) + "']}]\n");
  Process prometheus({kPrometheus, "--config.file=" + dir.path() + "/prometheus.yml",
                      "--storage.tsdb.path=" + dir.path() + "/tsdb",
                      "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)});
  std::string prom = "http://127.0.0.1:" + std::to_string(prom_port);
  ASSERT_TRUE(WaitFor([&] { return HttpGet(prom + "/-/ready").status == 200; }, seconds(60)))
      << prometheus.Stderr();
  ASSERT_TRUE(WaitFor(
      [&] {
        return HttpGet("http://127.0.0.1:" + std::to_string(am_port) + "/-/ready").status == 200;
      },
      seconds(60)))
      << alertmanager.Stderr();
  // Healthy first: a few scrapes with no alert.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = HttpGet(prom + "/api/v1/query?query=gatewatch_check_success");
        return r.body.find("shop-upstream") != std::string::npos;
      },
      seconds(30)));

  shop_upstream->Stop();
  blog_upstream->Stop();

  ASSERT_TRUE(WaitFor(
      [&] {
        auto ns = Notifications(receiver);
        return Has(ns, "BlogHigh502Rate", "firing") && Has(ns, "UpstreamDown", "firing");
      },
      seconds(90)))
      << "notifications: " << receiver.requests().size() << "\n"
      << HttpGet(prom + "/api/v1/alerts").body;
  for (const auto& n : Notifications(receiver)) {
    if (n.alertname == "BlogHigh502Rate") {
      EXPECT_EQ(n.reason, "http_502") << "the page must say why";
      EXPECT_EQ(n.service, "blog");
    }
  }
  // The page carries the diagnosis verdict of blog: Alertmanager holds the annotation Prometheus
  // rendered from gatewatch_diagnosis_info, and the agent's own evaluation has the evidence.
  std::string am_alerts;
  EXPECT_TRUE(WaitFor(
      [&] {
        am_alerts = HttpGet("http://127.0.0.1:" + std::to_string(am_port) + "/api/v2/alerts").body;
        return am_alerts.find("\"diagnosis\":\"blog: upstream_down (bad_gateway)\"") !=
               std::string::npos;
      },
      seconds(30)))
      << am_alerts;
  std::string agent_alerts;
  EXPECT_TRUE(WaitFor(
      [&] {
        agent_alerts =
            HttpGet("http://127.0.0.1:" + std::to_string(gw_port) + "/api/v1/status").body;
        return agent_alerts.find("verdict: upstream_down (bad_gateway); evidence: ") !=
               std::string::npos;
      },
      seconds(30)))
      << agent_alerts;
  // Shop's 502 alert fires in Prometheus...
  ASSERT_TRUE(WaitFor(
      [&] {
        return HttpGet(prom + "/api/v1/alerts").body.find("\"alertname\":\"ShopHigh502Rate\"") !=
               std::string::npos;
      },
      seconds(30)));
  // ...but Alertmanager holds it back while UpstreamDown fires for shop. Give it several group
  // intervals to (wrongly) deliver it.
  WaitFor([] { return false; }, seconds(5));
  EXPECT_FALSE(Has(Notifications(receiver), "ShopHigh502Rate", "firing"))
      << "inhibition did not hold";

  // Blog's upstream comes back: a resolved notification follows.
  blog_upstream.reset();  // releases the port it kept refusing on
  FakeHttpServer blog_back(Behaviour::kOk, 200, "127.0.0.1", blog_port);
  EXPECT_TRUE(WaitFor([&] { return Has(Notifications(receiver), "BlogHigh502Rate", "resolved"); },
                      seconds(90)))
      << HttpGet(prom + "/api/v1/alerts").body;
}

}  // namespace
}  // namespace gatewatch::testing
