// The "http" check: one request through the loop's CurlMulti (after resolving the host on the
// loop's DnsResolver), turned into a Result whose Reason says why it failed: a 502 from the
// proxy, a refused or timed-out connect, a TLS problem, a body or header assertion.
//
// Config (the check's own keys; errors name their exact path, e.g. `checks[0].url: ...`):
//   url: http://127.0.0.1:8080/healthz   required; http or https; userinfo is sent as basic auth
//                                         but never logged or reported
//   method: GET                           GET or HEAD (HEAD sends no body and reads none)
//   headers: {X-Probe: gatewatch}         extra request headers
//   host: api.internal                    Host header override (SNI and certificate checks still
//                                         use the URL host)
//   expect:
//     status: [200, "2xx"]                codes 100-599 and classes "1xx".."5xx"; default ["2xx"]
//     body_regex: "ok"                    POSIX ERE that must match somewhere in the body
//     body_not_regex: "error"             POSIX ERE that must not match
//     headers: {Content-Type: "json"}     name case-insensitive; the ERE must match some value
//   follow_redirects: true                default true
//   max_redirects: 10                     0..50, default 10
//   insecure: false                       true disables certificate verification
//   ca_file: /path/ca.pem                 CA bundle for verification
//   body_limit: 64KiB                     0..64MiB; a longer body fails with body_too_large
//
// The pure pieces (status matching, header collection, phase arithmetic, certificate dates) are
// declared here so the unit tests can reach them; the run itself lives in http_check.cc.
#pragma once

#include <regex.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "checks/check.h"

namespace gatewatch {

// The "http" check type: name, factory and every metric it reports. Registered by
// checks/check_types.cc.
CheckType HttpCheckType();

// A compiled POSIX extended regular expression (REG_EXTENDED | REG_NOSUB). Searches are
// unanchored and bounded by the view's length (REG_STARTEND), so bodies may hold NUL bytes.
// Thread-safety: Search() may be called concurrently (glibc regexec locks internally).
class PosixRegex {
 public:
  // Returns null and sets *error (regerror's text) if `pattern` does not compile.
  static std::unique_ptr<PosixRegex> Compile(const std::string& pattern, std::string* error);
  ~PosixRegex();
  PosixRegex(const PosixRegex&) = delete;
  PosixRegex& operator=(const PosixRegex&) = delete;

  bool Search(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  explicit PosixRegex(std::string pattern) : pattern_(std::move(pattern)) {}
  std::string pattern_;
  regex_t re_{};
  bool compiled_ = false;
};

// The set of acceptable final statuses: exact codes and whole classes.
class StatusExpectation {
 public:
  // Parses "200" (100..599) or "2xx"/"2XX" (1..5); returns false on anything else.
  bool Add(std::string_view item);
  bool Matches(long status) const;
  bool empty() const { return codes_.empty() && classes_ == 0; }
  // "200, 2xx" in the order given, for details.
  std::string ToString() const { return text_; }

 private:
  std::vector<long> codes_;
  unsigned classes_ = 0;  // bit n set = class "nxx" accepted
  std::string text_;
};

struct HeaderExpectation {
  std::string name;  // as configured; compared case-insensitively
  std::unique_ptr<PosixRegex> value;
};

// One http check's settings, validated at load. Immutable and shared by every run of the check.
struct HttpCheckConfig {
  std::string url;           // as configured: may hold credentials, give it only to curl
  std::string redacted_url;  // for details, reports and logs
  bool https = false;
  std::string host;  // URL host, without IPv6 brackets
  long port = 0;     // explicit or the scheme's default
  bool head = false;
  std::vector<std::string> request_headers;  // "Name: value" lines, including a Host override
  StatusExpectation expect_status;
  std::unique_ptr<PosixRegex> body_regex;
  std::unique_ptr<PosixRegex> body_not_regex;
  std::vector<HeaderExpectation> expect_headers;
  bool follow_redirects = true;
  long max_redirects = 10;
  bool insecure = false;
  std::string ca_file;
  uint64_t body_limit = 64 * 1024;

  // The body is kept (up to body_limit) only when an assertion reads it; otherwise only counted.
  bool keeps_body() const { return body_regex != nullptr || body_not_regex != nullptr; }
};

// Reads the check's own keys from `node` (a check entry, e.g. path `checks[0]`). Throws
// ConfigError naming the exact path. Rejects unknown keys inside `expect`; the check-level unknown
// keys are left to the caller, as CheckFactory's contract says.
std::shared_ptr<const HttpCheckConfig> ParseHttpCheckConfig(const ConfigNode& node);

// Headers of the final response. Fed every line curl's header callback sees; a new status line
// ("HTTP/...") starts over, so 1xx and redirect responses are forgotten. Stores at most
// kMaxStoredBytes of header lines (the rest are counted, not kept).
class ResponseHeaders {
 public:
  static constexpr size_t kMaxStoredBytes = 64 * 1024;

  void OnLine(std::string_view line);
  // Values of every field named `name` (case-insensitive), in order of arrival.
  std::vector<std::string_view> Values(std::string_view name) const;
  bool truncated() const { return truncated_; }
  size_t size() const { return fields_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
  size_t stored_bytes_ = 0;
  bool truncated_ = false;
};

// libcurl's cumulative milestones in microseconds from the start of the transfer
// (CURLINFO_*_TIME_T); 0 means "not reached".
struct CurlTimesUs {
  int64_t namelookup = 0;
  int64_t connect = 0;
  int64_t appconnect = 0;
  int64_t pretransfer = 0;
  int64_t starttransfer = 0;
  int64_t total = 0;
};

struct HttpPhases {
  Duration resolve{};
  Duration connect{};
  Duration tls{};  // https only
  Duration processing{};
  Duration transfer{};
};

// Splits the milestones into phases. `own_resolve` is the c-ares time when the check resolved the
// name itself (curl's namelookup is then only a cache hit); otherwise curl's namelookup is the
// resolve phase. `tls` says whether the appconnect milestone exists. A milestone not reached ends
// where the next reached one does (or at `total`): the phase that failed or timed out gets the
// time spent in it, the phases after it get 0. Every phase is >= 0.
HttpPhases ComputePhases(const CurlTimesUs& times, bool tls, std::optional<Duration> own_resolve);

// Parses the value of curl's certinfo "Expire date" field as OpenSSL prints it
// ("Dec 24 13:00:03 2026 GMT") into Unix seconds. nullopt if it does not parse.
std::optional<int64_t> ParseCertTime(std::string_view text);

// Replaces any URL userinfo inside free text (curl's error messages) with nothing, so details
// never carry credentials.
std::string ScrubCredentials(std::string_view text);

}  // namespace gatewatch
