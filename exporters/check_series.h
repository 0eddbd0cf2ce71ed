// The per-check series and status of the Prometheus exporter, in a compact store: a series costs
// tens of bytes instead of ~430 in a prometheus::Family (a label map, hash-map nodes and the metric
// object). The store only keeps them; exporters/series_render.h turns them into prometheus-cpp
// MetricFamilies (so the text format stays prometheus-cpp's TextSerializer) and
// exporters/status_json.h into the /api/v1/status JSON.
//
// One CheckRecord per configured check holds: its name, type and config labels (stored once,
// immutable); success, duration and last-run gauges; runs by result and skipped runs; failures by
// Reason (created on the first failure of that reason); the series of the check type's
// Observations (SeriesFamily + packed label values + value or histogram buckets); and the last
// result for the status API (reason, detail, report).
//
// Kept behaviour (the same as one prometheus-cpp family per metric):
// - runs, skipped and info series exist from the configuration, before the first run; success,
//   duration and last run appear with the first result (a check that has not run yet must not
//   look failing);
// - gauges of Observations that a result no longer reports are removed; counters and histograms
//   stay until the check is removed;
// - a reload keeps the records of checks whose name, type and labels are unchanged, and drops
//   the others (a check that changed type or labels starts again from zero; the status API keeps
//   the last result of a check whose type did not change).
//
// Everything stored from a Result is valid UTF-8 of bounded size (agent/base/utf8.h): label values
// of Observations at most kMaxLabelValueBytes, the detail and report values at most
// kMaxDetailBytes, invalid sequences replaced by U+FFFD. So /metrics and /api/v1/status stay
// valid whatever bytes a target sent.
//
// Thread-safety: SetChecks(), OnResult() and OnSkipped() run on the loop thread only. Families(),
// ForEachRecord() and ForEachStatus() may run on any number of other threads at the same time. A
// reader takes the store mutex only to copy the current record list (a shared_ptr, swapped by
// SetChecks) or the family list; then it locks one record at a time, only while that record is
// read. So a scrape of 10,000 checks never blocks the loop for longer than one record's copy, and
// a record removed by a reload stays alive until the readers that hold it finish.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "checks/api/check.h"
#include "checks/api/result.h"

namespace gatewatch {

// One metric of the check types (a MetricDesc), shared by every check that reports it.
// Immutable once published.
struct SeriesFamily {
  std::string name;  // with the gatewatch_ prefix
  std::string help;
  MetricKind kind;
  std::vector<std::string> label_names;  // after `check`
  std::vector<double> buckets;           // histograms only
  // Rendering order of the labels, sorted by name: 0 is `check`, i + 1 is label_names[i].
  std::vector<uint8_t> order;
  size_t index;  // in creation order, as Families() lists them
};

// One series of an Observation. 64 bytes plus the label values beyond std::string's short buffer.
struct ObservedSeries {
  const SeriesFamily* family;
  std::string values;  // label values, each followed by '\0' (a NUL inside a value becomes '?')
  double value = 0;    // the gauge's or counter's value; a histogram's sum
  std::unique_ptr<double[]> buckets;  // histograms: count per bucket (not cumulative), +Inf last
  uint32_t generation = 0;            // the last result that reported it
};

// One check's series and last status. Readers see it only through
// CheckSeriesStore::ForEachRecord(), under its lock.
struct CheckRecord {
  explicit CheckRecord(const CheckSpec& spec)
      : name(spec.name), type(spec.type), labels(spec.labels.begin(), spec.labels.end()) {}

  bool SameIdentity(const CheckSpec& spec) const;

  const std::string name;
  const std::string type;
  const std::vector<std::pair<std::string, std::string>> labels;  // from the config

  mutable std::mutex mu;    // guards everything below
  bool ran = false;         // a result arrived: the success/duration/last-run gauges exist
  bool has_status = false;  // the status API shows a last result (may predate this record)
  bool success = false;
  Reason reason = Reason::kNone;
  uint32_t generation = 0;  // results so far
  uint32_t cursor = 0;      // where the next Observation's series is looked for first
  double duration = 0;
  double last_run = 0;
  double runs_success = 0;
  double runs_failure = 0;
  double skipped = 0;
  uint64_t status_skipped = 0;  // for the status API; survives a change of labels
  std::vector<std::pair<Reason, double>> failures;
  std::vector<ObservedSeries> observed;
  std::string detail;
  std::string report;  // packed: each key and value preceded by its length as a varint
};

// A copy of one check's status, taken under its record's lock (see ForEachStatus()).
struct CheckStatus {
  std::string_view name;  // the record's; valid during the callback
  std::string_view type;
  uint64_t skipped_total = 0;
  bool has_status = false;  // false: not run yet, the fields below are unset
  bool success = false;
  Reason reason = Reason::kNone;
  double duration_seconds = 0;
  double last_run_timestamp_seconds = 0;
  std::string detail;
  std::vector<std::pair<std::string_view, std::string_view>> report;  // into report_buffer
  std::string report_buffer;
};

class CheckSeriesStore final {
 public:
  CheckSeriesStore();
  ~CheckSeriesStore();
  CheckSeriesStore(const CheckSeriesStore&) = delete;
  CheckSeriesStore& operator=(const CheckSeriesStore&) = delete;

  // Loop thread. The configured checks (start-up or reload); see the header comment.
  void SetChecks(const std::vector<const CheckSpec*>& checks);
  // Loop thread. `wall_seconds` is the Unix time at which the run ended. A check that is not
  // configured gets a record (as if configured).
  void OnResult(const CheckSpec& check, const Result& result, double wall_seconds);
  void OnSkipped(const CheckSpec& check);

  // Any thread: the number of records (configured checks, and checks that reported unconfigured).
  size_t size() const;
  // Any thread: the families of the Observations seen so far, by SeriesFamily::index. A record
  // read afterwards may have series of a family created since (index beyond this list).
  std::vector<const SeriesFamily*> Families() const;
  // Any thread: calls `visit` with every record, sorted by name, holding that record's lock during
  // the call only. `visit` must not call back into the store.
  void ForEachRecord(const std::function<void(const CheckRecord&)>& visit) const;
  // Any thread: calls `visit` with a copy of every record's status, sorted by name, outside the
  // record's lock (the copy is reused from one call to the next).
  void ForEachStatus(const std::function<void(const CheckStatus&)>& visit) const;

 private:
  using RecordList = std::vector<std::shared_ptr<CheckRecord>>;

  std::shared_ptr<const RecordList> Records() const;
  CheckRecord* FindRecord(std::string_view name) const;
  CheckRecord& RecordFor(const CheckSpec& spec);
  const SeriesFamily& FamilyFor(const MetricDesc& desc);
  void Observe(CheckRecord& record, const Observation& obs, uint32_t generation);
  void Publish(std::shared_ptr<const RecordList> list);

  // Written by the loop thread under mu_; the loop thread also reads them without it (it is the
  // only writer), other threads read them under mu_.
  mutable std::mutex mu_;
  std::shared_ptr<const RecordList> list_;  // sorted by name
  std::vector<std::unique_ptr<SeriesFamily>> families_;

  // Loop thread only.
  std::unordered_map<std::string_view, const SeriesFamily*> family_by_name_;  // keys: desc names
  std::string key_;      // Observe()'s packed label values, reused so a run allocates nothing
  std::string scratch_;  // OnResult()'s sanitized report key or value, reused likewise
};

}  // namespace gatewatch
