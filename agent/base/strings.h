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

// "ip:port", or "[ip6]:port".
std::string FormatHostPort(const std::string& ip, long port);

}  // namespace gatewatch
