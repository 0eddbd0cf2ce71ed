// What a check reported, read straight from its Result: for tests that assert on a run's
// Observations without an exporter in between.
#pragma once

#include <array>
#include <string_view>

#include "checks/api/check.h"

namespace gatewatch::testing {

// The value of the first Observation named `name` (without the gatewatch_ prefix) whose label
// values start with `labels`, or -1 when there is none.
//   Observed(r, "http_phase_seconds", "connect")
//   Observed(r, "dns_resolver_rcode", server, "NOERROR")
template <typename... Labels>
double Observed(const Result& r, std::string_view name, const Labels&... labels) {
  const std::array<std::string_view, sizeof...(Labels)> want = {std::string_view(labels)...};
  for (const Observation& o : r.observations) {
    if (o.desc->name != name || o.label_values.size() < want.size()) continue;
    bool match = true;
    for (size_t i = 0; i < want.size(); ++i) match = match && o.label_values[i] == want[i];
    if (match) return o.value;
  }
  return -1;
}

}  // namespace gatewatch::testing
