// deploy/kubernetes and deploy/grafana as a user applies them: every manifest parses, the shapes
// that matter hold (native sidecar, probes, restricted securityContext, the shared log volume,
// host paths, shards = replicas), the configs pass `gatewatch --config.check`, the PrometheusRule
// is the generated one and passes `promtool check rules`, the Alertmanager routing is
// deploy/alertmanager's and passes `amtool check-config`, and every metric the dashboard queries
// is documented in docs/metrics.md and, where the default config emits it, on a live /metrics.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tests/testlib/http_client.h"
#include "tests/testlib/process.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::seconds;
const std::string kSource = GATEWATCH_SOURCE_DIR;
const std::string kKube = kSource + "/deploy/kubernetes";

// Every document of every manifest, by "Kind/name".
std::map<std::string, YAML::Node> LoadManifests() {
  std::map<std::string, YAML::Node> out;
  for (const auto& entry : std::filesystem::directory_iterator(kKube)) {
    if (entry.path().extension() != ".yaml" || entry.path().filename() == "kustomization.yaml") {
      continue;
    }
    for (const YAML::Node& doc : YAML::LoadAllFromFile(entry.path().string())) {
      if (!doc || doc.IsNull()) continue;
      std::string key =
          doc["kind"].as<std::string>() + "/" + doc["metadata"]["name"].as<std::string>();
      EXPECT_TRUE(doc["apiVersion"]) << key;
      EXPECT_EQ(out.count(key), 0u) << key << " defined twice";
      out[key] = doc;
    }
  }
  return out;
}

class ManifestsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    manifests_ = new std::map<std::string, YAML::Node>(LoadManifests());
  }
  static void TearDownTestSuite() { delete manifests_; }

  static YAML::Node Get(const std::string& key) {
    auto it = manifests_->find(key);
    if (it == manifests_->end()) {
      ADD_FAILURE() << "no " << key << " in deploy/kubernetes";
      return YAML::Node();
    }
    return it->second;
  }
  static YAML::Node Find(const YAML::Node& list, const std::string& name) {
    for (const auto& item : list) {
      if (item["name"].as<std::string>() == name) return item;
    }
    ADD_FAILURE() << "no item named " << name;
    return YAML::Node();
  }
  static std::string ConfigText(const std::string& config_map) {
    return Get("ConfigMap/" + config_map)["data"]["gatewatch.yml"].as<std::string>();
  }
  // Writes a ConfigMap's gatewatch.yml to a file.
  std::string ConfigFile(const std::string& config_map) {
    std::string path = dir_.path() + "/" + config_map + ".yml";
    std::ofstream(path) << ConfigText(config_map);
    return path;
  }
  // `gatewatch --config.check` accepts a ConfigMap's config.
  void ExpectValidConfig(const std::string& config_map, const std::string& extra_flag = "") {
    std::vector<std::string> argv = {GATEWATCH_BINARY, "--config.check",
                                     "--config.file=" + ConfigFile(config_map)};
    if (!extra_flag.empty()) argv.push_back(extra_flag);
    CommandResult e = RunToExit(argv, seconds(60));
    EXPECT_EQ(e.exit_code, 0) << config_map << ": " << e.err;
    EXPECT_NE(e.out.find(": ok ("), std::string::npos) << e.out;
  }

  static std::map<std::string, YAML::Node>* manifests_;
  TempDir dir_;
};

std::map<std::string, YAML::Node>* ManifestsTest::manifests_ = nullptr;

