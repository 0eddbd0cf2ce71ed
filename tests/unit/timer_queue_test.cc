#include "agent/io/timer_queue.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/testlib/fake_clock.h"

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

TEST(TimerQueueTest, TimersDueAtTheSameTimeRunInTheOrderAdded) {
  FakeClock clock;
  TimerQueue q;
  std::vector<int> ran;
  for (int i = 0; i < 20; ++i) q.Add(clock.Now(), [&, i] { ran.push_back(i); });
  q.RunDue(clock.Now());
  ASSERT_EQ(ran.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ran[i], i);
}

// Slots are reused: an id that ran or was cancelled stays dead even when its slot holds a new
// timer, and cancelling it must not cancel the newcomer.
TEST(TimerQueueTest, AnOldIdNeverReachesTheTimerThatReusedItsSlot) {
  FakeClock clock;
  TimerQueue q;
  int ran_new = 0;
  TimerId old_id = q.Add(clock.Now() + std::chrono::seconds(1), [] {});
  ASSERT_TRUE(q.Cancel(old_id));
  TimerId new_id = q.Add(clock.Now() + std::chrono::seconds(2), [&] { ran_new++; });
  EXPECT_NE(new_id, old_id);
  EXPECT_FALSE(q.Cancel(old_id));
  EXPECT_EQ(q.size(), 1u);
  // The cancelled entry (due at 1 s) is still in the heap: it must not run the new callback.
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(q.RunDue(clock.Now()), 0u);
  EXPECT_EQ(q.NextDue(), clock.Now() + std::chrono::seconds(1));
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(q.RunDue(clock.Now()), 1u);
  EXPECT_EQ(ran_new, 1);
  EXPECT_FALSE(q.Cancel(new_id));
  EXPECT_FALSE(q.Cancel(0));
  EXPECT_FALSE(q.Cancel(TimerId{12345} << 32));  // a slot that never existed
}

TEST(TimerQueueTest, ACallbackCancellingItsOwnIdIsHarmless) {
  FakeClock clock;
  TimerQueue q;
  TimerId self = 0;
  bool cancelled = true;
  self = q.Add(clock.Now(), [&] { cancelled = q.Cancel(self); });
  EXPECT_EQ(q.RunDue(clock.Now()), 1u);
  EXPECT_FALSE(cancelled);
  EXPECT_EQ(q.size(), 0u);
}

}  // namespace
}  // namespace gatewatch
