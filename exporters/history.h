// A bounded history of every check's runs, fed by the scheduler as a ResultSink: what the status
// page and /api/v1/checks/{name}/history show after the failure is over.
//
// Per check it keeps
//   - the last `runs` runs, compact (time, duration, reason: 16 bytes each), for the list and the
//     availability strip;
//   - the last `failures` failed runs in full (detail and report, with the HTTP response's first
//     bytes), kept even when thousands of successes follow;
//   - the last run in full (whatever its outcome);
//   - the last `changes` state periods (ok or failing, with start, end and the runs in each).
// Strings are sanitised and capped as they arrive (agent/base/utf8.h): a detail 1024 bytes, a
// report value 1024 bytes, the report of one run 4 KiB in all. The evidence of the kept failures
// together is bounded by `evidence_bytes`: the newest failure keeps all of it, older ones give up
// first their long report values (the response head and body), then their report, then their
// detail (EnforceEvidenceBudget). So memory per check is bounded, whatever the targets send:
// runs * 16 B + failures * ~64 B + max(evidence_bytes, one run's ~5 KiB) + the last run's
// evidence + changes * 32 B (docs/performance.md has the measured figures).
//
// Thread-safety: OnConfig/OnResult/SetOptions on the loop thread; every read (Summaries,
// Snapshot) from any thread. One mutex guards the store; readers copy what they need out of it,
// so a web thread never holds it while rendering.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/clock.h"
#include "checks/api/reason.h"
#include "checks/api/result_sink.h"

namespace gatewatch {

// `history:` in the config (top level).
struct HistoryOptions {
  size_t runs = 100;     // last runs kept per check (compact)
  size_t failures = 20;  // last failed runs kept per check with their evidence
  size_t changes = 20;   // last state periods kept per check
  // Evidence (detail and report) of the kept failures together, per check, as counted by
  // EvidenceBytes; the newest failure's is always kept whole.
  size_t evidence_bytes = 6 * 1024;
};

struct RunEvidence;
// What `evidence` counts against HistoryOptions::evidence_bytes: its strings and their headers.
size_t EvidenceBytes(const RunEvidence& evidence);

// What a failed (or the last) run said, sanitised and capped.
struct RunEvidence {
  std::string detail;
  std::vector<std::pair<std::string, std::string>> report;
};

// One run. `evidence` is set for failures and the last run, null for other successes.
struct HistoryEntry {
  uint64_t seq = 0;     // 1, 2, ... per check since it was configured: a run's stable id
  int64_t time_ms = 0;  // wall clock (Unix ms) when the run's result arrived
  int64_t duration_us = 0;
  Reason reason = Reason::kNone;  // kNone exactly when the run succeeded
  std::shared_ptr<const RunEvidence> evidence;

  bool success() const { return reason == Reason::kNone; }
};

// A period during which a check was ok, or failing (first reason of the period given).
struct StatePeriod {
  bool ok = true;
  Reason first_reason = Reason::kNone;
  int64_t start_ms = 0;  // time of the first run in this state
  int64_t end_ms = 0;    // time of the first run in the next state; 0 while it lasts
  uint64_t runs = 0;     // runs in this period
};

// One slot of an availability strip: no run, all ok, all failed, or some of each.
enum class Slot : uint8_t { kNone, kOk, kFailed, kMixed };
// `slots` equal slots covering [now - span, now), oldest first, from `runs`.
std::vector<Slot> AvailabilityStrip(const std::vector<HistoryEntry>& runs, int64_t now_ms,
                                    int64_t span_ms, int slots);

// One check as listed (/api/v1/checks, the status page).
struct CheckSummary {
  std::string name;
  std::string type;
  bool has_run = false;
  bool ok = false;                // state of the last run
  Reason reason = Reason::kNone;  // of the last run
  std::string detail;             // of the last run
  int64_t since_ms = 0;           // start of the current state
  int64_t last_run_ms = 0;
  uint64_t runs_total = 0;  // since configured (not bounded by the ring)
  uint64_t failures_total = 0;
};

// Everything kept for one check, copied out.
struct CheckHistory {
  CheckSummary summary;
  std::vector<HistoryEntry> runs;      // oldest first
  std::vector<HistoryEntry> failures;  // oldest first, each with evidence
  std::vector<StatePeriod> changes;    // oldest first; the last is the current state
  std::optional<HistoryEntry> last;    // with evidence
};

class HistoryStore final : public ResultSink {
 public:
  HistoryStore(const Clock& clock, HistoryOptions options = {});

  // Loop thread. New bounds apply at once (rings are trimmed).
  void SetOptions(HistoryOptions options);

  // ResultSink (loop thread). Checks absent from OnConfig lose their history; a check whose
  // type changed starts over.
  void OnConfig(const std::vector<const CheckSpec*>& checks) override;
  void OnResult(const CheckSpec& check, const Result& result) override;
  void OnSkipped(const CheckSpec&) override {}
  void OnSchedulerLag(Duration) override {}

