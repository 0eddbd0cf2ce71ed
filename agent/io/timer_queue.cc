#include "agent/io/timer_queue.h"

#include <algorithm>
#include <utility>

namespace gatewatch {
namespace {

TimerId MakeId(uint32_t slot, uint32_t generation) {
  return (static_cast<uint64_t>(slot) + 1) << 32 | generation;  // never 0
}

}  // namespace

TimerId TimerQueue::Add(TimePoint when, Callback cb) {
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.cb = std::move(cb);
  ++live_;
  heap_.push_back({when, next_order_++, slot, s.generation});
  std::push_heap(heap_.begin(), heap_.end(), std::greater<Entry>());
  return MakeId(slot, s.generation);
}

bool TimerQueue::Cancel(TimerId id) {
  uint64_t high = id >> 32;
  if (high == 0 || high > slots_.size()) return false;
  auto slot = static_cast<uint32_t>(high - 1);
  if (slots_[slot].generation != static_cast<uint32_t>(id)) return false;
  Free(slot);
  return true;
}

bool TimerQueue::Live(const Entry& e) const { return slots_[e.slot].generation == e.generation; }

void TimerQueue::Free(uint32_t slot) {
  // Destroyed last: a captured object's destructor may add timers, which can grow slots_.
  Callback cb = std::move(slots_[slot].cb);
  Slot& s = slots_[slot];
  s.cb = nullptr;
  ++s.generation;
  free_.push_back(slot);
  --live_;
}

void TimerQueue::DropStaleTop() {
  while (!heap_.empty() && !Live(heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<Entry>());
    heap_.pop_back();
  }
}

size_t TimerQueue::RunDue(TimePoint now) {
  size_t ran = 0;
  for (;;) {
    DropStaleTop();
    if (heap_.empty() || heap_.front().when > now) break;
    uint32_t slot = heap_.front().slot;
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<Entry>());
    heap_.pop_back();
    Callback cb = std::move(slots_[slot].cb);
    Free(slot);  // before the call: the callback may add timers, or cancel its own id
    cb();
    ++ran;
  }
  return ran;
}

std::optional<TimePoint> TimerQueue::NextDue() {
  DropStaleTop();
  if (heap_.empty()) return std::nullopt;
  return heap_.front().when;
}

}  // namespace gatewatch
