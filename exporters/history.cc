#include "exporters/history.h"

#include <algorithm>
#include <chrono>
#include <limits>

#include "agent/base/utf8.h"
#include "checks/api/check.h"

namespace gatewatch {
namespace {

std::shared_ptr<const RunEvidence> MakeEvidence(const Result& result) {
  auto e = std::make_shared<RunEvidence>();
  e->detail = SanitizeUtf8(result.detail, kMaxDetailBytes);
  size_t bytes = 0;
  e->report.reserve(result.report.size());
  for (const auto& [key, value] : result.report) {
    std::string k = SanitizeUtf8(key, kMaxLabelValueBytes);
    std::string v = SanitizeUtf8(value, kMaxDetailBytes);
    // The whole report of one run is capped too: a fan-out check reports a line per backend.
    if (bytes + k.size() + v.size() > HistoryStore::kMaxReportBytes) {
      e->report.emplace_back(
          "truncated", "report over " + std::to_string(HistoryStore::kMaxReportBytes) + " bytes");
      break;
    }
    bytes += k.size() + v.size();
    e->report.emplace_back(std::move(k), std::move(v));
  }
  e->report.shrink_to_fit();
  return e;
}

// Marks the slot of a run at `time_ms` in `strip` (covering [now - span, now)).
void AddToStrip(std::vector<Slot>& strip, int64_t time_ms, bool ok, int64_t now_ms,
                int64_t span_ms) {
  if (strip.empty() || span_ms <= 0) return;
  const int64_t start = now_ms - span_ms;
  if (time_ms < start || time_ms >= now_ms) return;
  size_t i = static_cast<size_t>((time_ms - start) * static_cast<int64_t>(strip.size()) / span_ms);
  Slot& s = strip[std::min(i, strip.size() - 1)];
  Slot want = ok ? Slot::kOk : Slot::kFailed;
  if (s == Slot::kNone) {
    s = want;
  } else if (s != want) {
    s = Slot::kMixed;
  }
}

// `e` with less in it, for an older failure over the evidence budget. Level 1: report values over
// kShortValueBytes dropped (a line says so); 2: the report dropped; 3: nothing (null).
std::shared_ptr<const RunEvidence> Reduced(const RunEvidence& e, int level) {
  if (level >= 3) return nullptr;
  auto out = std::make_shared<RunEvidence>();
  out->detail = e.detail;
  if (level == 1) {
    bool dropped = false;
    for (const auto& kv : e.report) {
      if (kv.second.size() <= HistoryStore::kShortValueBytes) {
        out->report.push_back(kv);
      } else {
        dropped = true;
      }
    }
    if (dropped)
      out->report.emplace_back("trimmed", "long values dropped (history.evidence_bytes)");
    out->report.shrink_to_fit();
  }
  return out;
}

}  // namespace

size_t EvidenceBytes(const RunEvidence& e) {
  size_t n = sizeof(RunEvidence) + e.detail.size();
  for (const auto& [k, v] : e.report)
    n += sizeof(std::pair<std::string, std::string>) + k.size() + v.size();
  return n;
}

HistoryStore::HistoryStore(const Clock& clock, HistoryOptions options)
    : clock_(clock), options_(options) {}

void HistoryStore::SetOptions(HistoryOptions options) {
  std::lock_guard lock(mu_);
  options_ = options;
  for (auto& [name, r] : records_) Trim(r);
}

void HistoryStore::Trim(Record& r) const {
  r.runs.Trim(options_.runs);
  r.failures.Trim(options_.failures);
  r.changes.Trim(std::max<size_t>(options_.changes, 1));
  EnforceEvidenceBudget(r);
}

void HistoryStore::EnforceEvidenceBudget(Record& r) const {
  if (r.failures.size() < 2) return;  // the newest failure keeps all of its evidence
  size_t total = 0;
  r.failures.ForEach([&](const HistoryEntry& f) {
    if (f.evidence != nullptr) total += EvidenceBytes(*f.evidence);
  });
  // Oldest first, every older failure a level down before any goes further.
  for (int level = 1; level <= 3 && total > options_.evidence_bytes; ++level) {
    for (size_t i = 0; i + 1 < r.failures.size() && total > options_.evidence_bytes; ++i) {
      HistoryEntry& f = r.failures.at(i);
      if (f.evidence == nullptr) continue;
      size_t before = EvidenceBytes(*f.evidence);
      auto reduced = Reduced(*f.evidence, level);
      size_t after = reduced != nullptr ? EvidenceBytes(*reduced) : 0;
      if (after >= before) continue;  // already as small at this level
      total -= before - after;
      f.evidence = std::move(reduced);
    }
  }
}

void HistoryStore::OnConfig(const std::vector<const CheckSpec*>& checks) {
  std::lock_guard lock(mu_);
  std::map<std::string, Record> kept;
  for (const CheckSpec* spec : checks) {
    auto it = records_.find(spec->name);
    if (it != records_.end() && it->second.type == spec->type) {
      kept.emplace(spec->name, std::move(it->second));
    } else {
      kept[spec->name].type = spec->type;
    }
  }
  records_ = std::move(kept);
  ++generation_;
}

void HistoryStore::OnResult(const CheckSpec& check, const Result& result) {
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock_.WallNow().time_since_epoch())
          .count();
  const int64_t duration_us =
      std::chrono::duration_cast<std::chrono::microseconds>(result.duration).count();
  // A success never carries a reason; a failure without one would read as a success.
  const Reason reason = result.success
                            ? Reason::kNone
                            : (result.reason == Reason::kNone ? Reason::kOther : result.reason);
  // Built before taking the lock: sanitising is the expensive part.
  auto evidence = MakeEvidence(result);

