// Pure parser for syslog messages in RFC 3164's shape, as nginx sends them with
// `access_log syslog:server=...` / `error_log syslog:server=...`:
//
//   <190>Nov 25 02:10:01 web1 nginx: 127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] "GET / ..." 200 ...
//   <187>Nov 25 02:10:01 web1 nginx: 2026/11/25 02:10:01 [error] 42#42: *7 connect() failed ...
//
// (`nohostname` drops the host; before nginx knows its host name it sends an empty one, two
// blanks.) Apart from any I/O so it is table-tested (tests/unit/syslog_message_test.cc) and
// fuzzable: any bytes give a message or nullopt, never a crash, and views point into the input.
#pragma once

#include <optional>
#include <string_view>

namespace gatewatch {

struct SyslogMessage {
  int facility = 0;           // PRI / 8: 23 is local7, nginx's default
  int severity = 0;           // PRI % 8: 6 info (access lines), 3 err, 2 crit, 1 alert ...
  std::string_view hostname;  // empty with nohostname (or before nginx knows it)
  std::string_view tag;       // "nginx" by default; `tag=` in nginx's syslog parameters
  std::string_view content;   // the log line, without a trailing newline
};

// Parses one datagram: "<PRI>" (0..191), an RFC 3164 timestamp ("Mmm dd hh:mm:ss", day padded
// with a blank), an optional hostname, a tag of at most 32 characters ([A-Za-z0-9_.-], an
// optional "[pid]"), ":" and the content (one leading blank dropped). nullopt for anything else.
std::optional<SyslogMessage> ParseRfc3164(std::string_view datagram);

// Whether `content` has the shape of an nginx error.log line ("2026/11/25 02:10:01 [level] "),
// which tells it from an access log line when both logs go to one receiver.
bool IsNginxErrorLine(std::string_view content);

}  // namespace gatewatch
