#include "agent/base/strings.h"

#include <strings.h>

#include "agent/base/utf8.h"

namespace gatewatch {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

size_t Utf8SafePrefix(std::string_view s, size_t max) {
  if (s.size() <= max) return s.size();
  size_t n = max;
  // Back up over continuation bytes (10xxxxxx) to the lead byte of the cut character, then drop
  // that character too: it does not fit whole.
  size_t back = 0;
  while (n > 0 && back < 4 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) {
    --n;
    ++back;
  }
  return n;
}

std::string Shorten(std::string_view s, size_t max) {
  // Target bytes reach details through here: invalid UTF-8 becomes U+FFFD (agent/base/utf8.h).
  bool cut = false;
  std::string out = SanitizedUtf8Prefix(s, max, &cut);
  if (cut) out += "...";
  return out;
}

std::string Printable(std::string_view s, size_t max) {
  std::string out = Shorten(s, max);
  for (char& c : out) {
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
  return out;
}

std::string QuoteForDetail(std::string_view s, size_t max) {
  return "\"" + Printable(s, max) + "\"";
}

std::string FormatHostPort(const std::string& ip, long port) {
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

std::optional<HostPort> ParseHostPort(std::string_view text, int default_port) {
  std::string_view host = text, port;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      has_port = true;
    }
  } else if (size_t colon = text.find(':'); colon != std::string_view::npos &&
                                            text.find(':', colon + 1) == std::string_view::npos) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    has_port = true;
  }
  if (host.empty()) return std::nullopt;
  HostPort out{std::string(host), default_port};
  if (!has_port) return out;
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos) {
    return std::nullopt;
  }
  int p = 0;
  for (char c : port) p = p * 10 + (c - '0');
  if (p < 1 || p > 65535) return std::nullopt;
  out.port = p;
  return out;
}

}  // namespace gatewatch
