// The reason taxonomy: names are unique, round-trip, map to a cause, and each is documented.
#include "checks/api/reason.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace gatewatch {
namespace {

TEST(ReasonTest, NamesAreUniqueAndRoundTrip) {
  std::set<std::string_view> seen;
  for (int i = 0; i < kReasonCount; ++i) {
    auto r = static_cast<Reason>(i);
    auto name = ReasonName(r);
    EXPECT_TRUE(seen.insert(name).second) << "duplicate reason name " << name;
    EXPECT_EQ(ParseReason(name), r);
  }
  EXPECT_EQ(ParseReason("no_such_reason"), std::nullopt);
}

TEST(ReasonTest, OnlySuccessHasNoCause) {
  for (int i = 0; i < kReasonCount; ++i) {
    auto r = static_cast<Reason>(i);
    EXPECT_EQ(ReasonCause(r) == Cause::kNone, r == Reason::kNone) << ReasonName(r);
  }
  EXPECT_EQ(CauseName(ReasonCause(Reason::kConnectionRefused)), "upstream_down");
  EXPECT_EQ(CauseName(ReasonCause(Reason::kDnsServfail)), "dns");
  EXPECT_EQ(CauseName(ReasonCause(Reason::kConnectTimeout)), "overloaded");
  // A log gatewatch cannot read is the operator's to fix, not a gatewatch bug.
  EXPECT_EQ(CauseName(ReasonCause(Reason::kLogUnreadable)), "misconfiguration");
}

TEST(ReasonTest, EveryReasonIsDocumentedWithItsCause) {
  std::ifstream in(std::string(GATEWATCH_SOURCE_DIR) + "/docs/reasons.md");
  ASSERT_TRUE(in) << "docs/reasons.md missing";
  std::stringstream doc;
  doc << in.rdbuf();
  for (int i = 1; i < kReasonCount; ++i) {
    auto r = static_cast<Reason>(i);
    std::string row =
        "| `" + std::string(ReasonName(r)) + "` | " + std::string(CauseName(ReasonCause(r))) + " |";
    EXPECT_NE(doc.str().find(row), std::string::npos) << "docs/reasons.md lacks the row " << row;
  }
}

}  // namespace
}  // namespace gatewatch
