// The typed configuration: built and fully validated from YAML (or JSON) before anything uses it,
// so a reload with a bad file can be refused while the running config goes on.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/config_node.h"
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
  std::string source;                  // file path, or "<embedded default>"
};

// Both throw ConfigError naming the exact path of the first problem.
Config ParseConfig(const std::string& text, const std::string& source);
Config LoadConfigFile(const std::string& path);

// The embedded default config: useful on any machine with nothing configured. `self_url` is the
// agent's own /-/healthy.
std::string DefaultConfigYaml(const std::string& self_url);

}  // namespace gatewatch
