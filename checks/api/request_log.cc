#include "checks/api/request_log.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <random>

#include "agent/base/utf8.h"

namespace gatewatch {

bool IsProbeRequestId(std::string_view id) {
  if (id.size() <= kRequestIdPrefix.size() || id.size() > 64) return false;
  if (id.substr(0, kRequestIdPrefix.size()) != kRequestIdPrefix) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string NewProbeRequestId() {
  // 32 random bits of the process, 32 bits of a counter: unique per run without a lock.
  static const uint64_t kProcess = [] {
    std::random_device rd;
    return static_cast<uint64_t>(rd()) << 32;
  }();
  static std::atomic<uint32_t> counter{0};
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(kProcess | counter.fetch_add(1)));
  return std::string(kRequestIdPrefix) + buf;
}

std::string RequestLogRecord::Text(size_t max_bytes) const {
  std::string out = access;
  for (const std::string& e : errors) out += "; error: " + e;
  return SanitizeUtf8(out, max_bytes);
}

bool RequestLogIndex::Covers(const RequestLogRecord& r, uint64_t connection, int64_t at_s) {
  if (connection == 0 || r.connection != connection || r.errors.size() >= r.capacity) return false;
  if (at_s < 0 || r.end_s < 0) return true;
  // nginx writes whole seconds: a second of slack on both sides.
  int64_t start = r.end_s - static_cast<int64_t>(std::max(0.0, r.request_time)) - 1;
  return at_s >= start && at_s <= r.end_s + 1;
}

void RequestLogIndex::Attach(RequestLogRecord& r, std::string text) {
  r.errors.push_back(std::move(text));
  ++r.version;
  ++generation_;
}

void RequestLogIndex::AddAccess(std::string_view id, uint64_t connection, int64_t end_s,
                                double request_time, int failed_attempts, std::string_view line) {
  if (!IsProbeRequestId(id)) return;
  auto same = std::find_if(records_.begin(), records_.end(),
                           [&](const RequestLogRecord& r) { return r.id == id; });
  if (same != records_.end()) records_.erase(same);
  if (records_.size() >= kMaxRecords) records_.pop_front();
  RequestLogRecord& r = records_.emplace_back();
  r.id = std::string(id);
  r.access = SanitizeUtf8(line, kMaxLineBytes);
  r.connection = connection;
  r.end_s = end_s;
  r.request_time = request_time;
  r.capacity =
      failed_attempts < 0 ? kMaxErrors : std::min(kMaxErrors, static_cast<size_t>(failed_attempts));
  r.version = 1;
  ++generation_;
  // Error lines read before this access line: nginx writes them while the request runs.
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (Covers(r, it->connection, it->at_s)) {
      Attach(r, std::move(it->text));
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

void RequestLogIndex::AddError(uint64_t connection, int64_t at_s, std::string_view text) {
  if (connection == 0) return;
  // The earliest request of this connection that was running then and has a failed attempt
  // left: a later one on the same keepalive connection started after this error. Without a time,
  // the newest request of the connection (the lines are read in the order nginx wrote them).
  auto attach = [&](RequestLogRecord& r) {
    if (!Covers(r, connection, at_s)) return false;
    Attach(r, SanitizeUtf8(text, kMaxLineBytes));
    return true;
  };
  if (at_s >= 0) {
    for (RequestLogRecord& r : records_) {
      if (attach(r)) return;
    }
  } else {
    for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
      if (attach(*it)) return;
    }
  }
  if (pending_.size() >= kMaxPending) pending_.pop_front();
  pending_.push_back({connection, at_s, SanitizeUtf8(text, kMaxLineBytes)});
}

const RequestLogRecord* RequestLogIndex::Find(std::string_view id) const {
  for (auto it = records_.rbegin(); it != records_.rend(); ++it) {
    if (it->id == id) return &*it;
  }
  return nullptr;
}

}  // namespace gatewatch
