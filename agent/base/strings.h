// String helpers shared by every layer: ASCII case folding, trimming, host:port formatting.
// Pure functions, no state, no allocation beyond their result.
#pragma once

#include <string>
#include <string_view>

namespace gatewatch {

// ASCII case-insensitive equality (header names, schemes).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// `s` without leading blanks and trailing blanks/CR/LF.
std::string_view TrimBlanks(std::string_view s);

// The longest prefix of `s` of at most `max` bytes that does not end inside a UTF-8 sequence, so
// shortening valid UTF-8 keeps it valid.
size_t Utf8SafePrefix(std::string_view s, size_t max);

// `s` cut to at most `max` bytes (at a character boundary), "..." appended when it was cut.
std::string Shorten(std::string_view s, size_t max);

// `s` as one readable line of a detail or report: CR, LF and NUL become blanks, cut as Shorten.
std::string Printable(std::string_view s, size_t max);

// Printable(s, max) in double quotes, for values inside a detail ("status \"ok\" does not match").
std::string QuoteForDetail(std::string_view s, size_t max = 80);

// "ip:port", or "[ip6]:port".
std::string FormatHostPort(const std::string& ip, long port);

}  // namespace gatewatch
