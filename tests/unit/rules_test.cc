// Generated Prometheus rules and the Alertmanager routing, checked by the real tools:
// `promtool check rules`, `promtool test rules` (fires, stays quiet under min_events, resolves)
// and `amtool check-config` / `amtool config routes test`.
#include "exporters/rules.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/config.h"

namespace gatewatch {
namespace {

const std::string kSource = GATEWATCH_SOURCE_DIR;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs a shell command; returns its exit status and puts stdout+stderr in *output.
int RunShell(const std::string& command, std::string* output) {
  std::string full = command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) output->append(buf, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool HaveTool(const char* path) { return access(path, X_OK) == 0; }

class RulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = LoadConfigFile(kSource + "/deploy/gatewatch.example.yml");
    dir_ = std::filesystem::temp_directory_path() / ("gatewatch-rules-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "rules.yml") << RenderRuleFile(config_.alerts);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Config config_;
  std::filesystem::path dir_;
};

TEST_F(RulesTest, DeployedRuleFilesAreTheGeneratedOnes) {
  // deploy/ must be regenerated when the generator or the example changes:
  //   build/gatewatch rules --config.file=deploy/gatewatch.example.yml >
  //   deploy/prometheus/rules.yml
  EXPECT_EQ(ReadFile(kSource + "/deploy/prometheus/rules.yml"), RenderRuleFile(config_.alerts));
  EXPECT_EQ(ReadFile(kSource + "/deploy/prometheus/prometheusrule.yml"),
            RenderPrometheusRule(config_.alerts, "gatewatch", "monitoring"));
}

TEST_F(RulesTest, PrometheusRuleManifestCarriesTheSameGroups) {
  YAML::Node manifest = YAML::Load(RenderPrometheusRule(config_.alerts, "gw", "ns"));
  YAML::Node file = YAML::Load(RenderRuleFile(config_.alerts));
  EXPECT_EQ(manifest["kind"].as<std::string>(), "PrometheusRule");
  EXPECT_EQ(manifest["metadata"]["namespace"].as<std::string>(), "ns");
  EXPECT_EQ(YAML::Dump(manifest["spec"]["groups"]), YAML::Dump(file["groups"]));
  // One UpstreamDown per (service, source check), next to the configured alerts.
  int upstream_down = 0;
  for (const auto& rule : file["groups"][0]["rules"]) {
    if (rule["alert"].as<std::string>() == "UpstreamDown") ++upstream_down;
  }
  EXPECT_EQ(upstream_down, 3);
}

TEST_F(RulesTest, PromtoolAcceptsTheRules) {
  if (!HaveTool("/usr/bin/promtool"))
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  std::string out;
  EXPECT_EQ(RunShell("promtool check rules " + (dir_ / "rules.yml").string(), &out), 0) << out;
  EXPECT_NE(out.find("SUCCESS: 8 rules found"), std::string::npos) << out;
}

TEST_F(RulesTest, PromtoolUnitTestsOfEveryGeneratedAlertPass) {
  if (!HaveTool("/usr/bin/promtool"))
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  std::filesystem::copy_file(kSource + "/tests/promtool/gatewatch_rules_test.yml",
                             dir_ / "gatewatch_rules_test.yml");
  std::string out;
  EXPECT_EQ(
      RunShell("cd " + dir_.string() + " && promtool test rules gatewatch_rules_test.yml", &out), 0)
      << out;
}

TEST(AlertmanagerConfigTest, RoutesPagesToOnCallAndTicketsElsewhere) {
  if (!HaveTool("/usr/bin/amtool"))
    GTEST_SKIP() << "amtool not installed (Debian package prometheus-alertmanager)";
  std::string config = kSource + "/deploy/alertmanager/alertmanager.yml";
  std::string out;
  ASSERT_EQ(RunShell("amtool check-config " + config, &out), 0) << out;
  struct Case {
    const char* labels;
    const char* receivers;
  };
  for (const Case& c :
       {Case{"alertname=High502Rate severity=page service=shop", "oncall-pagerduty"},
        Case{"alertname=UpstreamDown severity=page service=shop oncall=opsgenie",
             "oncall-pagerduty,oncall-opsgenie"},
        Case{"alertname=Slo502Burn severity=ticket service=shop", "tickets-webhook"},
        Case{"alertname=Other", "default-webhook"}}) {
    out.clear();
    EXPECT_EQ(RunShell(std::string("amtool config routes test --config.file=") + config +
                           " --verify.receivers=" + c.receivers + " " + c.labels,
                       &out),
              0)
        << c.labels << ": " << out;
  }
}

TEST(AlertmanagerConfigTest, InhibitsRatioAlertsWhileUpstreamDownFiresForTheSameService) {
  YAML::Node config = YAML::LoadFile(kSource + "/deploy/alertmanager/alertmanager.yml");
  ASSERT_EQ(config["inhibit_rules"].size(), 1u);
  YAML::Node rule = config["inhibit_rules"][0];
  EXPECT_EQ(rule["source_matchers"][0].as<std::string>(), "alertname=\"UpstreamDown\"");
  EXPECT_EQ(rule["target_matchers"][0].as<std::string>(), "gatewatch_kind=~\"ratio|slo\"");
  EXPECT_EQ(rule["equal"][0].as<std::string>(), "service");
  // The generated alerts carry the labels the inhibition matches on.
  Config c = LoadConfigFile(kSource + "/deploy/gatewatch.example.yml");
  YAML::Node rules = YAML::Load(RenderRuleFile(c.alerts));
  for (const auto& r : rules["groups"][0]["rules"]) {
    EXPECT_TRUE(r["labels"]["service"].IsDefined()) << r["alert"];
    EXPECT_TRUE(r["labels"]["gatewatch_kind"].IsDefined()) << r["alert"];
  }
}

}  // namespace
}  // namespace gatewatch
