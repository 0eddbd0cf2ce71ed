// The typed configuration: built and fully validated from YAML (or JSON) before anything uses it,
// so a reload with a bad file can be refused while the running config goes on.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/config_node.h"
#include "agent/diagnosis.h"
#include "agent/scheduler/scheduler.h"
#include "checks/api/check.h"
#include "exporters/alert_spec.h"
#include "exporters/history.h"

namespace gatewatch {

struct Config {
  Duration default_interval = std::chrono::seconds(30);
  Duration default_timeout = std::chrono::seconds(10);
  SchedulerOptions scheduler;          // scheduler: {max_in_flight, coalesce}
  HistoryOptions history;              // history: {runs, failures, changes}
  std::vector<ScheduledCheck> checks;  // check and fingerprint, as the scheduler takes them
  std::vector<AlertSpec> alerts;       // see agent/alerts.h
  std::vector<ServiceSpec> services;   // services: (agent/services_config.h)
  DiagnosisOptions diagnosis;          // diagnosis: {window, hold}
  std::string source;                  // file path, or "<embedded default>"
};

// The largest config file read, so a wrong path (/dev/zero, a log) cannot grow memory unbounded.
inline constexpr size_t kMaxConfigFileBytes = 16u << 20;

// Both throw ConfigError: one error names its exact path; several independent ones (one per
// check, per top-level section) are listed one per line, in document order.
Config ParseConfig(const std::string& text, const std::string& source);
// Reads `path` (a regular file of at most kMaxConfigFileBytes: a FIFO, a device such as
// /dev/zero or a directory is refused without blocking) and parses it. Blocking file I/O: call it
// off the event loop.
Config LoadConfigFile(const std::string& path);
// Just the read of LoadConfigFile; throws ConfigError naming the file.
std::string ReadConfigFile(const std::string& path);

// The embedded default config: useful on any machine with nothing configured. `self_url` is the
// agent's own /-/healthy.
std::string DefaultConfigYaml(const std::string& self_url);

}  // namespace gatewatch
