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
};

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
};

// Whether `name` has a shape nginx writes for an upstream, so it may become a label value:
// "ip:port" (IPv4), "[ipv6]:port", "unix:/path" (printable ASCII, no blanks or quotes), or a host
// or upstream-group name ([A-Za-z0-9._-], at most 253 bytes, with an optional ":port"). Anything
// else (invalid UTF-8, blanks, quotes, control bytes, over-long text: what a hostile request or a
// corrupted line puts there) is not, and callers count it under "other" without giving it a series.
bool PlausibleUpstreamName(std::string_view name);

// nginx's log_format for the `upstream` format, as it goes into nginx.conf.
extern const char kRecommendedLogFormat[];

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
