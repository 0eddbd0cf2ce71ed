// agent/base/strings.h: the shortening every detail goes through keeps valid UTF-8 valid; the one
// host:port parser.
#include "agent/base/strings.h"

#include <gtest/gtest.h>

#include <string>

namespace gatewatch {
namespace {

TEST(StringsTest, Utf8SafePrefixNeverEndsInsideACharacter) {
  struct Case {
    std::string s;
    size_t max;
    size_t want;
  };
  const Case cases[] = {
      {"abcdef", 10, 6},                // short enough: whole
      {"abcdef", 3, 3},                 // ASCII: exact
      {"ab\xC3\xA9", 3, 2},             // "é" (2 bytes) would be cut after its lead byte
      {"ab\xC3\xA9", 4, 4},             // fits whole
      {"a\xE2\x82\xAC", 2, 1},          // "€" (3 bytes) cut after 1 of 3
      {"a\xE2\x82\xAC", 3, 1},          // cut after 2 of 3
      {"a\xF0\x9F\x98\x80", 4, 1},      // an emoji (4 bytes) cut after 3 of 4
      {"a\xF0\x9F\x98\x80z", 5, 5},     // fits whole
      {"x\x80\x80\x80\x80\x80", 5, 1},  // garbage continuation bytes: backs up at most 4
      {"", 0, 0},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Utf8SafePrefix(c.s, c.max), c.want) << c.s << " max " << c.max;
  }
}

TEST(StringsTest, ShortenMarksACutAndPrintableBlanksLineBreaks) {
  EXPECT_EQ(Shorten("abc", 3), "abc");
  EXPECT_EQ(Shorten("abcd", 3), "abc...");
  EXPECT_EQ(Shorten("ab\xC3\xA9z", 3), "ab...");
  EXPECT_EQ(Printable("a\r\nb\0c", 10), "a  b");  // the literal stops at NUL
  EXPECT_EQ(Printable(std::string("a\0b", 3), 10), "a b");
  EXPECT_EQ(QuoteForDetail("x\ny"), "\"x y\"");
  EXPECT_EQ(QuoteForDetail(std::string(100, 'a')), "\"" + std::string(80, 'a') + "...\"");
}

TEST(StringsTest, HostPortBracketsIpv6) {
  EXPECT_EQ(FormatHostPort("127.0.0.1", 80), "127.0.0.1:80");
  EXPECT_EQ(FormatHostPort("::1", 8443), "[::1]:8443");
}

TEST(StringsTest, ParseHostPortTable) {
  struct Case {
    std::string text;
    bool ok;
    std::string host;
    int port;
  };
  const Case cases[] = {
      {"10.0.0.2", true, "10.0.0.2", 53},  // no port: the default
      {"10.0.0.2:5301", true, "10.0.0.2", 5301},
      {"dns.example:853", true, "dns.example", 853},  // names pass: the caller checks the host
      {"[::1]", true, "::1", 53},
      {"[::1]:5301", true, "::1", 5301},
      {"[2606:4700::1111]:5353", true, "2606:4700::1111", 5353},
      {"::1", true, "::1", 53},                        // two colons, no brackets: a bare IPv6 host
      {"2001:db8::1:53", true, "2001:db8::1:53", 53},  // ...so a port needs brackets
      {"[10.0.0.2]:54", true, "10.0.0.2", 54},
      {"h:000053", false, "", 0},  // more than 5 digits
      {"h:0053", true, "h", 53},
      {"h:65535", true, "h", 65535},
      {"h:65536", false, "", 0},
      {"h:0", false, "", 0},
      {"h:", false, "", 0},
      {"h:5x", false, "", 0},
      {"h:-1", false, "", 0},
      {":53", false, "", 0},  // no host
      {"", false, "", 0},
      {"[]:53", false, "", 0},
      {"[::1", false, "", 0},     // unclosed bracket
      {"[::1]53", false, "", 0},  // text after ] that is not :port
      {"[::1]:", false, "", 0},
  };
  for (const Case& c : cases) {
    auto got = ParseHostPort(c.text, 53);
    ASSERT_EQ(got.has_value(), c.ok) << c.text;
    if (!got) continue;
    EXPECT_EQ(got->host, c.host) << c.text;
    EXPECT_EQ(got->port, c.port) << c.text;
  }
  EXPECT_EQ(ParseHostPort("example.test", 443)->port, 443);
}

}  // namespace
}  // namespace gatewatch
