// RFC 3164 messages as nginx 1.22 sends them (captured from a real nginx with
// `access_log syslog:server=...` and `error_log syslog:server=...`), its variants (nohostname,
// the empty hostname it sends before it knows its name, tag=, a pid) and hostile bytes.
#include "checks/syslog_message.h"

#include <gtest/gtest.h>

#include <string>

namespace gatewatch {
namespace {

struct Case {
  std::string datagram;
  bool ok;
  int facility = 0, severity = 0;
  const char* hostname = "";
  const char* tag = "";
  std::string content = "";
};

TEST(SyslogMessageTest, ParsesWhatNginxSendsAndRefusesTheRest) {
  const std::string access =
      "127.0.0.1 - - [07/Dec/2026:01:54:46 +0000] \"GET /ok HTTP/1.1\" 200 2 \"-\" "
      "\"curl/7.88.1\"";
  const std::string error =
      "2026/12/07 01:54:46 [error] 23255#23255: *2 connect() failed (111: Connection refused) "
      "while connecting to upstream, client: 127.0.0.1, server: , request: \"GET /x HTTP/1.1\", "
      "upstream: \"http://127.0.0.1:47516/x\", host: \"127.0.0.1:47515\"";
  const Case cases[] = {
      {"<190>Dec  7 01:54:46 vm nginx: " + access, true, 23, 6, "vm", "nginx", access},
      {"<187>Dec  7 01:54:46 vm nginx: " + error, true, 23, 3, "vm", "nginx", error},
      // Before nginx knows its host name (startup notices): an empty one, two blanks.
      {"<189>Dec  7 01:54:46  nginx: 2026/12/07 01:54:46 [notice] 1#1: nginx/1.22.1", true, 23, 5,
       "", "nginx", "2026/12/07 01:54:46 [notice] 1#1: nginx/1.22.1"},
      // nohostname, facility and tag chosen in nginx's parameters, a pid, a trailing newline.
      {"<134>Nov 25 02:10:01 edge_access: " + access, true, 16, 6, "", "edge_access", access},
      {"<14>Nov 25 02:10:01 web-1.example.com app[4242]: hello\n", true, 1, 6, "web-1.example.com",
       "app", "hello"},
      {"<0>Jan  1 00:00:00 h t:", true, 0, 0, "h", "t", ""},
      {"<191>Dec 31 23:59:59 h t: x", true, 23, 7, "h", "t", "x"},
      // The content keeps any bytes (labels are sanitized later, lines are parsed as bytes).
      {"<190>Dec  7 01:54:46 vm nginx: \xff\xfe\x80 \"bad\"", true, 23, 6, "vm", "nginx",
       "\xff\xfe\x80 \"bad\""},
      // Not RFC 3164.
      {"", false},
      {"<", false},
      {"<>Dec  7 01:54:46 vm nginx: x", false},
      {"<192>Dec  7 01:54:46 vm nginx: x", false},
      {"<1900>Dec  7 01:54:46 vm nginx: x", false},
      {"<019>Dec  7 01:54:46 vm nginx: x", false},
      {"<19x>Dec  7 01:54:46 vm nginx: x", false},
      {"190>Dec  7 01:54:46 vm nginx: x", false},
      {"<190>Foo  7 01:54:46 vm nginx: x", false},
      {"<190>Dec 32 01:54:46 vm nginx: x", false},
      {"<190>Dec  0 01:54:46 vm nginx: x", false},
      {"<190>Dec  7 24:54:46 vm nginx: x", false},
      {"<190>Dec  7 01:64:46 vm nginx: x", false},
      {"<190>Dec  7 01:54:46", false},
      {"<190>Dec  7 01:54:46 vm nginx x", false},                          // no ':' after the tag
      {"<190>Dec  7 01:54:46 vm " + std::string(33, 't') + ": x", false},  // tag over 32
      {"<190>Dec  7 01:54:46 vm ngi\"nx: x", false},
      {"<190>Dec  7 01:54:46 vm nginx[12x]: x", false},
      {"<190>2026-12-07T01:54:46Z vm nginx - - - x", false},  // RFC 5424
      {std::string("<190>Dec  7 01:54:46 vm\0nginx: x", 32), false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.datagram);
    auto m = ParseRfc3164(c.datagram);
    ASSERT_EQ(m.has_value(), c.ok);
    if (!m) continue;
    EXPECT_EQ(m->facility, c.facility);
    EXPECT_EQ(m->severity, c.severity);
    EXPECT_EQ(m->hostname, c.hostname);
    EXPECT_EQ(m->tag, c.tag);
    EXPECT_EQ(m->content, c.content);
  }
}

TEST(SyslogMessageTest, TellsErrorLinesFromAccessLines) {
  EXPECT_TRUE(IsNginxErrorLine("2026/12/07 01:54:46 [error] 1#1: *2 connect() failed"));
  EXPECT_TRUE(IsNginxErrorLine("2026/12/07 01:54:46 [notice] 1#1: exit"));
  EXPECT_FALSE(IsNginxErrorLine("127.0.0.1 - - [07/Dec/2026:01:54:46 +0000] \"GET / HTTP/1.1\""));
  EXPECT_FALSE(IsNginxErrorLine("{\"time\":\"2026-12-07T01:54:46+00:00\",\"status\":200}"));
  EXPECT_FALSE(IsNginxErrorLine("2026-12-07T01:54:46+00:00 200 0.001 - - - \"curl\""));
  EXPECT_FALSE(IsNginxErrorLine("2026/12/07 01:54:46"));
  EXPECT_FALSE(IsNginxErrorLine(""));
}

}  // namespace
}  // namespace gatewatch
