// statvfs off the loop thread: a few worker threads for calls that may hang on a dead network
// mount, answered per path. Owned by whoever owns the loop (the agent, `gatewatch probe`, a test
// fixture) and handed to checks through CheckServices; there is no process-wide pool.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/base/clock.h"

namespace gatewatch {

// One statvfs answer, in bytes and inodes.
struct FsStats {
  uint64_t size = 0;       // f_blocks * f_frsize
  uint64_t used = 0;       // (f_blocks - f_bfree) * f_frsize
  uint64_t available = 0;  // f_bavail * f_frsize (what an unprivileged user may still write)
  uint64_t inodes = 0;     // f_files
  uint64_t inodes_free = 0;
};

// Runs statvfs (or a test's stand-in) for `path`; returns false if it failed. Called on a
// worker thread, never on the loop. May block (a hung network mount): callers bound their wait.
// It must stay callable until every call has returned, which may be after the pool is gone (a
// stuck worker is never joined): a stand-in keeps what it uses alive by value (shared_ptr).
using StatfsFn = std::function<bool(const std::string& path, FsStats* out)>;
bool SystemStatfs(const std::string& path, FsStats* out);

// At most kMaxThreads worker threads, started on demand and kept. At most one call per path is
// queued or running in the pool, whichever check (or check rebuilt by a reload) asks: a later
// request joins it. So a dead mount ties up one worker, not one per check and reload, and the
// pool fills only if kMaxThreads different paths hang at once.
//
// Destruction never waits for a worker (one stuck in statvfs can never be joined): idle workers
// exit, a busy one exits when its call returns; answers still to come are dropped, never called.
// Thread-safety: Request() from any thread; answers run on a worker thread (callers Post to
// their loop).
class StatfsPool {
 public:
  static constexpr size_t kMaxThreads = 4;

  explicit StatfsPool(StatfsFn statfs = &SystemStatfs);
  ~StatfsPool();
  StatfsPool(const StatfsPool&) = delete;
  StatfsPool& operator=(const StatfsPool&) = delete;

  // nullopt: statvfs failed.
  using Answer = std::function<void(std::optional<FsStats>)>;

  enum class Outcome {
    kAsked,   // a new call was queued; `answer` will be called
    kJoined,  // joined the call already running for the path; `answer` will be called
    kStuck,   // the running call began at or before `stuck_before`: `answer` is dropped
  };

  // Asks for statvfs of `path` (began at `now`, by the caller's clock). A call already running
  // that began at or before `stuck_before` is stuck: the request is not added to it, so answers
  // waiting on a dead mount stay bounded, as node_exporter skips such mounts.
  Outcome Request(const std::string& path, TimePoint now, TimePoint stuck_before, Answer answer);

  // Worker threads started so far (at most kMaxThreads); for tests.
  size_t threads() const;

 private:
  struct Shared;  // shared with the workers, which may outlive the pool
  std::shared_ptr<Shared> shared_;
};

}  // namespace gatewatch
