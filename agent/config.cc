#include "agent/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "agent/alerts.h"
#include "agent/base/fd.h"
#include "agent/base/utf8.h"
#include "agent/io/dns_resolver.h"
#include "agent/services_config.h"
#include "checks/api/check_type.h"
#include "checks/check_types.h"
#include "exporters/label_names.h"

namespace gatewatch {
namespace {

constexpr Duration kMinInterval = std::chrono::milliseconds(100);
// Beyond this, runs of one window would start in bursts large enough to skew their own timings.
constexpr Duration kMaxCoalesce = std::chrono::milliseconds(100);

using LabelNameSet = std::set<std::string, std::less<>>;

// Label names gatewatch or Prometheus itself puts on some series; a user label of that name would
// collide. Derived from what declares them: every registered check type's MetricDescs, the
// exporter's own labels and Prometheus' target labels. Asked per document, after the check types
// are registered.
LabelNameSet ReservedLabelNames() {
  LabelNameSet names;
  for (const MetricDesc* desc : CheckRegistry::Instance().AllMetrics()) {
    for (std::string_view name : desc->labels) names.emplace(name);
  }
  for (std::string_view name : ExporterLabelNames()) names.emplace(name);
  for (std::string_view name : PrometheusTargetLabelNames()) names.emplace(name);
  return names;
}

bool ValidCheckName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

std::map<std::string, std::string> ParseLabels(const ConfigNode& node,
                                               const LabelNameSet& reserved) {
  std::map<std::string, std::string> labels;
  if (!node.IsDefined()) return labels;
  node.ExpectMap();
  for (const auto& key : node.Keys()) {
    ConfigNode value = node.Child(key);
    if (!IsPrometheusName(key))
      value.Fail("invalid label name (must match [a-zA-Z_][a-zA-Z0-9_]*)");
    if (key.starts_with(kPrometheusReservedPrefix))
      value.Fail("label names starting with __ are reserved");
    if (reserved.contains(key)) value.Fail("label name is reserved");
    labels[key] = value.AsString();
    // Label values leave the process on every scrape (agent/base/utf8.h's contract).
    if (!IsValidUtf8(labels[key])) value.Fail("label value must be valid UTF-8");
    if (labels[key].size() > kMaxLabelValueBytes)
      value.Fail("label value longer than " + std::to_string(kMaxLabelValueBytes) + " bytes");
  }
  node.RejectUnknownKeys();  // every key was read, so this only refuses a duplicate label
  return labels;
}

// Top-level `resolvers: {name: [ip[:port], ...]}`: lists a dns check refers to by name
// (`resolvers: <name>`). Each entry goes through DnsResolver::ParseServer, the one server parser.
std::shared_ptr<const ResolverLists> ParseResolverLists(const ConfigNode& node) {
  auto lists = std::make_shared<ResolverLists>();
  if (!node.IsDefined()) return lists;
  node.ExpectMap();
  for (const auto& name : node.Keys()) {
    ConfigNode list = node.Child(name);
    if (!IsPrometheusName(name)) list.Fail("list name must match [a-zA-Z_][a-zA-Z0-9_]*");
    if (!list.IsSequence() || list.size() == 0) list.Fail("must be a non-empty list of ip[:port]");
    auto& servers = (*lists)[name];
    for (size_t i = 0; i < list.size(); ++i) {
      auto server = DnsResolver::ParseServer(list.At(i).AsString());
      if (!server) list.At(i).Fail("must be ip[:port]");
      servers.push_back(*server);
    }
  }
  node.RejectUnknownKeys();  // only a duplicate name can be left
  return lists;
}

ScheduledCheck ParseCheck(const ConfigNode& node, const Config& config,
                          std::unordered_map<std::string, std::string>& names,
                          const std::shared_ptr<const ResolverLists>& resolver_lists,
                          const LabelNameSet& reserved_labels) {
  if (!node.IsMap()) node.Fail("must be a map");
  CheckSpec spec;
  ConfigNode name = node.Required("name");
  spec.name = name.AsString();
  if (!ValidCheckName(spec.name))
    name.Fail("must match [a-zA-Z0-9_.-]{1,128} (got \"" + spec.name + "\")");
  auto [it, inserted] = names.emplace(spec.name, node.path());
  if (!inserted)
    name.Fail("duplicate check name \"" + spec.name + "\" (first at " + it->second + ")");

  ConfigNode type = node.Required("type");
  spec.type = type.AsString();
  const CheckType* check_type = CheckRegistry::Instance().Find(spec.type);
  if (check_type == nullptr) {
    std::string known;
    for (auto n : CheckRegistry::Instance().Names())
      known += (known.empty() ? "" : ", ") + std::string(n);
    type.Fail("unknown check type \"" + spec.type + "\" (known: " + known + ")");
  }

  ConfigNode interval = node.Child("interval");
  spec.interval = interval.IsDefined() ? interval.AsDuration() : config.default_interval;
  if (spec.interval < kMinInterval)
    interval.Fail("must be at least " + FormatDuration(kMinInterval));
  ConfigNode timeout = node.Child("timeout");
  spec.timeout = timeout.IsDefined() ? timeout.AsDuration() : config.default_timeout;
  if (spec.timeout <= Duration::zero()) timeout.Fail("must be greater than 0");
  if (spec.timeout >= spec.interval) {
    timeout.Fail("must be less than interval (" + FormatDuration(spec.interval) + ")");
  }
  spec.labels = ParseLabels(node.Child("labels"), reserved_labels);
  spec.resolver_lists = resolver_lists;

  std::unique_ptr<Check> check = check_type->factory(spec, node);
  node.RejectUnknownKeys();
  std::string fingerprint =
      node.Fingerprint() + "|" + FormatDuration(spec.interval) + "|" + FormatDuration(spec.timeout);
  // A check names a top-level list as `resolvers: <name>`: only then does an edit of that list
  // (not of other lists, not of checks without one) restart it, so proxy_log and host state
  // survive a `resolvers:` edit. Asked after RejectUnknownKeys, so this lookup accepts no key.
  if (ConfigNode named = node.Child("resolvers"); named.IsDefined() && named.IsScalar()) {
    if (auto it = resolver_lists->find(named.AsString()); it != resolver_lists->end()) {
      fingerprint += "|resolvers:" + it->first + "=";
      for (const auto& server : it->second) fingerprint += server + ",";
    }
  }
  return {std::shared_ptr<const Check>(std::move(check)), std::move(fingerprint)};
}

// Collects the errors of independent parts of a document (each section, each check), so one
// pass reports them all; at most kMaxErrors are listed, then how many more there were.
class ConfigErrors {
 public:
  static constexpr size_t kMaxErrors = 20;
  void Add(const ConfigError& e) {
    if (count_ == 0) first_ = e;
    if (count_++ < kMaxErrors) text_ += (text_.empty() ? "" : "\n") + std::string(e.what());
  }
  template <typename F>
  void Try(F&& f) {
    try {
      f();
    } catch (const ConfigError& e) {
      Add(e);
    }
  }
  bool empty() const { return count_ == 0; }
  // One error keeps its path and message as they were; several are one line each.
  void ThrowIfAny() {
    if (count_ == 0) return;
    if (count_ == 1) throw *first_;
    if (count_ > kMaxErrors) {
      text_ += "\n(" + std::to_string(count_ - kMaxErrors) + " more errors not shown)";
    }
    throw ConfigError("", text_);
  }