  // Loop thread. Adds `key: value` (sanitised, replacing an earlier `key`) to the evidence of the
  // kept runs of `check` whose report has `match_key: match_value`, right after that entry; the
  // run's report stays within kMaxReportBytes (its last values give way). The per-probe log join
  // (agent/request_log_attach.h) puts nginx's lines for a failed probe's request id there after
  // the run. False when no kept run matches.
  bool AttachReport(const std::string& check, const std::string& match_key,
                    const std::string& match_value, const std::string& key,
                    const std::string& value);

  // Any thread. Sorted by name.
  std::vector<CheckSummary> Summaries() const;
  // Any thread. nullopt for a check that is not configured.
  std::optional<CheckHistory> Snapshot(const std::string& name) const;
  // Any thread. Configured check names, sorted: with Snapshot, what the persister saves one check
  // at a time (the lock is held for one check's copy, never for the whole store).
  std::vector<std::string> Names() const;
  // Any thread. Counts results and configs applied: unchanged means nothing new to save.
  uint64_t generation() const;

  // Loop thread (or before the loop runs), before the OnConfig that should keep them: puts back
  // checks saved by an earlier process (exporters/history_file.h). A check the next OnConfig does
  // not configure with the same type is dropped then; the current bounds apply at once. Each
  // `CheckHistory` must be what Snapshot gives: `runs` the last runs, consecutive, ending at
  // `summary.runs_total` (DecodeHistoryFile checks it).
  void Restore(std::vector<CheckHistory> checks);

  // Any thread: every check's availability strip (AvailabilityStrip of its kept runs), computed
  // under the lock so that a page of 10,000 checks copies 60 bytes per check, not its runs.
  std::map<std::string, std::vector<Slot>> Strips(int64_t now_ms, int64_t span_ms, int slots) const;

  // Caps applied to what is stored (bytes).
  static constexpr size_t kMaxReportBytes = 4096;
  // Report values longer than this are the first to go from an older failure over the budget
  // (the response head and body); the phases, address and status stay.
  static constexpr size_t kShortValueBytes = 64;

 private:
  // A run in the ring: 16 bytes. Its seq follows from its position (the ring holds consecutive
  // runs); its evidence, if any, is found in `failures` by seq.
  struct CompactRun {
    int64_t time_ms;
    uint32_t duration_us;  // capped at ~71 minutes (runs are shorter than their interval)
    uint8_t reason;        // a Reason
  };
  // A ring of at most `cap` items on a vector: empty it costs only the vector (24 bytes; a
  // std::deque allocates ~576 bytes before its first element), full it holds exactly `cap`.
  template <typename T>
  class Ring {
   public:
    void Push(T item, size_t cap) {
      if (cap == 0) return;
      if (items_.size() < cap) {
        if (items_.size() == items_.capacity()) {
          items_.reserve(std::min(cap, std::max<size_t>(4, items_.capacity() * 2)));
        }
        items_.push_back(std::move(item));
        return;
      }
      items_[head_] = std::move(item);
      head_ = (head_ + 1) % items_.size();
    }
    // Keeps the newest `cap` items.
    void Trim(size_t cap) {
      if (items_.size() <= cap && head_ == 0) return;
      std::vector<T> kept;
      size_t skip = items_.size() > cap ? items_.size() - cap : 0;
      kept.reserve(items_.size() - skip);
      ForEach([&](const T& item) {
        if (skip > 0) {
          --skip;
        } else {
          kept.push_back(item);
        }
      });
      items_ = std::move(kept);
      head_ = 0;
    }
    template <typename F>
    void ForEach(F&& f) const {  // oldest first
      for (size_t i = 0; i < items_.size(); ++i) f(items_[(head_ + i) % items_.size()]);
    }
    T& at(size_t i) { return items_[(head_ + i) % items_.size()]; }  // 0: the oldest
    size_t size() const { return items_.size(); }
    bool empty() const { return items_.empty(); }
    T& back() { return items_[(head_ + items_.size() - 1) % items_.size()]; }
    const T& back() const { return items_[(head_ + items_.size() - 1) % items_.size()]; }

   private:
    std::vector<T> items_;
    size_t head_ = 0;  // index of the oldest item once full
  };
  struct Record {
    std::string type;
    uint64_t seq = 0;
    uint64_t failures_total = 0;
    Ring<CompactRun> runs;
    Ring<HistoryEntry> failures;
    Ring<StatePeriod> changes;
    std::optional<HistoryEntry> last;
  };
  static CheckSummary Summarise(const std::string& name, const Record& r);
  static HistoryEntry Expand(const CompactRun& run, uint64_t seq, const Record& r);
  void Trim(Record& r) const;
  void EnforceEvidenceBudget(Record& r) const;

  const Clock& clock_;
  mutable std::mutex mu_;
  HistoryOptions options_;
  std::map<std::string, Record> records_;
  uint64_t generation_ = 0;
};

}  // namespace gatewatch
