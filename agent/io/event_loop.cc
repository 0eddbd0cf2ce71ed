#include "agent/io/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace gatewatch {
namespace {

uint64_t ThisThreadId() { return std::hash<std::thread::id>{}(std::this_thread::get_id()) | 1; }

uint32_t ToEpoll(uint32_t events) {
  uint32_t e = 0;
  if (events & EventLoop::kReadable) e |= EPOLLIN;
  if (events & EventLoop::kWritable) e |= EPOLLOUT;
  return e;
}

}  // namespace

EventLoop::EventLoop(const Clock& clock)
    : clock_(clock),
      epoll_fd_(epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!epoll_fd_.valid() || !wake_fd_.valid()) {
    throw std::runtime_error(std::string("event loop: ") + std::strerror(errno));
  }
  // A loop that has not turned yet is young, not stalled: /-/healthy answers 200 from the start
  // and 503 only once the loop misses its stall limit.
  last_iteration_ = clock_.Now().time_since_epoch().count();
  Watch(wake_fd_.get(), kReadable, [this](uint32_t) {
    uint64_t n;
    while (::read(wake_fd_.get(), &n, sizeof n) > 0) {
    }
    DrainPosted();
  });
}

EventLoop::~EventLoop() = default;

void EventLoop::Watch(int fd, uint32_t events, FdCallback cb) {
  Expected<void> r = TryWatch(fd, events, std::move(cb));
  if (!r) throw std::system_error(r.error().code, std::generic_category(), r.error().message);
}

Expected<void> EventLoop::TryWatch(int fd, uint32_t events, FdCallback cb) noexcept {
  try {
    epoll_event ev{};
    ev.events = ToEpoll(events);
    ev.data.fd = fd;
    auto it = watchers_.find(fd);
    int op = it == watchers_.end() ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (fail_watches_for_test_ != 0) {
      errno = fail_watches_for_test_;
      return ErrnoError(op == EPOLL_CTL_ADD ? "epoll_ctl add" : "epoll_ctl mod");
    }
    if (op == EPOLL_CTL_ADD) {
      // Reserve the entry first: if the map cannot grow, epoll must not know the fd either.
      it = watchers_.emplace(fd, nullptr).first;
      if (epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
        // EEXIST cannot happen (we track every fd); a closed or non-pollable fd can.
        Error e = ErrnoError("epoll_ctl add");
        watchers_.erase(it);
        return e;
      }
    } else {
      // Fails only for a closed fd, which the next event loop iteration never reports: the
      // callback is still replaced, as before.
      epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, fd, &ev);
    }
    it->second = std::move(cb);
    return {};
  } catch (const std::exception& e) {  // bad_alloc from the map
    return Error{std::string("watch: ") + e.what(), ENOMEM};
  }
}

void EventLoop::Unwatch(int fd) noexcept {
  if (watchers_.erase(fd) > 0) {
    // Fails harmlessly if the fd was already closed (the kernel dropped it from the set).
    epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr);
  }
}

void EventLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void EventLoop::DrainPosted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mu_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks) task();
}

void EventLoop::Stop() {
  stop_ = true;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

bool EventLoop::InLoopThread() const { return loop_thread_id_.load() == ThisThreadId(); }

void EventLoop::RunOnce(Duration max_wait) {
  Duration wait = max_wait;
  if (auto next = timers_.NextDue()) {
    wait = std::min(wait, std::max(Duration::zero(), *next - clock_.Now()));
  }
  // Round up so a timer is never woken for early and then spun on.
  int wait_ms = static_cast<int>((wait.count() + 999'999) / 1'000'000);

  constexpr int kMaxEvents = 256;
  epoll_event events[kMaxEvents];
  int n = epoll_wait(epoll_fd_.get(), events, kMaxEvents, wait_ms);
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    auto it = watchers_.find(fd);
    if (it == watchers_.end()) continue;  // unwatched by an earlier callback in this batch
    uint32_t e = 0;
    if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) e |= kReadable;
    if (events[i].events & EPOLLOUT) e |= kWritable;
    if (events[i].events & EPOLLERR) e |= kError;
    // Copy: the callback may Unwatch (and so destroy) itself.
    FdCallback cb = it->second;
    cb(e);
  }
  timers_.RunDue(clock_.Now());
  last_iteration_ = clock_.Now().time_since_epoch().count();
}

void EventLoop::Run() {
  loop_thread_id_ = ThisThreadId();
  // A Stop() that came before Run() still counts: resetting the flag here would lose it.
  while (!stop_) RunOnce(std::chrono::seconds(1));
  DrainPosted();
  stop_ = false;  // consumed: a later Run() runs again until the next Stop()
}

}  // namespace gatewatch