// The restricted Pod Security Standard, per container.
void ExpectRestricted(const YAML::Node& c) {
  std::string n = c["name"].as<std::string>();
  YAML::Node sc = c["securityContext"];
  ASSERT_TRUE(sc) << n;
  EXPECT_TRUE(sc["runAsNonRoot"].as<bool>()) << n;
  EXPECT_FALSE(sc["allowPrivilegeEscalation"].as<bool>()) << n;
  EXPECT_TRUE(sc["readOnlyRootFilesystem"].as<bool>()) << n;
  ASSERT_TRUE(sc["capabilities"]["drop"]) << n;
  EXPECT_EQ(sc["capabilities"]["drop"][0].as<std::string>(), "ALL") << n;
  EXPECT_EQ(sc["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault") << n;
  for (const char* kind : {"requests", "limits"}) {
    for (const char* res : {"cpu", "memory"}) {
      EXPECT_TRUE(c["resources"][kind][res]) << n << " has no " << kind << "." << res;
    }
  }
}

// gatewatch's container: both probes on `probe_port` (the metrics port, or the DaemonSet's plain
// probe listener), the config mounted read-only.
void ExpectGatewatchContainer(const YAML::Node& c, const std::string& config_flag,
                              const std::string& probe_port = "gw-metrics") {
  ExpectRestricted(c);
  YAML::Node port = c["ports"][0];
  EXPECT_EQ(port["name"].as<std::string>(), "gw-metrics");
  EXPECT_EQ(port["containerPort"].as<int>(), 9142);
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/-/healthy");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["port"].as<std::string>(), probe_port);
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/-/ready");
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["port"].as<std::string>(), probe_port);
  std::vector<std::string> args = c["args"].as<std::vector<std::string>>();
  EXPECT_NE(std::find(args.begin(), args.end(), config_flag), args.end());
}

YAML::Node Mount(const YAML::Node& container, const std::string& volume) {
  for (const auto& m : container["volumeMounts"]) {
    if (m["name"].as<std::string>() == volume) return m;
  }
  return YAML::Node();
}

TEST_F(ManifestsTest, SidecarIsNativeSharesNginxLogsAndIsRestricted) {
  YAML::Node deploy = Get("Deployment/shop-edge");
  YAML::Node pod = deploy["spec"]["template"]["spec"];
  EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
  // Native sidecar: an init container that keeps running (Kubernetes >= 1.29).
  YAML::Node gw = Find(pod["initContainers"], "gatewatch");
  EXPECT_EQ(gw["restartPolicy"].as<std::string>(), "Always");
  ExpectGatewatchContainer(gw, "--config.file=/etc/gatewatch/gatewatch.yml");
  YAML::Node nginx = Find(pod["containers"], "nginx");
  ExpectRestricted(nginx);

  // One emptyDir, written by nginx and read (read-only) by gatewatch at the same path.
  YAML::Node logs = Find(pod["volumes"], "nginx-logs");
  EXPECT_TRUE(logs["emptyDir"]);
  YAML::Node gw_logs = Mount(gw, "nginx-logs"), nginx_logs = Mount(nginx, "nginx-logs");
  ASSERT_TRUE(gw_logs && nginx_logs);
  EXPECT_TRUE(gw_logs["readOnly"].as<bool>());
  EXPECT_FALSE(nginx_logs["readOnly"] && nginx_logs["readOnly"].as<bool>());
  EXPECT_EQ(gw_logs["mountPath"].as<std::string>(), nginx_logs["mountPath"].as<std::string>());

  // The config volumes are the ConfigMaps, and nginx logs there in the recommended format.
  EXPECT_EQ(Find(pod["volumes"], "gatewatch-config")["configMap"]["name"].as<std::string>(),
            "shop-gatewatch");
  EXPECT_EQ(Find(pod["volumes"], "nginx-config")["configMap"]["name"].as<std::string>(),
            "shop-nginx");
  EXPECT_TRUE(Mount(gw, "gatewatch-config")["readOnly"].as<bool>());
  std::string conf = Get("ConfigMap/shop-nginx")["data"]["nginx.conf"].as<std::string>();
  std::string log_dir = nginx_logs["mountPath"].as<std::string>();
  EXPECT_NE(conf.find("access_log " + log_dir + "/access.log gatewatch;"), std::string::npos);
  EXPECT_NE(conf.find("error_log " + log_dir + "/error.log"), std::string::npos);
  // The same log_format as deploy/nginx/gatewatch-log-format.conf (what format: upstream parses).
  auto log_format = [](const std::string& text) {
    std::string f = text.substr(text.find("log_format gatewatch"));
    f = f.substr(0, f.find(';') + 1);
    std::string collapsed;  // runs of whitespace (line breaks, indentation) as one space
    for (char c : f) {
      bool space = std::isspace(static_cast<unsigned char>(c));
      if (!space)
        collapsed += c;
      else if (collapsed.empty() || collapsed.back() != ' ')
        collapsed += ' ';
    }
    return collapsed;
  };
  ASSERT_NE(conf.find("log_format gatewatch"), std::string::npos);
  EXPECT_EQ(log_format(conf),
            log_format(ReadFile(kSource + "/deploy/nginx/gatewatch-log-format.conf")));
  ExpectValidConfig("shop-gatewatch");
}

