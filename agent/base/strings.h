// String helpers shared by every layer: ASCII case folding, trimming, host:port formatting.
// Pure functions, no state, no allocation beyond their result.
#pragma once

#include <optional>
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

// `s` cut to at most `max` bytes (at a character boundary), "..." appended when it was cut;
// invalid UTF-8 replaced by U+FFFD (SanitizedUtf8Prefix, agent/base/utf8.h), so the result is
// always valid UTF-8 whatever the target sent.
std::string Shorten(std::string_view s, size_t max);

// `s` as one readable line of a detail or report: CR, LF and NUL become blanks, cut as Shorten.
std::string Printable(std::string_view s, size_t max);

// Printable(s, max) in double quotes, for values inside a detail ("status \"ok\" does not match").
std::string QuoteForDetail(std::string_view s, size_t max = 80);

// "ip:port", or "[ip6]:port".
std::string FormatHostPort(const std::string& ip, long port);

struct HostPort {
  std::string host;  // without brackets: "::1", "10.0.0.2", "dns.example"
  int port = 0;
};

// The one host:port parser: "host", "host:port", "[v6]" and "[v6]:port"; a text with two or more
// colons and no brackets is taken as a bare IPv6 host ("::1"). The port is 1-65535 in at most 5
// digits, `default_port` when absent. nullopt for an empty host, an empty or bad port, or text
// after "]" that is not ":port". The host itself is not checked (callers want an IP, a name...).
std::optional<HostPort> ParseHostPort(std::string_view text, int default_port);

}  // namespace gatewatch
