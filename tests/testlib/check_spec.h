// A CheckSpec with a name, a type and config labels, for tests of what consumes results (series
// store, history, status page) without a config file.
#pragma once

#include <map>
#include <string>

#include "checks/api/check.h"

namespace gatewatch::testing {

inline CheckSpec Spec(const std::string& name, std::string type = "http",
                      std::map<std::string, std::string> labels = {}) {
  CheckSpec s;
  s.name = name;
  s.type = std::move(type);
  s.labels = std::move(labels);
  return s;
}

}  // namespace gatewatch::testing