  std::lock_guard lock(mu_);
  auto it = records_.find(check.name);
  if (it == records_.end()) return;  // not configured (a result racing a reload)
  Record& r = it->second;
  HistoryEntry entry;
  entry.seq = ++r.seq;
  entry.time_ms = now_ms;
  entry.duration_us = duration_us;
  entry.reason = reason;
  entry.evidence = std::move(evidence);

  r.runs.Push(CompactRun{.time_ms = now_ms,
                         .duration_us = static_cast<uint32_t>(std::clamp<int64_t>(
                             duration_us, 0, std::numeric_limits<uint32_t>::max())),
                         .reason = static_cast<uint8_t>(reason)},
              options_.runs);
  const bool ok = reason == Reason::kNone;
  if (!ok) {
    ++r.failures_total;
    r.failures.Push(entry, options_.failures);
    EnforceEvidenceBudget(r);
  }
  if (r.changes.empty() || r.changes.back().ok != ok) {
    if (!r.changes.empty()) r.changes.back().end_ms = now_ms;
    r.changes.Push(StatePeriod{.ok = ok, .first_reason = reason, .start_ms = now_ms},
                   std::max<size_t>(options_.changes, 1));
  }
  ++r.changes.back().runs;
  r.last = std::move(entry);
  ++generation_;
}

bool HistoryStore::AttachReport(const std::string& check, const std::string& match_key,
                                const std::string& match_value, const std::string& key,
                                const std::string& value) {
  std::string k = SanitizeUtf8(key, kMaxLabelValueBytes);
  std::string v = SanitizeUtf8(value, kMaxDetailBytes);
  auto with = [&](const RunEvidence& old) -> std::shared_ptr<const RunEvidence> {
    auto match = std::find_if(old.report.begin(), old.report.end(), [&](const auto& kv) {
      return kv.first == match_key && kv.second == match_value;
    });
    if (match == old.report.end()) return nullptr;
    auto e = std::make_shared<RunEvidence>();
    e->detail = old.detail;
    size_t bytes = k.size() + v.size();
    for (auto it = old.report.begin(); it != old.report.end(); ++it) {
      if (it->first == k) continue;
      e->report.push_back(*it);
      bytes += it->first.size() + it->second.size();
      if (it == match) e->report.emplace_back(k, v);
    }
    // The last values give way (the response body and head come last in an http report).
    while (bytes > kMaxReportBytes && e->report.size() > 2 && e->report.back().first != k) {
      bytes -= e->report.back().first.size() + e->report.back().second.size();
      e->report.pop_back();
    }
    return e;
  };
  std::lock_guard lock(mu_);
  auto it = records_.find(check);
  if (it == records_.end()) return false;
  Record& r = it->second;
  bool found = false;
  for (size_t i = 0; i < r.failures.size(); ++i) {
    HistoryEntry& f = r.failures.at(i);
    if (f.evidence == nullptr) continue;
    if (auto e = with(*f.evidence)) {
      f.evidence = e;
      if (r.last && r.last->seq == f.seq) r.last->evidence = e;
      found = true;
    }
  }
  if (r.last && r.last->evidence != nullptr && !found) {
    if (auto e = with(*r.last->evidence)) {
      r.last->evidence = e;
      found = true;
    }
  }
  if (!found) return false;
  EnforceEvidenceBudget(r);
  ++generation_;
  return true;
}