TEST_F(ManifestsTest, DaemonSetWatchesTheNodeThroughReadOnlyHostPaths) {
  YAML::Node pod = Get("DaemonSet/gatewatch-node")["spec"]["template"]["spec"];
  YAML::Node gw = Find(pod["containers"], "gatewatch");
  ExpectGatewatchContainer(gw, "--config.file=/etc/gatewatch/gatewatch.yml", "gw-probe");
  std::vector<std::string> args = gw["args"].as<std::vector<std::string>>();
  const std::pair<const char*, const char*> paths[] = {
      {"proc", "/proc"}, {"sys", "/sys"}, {"root", "/"}};
  const char* flags[] = {"--path.procfs=", "--path.sysfs=", "--path.rootfs="};
  for (size_t i = 0; i < 3; ++i) {
    auto [volume, host] = paths[i];
    EXPECT_EQ(Find(pod["volumes"], volume)["hostPath"]["path"].as<std::string>(), host);
    YAML::Node m = Mount(gw, volume);
    ASSERT_TRUE(m) << volume;
    EXPECT_TRUE(m["readOnly"].as<bool>()) << volume;
    std::string flag = flags[i] + m["mountPath"].as<std::string>();
    EXPECT_NE(std::find(args.begin(), args.end(), flag), args.end()) << flag;
  }
  // It watches the node: a host check, which reads through those flags.
  YAML::Node config = YAML::Load(ConfigText("gatewatch-node"));
  bool host = false;
  for (const auto& check : config["checks"])
    host = host || check["type"].as<std::string>() == "host";
  EXPECT_TRUE(host) << "the node DaemonSet runs no host check";
  ExpectValidConfig("gatewatch-node");
}

