// What one run reports: success or a Reason, a one-line detail, Observations, report facts.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "agent/base/clock.h"
#include "checks/api/metric.h"
#include "checks/api/reason.h"

namespace gatewatch {

struct Result {
  bool success = false;
  Reason reason = Reason::kNone;  // kNone exactly when success
  Duration duration{};
  // One line for humans (logs, status page, `gatewatch probe`). Never contains credentials.
  std::string detail;
  std::vector<Observation> observations;
  // Ordered key/value facts for `gatewatch probe` and the status API, e.g. {"status", "502"}.
  std::vector<std::pair<std::string, std::string>> report;

  static Result Success() {
    Result r;
    r.success = true;
    return r;
  }
  static Result Failure(Reason reason, std::string detail) {
    Result r;
    r.reason = reason;
    r.detail = std::move(detail);
    return r;
  }
};

}  // namespace gatewatch