std::vector<std::string> HistoryStore::Names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(records_.size());
  for (const auto& [name, r] : records_) out.push_back(name);
  return out;
}

uint64_t HistoryStore::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void HistoryStore::Restore(std::vector<CheckHistory> checks) {
  std::lock_guard lock(mu_);
  for (CheckHistory& h : checks) {
    Record r;
    r.type = h.summary.type;
    r.seq = h.summary.runs_total;
    r.failures_total = h.summary.failures_total;
    for (const HistoryEntry& e : h.runs) {
      r.runs.Push(CompactRun{.time_ms = e.time_ms,
                             .duration_us = static_cast<uint32_t>(std::clamp<int64_t>(
                                 e.duration_us, 0, std::numeric_limits<uint32_t>::max())),
                             .reason = static_cast<uint8_t>(e.reason)},
                  options_.runs);
    }
    for (HistoryEntry& e : h.failures) r.failures.Push(std::move(e), options_.failures);
    for (const StatePeriod& p : h.changes) r.changes.Push(p, std::max<size_t>(options_.changes, 1));
    r.last = std::move(h.last);
    EnforceEvidenceBudget(r);
    records_[h.summary.name] = std::move(r);
  }
  ++generation_;
}

CheckSummary HistoryStore::Summarise(const std::string& name, const Record& r) {
  CheckSummary s;
  s.name = name;
  s.type = r.type;
  s.runs_total = r.seq;
  s.failures_total = r.failures_total;
  if (r.last) {
    s.has_run = true;
    s.ok = r.last->success();
    s.reason = r.last->reason;
    s.detail = r.last->evidence != nullptr ? r.last->evidence->detail : "";
    s.last_run_ms = r.last->time_ms;
  }
  if (!r.changes.empty()) s.since_ms = r.changes.back().start_ms;
  return s;
}

HistoryEntry HistoryStore::Expand(const CompactRun& run, uint64_t seq, const Record& r) {
  HistoryEntry e;
  e.seq = seq;
  e.time_ms = run.time_ms;
  e.duration_us = run.duration_us;
  e.reason = static_cast<Reason>(run.reason);
  if (r.last && r.last->seq == e.seq) {
    e.evidence = r.last->evidence;
  } else if (!e.success()) {
    r.failures.ForEach([&](const HistoryEntry& f) {
      if (f.seq == e.seq) e.evidence = f.evidence;
    });
  }
  return e;
}

std::vector<CheckSummary> HistoryStore::Summaries() const {
  std::lock_guard lock(mu_);
  std::vector<CheckSummary> out;
  out.reserve(records_.size());
  for (const auto& [name, r] : records_) out.push_back(Summarise(name, r));
  return out;
}

std::optional<CheckHistory> HistoryStore::Snapshot(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = records_.find(name);
  if (it == records_.end()) return std::nullopt;
  const Record& r = it->second;
  CheckHistory h;
  h.summary = Summarise(name, r);
  h.runs.reserve(r.runs.size());
  uint64_t seq = r.seq - r.runs.size();  // the ring holds the last runs, consecutive
  r.runs.ForEach([&](const CompactRun& run) { h.runs.push_back(Expand(run, ++seq, r)); });
  r.failures.ForEach([&](const HistoryEntry& f) { h.failures.push_back(f); });
  r.changes.ForEach([&](const StatePeriod& p) { h.changes.push_back(p); });
  h.last = r.last;
  return h;
}

std::map<std::string, std::vector<Slot>> HistoryStore::Strips(int64_t now_ms, int64_t span_ms,
                                                              int slots) const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::vector<Slot>> out;
  for (const auto& [name, r] : records_) {
    auto& strip = out[name];
    strip.assign(static_cast<size_t>(std::max(slots, 0)), Slot::kNone);
    r.runs.ForEach([&](const CompactRun& run) {
      AddToStrip(strip, run.time_ms, run.reason == 0, now_ms, span_ms);
    });
  }
  return out;
}

std::vector<Slot> AvailabilityStrip(const std::vector<HistoryEntry>& runs, int64_t now_ms,
                                    int64_t span_ms, int slots) {
  std::vector<Slot> out(static_cast<size_t>(std::max(slots, 0)), Slot::kNone);
  for (const HistoryEntry& e : runs) AddToStrip(out, e.time_ms, e.success(), now_ms, span_ms);
  return out;
}

}  // namespace gatewatch
