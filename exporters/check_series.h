// The per-check series and status of the Prometheus exporter, in a compact store exposed as a
// prometheus::Collectable (prometheus-cpp's extension point), so the text format stays
// prometheus-cpp's TextSerializer while a series costs tens of bytes instead of ~430 in a
// prometheus::Family (a label map, hash-map nodes and the metric object).
//
// One Record per configured check holds: its name, type and config labels (stored once, immutable);
// success, duration and last-run gauges; runs by result and skipped runs; failures by Reason
// (created on the first failure of that reason); the series of the check type's Observations
// (MetricDesc family + packed label values + value or histogram buckets); and the last result for
// the status API (reason, detail, report).
//
// Exposed behaviour (the same as one prometheus-cpp family per metric):
// - runs, skipped and info series exist from the configuration, before the first run; success,
//   duration and last run appear with the first result (a check that has not run yet must not
//   look failing);
// - gauges of Observations that a result no longer reports are removed; counters and histograms
//   stay until the check is removed;
// - a reload keeps the records of checks whose name, type and labels are unchanged, and drops
//   the others (a check that changed type or labels starts again from zero; the status API keeps
//   the last result of a check whose type did not change);
// - labels of a series are rendered sorted by name, as prometheus-cpp does; families without a
//   series are not rendered.
//
// Thread-safety: SetChecks(), OnResult() and OnSkipped() run on the loop thread only. Collect()
// and StatusJson() may run on any number of other threads at the same time. A reader takes the
// store mutex only to copy the current record list (a shared_ptr, swapped by SetChecks) and the
// family list; then it locks one record at a time, only while copying that record. So a scrape
// of 10,000 checks never blocks the loop for longer than one record's copy, and a record removed
// by a reload stays alive until the scrapes that hold it finish.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "checks/api/check.h"

namespace gatewatch {

class CheckSeriesStore final : public prometheus::Collectable {
 public:
  CheckSeriesStore();
  ~CheckSeriesStore() override;
  CheckSeriesStore(const CheckSeriesStore&) = delete;
  CheckSeriesStore& operator=(const CheckSeriesStore&) = delete;

  // Loop thread. The configured checks (start-up or reload); see the header comment.
  void SetChecks(const std::vector<const CheckSpec*>& checks);
  // Loop thread. `wall_seconds` is the Unix time at which the run ended. A check that is not
  // configured gets a record (as if configured).
  void OnResult(const CheckSpec& check, const Result& result, double wall_seconds);
  void OnSkipped(const CheckSpec& check);

  // Any thread: gatewatch_check_* and gatewatch_<desc.name> families, with every series.
  std::vector<prometheus::MetricFamily> Collect() const override;
  // Any thread: the /api/v1/status "checks" array, sorted by name.
  nlohmann::json StatusJson() const;

 private:
  struct Family;
  struct Series;
  struct Record;
  using RecordList = std::vector<std::shared_ptr<Record>>;

  Record* FindRecord(std::string_view name) const;
  Record& RecordFor(const CheckSpec& spec);
  const Family& FamilyFor(const MetricDesc& desc);
  void Observe(Record& record, const Observation& obs, uint32_t generation);
  void Publish(std::shared_ptr<const RecordList> list);

  // Written by the loop thread under mu_; the loop thread also reads them without it (it is the
  // only writer), other threads read them under mu_.
  mutable std::mutex mu_;
  std::shared_ptr<const RecordList> list_;  // sorted by name
  std::vector<std::unique_ptr<Family>> families_;

  // Loop thread only.
  std::unordered_map<std::string_view, const Family*> family_by_name_;  // keys: desc names
  std::string key_;  // Observe()'s packed label values, reused so a run allocates nothing
};

}  // namespace gatewatch