// hostNetwork puts the port on every node IP: TLS with client certificates and basic auth there,
// and the kubelet's probes on a plain listener bound to 127.0.0.1 only.
TEST_F(ManifestsTest, DaemonSetServesTlsWithAuthAndProbesOnLocalhost) {
  YAML::Node pod = Get("DaemonSet/gatewatch-node")["spec"]["template"]["spec"];
  ASSERT_TRUE(pod["hostNetwork"].as<bool>());
  YAML::Node gw = Find(pod["containers"], "gatewatch");
  std::vector<std::string> args = gw["args"].as<std::vector<std::string>>();
  auto has = [&](const std::string& a) {
    return std::find(args.begin(), args.end(), a) != args.end();
  };
  EXPECT_TRUE(has("--web.config.file=/etc/gatewatch/web/web.yml"));
  EXPECT_TRUE(has("--web.probe-address=127.0.0.1:9143"));
  EXPECT_FALSE(has("--web.enable-lifecycle"));
  EXPECT_EQ(Find(gw["ports"], "gw-probe")["containerPort"].as<int>(), 9143);
  for (const char* probe : {"livenessProbe", "readinessProbe"}) {
    EXPECT_EQ(gw[probe]["httpGet"]["host"].as<std::string>(), "127.0.0.1") << probe;
    EXPECT_FALSE(gw[probe]["httpGet"]["scheme"]) << probe << ": the probe listener is plain";
  }
  YAML::Node web_mount = Mount(gw, "web");
  ASSERT_TRUE(web_mount);
  EXPECT_EQ(web_mount["mountPath"].as<std::string>(), "/etc/gatewatch/web");
  EXPECT_EQ(Find(pod["volumes"], "web")["secret"]["secretName"].as<std::string>(),
            "gatewatch-node-web");
  EXPECT_EQ(Mount(gw, "tls")["mountPath"].as<std::string>(), "/etc/gatewatch/tls");

  // The web config Secret: TLS with verified client certificates, users, and it passes
  // `gatewatch --web.config.check` (its certificate paths pointed at stand-in files here).
  std::string web = Get("Secret/gatewatch-node-web")["stringData"]["web.yml"].as<std::string>();
  YAML::Node parsed = YAML::Load(web);
  EXPECT_EQ(parsed["tls_server_config"]["client_auth_type"].as<std::string>(),
            "RequireAndVerifyClientCert");
  EXPECT_TRUE(parsed["basic_auth_users"]["prometheus"]);
  for (const char* f : {"tls.crt", "tls.key", "ca.crt"})
    std::ofstream(dir_.path() + "/" + f) << "x";
  for (size_t at; (at = web.find("/etc/gatewatch/tls")) != std::string::npos;)
    web.replace(at, std::string("/etc/gatewatch/tls").size(), dir_.path());
  std::ofstream(dir_.path() + "/web.yml") << web;
  CommandResult check = RunToExit(
      {GATEWATCH_BINARY, "--web.config.check", "--web.config.file=" + dir_.path() + "/web.yml"},
      seconds(30));
  EXPECT_EQ(check.exit_code, 0) << check.err;

  // Its PodMonitor scrapes with https, the client certificate and basic auth.
  YAML::Node pm = Get("PodMonitor/gatewatch-node");
  YAML::Node labels = Get("DaemonSet/gatewatch-node")["spec"]["template"]["metadata"]["labels"];
  for (const auto& kv : pm["spec"]["selector"]["matchLabels"]) {
    EXPECT_EQ(labels[kv.first.as<std::string>()].as<std::string>(), kv.second.as<std::string>());
  }
  YAML::Node ep = pm["spec"]["podMetricsEndpoints"][0];
  EXPECT_EQ(ep["port"].as<std::string>(), "gw-metrics");
  EXPECT_EQ(ep["scheme"].as<std::string>(), "https");
  EXPECT_TRUE(ep["tlsConfig"]["cert"]["secret"]["name"]);
  EXPECT_TRUE(ep["tlsConfig"]["keySecret"]["name"]);
  EXPECT_TRUE(ep["tlsConfig"]["ca"]["secret"]["name"]);
  std::string auth_secret = ep["basicAuth"]["password"]["name"].as<std::string>();
  EXPECT_TRUE(Get("Secret/" + auth_secret)["stringData"]["password"]);
  EXPECT_EQ(Get("Secret/" + auth_secret)["stringData"]["username"].as<std::string>(), "prometheus");
  // The plain PodMonitor does not also scrape it (over http, without credentials).
  YAML::Node plain = Get("PodMonitor/gatewatch")["spec"]["selector"]["matchLabels"];
  EXPECT_NE(plain["gatewatch.io/scrape"].as<std::string>(),
            labels["gatewatch.io/scrape"].as<std::string>());
}