 private:
  size_t count_ = 0;
  std::optional<ConfigError> first_;
  std::string text_;
};

Config ParseDocument(const YAML::Node& doc, const std::string& source) {
  Config config;
  config.source = source;
  if (!doc.IsDefined() || doc.IsNull()) return config;  // an empty file: no checks
  ConfigNode root(doc, "");
  if (!doc.IsMap()) throw ConfigError("", source + ": the config must be a map with a checks list");

  ConfigErrors errors;
  ConfigNode defaults = root.Child("defaults");
  errors.Try([&] {
    defaults.ExpectMap();
    config.default_interval = defaults.DurationOr("interval", config.default_interval);
    config.default_timeout = defaults.DurationOr("timeout", config.default_timeout);
    if (config.default_interval < kMinInterval) {
      defaults.Child("interval").Fail("must be at least " + FormatDuration(kMinInterval));
    }
    if (config.default_timeout <= Duration::zero())
      defaults.Child("timeout").Fail("must be greater than 0");
    if (config.default_timeout >= config.default_interval) {
      defaults.Child("timeout").Fail("must be less than interval (" +
                                     FormatDuration(config.default_interval) + ")");
    }
    defaults.RejectUnknownKeys();
  });
  // Checks judged against broken defaults would only report follow-on errors.
  if (!errors.empty()) {
    config.default_interval = Config{}.default_interval;
    config.default_timeout = Config{}.default_timeout;
  }

  ConfigNode scheduler = root.Child("scheduler");
  errors.Try([&] {
    scheduler.ExpectMap();
    config.scheduler.max_in_flight =
        static_cast<size_t>(scheduler.IntOr("max_in_flight", 1000, 1, 1'000'000));
    config.scheduler.coalesce = scheduler.DurationOr("coalesce", config.scheduler.coalesce);
    if (config.scheduler.coalesce > kMaxCoalesce) {
      scheduler.Child("coalesce").Fail("must be at most " + FormatDuration(kMaxCoalesce));
    }
    scheduler.RejectUnknownKeys();
  });

  ConfigNode history = root.Child("history");
  history.ExpectMap();
  config.history.runs = static_cast<size_t>(history.IntOr("runs", 100, 1, 10'000));
  config.history.failures = static_cast<size_t>(history.IntOr("failures", 20, 0, 1'000));
  config.history.changes = static_cast<size_t>(history.IntOr("changes", 20, 1, 1'000));
  config.history.evidence_bytes = static_cast<size_t>(history.BytesOr("evidence_bytes", 6 * 1024));
  if (config.history.evidence_bytes > (size_t{1} << 20)) {
    history.Child("evidence_bytes").Fail("must be at most 1MiB");
  }
  history.RejectUnknownKeys();

  ConfigNode resolvers = root.Child("resolvers");
  auto resolver_lists = std::make_shared<const ResolverLists>();
  errors.Try([&] { resolver_lists = ParseResolverLists(resolvers); });

  ConfigNode checks = root.Child("checks");
  if (checks.IsDefined()) {
    if (!checks.IsSequence()) checks.Fail("must be a list");
    std::unordered_map<std::string, std::string> names;
    LabelNameSet reserved_labels = ReservedLabelNames();
    config.checks.reserve(checks.size());
    for (size_t i = 0; i < checks.size(); ++i) {
      // Each check is parsed on its own: one bad check does not hide the next one's error.
      try {
        config.checks.push_back(
            ParseCheck(checks.At(i), config, names, resolver_lists, reserved_labels));
      } catch (const ConfigError& e) {
        errors.Add(e);
      }
    }
  }
  // Alerts name checks: with a check refused, they would only repeat its error as "unknown check".
  if (errors.empty()) {
    std::map<std::string, std::string> check_types;
    for (const auto& entry : config.checks) {
      check_types[entry.check->spec().name] = entry.check->spec().type;
    }
    errors.Try([&] { config.alerts = ParseAlerts(root.Child("alerts"), check_types); });
    errors.Try([&] { config.services = ParseServices(root.Child("services"), check_types); });
  } else {
    root.Child("alerts");  // not an unknown key
    root.Child("services");
  }
  errors.Try([&] { config.diagnosis = ParseDiagnosisOptions(root.Child("diagnosis")); });
  errors.Try([&] { root.RejectUnknownKeys(); });
  errors.ThrowIfAny();
  return config;
}

// yaml-cpp builds a document as a graph of small nodes (~2.4 KB per check), all freed once the
// config is built, but allocated among the config's long-lived objects: the heap kept that
// high-water mark for good. Loaded on a short-lived thread, the nodes come from another malloc
// arena than the objects built from them, so freeing them leaves whole free pages that
// malloc_trim() can return (docs/performance.md, "Memory"). With the agent's two arenas, the
// start-up load gets a fresh one; a reload shares the web threads' arena, still apart from the
// loop's long-lived objects. The thread is only a memory optimisation: if it cannot be created
// (a pids cgroup limit), the document is loaded here.
YAML::Node LoadYaml(const std::string& text) {
  YAML::Node doc;
  std::exception_ptr error;
  try {
    std::thread([&] {
      try {
        doc = YAML::Load(text);
      } catch (...) {
        error = std::current_exception();
      }
    }).join();
  } catch (const std::system_error&) {
    return YAML::Load(text);
  }
  if (error) std::rethrow_exception(error);
  return doc;
}

}  // namespace

Config ParseConfig(const std::string& text, const std::string& source) {
  RegisterBuiltinCheckTypes();
  YAML::Node doc;
  try {
    doc = LoadYaml(text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError("", source + ":" + std::to_string(e.mark.line + 1) + ":" +
                              std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    // DeepRecursion and friends: refuse the document, never crash on it.
    throw ConfigError("", source + ": " + e.what());
  }
  try {
    return ParseDocument(doc, source);
  } catch (const YAML::Exception& e) {
    throw ConfigError("", source + ": " + e.what());
  }
}

std::string ReadConfigFile(const std::string& path) {
  constexpr char kRule[] = "config files must be regular files of at most 16 MiB";
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) throw ConfigError(path, std::string("cannot read: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    throw ConfigError(path, std::string("cannot read: ") + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    const char* kind = S_ISDIR(st.st_mode)    ? "a directory"
                       : S_ISFIFO(st.st_mode) ? "a FIFO"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                                              : "not a regular file";
    throw ConfigError(path, std::string("is ") + kind + ", not a regular file (" + kRule + ")");
  }
  auto too_large = [&] {
    return ConfigError(
        path, "is larger than " + std::to_string(kMaxConfigFileBytes) + " bytes (" + kRule + ")");
  };
  if (static_cast<uint64_t>(st.st_size) > kMaxConfigFileBytes) throw too_large();
  // Read up to one byte past the cap: a file that grows while read is still refused.
  std::string text;
  text.resize(static_cast<size_t>(st.st_size) + 1);
  size_t used = 0;
  while (true) {
    if (used == text.size()) {
      if (text.size() > kMaxConfigFileBytes) throw too_large();
      text.resize(std::min<size_t>(text.size() * 2, kMaxConfigFileBytes + 1));
    }
    ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw ConfigError(path, std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > kMaxConfigFileBytes) throw too_large();
  text.resize(used);
  return text;
}

Config LoadConfigFile(const std::string& path) { return ParseConfig(ReadConfigFile(path), path); }

std::string DefaultConfigYaml(const std::string& self_url) {
  return R"(# gatewatch embedded default config: what runs without --config.file.
defaults: {interval: 15s, timeout: 5s}
checks:
  - name: gatewatch-self
    type: http
    url: ")" +
         self_url + R"("
    expect: {status: [200], body_regex: "Healthy"}
  - name: host
    type: host
)";
}

}  // namespace gatewatch
