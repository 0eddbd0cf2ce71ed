// Structured logs on stderr, as logfmt (default) or JSON, one line per event.
//
//   Log(LogLevel::kInfo, "check failed", {{"check", name}, {"reason", "http_502"}});
//
// Thread-safety: safe from any thread (one mutex around the write).
// Never pass credentials: RedactUrl() strips URL userinfo and is applied by callers to URLs.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace gatewatch {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kLogfmt, kJson };

// Returns false on an unknown name.
bool ParseLogLevel(std::string_view name, LogLevel* level);
bool ParseLogFormat(std::string_view name, LogFormat* format);
void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
bool LogEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string>;
void Log(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});

// "https://user:secret@host/x" -> "https://host/x". Anything unparsable is returned unchanged
// minus anything up to the last '@' before the first '/' after "://".
std::string RedactUrl(std::string_view url);

}  // namespace gatewatch
