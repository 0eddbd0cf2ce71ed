#include "agent/io/statfs_pool.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

namespace gatewatch {

bool SystemStatfs(const std::string& path, FsStats* out) {
  struct statvfs s {};
  if (statvfs(path.c_str(), &s) != 0) return false;
  uint64_t frsize = s.f_frsize != 0 ? s.f_frsize : s.f_bsize;
  out->size = uint64_t(s.f_blocks) * frsize;
  out->used = s.f_blocks >= s.f_bfree ? uint64_t(s.f_blocks - s.f_bfree) * frsize : 0;
  out->available = uint64_t(s.f_bavail) * frsize;
  out->inodes = s.f_files;
  out->inodes_free = std::min<uint64_t>(s.f_ffree, s.f_files);
  return true;
}

struct StatfsPool::Shared {
  struct Call {
    TimePoint began;
    std::vector<Answer> answers;
  };

  explicit Shared(StatfsFn fn) : statfs(std::move(fn)) {}

  // On a worker: makes the call, then answers everyone who asked for the path meanwhile (unless
  // the pool is gone).
  void Finish(const std::string& path) {
    FsStats st;
    std::optional<FsStats> result;
    if (statfs(path, &st)) result = st;
    std::vector<Answer> answers;
    {
      std::lock_guard lock(mu);
      auto it = calls.find(path);
      answers = std::move(it->second.answers);
      calls.erase(it);
      if (stopped) answers.clear();
    }
    for (Answer& a : answers) a(result);
  }

  // A worker's life; `self` keeps the shared state alive while the thread runs.
  static void Work(std::shared_ptr<Shared> self) {
    std::unique_lock lock(self->mu);
    while (true) {
      ++self->idle;
      self->cv.wait(lock, [&] { return self->stopped || !self->queue.empty(); });
      --self->idle;
      if (self->stopped) return;
      std::string path = std::move(self->queue.front());
      self->queue.pop_front();
      lock.unlock();
      self->Finish(path);
      lock.lock();
    }
  }

  const StatfsFn statfs;
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> queue;      // paths to call
  std::map<std::string, Call> calls;  // queued or running, by path
  size_t threads = 0;
  size_t idle = 0;
  bool stopped = false;
};

StatfsPool::StatfsPool(StatfsFn statfs) : shared_(std::make_shared<Shared>(std::move(statfs))) {}

StatfsPool::~StatfsPool() {
  std::lock_guard lock(shared_->mu);
  shared_->stopped = true;
  shared_->queue.clear();
  // Answers of queued calls are dropped now; those of running calls when they return (Finish).
  for (auto& [path, call] : shared_->calls) call.answers.clear();
  shared_->cv.notify_all();
}

StatfsPool::Outcome StatfsPool::Request(const std::string& path, TimePoint now,
                                        TimePoint stuck_before, Answer answer) {
  Shared& s = *shared_;
  std::lock_guard lock(s.mu);
  auto [it, added] = s.calls.try_emplace(path);
  Shared::Call& call = it->second;
  if (!added && call.began <= stuck_before) return Outcome::kStuck;
  call.answers.push_back(std::move(answer));
  if (!added) return Outcome::kJoined;
  call.began = now;
  s.queue.push_back(path);
  if (s.idle < s.queue.size() && s.threads < kMaxThreads) {
    ++s.threads;
    std::thread(&Shared::Work, shared_).detach();
  }
  s.cv.notify_one();
  return Outcome::kAsked;
}

size_t StatfsPool::threads() const {
  std::lock_guard lock(shared_->mu);
  return shared_->threads;
}

}  // namespace gatewatch
