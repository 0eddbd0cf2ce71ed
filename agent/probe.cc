#include "agent/probe.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/base/config_node.h"
#include "agent/base/logging.h"
#include "agent/base/units.h"
#include "agent/base/utf8.h"
#include "agent/config.h"
#include "agent/io/curl_multi.h"
#include "agent/io/dns_resolver.h"
#include "agent/io/event_loop.h"
#include "agent/io/statfs_pool.h"
#include "agent/io/tail_registry.h"
#include "checks/api/check_type.h"
#include "checks/check_types.h"
#include "exporters/status_json.h"

namespace gatewatch {
namespace {

// The probe goes through the check type's own factory, so flags are validated exactly like the
// config file's keys.
YAML::Node ProbeNode(const ProbeOptions& o) {
  YAML::Node node;
  node["url"] = o.url;
  node["method"] = o.method;
  if (!o.host.empty()) node["host"] = o.host;
  node["max_redirects"] = o.max_redirects;
  node["insecure"] = o.insecure;
  for (const auto& h : o.headers) {
    auto colon = h.find(':');
    std::string name = h.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : h.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    node["headers"][name] = value;
  }
  if (!o.origin.empty()) {
    node["origin"] = o.origin;
    for (const auto& c : o.compare) node["compare"].push_back(c);
  }
  if (!o.expect_status.empty() || !o.body_regex.empty()) {
    YAML::Node expect;
    for (const auto& s : o.expect_status) expect["status"].push_back(s);
    if (!o.body_regex.empty()) expect["body_regex"] = o.body_regex;
    node["expect"] = expect;
  }
  return node;
}

void PrintTable(const std::string& title, const Result& r) {
  int width = 12;
  for (const auto& [key, value] : r.report)
    width = std::max(width, static_cast<int>(key.size()) + 1);
  std::printf("%-*s %s\n", width + 2, "PROBE", title.c_str());
  for (const auto& [key, value] : r.report) {
    // Evidence (response_head) spans lines: continuation lines are indented under the value.
    std::string shown;
    for (char c : SanitizeUtf8(value, kMaxDetailBytes)) {
      if (c == '\r') continue;
      shown += c;
      if (c == '\n') shown.append(static_cast<size_t>(width) + 3, ' ');
    }
    while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n')) shown.pop_back();
    std::printf("  %-*s %s\n", width, SanitizeUtf8(key, kMaxLabelValueBytes).c_str(),
                shown.c_str());
  }
  std::printf("  %-*s %s ms\n", width, "duration", FormatMillis(r.duration, 1).c_str());
  if (r.success) {
    std::printf("%-*s OK\n", width + 2, "RESULT");
  } else {
    std::printf("%-*s FAIL  reason=%s cause=%s\n", width + 2, "RESULT",
                std::string(ReasonName(r.reason)).c_str(),
                std::string(CauseName(ReasonCause(r.reason))).c_str());
    if (!r.detail.empty()) {
      std::printf("  %-*s %s\n", width, "detail", SanitizeUtf8(r.detail, kMaxDetailBytes).c_str());
    }
  }
}

}  // namespace

// Runs `check` once on a private loop with the agent's services and prints the result; returns
// the exit code (0 success, 1 failure). `what` names the probed thing in JSON ("url", "check").
int RunAndPrint(const Check& check, const std::string& what, const std::string& title, bool json) {
  OneShotServices io;
  Result result = RunCheckOnce(check, io.services);

  if (json) {
    // The status API's shape (exporters/status_json.h), named by `what` instead of name/type.
    nlohmann::json j = ResultJson(result);
    j[what] = title;
    std::cout << DumpJson(j, 2) << std::endl;
  } else {
    PrintTable(title, result);
  }
  return result.success ? 0 : 1;
}

Result RunCheckOnce(const Check& check, CheckServices& services, CheckState* state) {
  return std::move(RunChecksOnce({&check}, services, {state}).front());
}

std::vector<Result> RunChecksOnce(const std::vector<const Check*>& checks, CheckServices& services,
                                  const std::vector<CheckState*>& states) {
  EventLoop& loop = *services.loop;
  const size_t n = checks.size();
  std::vector<std::unique_ptr<CheckState>> fresh(n);
  // Stable addresses: a run may keep its RunContext for its lifetime.
  std::deque<RunContext> contexts;
  std::vector<std::optional<Result>> results(n);
  std::vector<std::unique_ptr<CheckRun>> runs(n);
  std::vector<TimerId> deadlines(n);
  for (size_t i = 0; i < n; ++i) {
    CheckState* state = i < states.size() ? states[i] : nullptr;
    if (state == nullptr) {
      fresh[i] = checks[i]->NewState();
      state = fresh[i].get();
    }
    TimePoint start = services.clock.Now();
    contexts.push_back(RunContext{services, start, start + checks[i]->spec().timeout, state});
    runs[i] =
        checks[i]->Start(contexts.back(), [&results, i](Result r) { results[i] = std::move(r); });
    deadlines[i] = loop.AddTimer(contexts.back().deadline, [&results, &runs, i] {
      if (!results[i]) results[i] = runs[i]->Abort();
    });
  }
  std::vector<TimePoint> finished(n);
  auto pending = [&] {
    bool any = false;
    TimePoint now = services.clock.Now();
    for (size_t i = 0; i < n; ++i) {
      if (results[i] && runs[i] != nullptr) {
        // Done: cancel its deadline and end the run now, as the scheduler would.
        loop.CancelTimer(deadlines[i]);
        runs[i].reset();
        finished[i] = now;
      }
      any = any || !results[i];
    }
    return any;
  };
  while (pending()) loop.RunOnce(std::chrono::milliseconds(100));
  std::vector<Result> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    results[i]->duration = finished[i] - contexts[i].started;
    out.push_back(std::move(*results[i]));
  }
  return out;
}

