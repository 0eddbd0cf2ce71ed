// The error text a config document gets from ParseConfig, for tables of config rules.
#pragma once

#include <string>

#include "agent/config.h"

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

}  // namespace gatewatch::testing