TEST_F(ManifestsTest, NetworkPolicyAdmitsOnlyPrometheusToTheMetricsPort) {
  YAML::Node np = Get("NetworkPolicy/gatewatch-metrics-from-prometheus");
  EXPECT_EQ(np["metadata"]["namespace"].as<std::string>(), "monitoring");
  EXPECT_EQ(np["spec"]["policyTypes"][0].as<std::string>(), "Ingress");
  ASSERT_EQ(np["spec"]["ingress"].size(), 1u);
  YAML::Node rule = np["spec"]["ingress"][0];
  EXPECT_EQ(
      rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"].as<std::string>(),
      "prometheus");
  EXPECT_EQ(rule["ports"][0]["port"].as<int>(), 9142);
  // It selects the prober's and the node's pods.
  std::set<std::string> values;
  for (const auto& e : np["spec"]["podSelector"]["matchExpressions"]) {
    EXPECT_EQ(e["key"].as<std::string>(), "gatewatch.io/scrape");
    for (const auto& v : e["values"]) values.insert(v.as<std::string>());
  }
  for (const char* workload : {"StatefulSet/gatewatch-prober", "DaemonSet/gatewatch-node"}) {
    std::string v = Get(workload)["spec"]["template"]["metadata"]["labels"]["gatewatch.io/scrape"]
                        .as<std::string>();
    EXPECT_EQ(values.count(v), 1u) << workload;
  }
}

TEST_F(ManifestsTest, ProberStatefulSetRunsOneShardPerReplica) {
  YAML::Node sts = Get("StatefulSet/gatewatch-prober");
  int replicas = sts["spec"]["replicas"].as<int>();
  EXPECT_GT(replicas, 1);
  YAML::Node gw = Find(sts["spec"]["template"]["spec"]["containers"], "gatewatch");
  ExpectGatewatchContainer(gw, "--config.file=/etc/gatewatch/gatewatch.yml");
  std::vector<std::string> args = gw["args"].as<std::vector<std::string>>();
  // N in --shard must equal replicas, or some checks would never run.
  std::string shard = "--shard=auto/" + std::to_string(replicas);
  EXPECT_NE(std::find(args.begin(), args.end(), shard), args.end()) << shard;
  YAML::Node svc = Get("Service/" + sts["spec"]["serviceName"].as<std::string>());
  EXPECT_EQ(svc["spec"]["clusterIP"].as<std::string>(), "None");
  // The pod name is the hostname auto/N reads: the last pod maps to the last shard.
  ExpectValidConfig("gatewatch-prober",
                    "--shard=" + std::to_string(replicas - 1) + "/" + std::to_string(replicas));
}

