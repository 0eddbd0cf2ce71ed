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
//   resolver: 10.0.0.53:53                ask this DNS server (ip[:port]) instead of the system's
//                                         resolv.conf (split horizon); Host and SNI unchanged
//   fanout: true                          resolve every A/AAAA and probe each address every run
//                                         (at most 32, the rest counted): one dead backend behind
//                                         a name fails the run, gatewatch_http_backend_up says
//                                         which
//
// The pure pieces (status matching, regexes) are declared here so the unit tests can reach them;
// the run itself lives in http_check.cc: resolve (c-ares) -> one HttpTransfer -> evaluate. Header
// collection, phase arithmetic and certificate dates are in checks/http_transfer.h.
#pragma once

#include <regex.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "checks/api/check_type.h"
#include "checks/http_transfer.h"

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
// The request part is what checks/http_transfer.h sends; the rest are the expectations.
struct HttpCheckConfig : HttpRequest {
  StatusExpectation expect_status;
  std::unique_ptr<PosixRegex> body_regex;
  std::unique_ptr<PosixRegex> body_not_regex;
  std::vector<HeaderExpectation> expect_headers;

  std::string resolver;  // "ip:port" (DnsResolver::ParseServer form); empty: the system resolver
  bool fanout = false;

  // The body is kept (up to body_limit) only when an assertion reads it; otherwise only counted.
  bool keeps_body() const { return body_regex != nullptr || body_not_regex != nullptr; }
};

// Sets url, redacted_url, https, host and port of `request` from an http(s) URL, parsed by curl's
// own parser. Returns false (and leaves `request` alone) for anything else.
bool SetRequestUrl(const std::string& url, HttpRequest& request);

// Reads the request keys (url, method, headers, host, follow_redirects, max_redirects, insecure,
// ca_file, body_limit) from a check entry `node` into `request`, for every check type that sends
// an HTTP request. Throws ConfigError naming the exact path; leaves unknown keys to the caller.
void ParseHttpRequest(const ConfigNode& node, HttpRequest& request);

// Reads the check's own keys from `node` (a check entry, e.g. path `checks[0]`). Throws
// ConfigError naming the exact path. Rejects unknown keys inside `expect`; the check-level unknown
// keys are left to the caller, as CheckFactory's contract says.
std::shared_ptr<const HttpCheckConfig> ParseHttpCheckConfig(const ConfigNode& node);

}  // namespace gatewatch
