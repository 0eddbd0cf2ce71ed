#include "exporters/history_file.h"

#include <cstring>
#include <set>

#include "agent/base/fnv.h"
#include "agent/base/utf8.h"

namespace gatewatch {
namespace {

constexpr char kMagic[8] = {'G', 'W', 'H', 'I', 'S', 'T', 'R', 'Y'};
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 + 8;
constexpr size_t kMaxNameBytes = 4096;  // check names are config keys; more is not ours
constexpr size_t kMaxStringBytes = 64 * 1024;
// The fewest bytes each item takes in the file: a count is believed only if that many fit.
constexpr size_t kRunBytes = 8 + 4 + 1;
constexpr size_t kEntryMinBytes = 8 + 8 + 8 + 1 + 1;
constexpr size_t kPeriodBytes = 1 + 1 + 8 + 8 + 8;
constexpr size_t kPairMinBytes = 4 + 4;
constexpr size_t kCheckMinBytes = 4 + 4 + 8 + 8 + 4 + 4 + 4 + 1;

void PutU8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
void PutU32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutI64(std::string& out, int64_t v) { PutU64(out, static_cast<uint64_t>(v)); }
void PutStr(std::string& out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

void PutEntry(std::string& out, const HistoryEntry& e) {
  PutU64(out, e.seq);
  PutI64(out, e.time_ms);
  PutI64(out, e.duration_us);
  PutU8(out, static_cast<uint8_t>(e.reason));
  PutU8(out, e.evidence != nullptr);
  if (e.evidence == nullptr) return;
  PutStr(out, e.evidence->detail);
  PutU32(out, static_cast<uint32_t>(e.evidence->report.size()));
  for (const auto& [k, v] : e.evidence->report) {
    PutStr(out, k);
    PutStr(out, v);
  }
}

// Reads the payload; every read checks what is left, and the first failure sticks.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : p_(bytes) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t left() const { return p_.size(); }
  void Fail(const std::string& why) {
    if (error_.empty()) error_ = why + " at byte " + std::to_string(offset_ + kHeaderBytes);
  }

  uint64_t U(size_t n) {
    if (!ok()) return 0;
    if (p_.size() < n) {
      Fail("file ends early");
      return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<unsigned char>(p_[i])} << (8 * i);
    Skip(n);
    return v;
  }
  uint8_t U8() { return static_cast<uint8_t>(U(1)); }
  uint32_t U32() { return static_cast<uint32_t>(U(4)); }
  uint64_t U64() { return U(8); }
  int64_t I64() { return static_cast<int64_t>(U(8)); }
  bool Bool() {
    uint8_t v = U8();
    if (v > 1) Fail("flag byte " + std::to_string(v));
    return v == 1;
  }
  Reason ReasonByte() {
    uint8_t v = U8();
    if (v >= reasons_.size()) {
      Fail("unknown reason " + std::to_string(v));
      return Reason::kOther;
    }
    return reasons_[v];
  }
  // The file's reason table: byte i means the i-th name; a name this build does not know is
  // "other" (a newer gatewatch's reason), never a wrong reason.
  void ReadReasonTable() {
    size_t n = Count(4);
    if (ok() && n > 256) Fail("reason table of " + std::to_string(n) + " entries");
    for (size_t i = 0; i < n && ok(); ++i) {
      reasons_.push_back(ParseReason(Str(64, 64)).value_or(Reason::kOther));
    }
  }
  // A count of items of at least `min_bytes` each: more than fit in what is left is corrupt.
  size_t Count(size_t min_bytes) {
    uint32_t n = U32();
    if (ok() && n > p_.size() / min_bytes) {
      Fail("count " + std::to_string(n) + " larger than the file");
      return 0;
    }
    return ok() ? n : 0;
  }
  // Sanitised and capped at `cap` (what the store keeps); longer than `max` is corrupt.
  std::string Str(size_t cap, size_t max = kMaxStringBytes) {
    uint32_t n = U32();
    if (!ok()) return "";
    if (n > max || n > p_.size()) {
      Fail("string of " + std::to_string(n) + " bytes");
      return "";
    }
    std::string s = SanitizeUtf8(p_.substr(0, n), cap);
    Skip(n);
    return s;
  }

 private:
  void Skip(size_t n) {
    p_.remove_prefix(n);
    offset_ += n;
  }
  std::string_view p_;
  size_t offset_ = 0;
  std::string error_;
  std::vector<Reason> reasons_;
};

HistoryEntry ReadEntry(Reader& r) {
  HistoryEntry e;
  e.seq = r.U64();
  e.time_ms = r.I64();
  e.duration_us = r.I64();
  e.reason = r.ReasonByte();
  if (r.Bool()) {
    auto ev = std::make_shared<RunEvidence>();
    ev->detail = r.Str(kMaxDetailBytes);
    size_t n = r.Count(kPairMinBytes);
    ev->report.reserve(n);
    size_t bytes = 0;
    for (size_t i = 0; i < n && r.ok(); ++i) {
      std::string k = r.Str(kMaxLabelValueBytes);
      std::string v = r.Str(kMaxDetailBytes);
      bytes += k.size() + v.size();
      // As MakeEvidence caps a run's report (plus its "truncated" line).
      if (bytes > HistoryStore::kMaxReportBytes + 64) {
        r.Fail("report over " + std::to_string(HistoryStore::kMaxReportBytes) + " bytes");
      }
      ev->report.emplace_back(std::move(k), std::move(v));
    }
    e.evidence = std::move(ev);
  }
  return e;
}

CheckHistory ReadCheck(Reader& r) {
  CheckHistory h;
  CheckSummary& s = h.summary;
  s.name = r.Str(kMaxNameBytes, kMaxNameBytes);
  s.type = r.Str(kMaxNameBytes, kMaxNameBytes);
  if (r.ok() && (s.name.empty() || s.type.empty())) r.Fail("empty check name or type");
  s.runs_total = r.U64();
  s.failures_total = r.U64();
  if (r.ok() && s.failures_total > s.runs_total) r.Fail(s.name + ": more failures than runs");

  size_t n = r.Count(kRunBytes);
  if (r.ok() && n > s.runs_total) r.Fail(s.name + ": more runs kept than run");
  h.runs.reserve(n);
  for (size_t i = 0; i < n && r.ok(); ++i) {
    HistoryEntry e;
    e.seq = s.runs_total - n + i + 1;  // the ring holds the last runs, consecutive
    e.time_ms = r.I64();
    e.duration_us = r.U32();
    e.reason = r.ReasonByte();
    h.runs.push_back(std::move(e));
  }
  n = r.Count(kEntryMinBytes);
  h.failures.reserve(n);
  for (size_t i = 0; i < n && r.ok(); ++i) {
    HistoryEntry e = ReadEntry(r);
    if (r.ok() && (e.success() || e.seq == 0 || e.seq > s.runs_total ||
                   (!h.failures.empty() && e.seq <= h.failures.back().seq))) {
      r.Fail(s.name + ": kept failure out of order");
    }
    h.failures.push_back(std::move(e));
  }
  n = r.Count(kPeriodBytes);
  h.changes.reserve(n);
  for (size_t i = 0; i < n && r.ok(); ++i) {
    StatePeriod p;
    p.ok = r.Bool();
    p.first_reason = r.ReasonByte();
    p.start_ms = r.I64();
    p.end_ms = r.I64();
    p.runs = r.U64();
    if (r.ok() && p.ok != (p.first_reason == Reason::kNone)) r.Fail(s.name + ": bad state period");
    h.changes.push_back(p);
  }
  if (r.Bool()) {
    h.last = ReadEntry(r);
    if (r.ok() && h.last->seq != s.runs_total) r.Fail(s.name + ": last run out of order");
  } else if (r.ok() && s.runs_total > 0) {
    r.Fail(s.name + ": no last run");
  }
  if (h.last) {  // as Summarise would give it
    s.has_run = true;
    s.ok = h.last->success();
    s.reason = h.last->reason;
    s.last_run_ms = h.last->time_ms;
    if (h.last->evidence) s.detail = h.last->evidence->detail;
  }
  if (!h.changes.empty()) s.since_ms = h.changes.back().start_ms;
  return h;
}

}  // namespace

HistoryFileEncoder::HistoryFileEncoder() {
  out_.assign(kHeaderBytes, '\0');
  // Reasons are stored as one byte each; the table of their names comes first, so a file stays
  // readable by a gatewatch whose reason list gained or reordered entries.
  PutU32(out_, kReasonCount);
  for (size_t i = 0; i < kReasonCount; ++i) PutStr(out_, ReasonName(static_cast<Reason>(i)));
}

bool HistoryFileEncoder::Add(const CheckHistory& h, size_t max_bytes) {
  const size_t before = out_.size();
  PutStr(out_, h.summary.name);
  PutStr(out_, h.summary.type);
  PutU64(out_, h.summary.runs_total);
  PutU64(out_, h.summary.failures_total);
  PutU32(out_, static_cast<uint32_t>(h.runs.size()));
  for (const HistoryEntry& e : h.runs) {
    PutI64(out_, e.time_ms);
    PutU32(out_, static_cast<uint32_t>(e.duration_us));
    PutU8(out_, static_cast<uint8_t>(e.reason));
  }
  PutU32(out_, static_cast<uint32_t>(h.failures.size()));
  for (const HistoryEntry& e : h.failures) PutEntry(out_, e);
  PutU32(out_, static_cast<uint32_t>(h.changes.size()));
  for (const StatePeriod& p : h.changes) {
    PutU8(out_, p.ok);
    PutU8(out_, static_cast<uint8_t>(p.first_reason));
    PutI64(out_, p.start_ms);
    PutI64(out_, p.end_ms);
    PutU64(out_, p.runs);
  }
  PutU8(out_, h.last.has_value());
  if (h.last) PutEntry(out_, *h.last);
  if (out_.size() > max_bytes) {
    out_.resize(before);
    return false;
  }
  ++checks_;
  return true;
}

std::string HistoryFileEncoder::Finish() {
  std::string header;
  header.append(kMagic, sizeof kMagic);
  PutU32(header, kHistoryFileVersion);
  PutU32(header, checks_);
  std::string_view payload = std::string_view(out_).substr(kHeaderBytes);
  PutU64(header, payload.size());
  PutU64(header, Fnv1a64(payload));
  out_.replace(0, kHeaderBytes, header);
  return std::move(out_);
}

Expected<std::vector<CheckHistory>> DecodeHistoryFile(std::string_view bytes) {
  if (bytes.size() > kMaxHistoryFileBytes) {
    return Error{"file of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                 std::to_string(kMaxHistoryFileBytes)};
  }
  if (bytes.size() < kHeaderBytes) return Error{"file ends in its header"};
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return Error{"not a gatewatch history file"};
  }
  Reader header(bytes.substr(sizeof kMagic, kHeaderBytes - sizeof kMagic));
  uint32_t version = header.U32();
  uint32_t checks = header.U32();
  uint64_t length = header.U64();
  uint64_t checksum = header.U64();
  if (version != kHistoryFileVersion) {
    return Error{"history file version " + std::to_string(version) + " (this gatewatch reads " +
                 std::to_string(kHistoryFileVersion) + ")"};
  }
  std::string_view payload = bytes.substr(kHeaderBytes);
  if (length != payload.size()) {
    return Error{"payload is " + std::to_string(payload.size()) + " bytes, the header says " +
                 std::to_string(length) + " (truncated?)"};
  }
  if (Fnv1a64(payload) != checksum) return Error{"checksum mismatch (corrupt)"};

  Reader r(payload);
  r.ReadReasonTable();
  if (!r.ok()) return Error{r.error()};
  if (checks > r.left() / kCheckMinBytes) return Error{"check count larger than the file"};
  std::vector<CheckHistory> out;
  out.reserve(checks);
  std::set<std::string> names;
  for (uint32_t i = 0; i < checks && r.ok(); ++i) {
    CheckHistory h = ReadCheck(r);
    if (r.ok() && !names.insert(h.summary.name).second) r.Fail("check saved twice");
    out.push_back(std::move(h));
  }
  if (r.ok() && r.left() != 0) r.Fail("bytes after the last check");
  if (!r.ok()) return Error{r.error()};
  return out;
}

}  // namespace gatewatch
