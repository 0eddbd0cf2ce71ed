// The error text a config document gets from ParseConfig, for tables of config rules.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "agent/base/config_node.h"
#include "agent/config.h"
#include "checks/api/check_type.h"

namespace gatewatch::testing {

// ConfigError::what() of `yaml` (source "test.yml"), or "(no error)" if it loads.
inline std::string ConfigErrorOf(const std::string& yaml) {
  try {
    ParseConfig(yaml, "test.yml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// ConfigError::what() of one check type's factory given `yaml` (the keys of one check) at `path`,
// the way the config loader calls it: the factory, then RejectUnknownKeys for the check-level
// keys. "(no error)" if it loads.
inline std::string CheckConfigErrorOf(const CheckType& type, const std::string& yaml,
                                      const std::string& path = "checks[0]") {
  ConfigNode node(YAML::Load(yaml), path);
  CheckSpec spec;
  spec.name = "c";
  spec.type = std::string(type.name);
  try {
    auto check = type.factory(spec, node);
    node.RejectUnknownKeys();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace gatewatch::testing
