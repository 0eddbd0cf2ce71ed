// Structured logs on stderr, as logfmt (default) or JSON, one line per event.
//
//   Log(LogLevel::kInfo, "check failed", {{"check", name}, {"reason", "http_502"}});
//
// Thread-safety: safe from any thread (one mutex around the write).
// Never pass credentials: RedactUrl() strips URL userinfo and query values; callers apply it to
// URLs.
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

// The one place a URL is made fit to leave the process (details, reports, the status API, probe
// output, logs, alert text): userinfo dropped and every query or fragment value replaced, keys
// kept, since signed URLs and `?token=` carry secrets there:
//   "https://user:secret@host/x?token=abc&v=2#k=1" ->
//   "https://host/x?token=<redacted>&v=<redacted>#k=<redacted>"
// A parameter without '=' is replaced whole; an empty value stays empty. Text without "://" is
// returned unchanged.
std::string RedactUrl(std::string_view url);

// The same for free text that holds paths rather than URLs (nginx's "GET /x?token=abc HTTP/1.1",
// `upstream: "http://h/x?sig=..."`): every query's values replaced, keys kept; a query ends at
// whitespace, a quote or an angle bracket.
std::string RedactQueryValues(std::string_view text);

}  // namespace gatewatch
