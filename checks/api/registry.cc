#include <algorithm>

#include "checks/api/check_type.h"

namespace gatewatch {

CheckRegistry& CheckRegistry::Instance() {
  static CheckRegistry registry;
  return registry;
}

bool CheckRegistry::Register(CheckType type) {
  if (Find(type.name) != nullptr) return false;
  types_.push_back(std::move(type));
  return true;
}

const CheckType* CheckRegistry::Find(std::string_view name) const {
  auto it = std::find_if(types_.begin(), types_.end(),
                         [&](const CheckType& t) { return t.name == name; });
  return it == types_.end() ? nullptr : &*it;
}

std::vector<std::string_view> CheckRegistry::Names() const {
  std::vector<std::string_view> names;
  for (const auto& t : types_) names.push_back(t.name);
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<const MetricDesc*> CheckRegistry::AllMetrics() const {
  std::vector<const MetricDesc*> all;
  for (const auto& t : types_) all.insert(all.end(), t.metrics.begin(), t.metrics.end());
  return all;
}

}  // namespace gatewatch
