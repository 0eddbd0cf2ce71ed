// The one thread that owns all target I/O: an epoll set for sockets (curl, c-ares, files), a
// TimerQueue for every timer (check schedules, deadlines, curl and c-ares timeouts), and an
// eventfd through which other threads post work (reloads from the web server).
//
// Thread-safety: Post() and Stop() may be called from any thread; everything else only from the
// loop thread (the one inside Run()), or before Run() starts.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/expected.h"
#include "agent/base/fd.h"
#include "agent/io/timer_queue.h"

namespace gatewatch {

class EventLoop {
 public:
  // Bitmask passed to Watch() and to the callback.
  enum Events : uint32_t { kReadable = 1, kWritable = 2, kError = 4 };
  using FdCallback = std::function<void(uint32_t events)>;

  explicit EventLoop(const Clock& clock);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Watches `fd` for `events` (kReadable | kWritable). Calling Watch again for the same fd
  // replaces its interest set and callback. The callback may Unwatch its own fd.
  // Throws std::system_error when epoll refuses the fd (closed, or not pollable).
  void Watch(int fd, uint32_t events, FdCallback cb);
  // The same as a value, for C callbacks (curl, c-ares) no exception may unwind through:
  // never throws, also not bad_alloc. On error nothing is watched (nor replaced).
  Expected<void> TryWatch(int fd, uint32_t events, FdCallback cb) noexcept;
  void Unwatch(int fd) noexcept;
  // Test hook: while non-zero, every TryWatch/Watch fails with this errno, as epoll_ctl would.
  void FailWatchesForTest(int err) { fail_watches_for_test_ = err; }

  TimerId AddTimer(TimePoint when, TimerQueue::Callback cb) {
    return timers_.Add(when, std::move(cb));
  }
  TimerId AddTimerAfter(Duration d, TimerQueue::Callback cb) {
    return timers_.Add(clock_.Now() + d, std::move(cb));
  }
  bool CancelTimer(TimerId id) { return timers_.Cancel(id); }
  TimerQueue& timers() { return timers_; }
  const Clock& clock() const { return clock_; }

  // Runs `fn` on the loop thread soon. Safe from any thread, including from a signal-free context.
  void Post(std::function<void()> fn);

  // Runs until Stop(), which may also come before Run() starts. Returns after the current
  // iteration completes and the posted work is drained.
  void Run();
  void Stop();
  // One iteration: wait at most `max_wait` for I/O, then run due timers and posted tasks.
  void RunOnce(Duration max_wait);

  bool InLoopThread() const;
  // Steady time of the last completed iteration (construction before the first); /-/healthy reads
  // it from other threads.
  TimePoint last_iteration() const { return TimePoint(Duration(last_iteration_.load())); }

 private:
  void DrainPosted();

  const Clock& clock_;
  UniqueFd epoll_fd_;
  UniqueFd wake_fd_;
  TimerQueue timers_;
  std::unordered_map<int, FdCallback> watchers_;
  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> last_iteration_{0};
  std::atomic<uint64_t> loop_thread_id_{0};
  int fail_watches_for_test_ = 0;
};

}  // namespace gatewatch
