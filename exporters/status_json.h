// JSON of results: the one shape of a result shared by /api/v1/status (each check's last result)
// and `gatewatch probe --json`, and the status API's "checks" array built from the series store.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "checks/api/reason.h"
#include "checks/api/result.h"
#include "exporters/check_series.h"

namespace gatewatch {

// One result, as views into storage the caller keeps alive for the call.
struct ResultView {
  bool success = false;
  Reason reason = Reason::kNone;
  std::string_view detail;
  double duration_seconds = 0;
  std::span<const std::pair<std::string_view, std::string_view>> report;
};

// The result shape, every key always present:
//   "success": bool, "reason": string (ReasonName, "none" on success), "cause": string
//   (CauseName of the reason's cause), "detail": string, "duration_seconds": number,
//   "report": object of string to string (the report's facts; a repeated key keeps the last).
// Callers add what names the result ("name"/"type" in the status API, "url"/"check" in probe).
nlohmann::json ResultJson(const ResultView& result);
nlohmann::json ResultJson(const Result& result);

// One check of the status API: {"name", "type", "skipped_total"} and, once it has run, the
// ResultJson keys and "last_run_timestamp_seconds"; before the first run "success" is null.
nlohmann::json CheckStatusJson(const CheckStatus& status);

// Any thread: the /api/v1/status "checks" array, sorted by name.
nlohmann::json StatusJson(const CheckSeriesStore& store);

// `j` as text, never throwing on invalid UTF-8 (replaced by U+FFFD): the only way JSON leaves
// the process (/api/v1/status, `gatewatch probe --json`).
std::string DumpJson(const nlohmann::json& j, int indent = -1);

// Pure, for fuzzing and tests: the /api/v1/status "checks" array text after one `result` of
// `check` (any bytes in any string field). Always valid JSON in valid UTF-8; never throws.
std::string StatusTextOfResult(const CheckSpec& check, const Result& result, double wall_seconds);

}  // namespace gatewatch
