#include "agent/listen_address.h"

#include <gtest/gtest.h>

namespace gatewatch {
namespace {

struct Case {
  const char* text;
  bool ok;
  const char* host;  // as parsed
  int port;
  const char* local_host;  // LocalHost()
};

TEST(ParseListenAddress, Table) {
  const Case cases[] = {
      {":9142", true, "", 9142, "127.0.0.1"},
      {"0.0.0.0:9142", true, "0.0.0.0", 9142, "127.0.0.1"},
      {"127.0.0.1:0", true, "127.0.0.1", 0, "127.0.0.1"},
      {"10.1.2.3:80", true, "10.1.2.3", 80, "10.1.2.3"},
      {"localhost:65535", true, "localhost", 65535, "localhost"},
      {"[::1]:9142", true, "[::1]", 9142, "[::1]"},
      {"[::]:9142", true, "[::]", 9142, "[::1]"},
      {"[fe80::1]:1", true, "[fe80::1]", 1, "[fe80::1]"},
      {"", false, "", 0, ""},
      {"9142", false, "", 0, ""},
      {":", false, "", 0, ""},
      {"host:", false, "", 0, ""},
      {"host:65536", false, "", 0, ""},
      {"host:-1", false, "", 0, ""},
      {"host:12ab", false, "", 0, ""},
      {"host: 80", false, "", 0, ""},
      {"[::1]", false, "", 0, ""},
      {"[::1:9142", false, "", 0, ""},
      {"[::1]9142", false, "", 0, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto parsed = ParseListenAddress(c.text);
    ASSERT_EQ(parsed.has_value(), c.ok);
    if (!c.ok) continue;
    EXPECT_EQ(parsed->host, c.host);
    EXPECT_EQ(parsed->port, c.port);
    EXPECT_EQ(parsed->LocalHost(), c.local_host);
  }
}

}  // namespace
}  // namespace gatewatch
