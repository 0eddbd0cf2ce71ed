#include "agent/base/logging.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "agent/base/utf8.h"

namespace gatewatch {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<LogFormat> g_format{LogFormat::kLogfmt};
std::mutex g_mu;

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// Values may quote targets or logs: every string is made valid UTF-8 of at most
// kMaxLogFieldBytes first (agent/base/utf8.h), so a line is always valid UTF-8 and bounded.
void AppendJsonString(std::string& out, std::string_view raw) {
  std::string s = SanitizeUtf8(raw, kMaxLogFieldBytes);
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void AppendLogfmtValue(std::string& out, std::string_view s) {
  bool quote = s.empty() || s.size() > kMaxLogFieldBytes;
  for (unsigned char c : s) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\') quote = true;
  }
  // Invalid UTF-8 goes through AppendJsonString's sanitizing.
  if (!quote && !IsValidUtf8(s)) quote = true;
  if (!quote) {
    out += s;
    return;
  }
  AppendJsonString(out, s);  // logfmt quoting uses the same escapes
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

}  // namespace

bool ParseLogLevel(std::string_view name, LogLevel* level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (LevelName(l) == name) {
      *level = l;
      return true;
    }
  }
  return false;
}

bool ParseLogFormat(std::string_view name, LogFormat* format) {
  if (name == "logfmt")
    *format = LogFormat::kLogfmt;
  else if (name == "json")
    *format = LogFormat::kJson;
  else
    return false;
  return true;
}

void SetLogLevel(LogLevel level) { g_level = level; }
void SetLogFormat(LogFormat format) { g_format = format; }
bool LogEnabled(LogLevel level) { return level >= g_level.load(); }

void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  if (!LogEnabled(level)) return;
  std::string line;
  line.reserve(128);
  if (g_format == LogFormat::kJson) {
    line += "{\"ts\":\"" + Timestamp() + "\",\"level\":\"";
    line += LevelName(level);
    line += "\",\"msg\":";
    AppendJsonString(line, message);
    for (const auto& [key, value] : fields) {
      line += ',';
      AppendJsonString(line, key);
      line += ':';
      AppendJsonString(line, value);
    }
    line += "}\n";
  } else {
    line += "ts=" + Timestamp() + " level=";
    line += LevelName(level);
    line += " msg=";
    AppendLogfmtValue(line, message);
    for (const auto& [key, value] : fields) {
      line += ' ';
      line += key;
      line += '=';
      AppendLogfmtValue(line, value);
    }
    line += '\n';
  }
  std::lock_guard<std::mutex> lock(g_mu);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

namespace {

// "a=1&b&c=" -> "a=<redacted>&<redacted>&c=".
void AppendRedactedParams(std::string& out, std::string_view params) {
  while (true) {
    size_t amp = params.find('&');
    std::string_view param = params.substr(0, amp);
    size_t eq = param.find('=');
    if (eq == std::string_view::npos) {
      if (!param.empty()) out += "<redacted>";
    } else {
      out += param.substr(0, eq + 1);
      if (eq + 1 < param.size()) out += "<redacted>";
    }
    if (amp == std::string_view::npos) return;
    out += '&';
    params.remove_prefix(amp + 1);
  }
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  auto authority_start = scheme_end + 3;
  auto authority_end = url.find_first_of("/?#", authority_start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string out(url.substr(0, authority_start));
  auto at = url.rfind('@', authority_end - 1);
  bool userinfo = at != std::string_view::npos && at >= authority_start && at < authority_end;
  size_t host_start = userinfo ? at + 1 : authority_start;
  size_t query = url.find_first_of("?#", authority_end);
  out +=
      url.substr(host_start, (query == std::string_view::npos ? url.size() : query) - host_start);
  while (query != std::string_view::npos) {
    out += url[query];  // '?' or '#'
    size_t next = url[query] == '?' ? url.find('#', query + 1) : std::string_view::npos;
    AppendRedactedParams(
        out, url.substr(query + 1, next == std::string_view::npos ? std::string_view::npos
                                                                  : next - query - 1));
    query = next;
  }
  return out;
}

std::string RedactQueryValues(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t mark = text.find('?', pos);
    if (mark == std::string_view::npos) break;
    size_t end = text.find_first_of(" \t\"'<>", mark + 1);
    if (end == std::string_view::npos) end = text.size();
    out.append(text.substr(pos, mark + 1 - pos));
    AppendRedactedParams(out, text.substr(mark + 1, end - mark - 1));
    pos = end;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace gatewatch
