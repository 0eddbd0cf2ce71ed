// What an http check expects of the final response (status, headers, body) and the pure
// evaluation of one transfer's outcome against it: the Result and its Reason (a 502 from the
// proxy, a transport failure, a header or body mismatch). No I/O: table-tested in
// tests/unit/http_expect_test.cc.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/base/config_node.h"
#include "checks/api/http_status.h"
#include "checks/api/result.h"
#include "checks/http_transfer.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace gatewatch {

// Bytes of a body (or of one header value) a regex looks at: the first 8 MiB. RE2 matches in
// time linear in the input (measured here: under 20 ms per MiB even for patterns that take glibc
// regexec seconds), so the cap bounds how long one expectation can hold the loop thread.
inline constexpr size_t kMaxRegexInput = 8u << 20;

// A compiled RE2 pattern, searched unanchored over bytes (Latin-1 mode: `.` is one byte, so bodies
// that are not UTF-8, or hold NUL bytes, are searched byte for byte as glibc did in the C locale).
// RE2 guarantees linear time; patterns it cannot promise that for (backreferences, lookaround)
// are rejected at load. Search() reads at most kMaxRegexInput bytes of `text`.
// Thread-safety: Search() may be called concurrently (RE2's const methods are thread-safe).
class LinearRegex {
 public:
  // Returns null and sets *error (RE2's text, plus a hint for backreferences) if `pattern` does
  // not compile.
  static std::unique_ptr<LinearRegex> Compile(const std::string& pattern, std::string* error);
  ~LinearRegex();
  LinearRegex(const LinearRegex&) = delete;
  LinearRegex& operator=(const LinearRegex&) = delete;

  bool Search(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  explicit LinearRegex(std::string pattern);  // out of line: RE2 is incomplete here
  std::string pattern_;
  std::unique_ptr<re2::RE2> re_;
};

// The set of acceptable final statuses: exact codes and whole classes.
class StatusExpectation {
 public:
  // Adds a StatusSpec ("200" or "2xx"/"2XX"); returns false on anything else.
  bool Add(std::string_view item);
  bool Matches(long status) const;
  bool empty() const { return specs_.empty(); }
  // "200, 2xx" in the order given, for details.
  std::string ToString() const { return text_; }

 private:
  std::vector<StatusSpec> specs_;
  std::string text_;
};

struct HeaderExpectation {
  std::string name;  // as configured; compared case-insensitively
  std::unique_ptr<LinearRegex> value;
};

// The `expect:` block of an http check, validated at load. Immutable once parsed.
struct HttpExpectations {
  StatusExpectation expect_status;
  std::unique_ptr<LinearRegex> body_regex;
  std::unique_ptr<LinearRegex> body_not_regex;
  std::vector<HeaderExpectation> expect_headers;

  // The body is kept (up to body_limit) only when an assertion reads it; otherwise only counted.
  bool keeps_body() const { return body_regex != nullptr || body_not_regex != nullptr; }
};

// Reads `expect` (the check entry's `expect` child; undefined means status ["2xx"]) into `out`.
// `head`: the request is HEAD, so a body assertion is a config error. Throws ConfigError naming
// the exact path; rejects unknown keys inside `expect`.
void ParseHttpExpect(const ConfigNode& expect, bool head, HttpExpectations& out);

// The Result of one finished transfer (outcome.started) of `request` against `expect`, checked in
// this order: transport failure (a too-large body with an unexpected status counts as the status),
// status, headers (in config order), body_regex, body_not_regex. Success carries "HTTP 200 from
// URL (address) in N ms". No observations or report lines: see checks/http_report.h.
Result EvaluateHttpOutcome(const HttpExpectations& expect, const HttpRequest& request,
                           const HttpOutcome& outcome);

}  // namespace gatewatch
