// The registry of check types: each type's name, factory and the metrics it may report.
#pragma once

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "agent/base/config_node.h"
#include "checks/api/check.h"
#include "checks/api/metric.h"

namespace gatewatch {

// ----- Registry of check types -----------------------------------------------------------------

// Builds a check from its spec and the check's config node. The factory reads its own keys from
// `node` (the common keys name/type/interval/timeout/labels are already read) and throws
// ConfigError with the node's path on any invalid value. Unknown keys are rejected by the caller.
using CheckFactory = std::function<std::unique_ptr<Check>(const CheckSpec&, const ConfigNode&)>;

struct CheckType {
  std::string_view name;
  CheckFactory factory;
  std::vector<const MetricDesc*> metrics;  // every metric this type may report
};

class CheckRegistry {
 public:
  static CheckRegistry& Instance();
  bool Register(CheckType type);
  const CheckType* Find(std::string_view name) const;
  std::vector<std::string_view> Names() const;
  std::vector<const MetricDesc*> AllMetrics() const;

 private:
  std::vector<CheckType> types_;
};

}  // namespace gatewatch
