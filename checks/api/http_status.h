// One home for HTTP status codes as gatewatch speaks of them: status specs as users write them
// ("502" exact, "5xx" a class) in `expect.status` and in alerts, the Reason of a status (502, 503
// and 504 have their own), and the `code` label schemes of the response counters, which the
// generated alert rules must match. Pure: table-tested in tests/unit/http_status_test.cc.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "checks/api/reason.h"

namespace gatewatch {

// The gateway codes this agent exists for: their own Reasons, and exact series from the first run.
inline constexpr std::array<const char*, 3> kGatewayCodes = {"502", "503", "504"};

// "502" (a code 100..599) or "5xx" (a class 1..5; "5XX" accepted).
struct StatusSpec {
  int code = 0;        // set for an exact code
  int code_class = 0;  // 1..5 for a class, else 0

  // nullopt for anything else ("6xx", "099", "20x", "2000", "").
  static std::optional<StatusSpec> Parse(std::string_view text);
  bool is_class() const { return code_class != 0; }
  // A status code falls under the spec (never one outside 100..599).
  bool Matches(long status) const;
  // A `code` label ("502", "5xx", "none") counts under the spec: a class also takes the exact
  // labels of its codes.
  bool MatchesLabel(std::string_view label) const;
  // Normalized: "502" or "5xx".
  std::string ToString() const;
  // The PromQL regex matching its `code` labels: "502", or "5.." for a class.
  std::string LabelRegex() const;
};

// Reason for a final status that was not expected: 502, 503, 504 exactly, other 5xx, 4xx, and
// unexpected_status for everything else (1xx, 2xx, 3xx, or no valid status).
Reason ReasonForHttpStatus(long status);

// How a response counter labels codes.
enum class CodeLabelScheme {
  kGatewayExact,       // http_responses_total: 502, 503, 504 exact, other codes by class
  kServerErrorsExact,  // proxy_responses_total: every 5xx exact, other codes by class
};

// The bounded `code` label of `status` under `scheme`: exact or "1xx".."5xx", "none" when there
// was no valid status (0 or outside 100..599).
std::string StatusCodeLabel(long status, CodeLabelScheme scheme);

// Whether `scheme` labels the code `status` exactly (so an alert may name it).
bool LabelsExactly(long status, CodeLabelScheme scheme);

}  // namespace gatewatch
