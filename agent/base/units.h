// Units as configs and reports spell them: durations ("1m30s"), sizes ("64KiB"), milliseconds
// with three decimals for reports, and Prometheus names. Pure functions, no state.
#pragma once

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
// Milliseconds with three decimals ("12.345"), for report values such as connect_ms.
std::string FormatMillis(Duration d);

}  // namespace gatewatch