TEST_F(ManifestsTest, PodMonitorScrapesEveryGatewatchPod) {
  YAML::Node pm = Get("PodMonitor/gatewatch");
  YAML::Node labels = pm["spec"]["selector"]["matchLabels"];
  EXPECT_EQ(pm["spec"]["podMetricsEndpoints"][0]["port"].as<std::string>(), "gw-metrics");
  // The node DaemonSet has its own (TLS) PodMonitor:
  // DaemonSetServesTlsWithAuthAndProbesOnLocalhost.
  for (const char* workload : {"Deployment/shop-edge", "StatefulSet/gatewatch-prober"}) {
    YAML::Node tmpl = Get(workload)["spec"]["template"];
    for (const auto& kv : labels) {
      EXPECT_EQ(tmpl["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>(),
                kv.second.as<std::string>())
          << workload;
    }
  }
}

TEST_F(ManifestsTest, PrometheusRuleIsGeneratedAndPassesPromtool) {
  CommandResult gen =
      RunToExit({GATEWATCH_BINARY, "rules", "--format=kubernetes", "--name=shop-gatewatch",
                 "--namespace=monitoring", "--config.file=" + ConfigFile("shop-gatewatch")},
                seconds(60));
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  // Regenerate with: gatewatch rules --format=kubernetes --name=shop-gatewatch
  //   --namespace=monitoring --config.file=<shop-gatewatch's gatewatch.yml>
  EXPECT_EQ(ReadFile(kKube + "/prometheusrule.yaml"), gen.out);
  if (access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool missing (prometheus)";
  YAML::Node rules;
  rules["groups"] = Get("PrometheusRule/shop-gatewatch")["spec"]["groups"];
  ASSERT_GT(rules["groups"][0]["rules"].size(), 0u);
  std::string path = dir_.path() + "/rules.yml";
  std::ofstream(path) << YAML::Dump(rules);
  CommandResult check = RunToExit({"/usr/bin/promtool", "check", "rules", path}, seconds(60));
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST_F(ManifestsTest, AlertmanagerRoutingIsTheOneFromDeployAlertmanager) {
  std::string embedded =
      Get("Secret/alertmanager-main")["stringData"]["alertmanager.yaml"].as<std::string>();
  std::string file = ReadFile(kSource + "/deploy/alertmanager/alertmanager.yml");
  // One difference: the Operator mounts the on-call Secret in a folder of its name.
  const std::string from = "/etc/alertmanager/secrets/", to = from + "alertmanager-oncall/";
  for (size_t at = file.find(from); at != std::string::npos; at = file.find(from, at + to.size())) {
    file.replace(at, from.size(), to);
  }
  EXPECT_EQ(embedded, file);
  EXPECT_EQ(Get("Alertmanager/main")["spec"]["secrets"][0].as<std::string>(),
            "alertmanager-oncall");
  if (access("/usr/bin/amtool", X_OK) != 0) GTEST_SKIP() << "amtool missing";
  std::string path = dir_.path() + "/alertmanager.yml";
  std::ofstream(path) << embedded;
  CommandResult check = RunToExit({"/usr/bin/amtool", "check-config", path}, seconds(60));
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST_F(ManifestsTest, KustomizationListsEveryManifest) {
  YAML::Node k = YAML::LoadFile(kKube + "/kustomization.yaml");
  std::set<std::string> listed;
  for (const auto& r : k["resources"]) listed.insert(r.as<std::string>());
  std::set<std::string> present;
  for (const auto& entry : std::filesystem::directory_iterator(kKube)) {
    std::string name = entry.path().filename().string();
    if (entry.path().extension() == ".yaml" && name != "kustomization.yaml") present.insert(name);
  }
  EXPECT_EQ(listed, present);
}

// ----- Grafana ---------------------------------------------------------------------------------

nlohmann::json Dashboard() {
  return nlohmann::json::parse(ReadFile(kSource + "/deploy/grafana/gatewatch-dashboard.json"));
}

// Every PromQL expression of the dashboard: panel targets and template variable queries.
std::vector<std::string> Expressions(const nlohmann::json& dash) {
  std::vector<std::string> out;
  for (const auto& panel : dash["panels"]) {
    for (const auto& t : panel.value("targets", nlohmann::json::array())) out.push_back(t["expr"]);
  }
  for (const auto& var : dash["templating"]["list"]) {
    if (var.contains("definition")) out.push_back(var["definition"]);
  }
  return out;
}

bool IsNameChar(char c) {
  return std::islower(static_cast<unsigned char>(c)) ||
         std::isdigit(static_cast<unsigned char>(c)) || c == '_';
}

// Metric names in PromQL (words starting with gatewatch_), histogram buckets folded to the family.
std::set<std::string> MetricNames(const std::vector<std::string>& exprs) {
  std::set<std::string> out;
  const std::string prefix = "gatewatch_", bucket = "_bucket";
  for (const auto& e : exprs) {
    for (size_t at = e.find(prefix); at != std::string::npos; at = e.find(prefix, at + 1)) {
      if (at > 0 && IsNameChar(e[at - 1])) continue;  // inside another word
      size_t end = at;
      while (end < e.size() && IsNameChar(e[end])) ++end;
      std::string n = e.substr(at, end - at);
      if (n.size() > bucket.size() && n.ends_with(bucket)) n.resize(n.size() - bucket.size());
      out.insert(n);
    }
  }
  return out;
}

// docs/metrics.md: every `gatewatch_...` in a table's first column, with its section title.
std::map<std::string, std::string> DocumentedMetrics() {
  std::map<std::string, std::string> out;
  std::istringstream in(ReadFile(kSource + "/docs/metrics.md"));
  std::string line, section;
  const std::string row = "| `gatewatch_";  // a table row whose first cell is a metric
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) section = line.substr(3);
    if (line.rfind(row, 0) == 0) {
      size_t end = line.find('`', row.size());
      if (end != std::string::npos) out[line.substr(3, end - 3)] = section;
    }
  }
  return out;
}

TEST(DashboardTest, ConfigMapForTheGrafanaSidecarCarriesTheDashboard) {
  YAML::Node cm;
  for (const YAML::Node& doc : YAML::LoadAllFromFile(kKube + "/grafana-dashboard.yaml")) cm = doc;
  EXPECT_EQ(cm["kind"].as<std::string>(), "ConfigMap");
  EXPECT_EQ(cm["metadata"]["labels"]["grafana_dashboard"].as<std::string>(), "1");
  EXPECT_EQ(nlohmann::json::parse(cm["data"]["gatewatch-dashboard.json"].as<std::string>()),
            Dashboard());
  YAML::Node prov = YAML::LoadFile(kSource + "/deploy/grafana/provisioning/gatewatch.yml");
  EXPECT_EQ(prov["providers"][0]["type"].as<std::string>(), "file");
}

TEST(DashboardTest, EveryQueriedMetricIsDocumented) {
  auto documented = DocumentedMetrics();
  ASSERT_GT(documented.size(), 10u) << "docs/metrics.md tables not found";
  auto used = MetricNames(Expressions(Dashboard()));
  ASSERT_GT(used.size(), 20u);
  for (const auto& name : used) {
    EXPECT_EQ(documented.count(name), 1u) << name << " is queried by the dashboard but not in "
                                          << "docs/metrics.md";
  }
  // Each area the dashboard promises has panels.
  for (const char* prefix :
       {"gatewatch_check_", "gatewatch_http_", "gatewatch_proxy_", "gatewatch_dns_",
        "gatewatch_cdn_", "gatewatch_host_", "gatewatch_container_", "gatewatch_scheduler_"}) {
    EXPECT_TRUE(std::any_of(used.begin(), used.end(), [&](const std::string& n) {
      return n.rfind(prefix, 0) == 0;
    })) << prefix;
  }
}

TEST(DashboardTest, QueriedMetricsOfTheDefaultConfigAreOnALiveScrape) {
  // Families the embedded default config (one http self-check, no alerts) always emits, by the
  // docs' sections; these exist only after a failure, an alert or with https.
  const std::set<std::string> conditional = {"gatewatch_check_failures_total",
                                             "gatewatch_tls_cert_expiry_timestamp_seconds"};
  const std::set<std::string> always = {"Every check", "HTTP checks", "The agent itself"};
  auto documented = DocumentedMetrics();
  std::set<std::string> expected;
  for (const auto& name : MetricNames(Expressions(Dashboard()))) {
    auto it = documented.find(name);
    if (it == documented.end() || conditional.count(name)) continue;
    for (const auto& s : always) {
      if (it->second.rfind(s, 0) == 0) expected.insert(name);
    }
  }
  ASSERT_GE(expected.size(), 5u);

  int port = FreeTcpPort();
  Process agent({GATEWATCH_BINARY, "--web.listen-address=127.0.0.1:" + std::to_string(port)});
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics", metrics;
  // The self-check's first run (within its 15 s interval) brings the per-check families.
  ASSERT_TRUE(WaitFor(
      [&] {
        metrics = HttpGet(url).body;
        return metrics.find("\ngatewatch_http_phase_seconds{") != std::string::npos;
      },
      seconds(30)))
      << agent.Stderr();
  for (const auto& name : expected) {
    EXPECT_NE(metrics.find("# TYPE " + name + " "), std::string::npos)
        << name << " is queried by the dashboard but not on a live /metrics";
  }
}

}  // namespace
}  // namespace gatewatch::testing
