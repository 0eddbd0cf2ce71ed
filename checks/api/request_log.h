// The per-probe log join (docs/diagnosis.md, docs/proxy-log.md): what nginx logged about the
// requests gatewatch's own probes sent, found by the request id the probe put in its request.
//
// The http check sends `X-Request-ID: gw-<16 hex>` (kRequestIdPrefix) and reports the id as
// `request_id`; nginx logs it in the access line (`rid=$http_x_request_id`) with the connection
// serial (`cid=$connection`). The error log has no request id, only the serial (`*N`): an error
// line joins the access line of the same connection whose request was running at the error's
// time (between its start, end time minus $request_time, and its end, with a second of slack for
// nginx's whole-second times), so a keepalive connection's earlier and later requests do not get
// it. Within one second, a connection's requests are told apart by how many error lines each can
// have: one per failed upstream attempt of its access line (status "-" or 5xx in
// $upstream_status), taken in order: a request answered without a failed attempt takes none, the
// oldest request with a failed attempt not yet matched takes the next. Either line may be read
// first (the proxy_log check reads both logs, in runs of its own schedule): an error line without
// its access line waits among the `pending` ones.
//
// The proxy_log check fills the index (only with ids that carry the prefix: other traffic's ids
// never take a slot); the agent reads it to attach the lines to the failed probe's history entry
// and to the diagnosis (agent/request_log_attach.h). Never a metric label.
//
// Bounded whatever the logs hold: kMaxRecords requests (oldest dropped first), kMaxErrors error
// lines per request, kMaxPending waiting error lines, every line sanitised UTF-8 of at most
// kMaxLineBytes. Ids are checked (prefix, [A-Za-z0-9._-], at most 64 bytes) before use.
//
// Thread-safety: none; the loop thread only. Owned by the agent (CheckServices::request_log).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace gatewatch {

inline constexpr std::string_view kRequestIdPrefix = "gw-";

// Whether `id` has the shape of an id gatewatch sends: the prefix, then [A-Za-z0-9._-], at most
// 64 bytes in all.
bool IsProbeRequestId(std::string_view id);

// A new probe id: the prefix and 16 hex digits, unique within the process (a counter) and across
// restarts and agents (a random start). Loop thread (or any one thread at a time per caller).
std::string NewProbeRequestId();

struct RequestLogRecord {
  std::string id;
  std::string access;               // the access line, sanitised and capped
  std::vector<std::string> errors;  // the joined error lines (ErrorLineEvidence), oldest first
  uint64_t version = 0;             // changes whenever the record gains a line
  // Join keys.
  uint64_t connection = 0;  // 0: unknown (no error line can join)
  int64_t end_s = -1;       // nginx local time of the access line; -1: unknown
  double request_time = -1;
  size_t capacity = 0;  // how many error lines it can have (its failed upstream attempts)

  // One line: `"GET / HTTP/1.1" 502 ...; error: connect() failed ...`, capped at max_bytes.
  std::string Text(size_t max_bytes) const;
};

class RequestLogIndex {
 public:
  static constexpr size_t kMaxRecords = 256;
  static constexpr size_t kMaxErrors = 4;
  static constexpr size_t kMaxPending = 128;
  static constexpr size_t kMaxLineBytes = 512;

  // The access line of a request with a probe id (others are ignored). `end_s`: its time
  // (-1 unknown); `request_time` in seconds (< 0 unknown); `failed_attempts`: its upstream
  // attempts without a response or with a 5xx (-1 unknown: a format without upstream fields).
  // A second line with the same id replaces the first.
  void AddAccess(std::string_view id, uint64_t connection, int64_t end_s, double request_time,
                 int failed_attempts, std::string_view line);
  // An error line (its evidence text) of connection `connection` (0: ignored) at `at_s` (-1:
  // unknown, joins on the connection alone).
  void AddError(uint64_t connection, int64_t at_s, std::string_view text);

  // The record of `id`, or null. Valid until the next Add*.
  const RequestLogRecord* Find(std::string_view id) const;
  // Changes whenever any record changes: nothing new to look up while it stays.
  uint64_t generation() const { return generation_; }
  size_t size() const { return records_.size(); }
  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    uint64_t connection;
    int64_t at_s;
    std::string text;
  };
  static bool Covers(const RequestLogRecord& r, uint64_t connection, int64_t at_s);
  void Attach(RequestLogRecord& r, std::string text);

  std::deque<RequestLogRecord> records_;  // oldest first
  std::deque<Pending> pending_;           // oldest first
  uint64_t generation_ = 0;
};

}  // namespace gatewatch