int RunProbe(const ProbeOptions& options) {
  RegisterBuiltinCheckTypes();
  const char* type_name = options.origin.empty() ? "http" : "cdn_origin";
  if ((options.origin.empty() && !options.compare.empty()) ||
      (!options.origin.empty() &&
       (!options.expect_status.empty() || !options.body_regex.empty()))) {
    std::fprintf(stderr,
                 "gatewatch probe: --compare needs --origin; --expect-status and --body-regex do "
                 "not apply with --origin\n");
    return 2;
  }
  const CheckType* type = CheckRegistry::Instance().Find(type_name);
  CheckSpec spec;
  spec.name = "probe";
  spec.type = type_name;
  spec.timeout = options.timeout;
  spec.interval = options.timeout * 2;
  std::unique_ptr<Check> check;
  try {
    ConfigNode node(ProbeNode(options), "probe");
    check = type->factory(spec, node);
    node.RejectUnknownKeys();
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "gatewatch probe: %s\n", e.what());
    return 2;
  }

  return RunAndPrint(*check, "url", RedactUrl(options.url), options.json);
}

int RunProbeCheck(const ProbeCheckOptions& options) {
  RegisterBuiltinCheckTypes();
  std::shared_ptr<const Check> check;
  try {
    if (!options.check.empty()) {
      if (options.config_file.empty()) {
        std::fprintf(stderr, "gatewatch probe --check: --config.file is required\n");
        return 2;
      }
      Config config = LoadConfigFile(options.config_file);
      std::string known;
      for (const auto& entry : config.checks) {
        if (entry.check->spec().name == options.check) check = entry.check;
        known += (known.empty() ? "" : ", ") + entry.check->spec().name;
      }
      if (check == nullptr) {
        std::fprintf(stderr, "gatewatch probe: no check named \"%s\" in %s (checks: %s)\n",
                     options.check.c_str(), options.config_file.c_str(), known.c_str());
        return 2;
      }
    } else {
      // A dns check built from flags, through the type's own factory (same validation).
      YAML::Node node;
      node["query"]["name"] = options.dns_name;
      node["query"]["type"] = options.dns_type;
      for (const auto& r : options.resolvers) node["resolvers"].push_back(r);
      for (const auto& e : options.expect) node["expect"].push_back(e);
      if (options.authoritative) node["authoritative"] = true;
      CheckSpec spec;
      spec.name = "probe";
      spec.type = "dns";
      spec.timeout = options.timeout;
      spec.interval = options.timeout * 2;
      ConfigNode config_node(node, "probe");
      check = CheckRegistry::Instance().Find("dns")->factory(spec, config_node);
      config_node.RejectUnknownKeys();
    }
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "gatewatch probe: %s\n", e.what());
    return 2;
  }
  const CheckSpec& spec = check->spec();
  return RunAndPrint(*check, "check", spec.name + " (" + spec.type + ")", options.json);
}

}  // namespace gatewatch
