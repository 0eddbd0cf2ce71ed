// The UTF-8 and size contract of everything that leaves the process (docs/architecture.md,
// "Hostile bytes"): status JSON, /metrics label values, log lines and alert text carry only valid
// UTF-8 of bounded size, whatever bytes a target, a log file or the wire gave us.
//
// This is the one place that enforces it: every exit (the series store, the status JSON, the
// logger, alert text) passes its strings through SanitizeUtf8 / AppendSanitizedUtf8.
//
// - An invalid sequence (a stray continuation byte, \xff, an overlong encoding such as C0 AF, a
//   UTF-16 surrogate ED A0 80, a code point above U+10FFFF, a sequence cut short) becomes U+FFFD,
//   one per maximal invalid subpart as Unicode recommends (so "\xe2\x82" is one U+FFFD, not two).
// - A text longer than `max_bytes` is cut on a character boundary and "..." appended, the whole
//   staying within `max_bytes` (for max_bytes >= 3).
// - Everything else (NUL and control characters included: they are valid UTF-8) is kept; callers
//   that need one printable line (details) use Printable() from strings.h, which applies this too.
//
// Pure functions, thread-safe. Valid ASCII input is copied in one pass.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gatewatch {

// Caps of the contract, in bytes (docs/architecture.md):
inline constexpr size_t kMaxLabelValueBytes = 256;  // a label value taken from a target or log
inline constexpr size_t kMaxDetailBytes = 1024;     // a status detail, a report value, alert text
inline constexpr size_t kMaxLogFieldBytes = 4096;   // one field (or the message) of a log line

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points above U+10FFFF).
bool IsValidUtf8(std::string_view s);

// `in` as valid UTF-8 of at most `max_bytes` bytes (see the header comment).
std::string SanitizeUtf8(std::string_view in, size_t max_bytes);

// Appends SanitizeUtf8(in, max_bytes) to `out` without a temporary.
void AppendSanitizedUtf8(std::string& out, std::string_view in, size_t max_bytes);

// The sanitized characters of `in` that fit whole in `max_bytes` bytes, without an ellipsis;
// *cut (if given) says whether anything was left out. For callers with their own cut marker.
std::string SanitizedUtf8Prefix(std::string_view in, size_t max_bytes, bool* cut = nullptr);

}  // namespace gatewatch
