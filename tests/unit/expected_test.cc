#include "agent/base/expected.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <variant>

namespace gatewatch {
namespace {

Expected<int> Half(int n) {
  if (n % 2 != 0) return Error{"odd: " + std::to_string(n), 22};
  return n / 2;
}

TEST(ExpectedTest, HoldsAValueOrAnError) {
  struct Case {
    int in;
    bool ok;
    int value;
    std::string message;
    int code;
  };
  const Case cases[] = {
      {4, true, 2, "", 0},         {0, true, 0, "", 0},           {-6, true, -3, "", 0},
      {3, false, 0, "odd: 3", 22}, {-1, false, 0, "odd: -1", 22},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in);
    Expected<int> r = Half(c.in);
    EXPECT_EQ(r.ok(), c.ok);
    EXPECT_EQ(static_cast<bool>(r), c.ok);
    if (c.ok) {
      EXPECT_EQ(r.value(), c.value);
      EXPECT_EQ(*r, c.value);
      EXPECT_THROW(r.error(), std::bad_variant_access);
    } else {
      EXPECT_EQ(r.error().message, c.message);
      EXPECT_EQ(r.error().code, c.code);
      EXPECT_THROW(r.value(), std::bad_variant_access);
    }
  }
}

TEST(ExpectedTest, MovesAMoveOnlyValueOut) {
  Expected<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r);
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST(ExpectedTest, VoidCarriesOnlySuccessOrError) {
  Expected<void> good;
  EXPECT_TRUE(good.ok());
  Expected<void> bad = Error{"epoll_ctl add: Operation not permitted", 1};
  EXPECT_FALSE(bad);
  EXPECT_EQ(bad.error().code, 1);
  EXPECT_EQ(bad.error().message, "epoll_ctl add: Operation not permitted");
}

TEST(ExpectedTest, ErrnoErrorNamesTheCallAndKeepsErrno) {
  errno = ENOENT;
  Error e = ErrnoError("open /x");
  EXPECT_EQ(e.code, ENOENT);
  EXPECT_EQ(e.message, std::string("open /x: ") + std::strerror(ENOENT));
}

}  // namespace
}  // namespace gatewatch
