#include "checks/syslog_message.h"

#include <array>

namespace gatewatch {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsTagChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_' || c == '.' ||
         c == '-';
}

// "Mmm dd hh:mm:ss": a month name, a day 1..31 padded with a blank or a zero, a time of day.
bool IsTimestamp(std::string_view t) {
  static constexpr std::array<std::string_view, 12> kMonths = {
      "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (t.size() != 15) return false;
  bool month = false;
  for (std::string_view m : kMonths) month = month || t.substr(0, 3) == m;
  if (!month || t[3] != ' ' || !(t[4] == ' ' || IsDigit(t[4])) || !IsDigit(t[5]) || t[6] != ' ') {
    return false;
  }
  int day = (t[4] == ' ' ? 0 : t[4] - '0') * 10 + (t[5] - '0');
  if (day < 1 || day > 31) return false;
  for (size_t i : {7, 8, 10, 11, 13, 14}) {
    if (!IsDigit(t[i])) return false;
  }
  return t[9] == ':' && t[12] == ':' && (t[7] - '0') * 10 + (t[8] - '0') < 24 && t[10] < '6' &&
         t[13] < '6';
}

// A tag with its optional "[pid]" and the ':' after it, at the start of `s`; returns the tag and
// sets *rest to what follows the ':'. nullopt when `s` does not start with one.
std::optional<std::string_view> Tag(std::string_view s, std::string_view* rest) {
  size_t n = 0;
  while (n < s.size() && n <= 32 && IsTagChar(s[n])) ++n;
  if (n == 0 || n > 32) return std::nullopt;
  std::string_view tag = s.substr(0, n);
  if (n < s.size() && s[n] == '[') {
    size_t close = s.find(']', n);
    if (close == std::string_view::npos || close - n > 11) return std::nullopt;
    for (size_t i = n + 1; i < close; ++i) {
      if (!IsDigit(s[i])) return std::nullopt;
    }
    n = close + 1;
  }
  if (n >= s.size() || s[n] != ':') return std::nullopt;
  *rest = s.substr(n + 1);
  return tag;
}

}  // namespace

std::optional<SyslogMessage> ParseRfc3164(std::string_view d) {
  SyslogMessage m;
  if (d.size() < 3 || d[0] != '<') return std::nullopt;
  size_t close = d.find('>');
  if (close == std::string_view::npos || close < 2 || close > 4) return std::nullopt;
  int pri = 0;
  for (size_t i = 1; i < close; ++i) {
    if (!IsDigit(d[i])) return std::nullopt;
    pri = pri * 10 + (d[i] - '0');
  }
  if (pri > 191 || (close > 2 && d[1] == '0')) return std::nullopt;
  m.facility = pri / 8;
  m.severity = pri % 8;
  std::string_view rest = d.substr(close + 1);
  if (!IsTimestamp(rest.substr(0, 15)) || rest.size() < 16 || rest[15] != ' ') {
    return std::nullopt;
  }
  rest.remove_prefix(16);
  std::string_view after;
  if (auto tag = Tag(rest, &after)) {  // no hostname
    m.tag = *tag;
  } else {
    size_t blank = rest.find(' ');
    if (blank == std::string_view::npos || blank > 255) return std::nullopt;
    m.hostname = rest.substr(0, blank);
    auto host_tag = Tag(rest.substr(blank + 1), &after);
    if (!host_tag) return std::nullopt;
    m.tag = *host_tag;
  }
  if (!after.empty() && after.front() == ' ') after.remove_prefix(1);
  while (!after.empty() && (after.back() == '\n' || after.back() == '\r')) after.remove_suffix(1);
  m.content = after;
  return m;
}

bool IsNginxErrorLine(std::string_view c) {
  // "2026/11/25 02:10:01 [" : ngx_cached_err_log_time, then the level in brackets.
  if (c.size() < 22) return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) {
    if (!IsDigit(c[i])) return false;
  }
  return c[4] == '/' && c[7] == '/' && c[10] == ' ' && c[13] == ':' && c[16] == ':' &&
         c[19] == ' ' && c[20] == '[';
}

}  // namespace gatewatch
