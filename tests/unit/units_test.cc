// Number formatting for details and reports (agent/base/units.h): the one home of what used to
// be snprintf("%.3f"), "%.1f ms", "%g" and "%016llx" copies across checks and exporters. Each
// must print exactly what that printf printed, since details, reports and rule files show it.
#include "agent/base/units.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>

namespace gatewatch {
namespace {

std::string Printf(const char* format, double v, int digits) {
  char buf[512];
  std::snprintf(buf, sizeof buf, format, digits, v);
  return buf;
}

// Ties, values just around them, negatives, zero, big and tiny numbers.
const double kValues[] = {0.0,      -0.0,   0.85,      0.8,    0.95,    0.0005,  0.0015,
                          0.0025,   1.0005, 12.345,    12.35,  2.675,   -0.0004, -1.5,
                          0.123456, 1e-7,   123456789, 1e21,   1.0 / 3, 2.0 / 3, 0.5,
                          1.5,      2.5,    99.95,     1e-300, 1e300,   4.35,    0.125};

TEST(UnitsTest, FormatFixedPrintsWhatPrintfPrints) {
  for (double v : kValues) {
    for (int digits : {0, 1, 3, 6}) {
      EXPECT_EQ(FormatFixed(v, digits), Printf("%.*f", v, digits)) << v << " digits " << digits;
    }
  }
  EXPECT_EQ(FormatFixed(0.85, 3), "0.850");
  EXPECT_EQ(FormatFixed(std::numeric_limits<double>::max(), 3),
            Printf("%.*f", std::numeric_limits<double>::max(), 3));
}

TEST(UnitsTest, FormatGeneralPrintsWhatPrintfPrints) {
  for (double v : kValues) {
    for (int precision : {1, 3, 6}) {
      EXPECT_EQ(FormatGeneral(v, precision), Printf("%.*g", v, precision))
          << v << " precision " << precision;
    }
  }
  EXPECT_EQ(FormatGeneral(0.8), "0.8");
  EXPECT_EQ(FormatGeneral(1e-05), "1e-05");
}

TEST(UnitsTest, FormatMillis) {
  using std::chrono::microseconds;
  using std::chrono::nanoseconds;
  EXPECT_EQ(FormatMillis(microseconds(12345)), "12.345");
  EXPECT_EQ(FormatMillis(nanoseconds(1)), "0.000");
  EXPECT_EQ(FormatMillis(microseconds(12345), 1), "12.3");
  EXPECT_EQ(FormatMillis(std::chrono::seconds(2), 1), "2000.0");
  EXPECT_EQ(FormatMillis(Duration::zero(), 1), "0.0");
}

TEST(UnitsTest, FormatHex64IsSixteenLowercaseDigits) {
  struct Row {
    uint64_t v;
    const char* hex;
  } rows[] = {{0, "0000000000000000"},
              {0xab, "00000000000000ab"},
              {0xcbf29ce484222325ULL, "cbf29ce484222325"},
              {~0ULL, "ffffffffffffffff"}};
  for (const Row& row : rows) EXPECT_EQ(FormatHex64(row.v), row.hex);
}

}  // namespace
}  // namespace gatewatch

namespace gatewatch {
namespace {

TEST(FormatUtcTest, FormatsWallTimeInUtc) {
  auto t = std::chrono::system_clock::from_time_t(1796614932);  // 2026-12-07T03:42:12Z
  EXPECT_EQ(FormatUtc(t, "%Y-%m-%dT%H:%M:%SZ"), "2026-12-07T03:42:12Z");
  EXPECT_EQ(FormatUtc(t, "%H:%M:%S"), "03:42:12");
}

}  // namespace
}  // namespace gatewatch
