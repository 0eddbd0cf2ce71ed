// Pure parsers for nginx's logs, apart from any I/O, so they can be tested with tables of real
// lines (tests/unit/nginx_log_parse_test.cc) and measured (tests/bench/nginx_log_parse_bench.cc).
//
// Access log: a format is compiled once (AccessLogFormat::Compile) from one of
//   combined   nginx's predefined format (no upstream fields)
//   upstream   the recommended format of docs/proxy-log.md (deploy/nginx/gatewatch-log-format.conf)
//   json       a `log_format ... escape=json` object whose keys are the variable names
//   any other  a log_format string ('$remote_addr - [$time_local] "$request" $status ...'): the
//              variables gatewatch knows are mapped, the rest are skipped
// and then parses one line at a time.
//
// Error log: ClassifyErrorLine() turns nginx's upstream failure lines into a Reason and the
// upstream they concern.
//
// Thread-safety: a compiled AccessLogFormat is used by one thread at a time (Parse keeps scratch
// space); the free functions are pure.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checks/api/reason.h"

namespace gatewatch {

// What gatewatch reads from one access log line. Views point into the parsed line or into the
// format's scratch space: valid until the next Parse() or until the line goes away.
struct AccessRecord {
  int status = 0;                    // $status (100..599); 0 when the format has none
  double request_time = -1;          // $request_time in seconds; < 0 when absent or "-"
  std::string_view upstream_addr;    // $upstream_addr as logged ("-" or a list), empty if absent
  std::string_view upstream_status;  // $upstream_status as logged
  std::string_view upstream_time;    // $upstream_response_time as logged
  // For the per-probe log join (docs/proxy-log.md): $http_x_request_id or $request_id ("-" when
  // the request had none), $connection (nginx's connection serial, the `*N` of error lines; 0
  // when absent or not a number) and $time_local. Lines of formats without them leave them empty.
  std::string_view request_id;
  uint64_t connection = 0;
  std::string_view time_local;
};

// Seconds since 1970 of nginx's local time as written, ignoring the zone (both logs of one nginx
// are written in the same zone): $time_local "07/Dec/2026:04:44:34 +0000" and an error line's
// leading "2026/12/07 04:44:34". nullopt for anything else.
std::optional<int64_t> ParseTimeLocal(std::string_view s);
std::optional<int64_t> ParseErrorLineTime(std::string_view line);

// The connection serial of an error line ("... [error] 12#12: *5 connect() failed ..." gives 5);
// 0 when the line has none.
uint64_t ErrorLineConnection(std::string_view line);

// An error line as evidence: its message without the time, level, pid and client fields, keeping
// the upstream it names: 'connect() failed (111: Connection refused) while connecting to
// upstream, upstream: "http://127.0.0.1:8081/"'. Sanitised UTF-8 of at most `max_bytes`.
std::string ErrorLineEvidence(std::string_view line, size_t max_bytes);

// One upstream attempt of a request: nginx lists one per server tried (", " between servers of one
// upstream group, " : " between groups after an internal redirect).
struct UpstreamAttempt {
  std::string_view addr;      // "10.0.0.1:80", "unix:/run/app.sock" or a group name
  int status = 0;             // 0 when "-" (no response from this server)
  double response_time = -1;  // seconds; < 0 when "-"
};

// Splits the three upstream lists of `r` into attempts, aligned by position. Addresses "-" (no
// upstream involved) yield no attempt. A status or time list shorter than the address list leaves
// the missing values unset. Appends to `out` (cleared first).
void SplitUpstreams(const AccessRecord& r, std::vector<UpstreamAttempt>* out);

class AccessLogFormat {
 public:
  // Compiles "combined", "upstream", "json" or a log_format string. Returns null and sets *error
  // when the string cannot be parsed unambiguously (two variables with no text between them, no
  // $status, an unterminated ${...}).
  static std::unique_ptr<AccessLogFormat> Compile(std::string_view spec, std::string* error);
  ~AccessLogFormat();

  // Parses one line (without its newline). False when the line does not have the format's shape,
  // $status is not a number 100..599, or a time ($request_time, $upstream_response_time) is NaN,
  // Inf, out of double's range or above 1e9 s: such a value must never reach a histogram's sum.
  bool Parse(std::string_view line, AccessRecord* out);

  // Whether lines carry $upstream_addr (combined does not: every response counts for "unknown").
  bool has_upstream() const { return has_upstream_; }

  // The largest JSON nesting a json line may have; deeper lines are refused.
  static constexpr int kMaxJsonDepth = 8;

  struct Segment;  // implementation detail, public for the .cc's helpers

 private:
  AccessLogFormat() = default;
  bool ParseText(std::string_view line, AccessRecord* out) const;
  bool ParseJson(std::string_view line, AccessRecord* out);

  bool json_ = false;
  bool has_upstream_ = false;
  std::vector<Segment> segments_;
  std::string scratch_addr_, scratch_status_, scratch_time_;  // json values, unescaped
  std::string scratch_rid_, scratch_time_local_;
  // "upstream": lines written before rid= and cid= were added to the recommended format.
  std::unique_ptr<AccessLogFormat> fallback_;
};

// Whether `name` has a shape nginx writes for an upstream, so it may become a label value:
// "ip:port" (IPv4), "[ipv6]:port", "unix:/path" (printable ASCII, no blanks or quotes), or a host
// or upstream-group name ([A-Za-z0-9._-], at most 253 bytes, with an optional ":port"). Anything
// else (invalid UTF-8, blanks, quotes, control bytes, over-long text: what a hostile request or a
// corrupted line puts there) is not, and callers count it under "other" without giving it a series.
bool PlausibleUpstreamName(std::string_view name);

// nginx's log_format for the `upstream` format, as it goes into nginx.conf.
extern const char kRecommendedLogFormat[];
// The same before it gained ` rid=$http_x_request_id cid=$connection`: still read.
extern const char kRecommendedLogFormatV1[];

// A failure nginx logged about an upstream.
struct UpstreamError {
  Reason reason = Reason::kOther;
  // The server ("127.0.0.1:9001", "unix:/run/app.sock"), the upstream group for no_live_upstreams,
  // or the name that did not resolve; "unknown" when the line names none; "none" for the proxy's
  // own exhaustion that concerns no upstream (a client it could not accept).
  std::string_view upstream;
};

// Classifies one error.log line. nullopt for lines that are not an upstream failure or the
// proxy's own exhaustion at level error or worse (notices, warnings such as "upstream server
// temporarily disabled", static file errors). The proxy's exhaustion (worker_connections, file
// descriptors, local ports, an upstream's full listen queue, buffers too small for a response)
// has reasons of the cause resources. A failure of a kind this classifier does not know is
// Reason::kOther.
std::optional<UpstreamError> ClassifyErrorLine(std::string_view line);

}  // namespace gatewatch
