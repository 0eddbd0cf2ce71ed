// gatewatch: flags in Prometheus style, then either the long-running agent or a subcommand.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "agent/agent.h"
#include "agent/base/logging.h"
#include "agent/base/version.h"
#include "agent/config.h"
#include "agent/probe.h"
#include "exporters/rules.h"

int main(int argc, char** argv) {
  using namespace gatewatch;
  CLI::App app{
      "gatewatch: watches a reverse proxy and everything behind it, and says why it fails"};
  app.set_version_flag("--version", std::string("gatewatch ") + kVersion + " (" + kRevision + ")");

  AgentOptions agent;
  bool check_only = false;
  std::string log_level = "info", log_format = "logfmt";
  app.add_option("--config.file", agent.config_file,
                 "YAML or JSON config file (default: the embedded default config)");
  app.add_flag("--config.check", check_only, "Validate the config file and exit (0 valid, 1 not)");
  app.add_option("--web.listen-address", agent.listen_address,
                 "Address for /metrics, /-/healthy, /-/ready, /-/reload and the status API")
      ->capture_default_str();
  app.add_option("--path.procfs", agent.paths.procfs, "procfs mountpoint (host checks)")
      ->capture_default_str();
  app.add_option("--path.sysfs", agent.paths.sysfs, "sysfs mountpoint (host checks)")
      ->capture_default_str();
  app.add_option("--path.rootfs", agent.paths.rootfs, "root filesystem mountpoint (host checks)")
      ->capture_default_str();
  std::string shard_flag;
  app.add_option("--shard", shard_flag,
                 "I/N: run only the checks whose name hashes into shard I of N (0-based); "
                 "auto/N takes I from the -ORDINAL suffix of $HOSTNAME (StatefulSet pods)");
  app.add_option("--location", agent.location,
                 "Where this agent runs (e.g. eu-west): a label on gatewatch_build_info");
  app.add_option("--log.level", log_level, "debug, info, warn or error")->capture_default_str();
  app.add_option("--log.format", log_format, "logfmt or json")->capture_default_str();

  ProbeOptions probe;
  std::string probe_timeout = "10s";
  CLI::App* probe_cmd = app.add_subcommand("probe", "Run one HTTP check now and print what it saw");
  probe_cmd->add_option("url", probe.url, "http:// or https:// URL (or use --check / --dns)");
  probe_cmd->add_option("-X,--method", probe.method, "GET or HEAD")->capture_default_str();
  probe_cmd->add_flag(
      "-I,--head", [&](int64_t) { probe.method = "HEAD"; }, "Same as --method HEAD");
  probe_cmd->add_option("-H,--header", probe.headers,
                        "Request header \"Name: value\" (repeatable)");
  probe_cmd->add_option("--host", probe.host, "Host header override");
  probe_cmd->add_option("--timeout", probe_timeout, "Deadline for the whole run")
      ->capture_default_str();
  probe_cmd->add_option("--expect-status", probe.expect_status,
                        "Accepted status or class (repeatable)");
  probe_cmd->add_option("--body-regex", probe.body_regex, "Extended regex the body must match");
  probe_cmd->add_option("--max-redirects", probe.max_redirects, "Redirects to follow")
      ->capture_default_str();
  probe_cmd->add_flag("-k,--insecure", probe.insecure, "Do not verify TLS certificates");
  probe_cmd->add_flag("--json", probe.json, "Print JSON instead of a table");
  probe_cmd->add_option("--origin", probe.origin,
                        "Also send the request straight to this origin (ip:port keeps Host and "
                        "SNI, or a URL) and print both sides and the CDN verdict");
  probe_cmd->add_option("--compare", probe.compare,
                        "With --origin: status, etag, last_modified, content_length, body_hash "
                        "(repeatable)");
  ProbeCheckOptions probe_check;
  probe_cmd->add_option("--check", probe_check.check,
                        "Run the check of this name from --config.file once, as the agent would");
  probe_cmd->add_option("--dns", probe_check.dns_name, "Ask --resolver servers for this name");
  probe_cmd->add_option("--type", probe_check.dns_type, "With --dns: A, AAAA, CNAME, MX, TXT, ...")
      ->capture_default_str();
  probe_cmd->add_option("--resolver", probe_check.resolvers, "With --dns: ip[:port] (repeatable)");
  probe_cmd->add_option("--expect", probe_check.expect, "With --dns: expected record (repeatable)");
  probe_cmd->add_flag("--authoritative", probe_check.authoritative,
                      "With --dns: ask the zone's NS servers directly and compare SOA serials");

  std::string rules_format = "prometheus", rules_name = "gatewatch", rules_namespace = "monitoring";
  CLI::App* rules_cmd = app.add_subcommand(
      "rules", "Print the Prometheus alerting rules for the alerts of --config.file");
  rules_cmd
      ->add_option("--format", rules_format,
                   "prometheus (a rule file) or kubernetes (PrometheusRule)")
      ->capture_default_str();
  rules_cmd->add_option("--name", rules_name, "metadata.name of the PrometheusRule")
      ->capture_default_str();
  rules_cmd->add_option("--namespace", rules_namespace, "metadata.namespace of the PrometheusRule")
      ->capture_default_str();

  // Global flags (--config.file, --log.level) may follow the subcommand too.
  probe_cmd->fallthrough();
  rules_cmd->fallthrough();

  CLI11_PARSE(app, argc, argv);

  LogLevel level;
  LogFormat format;
  if (!ParseLogLevel(log_level, &level)) {
    std::fprintf(stderr, "--log.level: must be debug, info, warn or error (got \"%s\")\n",
                 log_level.c_str());
    return 2;
  }
  if (!ParseLogFormat(log_format, &format)) {
    std::fprintf(stderr, "--log.format: must be logfmt or json (got \"%s\")\n", log_format.c_str());
    return 2;
  }
  SetLogLevel(level);
  SetLogFormat(format);
  if (!shard_flag.empty()) {
    const char* hostname = std::getenv("HOSTNAME");
    std::string error;
    auto shard = ShardFromFlag(shard_flag, hostname ? hostname : "", &error);
    if (!shard) {
      std::fprintf(stderr, "%s\n", error.c_str());
      return 2;
    }
    agent.shard = *shard;
  }
  if (!agent.location.empty() && !ValidLocation(agent.location)) {
    std::fprintf(stderr,
                 "--location: must be 1 to 64 letters, digits, '.', '_' or '-' (got \"%s\")\n",
                 agent.location.c_str());
    return 2;
  }

  if (probe_cmd->parsed()) {
    auto timeout = ParseDuration(probe_timeout);
    if (!timeout || *timeout <= Duration::zero()) {
      std::fprintf(stderr, "--timeout: must be a duration like 500ms, 30s or 5m\n");
      return 2;
    }
    probe.timeout = *timeout;
    if (!probe_check.check.empty() || !probe_check.dns_name.empty()) {
      if (!probe.url.empty() || (!probe_check.check.empty() && !probe_check.dns_name.empty())) {
        std::fprintf(stderr, "gatewatch probe: give one of URL, --check NAME or --dns NAME\n");
        return 2;
      }
      probe_check.config_file = agent.config_file;
      probe_check.timeout = *timeout;
      probe_check.json = probe.json;
      return RunProbeCheck(probe_check);
    }
    if (probe.url.empty()) {
      std::fprintf(stderr, "gatewatch probe: a URL, --check NAME or --dns NAME is required\n");
      return 2;
    }
    return RunProbe(probe);
  }

  if (rules_cmd->parsed()) {
    if (rules_format != "prometheus" && rules_format != "kubernetes") {
      std::fprintf(stderr, "--format: must be prometheus or kubernetes (got \"%s\")\n",
                   rules_format.c_str());
      return 2;
    }
    if (agent.config_file.empty()) {
      std::fprintf(stderr, "gatewatch rules: --config.file is required\n");
      return 2;
    }
    try {
      Config config = LoadConfigFile(agent.config_file);
      std::cout << (rules_format == "prometheus"
                        ? RenderRuleFile(config.alerts)
                        : RenderPrometheusRule(config.alerts, rules_name, rules_namespace));
      return 0;
    } catch (const ConfigError& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 1;
    }
  }

  if (check_only) {
    try {
      Config config =
          agent.config_file.empty()
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
  return RunAgent(agent);
}
