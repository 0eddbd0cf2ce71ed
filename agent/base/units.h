// Units as configs and reports spell them: durations ("1m30s"), sizes ("64KiB"), milliseconds
// with three decimals for reports, and Prometheus names. Pure functions, no state.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/base/clock.h"

namespace gatewatch {

// Parses "500ms", "30s", "5m", "1h", "1h30m", "250us". Returns nullopt on anything else.
std::optional<Duration> ParseDuration(std::string_view text);
// Formats the way ParseDuration reads: "10s", "1m30s", "500ms".
std::string FormatDuration(Duration d);
// True for a valid Prometheus label name (and alert name): [a-zA-Z_][a-zA-Z0-9_]*.
bool IsPrometheusName(std::string_view name);
// Parses "65536", "64KiB", "1MiB", "10KB", "2MB". Returns nullopt on anything else.
std::optional<uint64_t> ParseBytes(std::string_view text);
// `v` with exactly `digits` decimals, rounded as printf's "%.*f" rounds ("0.850", "12.3"): the
// one home for fixed-point numbers in details and reports. Locale-independent.
std::string FormatFixed(double v, int digits);
// Milliseconds with `digits` decimals: "12.345" for report values such as connect_ms (3, the
// default), "12.3" in a detail such as "12.3 ms" (1).
std::string FormatMillis(Duration d, int digits = 3);
// `v` as printf's "%.*g" prints it with `precision` significant digits ("0.8", "1e-05"): for
// numbers a human wrote in a config (min_ratio, alert thresholds). Locale-independent.
std::string FormatGeneral(double v, int precision = 6);
// A 64-bit value as 16 lowercase hex digits ("00ab..."), as body and answer-set hashes are shown.
std::string FormatHex64(uint64_t v);
// A wall time in UTC with a strftime `format` (e.g. "%H:%M:%S"); at most 63 bytes.
std::string FormatUtc(std::chrono::system_clock::time_point t, const char* format);

}  // namespace gatewatch
