// A min-heap of one-shot timers, driven by whoever owns the time: the EventLoop in production (it
// sleeps until NextDue()), a test with a FakeClock otherwise.
//
// Every check run adds and cancels several timers (its schedule, its deadline, curl's and c-ares's
// timeouts), so timers live in a slot vector reused through a free list: Add and Cancel neither
// allocate nor hash. A cancelled timer frees its slot at once; its heap entry stays until it
// reaches the top and is recognised as stale by the slot's generation.
//
// Thread-safety: none. All calls happen on the loop thread (or the test thread).
// Callbacks may add and cancel timers, including their own id.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "agent/base/clock.h"

namespace gatewatch {

using TimerId = uint64_t;  // 0 is never a valid id.

class TimerQueue {
 public:
  using Callback = std::function<void()>;

  TimerId Add(TimePoint when, Callback cb);
  // Returns false if the timer already ran or was cancelled.
  bool Cancel(TimerId id);
  // Runs, in deadline order (ties in the order they were added), every timer due at or before
  // `now`. Timers added by callbacks with a deadline <= now also run in this call. Returns how
  // many ran.
  size_t RunDue(TimePoint now);
  std::optional<TimePoint> NextDue();
  size_t size() const { return live_; }

 private:
  struct Slot {
    // Bumped whenever the slot is freed, so ids and heap entries of its earlier timers go stale:
    // a timer is live exactly while its generation is the slot's. 32 bits: a stale entry could
    // only be mistaken after 2^32 reuses of one slot while it waits.
    uint32_t generation = 0;
    Callback cb;
  };
  struct Entry {
    TimePoint when;
    uint64_t order;  // ties on `when` run in the order added
    uint32_t slot;
    uint32_t generation;
    bool operator>(const Entry& o) const {
      return when != o.when ? when > o.when : order > o.order;
    }
  };
  bool Live(const Entry& e) const;
  void Free(uint32_t slot);
  void DropStaleTop();

  std::vector<Entry> heap_;  // std::push_heap/pop_heap with std::greater: a min-heap
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  uint64_t next_order_ = 0;
  size_t live_ = 0;
};

}  // namespace gatewatch
