// The status page a person reads at 3 a.m.: server-rendered HTML, no JavaScript, no external
// assets (inline CSS), readable on a phone; refreshes itself with a meta refresh. Pure functions
// of copies taken from the HistoryStore, so tests render them without a server.
//
// Every string that came from a config, a target or a log is sanitised (agent/base/utf8.h) and
// HTML-escaped (HtmlEscape) before it is written.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "checks/api/reason.h"
#include "exporters/history.h"

namespace gatewatch {

// &, <, >, " and ' escaped; invalid UTF-8 replaced; at most `max_bytes` of input kept.
std::string HtmlEscape(std::string_view s, size_t max_bytes = 4096);

// A check name as a path segment: every byte but [A-Za-z0-9._~-] percent-encoded.
std::string UrlPathEscape(std::string_view s);

// Words for people (docs/reasons.md): "nothing listens on the port (connection refused)".
std::string_view ReasonWords(Reason r);
std::string_view CauseWords(Cause c);

// The status page's strips: the last hour, one slot a minute (HistoryStore::Strips).
inline constexpr int64_t kStripSpanMs = 3600 * 1000;
inline constexpr int kStripSlots = 60;
// At most this many ok checks are listed on "/" (failing ones always are): a page for a person,
// not for 10,000 checks; the rest are counted, and /api/v1/checks has them all.
inline constexpr size_t kMaxOkListed = 200;

// "/" : every check, failing ones first (then not run yet, then ok; by name within each).
std::string RenderStatusPage(const std::vector<CheckSummary>& checks,
                             const std::map<std::string, std::vector<Slot>>& strips,
                             int64_t now_ms);

// "/checks/{name}": state, state changes, strip, recent failures with their evidence.
std::string RenderCheckPage(const CheckHistory& h, int64_t now_ms);

}  // namespace gatewatch
