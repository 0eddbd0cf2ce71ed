// A min-heap of one-shot timers, driven by whoever owns the time: the EventLoop in production (it
// sleeps until NextDue()), a test with a FakeClock otherwise.
//
// Thread-safety: none. All calls happen on the loop thread (or the test thread).
// Callbacks may add and cancel timers, including their own id.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "agent/clock.h"

namespace gatewatch {

using TimerId = uint64_t;  // 0 is never a valid id.

class TimerQueue {
 public:
  using Callback = std::function<void()>;

  TimerId Add(TimePoint when, Callback cb);
  // Returns false if the timer already ran or was cancelled.
  bool Cancel(TimerId id);
  // Runs, in deadline order, every timer due at or before `now`. Timers added by callbacks with a
  // deadline <= now also run in this call. Returns how many ran.
  size_t RunDue(TimePoint now);
  std::optional<TimePoint> NextDue();
  size_t size() const { return callbacks_.size(); }

 private:
  struct Entry {
    TimePoint when;
    TimerId id;
    bool operator>(const Entry& o) const { return when != o.when ? when > o.when : id > o.id; }
  };
  void DropCancelledTop();

  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
  // Cancelled timers stay in the heap until they reach the top; only the map says what is live.
  std::unordered_map<TimerId, Callback> callbacks_;
  TimerId next_id_ = 1;
};

}  // namespace gatewatch
