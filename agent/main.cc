// gatewatch: flags in Prometheus style, then either the long-running agent or a subcommand.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "agent/agent.h"
#include "agent/base/logging.h"
#include "agent/base/version.h"
#include "agent/config.h"
#include "agent/diagnose_cli.h"
#include "agent/probe.h"
#include "exporters/rules.h"
#include "exporters/web_config.h"

namespace gatewatch {
namespace {

// Flags of the agent itself; --config.file and --log.* apply to every subcommand too.
struct GlobalFlags {
  AgentOptions agent;
  bool check_only = false;
  bool web_check_only = false;
  std::string log_level = "info", log_format = "logfmt";
  std::string shard;
};

struct ProbeFlags {
  ProbeOptions probe;
  std::string timeout = "10s";
  ProbeCheckOptions check;
};

struct RulesFlags {
  std::string format = "prometheus", name = "gatewatch", ns = "monitoring";
};

void AddGlobalFlags(CLI::App& app, GlobalFlags* f) {
  AgentOptions& agent = f->agent;
  app.add_option("--config.file", agent.config_file,
                 "YAML or JSON config file (default: the embedded default config)");
  app.add_flag("--config.check", f->check_only,
               "Validate the config file and exit (0 valid, 1 not)");
  app.add_option("--web.listen-address", agent.listen_address,
                 "Address for /metrics, /-/healthy, /-/ready, /-/reload and the status API")
      ->capture_default_str();
  app.add_option("--web.config.file", agent.web_config_file,
                 "exporter-toolkit web config (YAML): TLS, client certificates, basic-auth users, "
                 "headers; applies to every path of --web.listen-address");
  app.add_option("--web.probe-address", agent.probe_address,
                 "Optional second, plain listener serving only /-/healthy and /-/ready "
                 "(e.g. 127.0.0.1:9143 for the kubelet)");
  app.add_flag("--web.enable-lifecycle", agent.enable_lifecycle,
               "Enable POST /-/reload (SIGHUP always reloads)");
  app.add_flag("--web.config.check", f->web_check_only,
               "Validate --web.config.file and exit (0 valid, 1 not)");
  app.add_option("--path.procfs", agent.paths.procfs, "procfs mountpoint (host checks)")
      ->capture_default_str();
  app.add_option("--path.sysfs", agent.paths.sysfs, "sysfs mountpoint (host checks)")
      ->capture_default_str();
  app.add_option("--path.rootfs", agent.paths.rootfs, "root filesystem mountpoint (host checks)")
      ->capture_default_str();
  app.add_option("--shard", f->shard,
                 "I/N: run only the checks whose name hashes into shard I of N (0-based); "
                 "auto/N takes I from the -ORDINAL suffix of $HOSTNAME (StatefulSet pods)");
  app.add_option("--location", agent.location,
                 "Where this agent runs (e.g. eu-west): a label on gatewatch_build_info");
  app.add_option("--storage.path", agent.storage_path,
                 "Folder in which the check history (status page, /api/v1/checks) is kept across "
                 "restarts (history.bin, saved every minute and on shutdown; default: not kept)");
  app.add_option("--log.level", f->log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--log.format", f->log_format, "logfmt or json")->capture_default_str();
}

CLI::App* AddProbeCommand(CLI::App& app, ProbeFlags* f) {
  CLI::App* probe_cmd = app.add_subcommand("probe", "Run one HTTP check now and print what it saw");
  probe_cmd->add_option("url", f->probe.url, "http:// or https:// URL (or use --check / --dns)");
  probe_cmd->add_option("-X,--method", f->probe.method, "GET or HEAD")->capture_default_str();
  probe_cmd->add_flag(
      "-I,--head", [f](int64_t) { f->probe.method = "HEAD"; }, "Same as --method HEAD");
  probe_cmd->add_option("-H,--header", f->probe.headers,
                        "Request header \"Name: value\" (repeatable)");
  probe_cmd->add_option("--host", f->probe.host, "Host header override");
  probe_cmd->add_option("--timeout", f->timeout, "Deadline for the whole run")
      ->capture_default_str();
  probe_cmd->add_option("--expect-status", f->probe.expect_status,
                        "Accepted status or class (repeatable)");
  probe_cmd->add_option("--body-regex", f->probe.body_regex, "Extended regex the body must match");
  probe_cmd->add_option("--max-redirects", f->probe.max_redirects, "Redirects to follow")
      ->capture_default_str();
  probe_cmd->add_flag("-k,--insecure", f->probe.insecure, "Do not verify TLS certificates");
  probe_cmd->add_flag("--json", f->probe.json, "Print JSON instead of a table");
  probe_cmd->add_option("--origin", f->probe.origin,
                        "Also send the request straight to this origin (ip:port keeps Host and "
                        "SNI, or a URL) and print both sides and the CDN verdict");
  probe_cmd->add_option("--compare", f->probe.compare,
                        "With --origin: status, etag, last_modified, content_length, body_hash "
                        "(repeatable)");
  probe_cmd->add_option("--check", f->check.check,
                        "Run the check of this name from --config.file once, as the agent would");
  probe_cmd->add_option("--dns", f->check.dns_name, "Ask --resolver servers for this name");
  probe_cmd->add_option("--type", f->check.dns_type, "With --dns: A, AAAA, CNAME, MX, TXT, ...")
      ->capture_default_str();
  probe_cmd->add_option("--resolver", f->check.resolvers, "With --dns: ip[:port] (repeatable)");
  probe_cmd->add_option("--expect", f->check.expect, "With --dns: expected record (repeatable)");
  probe_cmd->add_flag("--authoritative", f->check.authoritative,
                      "With --dns: ask the zone's NS servers directly and compare SOA serials");
  return probe_cmd;
}

CLI::App* AddRulesCommand(CLI::App& app, RulesFlags* f) {
  CLI::App* rules_cmd = app.add_subcommand(
      "rules", "Print the Prometheus alerting rules for the alerts of --config.file");
  rules_cmd
      ->add_option("--format", f->format, "prometheus (a rule file) or kubernetes (PrometheusRule)")
      ->capture_default_str();
  rules_cmd->add_option("--name", f->name, "metadata.name of the PrometheusRule")
      ->capture_default_str();
  rules_cmd->add_option("--namespace", f->ns, "metadata.namespace of the PrometheusRule")
      ->capture_default_str();
  return rules_cmd;
}

// Applies the log and shard flags. False (after saying why on stderr) on a bad value.
bool ApplyGlobalFlags(GlobalFlags* f) {
  LogLevel level;
  LogFormat format;
  if (!ParseLogLevel(f->log_level, &level)) {
    std::fprintf(stderr, "--log.level: must be debug, info, warn or error (got \"%s\")\n",
                 f->log_level.c_str());
    return false;
  }
  if (!ParseLogFormat(f->log_format, &format)) {
    std::fprintf(stderr, "--log.format: must be logfmt or json (got \"%s\")\n",
                 f->log_format.c_str());
    return false;
  }
  SetLogLevel(level);
  SetLogFormat(format);
  if (!f->shard.empty()) {
    const char* hostname = std::getenv("HOSTNAME");
    std::string error;
    auto shard = ShardFromFlag(f->shard, hostname ? hostname : "", &error);
    if (!shard) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return false;
    }
    f->agent.shard = *shard;
  }
  if (!f->agent.location.empty() && !ValidLocation(f->agent.location)) {
    std::fprintf(stderr,
                 "--location: must be 1 to 64 letters, digits, '.', '_' or '-' (got \"%s\")\n",
                 f->agent.location.c_str());
    return false;
  }
  return true;
}

int RunProbeCommand(ProbeFlags& f, const GlobalFlags& global) {
  auto timeout = ParseDuration(f.timeout);
  if (!timeout || *timeout <= Duration::zero()) {
    std::fprintf(stderr, "--timeout: must be a duration like 500ms, 30s or 5m\n");
    return 2;
  }
  f.probe.timeout = *timeout;
  if (!f.check.check.empty() || !f.check.dns_name.empty()) {
    if (!f.probe.url.empty() || (!f.check.check.empty() && !f.check.dns_name.empty())) {
      std::fprintf(stderr, "gatewatch probe: give one of URL, --check NAME or --dns NAME\n");
      return 2;
    }
    f.check.config_file = global.agent.config_file;
    f.check.timeout = *timeout;
    f.check.json = f.probe.json;
    return RunProbeCheck(f.check);
  }
  if (f.probe.url.empty()) {
    std::fprintf(stderr, "gatewatch probe: a URL, --check NAME or --dns NAME is required\n");
    return 2;
  }
  return RunProbe(f.probe);
}

int RunRulesCommand(const RulesFlags& f, const GlobalFlags& global) {
  if (f.format != "prometheus" && f.format != "kubernetes") {
    std::fprintf(stderr, "--format: must be prometheus or kubernetes (got \"%s\")\n",
                 f.format.c_str());
    return 2;
  }
  if (global.agent.config_file.empty()) {
    std::fprintf(stderr, "gatewatch rules: --config.file is required\n");
    return 2;
  }
  try {
    Config config = LoadConfigFile(global.agent.config_file);
    std::cout << (f.format == "prometheus" ? RenderRuleFile(config.alerts)
                                           : RenderPrometheusRule(config.alerts, f.name, f.ns));
    return 0;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

// --web.config.check, and part of --config.check when --web.config.file is given.
int RunWebConfigCheck(const AgentOptions& agent) {
  if (agent.web_config_file.empty()) {
    std::fprintf(stderr, "--web.config.check: --web.config.file is required\n");
    return 2;
  }
  try {
    WebConfig web = LoadWebConfigFile(agent.web_config_file);
    std::printf("%s: ok (tls %s, %zu basic-auth users, %zu headers)\n", web.source.c_str(),
                web.tls ? "on" : "off", web.users.size(), web.headers.size());
    return 0;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s: %s\n", agent.web_config_file.c_str(), e.what());
    return 1;
  }
}

// --config.check: validate and count, as the agent would load it.
int RunConfigCheck(const AgentOptions& agent) {
  if (!agent.web_config_file.empty() && RunWebConfigCheck(agent) != 0) return 1;
  try {
    Config config = agent.config_file.empty()
                        ? ParseConfig(DefaultConfigYaml(SelfHealthUrl(agent.listen_address, 9142)),
                                      "<embedded default>")
                        : LoadConfigFile(agent.config_file);
    if (agent.shard.count > 1) {
      size_t mine = 0;
      for (const auto& entry : config.checks)
        mine += InShard(entry.check->spec().name, agent.shard);
      std::printf("%s: ok (%zu checks, %zu in shard %s)\n", config.source.c_str(),
                  config.checks.size(), mine, agent.shard.ToString().c_str());
    } else {
      std::printf("%s: ok (%zu checks)\n", config.source.c_str(), config.checks.size());
    }
    return 0;
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

}  // namespace
}  // namespace gatewatch

int main(int argc, char** argv) {
  using namespace gatewatch;
  CLI::App app{
      "gatewatch: watches a reverse proxy and everything behind it, and says why it fails"};
  app.set_version_flag("--version", std::string("gatewatch ") + kVersion + " (" + kRevision + ")");
  GlobalFlags global;
  ProbeFlags probe;
  RulesFlags rules;
  AddGlobalFlags(app, &global);
  CLI::App* probe_cmd = AddProbeCommand(app, &probe);
  CLI::App* rules_cmd = AddRulesCommand(app, &rules);
  DiagnoseOptions diagnose;
  CLI::App* diagnose_cmd = app.add_subcommand(
      "diagnose",
      "Print each service's verdict and evidence, from a running agent (--url) or by running "
      "the checks of --config.file now");
  diagnose_cmd->add_option("--url", diagnose.url, "http://HOST:PORT of the running agent");
  diagnose_cmd->add_option("--service", diagnose.service, "Only this service");
  diagnose_cmd->add_flag("--json", diagnose.json, "Print the API's JSON instead");
  // Global flags (--config.file, --log.level) may follow the subcommand too.
  probe_cmd->fallthrough();
  rules_cmd->fallthrough();
  diagnose_cmd->fallthrough();

  CLI11_PARSE(app, argc, argv);
  if (!ApplyGlobalFlags(&global)) return 2;

  if (probe_cmd->parsed()) return RunProbeCommand(probe, global);
  if (rules_cmd->parsed()) return RunRulesCommand(rules, global);
  if (diagnose_cmd->parsed()) {
    diagnose.config_file = global.agent.config_file;
    return RunDiagnose(diagnose);
  }
  if (global.web_check_only) return RunWebConfigCheck(global.agent);
  if (global.check_only) return RunConfigCheck(global.agent);
  return RunAgent(global.agent);
}
