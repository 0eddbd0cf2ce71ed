#include "agent/timer_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace gatewatch {
namespace {

TEST(TimerQueueTest, RunsDueTimersInDeadlineOrder) {
  FakeClock clock;
  TimerQueue q;
  std::vector<int> ran;
  q.Add(clock.Now() + std::chrono::seconds(2), [&] { ran.push_back(2); });
  q.Add(clock.Now() + std::chrono::seconds(1), [&] { ran.push_back(1); });
  q.Add(clock.Now() + std::chrono::seconds(3), [&] { ran.push_back(3); });
  EXPECT_EQ(q.RunDue(clock.Now()), 0u);
  clock.Advance(std::chrono::seconds(2));
  EXPECT_EQ(q.RunDue(clock.Now()), 2u);
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_EQ(q.NextDue(), clock.Now() + std::chrono::seconds(1));
}

TEST(TimerQueueTest, CancelledTimerNeverRuns) {
  FakeClock clock;
  TimerQueue q;
  bool ran = false;
  TimerId id = q.Add(clock.Now(), [&] { ran = true; });
  EXPECT_TRUE(q.Cancel(id));
  EXPECT_FALSE(q.Cancel(id));
  q.RunDue(clock.Now());
  EXPECT_FALSE(ran);
  EXPECT_EQ(q.NextDue(), std::nullopt);
}

TEST(TimerQueueTest, CallbackMayAddDueTimerAndCancelOthers) {
  FakeClock clock;
  TimerQueue q;
  std::vector<int> ran;
  TimerId later = 0;
  q.Add(clock.Now(), [&] {
    ran.push_back(1);
    q.Add(clock.Now(), [&] { ran.push_back(2); });
    q.Cancel(later);
  });
  later = q.Add(clock.Now() + std::chrono::milliseconds(1), [&] { ran.push_back(3); });
  clock.Advance(std::chrono::milliseconds(1));
  q.RunDue(clock.Now());
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
  EXPECT_EQ(q.size(), 0u);
}

}  // namespace
}  // namespace gatewatch
