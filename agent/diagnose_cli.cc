#include "agent/diagnose_cli.h"

#include <curl/curl.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/config.h"
#include "agent/diagnosis.h"
#include "agent/diagnosis_sink.h"
#include "agent/io/event_loop.h"
#include "agent/probe.h"
#include "checks/check_types.h"
#include "exporters/status_json.h"

namespace gatewatch {
namespace {

constexpr size_t kMaxBody = 4u << 20;  // the document is small; refuse anything unbounded

size_t Collect(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() + size * n > kMaxBody) return 0;  // aborts the transfer
  body->append(data, size * n);
  return size * n;
}

// Time for nginx to write the access-log lines of the probes' requests: it logs after the
// response is sent, so a probe can have its answer a moment before the line is in the file.
constexpr auto kLogSettle = std::chrono::milliseconds(300);

bool HasVerdict(const nlohmann::json& doc) {
  if (auto s = doc.find("services"); s != doc.end() && s->is_array()) {
    for (const auto& one : *s) {
      if (one.contains("verdict") && one["verdict"].is_object()) return true;
    }
  }
  return false;
}

int Print(const nlohmann::json& doc, const DiagnoseOptions& options) {
  if (options.json) {
    std::cout << DumpJson(doc, 2) << "\n";
  } else {
    std::cout << FormatDiagnosis(doc, options.service);
  }
  return HasVerdict(doc) ? 1 : 0;
}

}  // namespace

int RunDiagnoseConfig(const DiagnoseOptions& options) {
  RegisterBuiltinCheckTypes();
  Config config;
  try {
    config = LoadConfigFile(options.config_file);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "gatewatch diagnose: %s\n", e.what());
    return 2;
  }
  std::vector<ServiceSpec> chosen;
  std::string known;
  for (const auto& s : config.services) {
    known += (known.empty() ? "" : ", ") + s.name;
    if (options.service.empty() || s.name == options.service) chosen.push_back(s);
  }
  if (config.services.empty()) {
    std::fprintf(stderr,
                 "gatewatch diagnose: %s has no services (add a services: section, or a proxy_log "
                 "or cdn_origin check for the implicit one)\n",
                 options.config_file.c_str());
    return 2;
  }
  if (chosen.empty()) {
    std::fprintf(stderr, "gatewatch diagnose: no service named \"%s\" in %s (services: %s)\n",
                 options.service.c_str(), options.config_file.c_str(), known.c_str());
    return 2;
  }

  OneShotServices io;  // before the checks' states: it outlives them

  // The checks of the chosen services, each once, with its state kept across the rounds.
  std::map<std::string, const Check*> by_name;
  for (const auto& entry : config.checks) by_name[entry.check->spec().name] = entry.check.get();
  struct Item {
    const Check* check;
    std::unique_ptr<CheckState> state;
  };
  std::vector<Item> items;
  std::set<std::string> seen;
  for (const auto& s : chosen) {
    for (const auto& c : s.checks) {
      auto it = by_name.find(c.check);
      if (it == by_name.end() || !seen.insert(c.check).second) continue;
      items.push_back({it->second, it->second->NewState()});
    }
  }
  auto round = [&](auto&& pick) {
    std::vector<const Check*> checks;
    std::vector<CheckState*> states;
    for (auto& item : items) {
      if (!pick(item.check->spec().type)) continue;
      checks.push_back(item.check);
      states.push_back(item.state.get());
    }
    return std::make_pair(checks, states);
  };

  DiagnosisEngine engine(io.clock);
  engine.Configure(chosen, config.diagnosis);

  auto is_log = [](const std::string& type) { return type == "proxy_log"; };
  auto [prime, prime_states] =
      round([&](const std::string& type) { return is_log(type) || type == "host"; });
  auto [main_checks, main_states] = round([&](const std::string& type) { return !is_log(type); });
  auto [logs, log_states] = round(is_log);

  if (!prime.empty()) RunChecksOnce(prime, io.services, prime_states);
  std::vector<Result> results = RunChecksOnce(main_checks, io.services, main_states);
  for (size_t i = 0; i < main_checks.size(); ++i)
    engine.OnResult(main_checks[i]->spec().name, results[i]);
  if (!logs.empty()) {
    TimePoint until = io.clock.Now() + kLogSettle;
    while (io.clock.Now() < until) io.loop.RunOnce(until - io.clock.Now());
    results = RunChecksOnce(logs, io.services, log_states);
    for (size_t i = 0; i < logs.size(); ++i) engine.OnResult(logs[i]->spec().name, results[i]);
  }
  engine.Evaluate();
  return Print(DiagnosisJson(chosen, engine.Verdicts()), options);
}

int RunDiagnose(const DiagnoseOptions& options) {
  if (!options.config_file.empty() && !options.url.empty()) {
    std::fprintf(stderr, "gatewatch diagnose: give one of --url or --config.file\n");
    return 2;
  }
  if (!options.config_file.empty()) return RunDiagnoseConfig(options);
  if (options.url.empty()) {
    std::fprintf(stderr,
                 "gatewatch diagnose: --url=http://HOST:PORT of a running agent, or "
                 "--config.file=FILE to run its checks here, is required\n");
    return 2;
  }
  std::string url = options.url;
  while (!url.empty() && url.back() == '/') url.pop_back();
  url += "/api/v1/diagnosis";
  if (!options.service.empty()) url += "?service=" + options.service;

  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    std::fprintf(stderr, "gatewatch diagnose: cannot initialise libcurl\n");
    return 2;
  }
  std::string body;
  char error[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout_seconds * 1000));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    std::fprintf(stderr, "gatewatch diagnose: %s: %s\n", url.c_str(),
                 error[0] ? error : curl_easy_strerror(rc));
    return 2;
  }
  if (status != 200) {
    std::fprintf(stderr, "gatewatch diagnose: %s: HTTP %ld\n", url.c_str(), status);
    return 2;
  }
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    std::fprintf(stderr, "gatewatch diagnose: %s: not a diagnosis document\n", url.c_str());
    return 2;
  }
  return Print(doc, options);
}

}  // namespace gatewatch
