// agent/base/strings.h: the shortening every detail goes through keeps valid UTF-8 valid.
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

}  // namespace
}  // namespace gatewatch
