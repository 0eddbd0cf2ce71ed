#include "agent/timer_queue.h"

#include <utility>

namespace gatewatch {

TimerId TimerQueue::Add(TimePoint when, Callback cb) {
  TimerId id = next_id_++;
  heap_.push({when, id});
  callbacks_.emplace(id, std::move(cb));
  return id;
}

bool TimerQueue::Cancel(TimerId id) { return callbacks_.erase(id) > 0; }

void TimerQueue::DropCancelledTop() {
  while (!heap_.empty() && !callbacks_.contains(heap_.top().id)) heap_.pop();
}

size_t TimerQueue::RunDue(TimePoint now) {
  size_t ran = 0;
  for (;;) {
    DropCancelledTop();
    if (heap_.empty() || heap_.top().when > now) break;
    TimerId id = heap_.top().id;
    heap_.pop();
    auto it = callbacks_.find(id);
    Callback cb = std::move(it->second);
    callbacks_.erase(it);
    cb();
    ++ran;
  }
  return ran;
}

std::optional<TimePoint> TimerQueue::NextDue() {
  DropCancelledTop();
  if (heap_.empty()) return std::nullopt;
  return heap_.top().when;
}

}  // namespace gatewatch
