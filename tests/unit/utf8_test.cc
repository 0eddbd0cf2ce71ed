// The UTF-8 and size contract (agent/base/utf8.h): what every exit of the process relies on.
#include "agent/base/utf8.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "agent/base/logging.h"
#include "agent/base/strings.h"

namespace gatewatch {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8Test, ValidityTable) {
  struct Case {
    std::string s;
    bool valid;
  } cases[] = {
      {"", true},
      {"plain ascii", true},
      {std::string("nul\0inside", 10), true},
      {"caf\xC3\xA9", true},        // é
      {"\xE2\x82\xAC", true},       // €
      {"\xF0\x9F\x98\x80", true},   // U+1F600
      {"\xF4\x8F\xBF\xBF", true},   // U+10FFFF, the last code point
      {"\xEF\xBF\xBD", true},       // U+FFFD itself
      {"\xff", false},              // never a UTF-8 byte
      {"\xC3", false},              // cut é
      {"caf\xC3", false},           // cut é at the end
      {"\xE2\x82", false},          // truncated 3-byte sequence
      {"\x80", false},              // stray continuation
      {"\xC0\xAF", false},          // overlong '/'
      {"\xC1\xBF", false},          // overlong
      {"\xE0\x80\xAF", false},      // overlong 3-byte '/'
      {"\xF0\x80\x80\xAF", false},  // overlong 4-byte '/'
      {"\xED\xA0\x80", false},      // UTF-16 surrogate U+D800
      {"\xED\xBF\xBF", false},      // surrogate U+DFFF
      {"\xF4\x90\x80\x80", false},  // above U+10FFFF
      {"\xF5\x80\x80\x80", false},  // lead byte beyond the range
      {"\xC3\xA9\xC3", false},      // valid then cut
  };
  for (const Case& c : cases) EXPECT_EQ(IsValidUtf8(c.s), c.valid) << testing::PrintToString(c.s);
}

TEST(Utf8Test, InvalidSequencesBecomeOneReplacementPerMaximalSubpart) {
  struct Case {
    std::string in;
    std::string want;
  } cases[] = {
      {"ok", "ok"},
      {"a\xff"
       "b",
       "a" + kFffd + "b"},
      {"caf\xC3", "caf" + kFffd},  // cut é
      {"\xC3"
       "x",
       kFffd + "x"},  // cut é before ASCII
      {"\xE2\x82"
       "x",
       kFffd + "x"},                                        // one U+FFFD for both bytes
      {"\xC0\xAF", kFffd + kFffd},                          // C0 is never valid
      {"\xE0\x80\xAF", kFffd + kFffd + kFffd},              // overlong: E0 then 80 then AF
      {"\xED\xA0\x80", kFffd + kFffd + kFffd},              // surrogate
      {"\xF4\x90\x80\x80", kFffd + kFffd + kFffd + kFffd},  // above U+10FFFF
      {std::string("a\0b", 3), std::string("a\0b", 3)},     // NUL is valid UTF-8: kept
      {"\xC3\xA9\xE2\x82\xAC", "\xC3\xA9\xE2\x82\xAC"},     // valid multibyte untouched
  };
  for (const Case& c : cases) {
    std::string got = SanitizeUtf8(c.in, 1000);
    EXPECT_EQ(got, c.want) << testing::PrintToString(c.in);
    EXPECT_TRUE(IsValidUtf8(got));
  }
}

TEST(Utf8Test, CutsOnlyOnCharacterBoundariesWithinTheCap) {
  // "é" is two bytes: a cap that falls inside one drops the whole character.
  std::string e10;
  for (int i = 0; i < 10; ++i) e10 += "\xC3\xA9";
  for (size_t cap = 3; cap <= 25; ++cap) {
    std::string got = SanitizeUtf8(e10, cap);
    EXPECT_LE(got.size(), cap) << cap;
    EXPECT_TRUE(IsValidUtf8(got)) << cap;
    if (cap >= e10.size()) {
      EXPECT_EQ(got, e10);
    } else {
      EXPECT_EQ(got.substr(got.size() - 3), "...") << cap;
    }
  }
  EXPECT_EQ(SanitizeUtf8("abcdef", 5), "ab...");
  EXPECT_EQ(SanitizeUtf8("abcde", 5), "abcde");
  EXPECT_EQ(SanitizeUtf8("abcdef", 2), "ab");  // no room for the ellipsis: cut only
  // A replacement character counts with its three bytes.
  EXPECT_EQ(SanitizeUtf8("\xff\xff\xff", 8), kFffd + "...");
  EXPECT_EQ(SanitizedUtf8Prefix("ab\xC3\xA9", 3), "ab");
  bool cut = false;
  EXPECT_EQ(SanitizedUtf8Prefix("a\xff", 10, &cut), "a" + kFffd);
  EXPECT_FALSE(cut);
}

TEST(Utf8Test, OneMebibyteOfGarbageComesOutValidAndCapped) {
  std::mt19937 rng(42);
  std::string garbage(1 << 20, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  ASSERT_FALSE(IsValidUtf8(garbage));
  for (size_t cap : {kMaxLabelValueBytes, kMaxDetailBytes, kMaxLogFieldBytes, size_t{1} << 22}) {
    std::string got = SanitizeUtf8(garbage, cap);
    EXPECT_LE(got.size(), cap);
    EXPECT_TRUE(IsValidUtf8(got)) << cap;
  }
  // Every single byte value, alone and after a lead byte, comes out valid.
  for (int b = 0; b < 256; ++b) {
    for (std::string lead : {"", "\xC3", "\xE2\x82", "\xF0\x9F\x98"}) {
      std::string in = lead + static_cast<char>(b);
      EXPECT_TRUE(IsValidUtf8(SanitizeUtf8(in, 16))) << testing::PrintToString(in);
    }
  }
}

TEST(Utf8Test, ShortenAndPrintableNeverEmitInvalidUtf8) {
  // The details of every check go through these: a cut é or \xff from a target must not survive.
  EXPECT_EQ(Shorten("ab\xC3\xA9z", 3), "ab...");
  EXPECT_EQ(Shorten("\xff", 10), kFffd);
  EXPECT_EQ(Printable("etag \xC3", 80), "etag " + kFffd);
  EXPECT_TRUE(IsValidUtf8(QuoteForDetail(std::string(1000, '\xff'))));
  EXPECT_LE(QuoteForDetail(std::string(1000, '\xff')).size(), 80u + 5);
}

TEST(Utf8Test, LogLinesAreValidUtf8AndBoundedInBothFormats) {
  std::string garbage = "\xff cut \xC3 " + std::string(1 << 20, '\xfe');
  for (LogFormat format : {LogFormat::kLogfmt, LogFormat::kJson}) {
    SetLogFormat(format);
    testing::internal::CaptureStderr();
    Log(LogLevel::kWarn, "bad \xC3", {{"detail", garbage}, {"etag", "\"\xC3\""}});
    std::string line = testing::internal::GetCapturedStderr();
    EXPECT_TRUE(IsValidUtf8(line)) << line.substr(0, 200);
    EXPECT_LT(line.size(), 4 * kMaxLogFieldBytes);
    EXPECT_NE(line.find("\xEF\xBF\xBD"), std::string::npos) << line.substr(0, 200);
  }
  SetLogFormat(LogFormat::kLogfmt);
}

}  // namespace
}  // namespace gatewatch
