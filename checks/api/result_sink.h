// What the scheduler tells the exporters. Exporters never do I/O to targets: they only turn these
// calls into metrics and status.
//
// Thread-safety: every method is called on the loop thread. Implementations that are read from
// other threads (a scrape, the status API) must synchronise that themselves.
#pragma once

#include <string>
#include <vector>

#include "checks/api/check.h"

namespace gatewatch {

class ResultSink {
 public:
  virtual ~ResultSink() = default;
  // The set of configured checks changed (start-up or reload). Checks absent from `checks` are
  // gone: their series must disappear. Checks present keep their counters.
  virtual void OnConfig(const std::vector<const CheckSpec*>& checks) = 0;
  virtual void OnResult(const CheckSpec& check, const Result& result) = 0;
  // A run was due while the previous one was still in flight (or the global cap was reached).
  virtual void OnSkipped(const CheckSpec& check) = 0;
  // How late a run started compared with its schedule.
  virtual void OnSchedulerLag(Duration lag) = 0;
};

}  // namespace gatewatch
