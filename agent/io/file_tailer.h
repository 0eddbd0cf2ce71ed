// Follows one growing log file the way `tail -F` does, by polling: each Poll() reads what was
// appended since the last one and hands over complete lines.
//
// - First open: starts at the end of the file (or at the beginning with start_at_end = false). A
//   file that did not exist at the first poll and appears later is new: it is read from the start.
// - Rotation by rename + create (logrotate's default, then `nginx -s reopen`): the path now names
//   another inode. The old file is read to its end first, then kept open and drained for a few more
//   polls (nginx workers may still write into it until they reopen), while the new file is read
//   from offset 0.
// - Rotation by copytruncate: the file shrank below the offset, or the bytes just before the
//   offset changed; reading restarts at 0. (Lines written between logrotate's copy and its
//   truncate are in the copy only: copytruncate loses them by design.)
// - A vanished (deleted) or unreadable file is reported in PollStats::error and retried at the next
// poll;
//   never fatal.
// - Lines longer than max_line are counted (too_long) and skipped; the partial-line buffer never
//   holds more than max_line bytes per file; each poll reads until it has caught up, or until it
//   has spent its CPU budget (cpu_budget: CPU time of the calling thread, checked after every
//   64 KiB) or max_bytes_per_poll,
//   so a poll never blocks its thread for long whatever the file does (the rest waits for the
//   next), as long as the file is on local storage: a hung network filesystem blocks read()
//   itself. PollStats::backlog says how far behind the end of the file it stopped.
//
// Thread-safety: none; one owner thread (the check's loop thread). Blocking reads of a regular
// file only (never FIFOs or devices: they are refused).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "agent/base/clock.h"
#include "agent/base/expected.h"
#include "agent/base/fd.h"

namespace gatewatch {

class FileTailer {
 public:
  // Where reading stands in the file the path named: enough for another FileTailer of the same
  // path (a proxy_log check rebuilt by a reload) to carry on without losing or repeating a line.
  struct Position {
    dev_t dev = 0;
    ino_t ino = 0;
    uint64_t offset = 0;
    std::string partial;  // the start of a line whose '\n' has not arrived (at most max_line)
    bool discarding = false;
    std::string signature;
  };

  struct Options {
    std::string path;
    bool start_at_end = true;
    size_t max_line = 16 * 1024;
    size_t max_bytes_per_poll = SIZE_MAX;  // no byte cap by default: cpu_budget bounds a poll
    // CPU time of the calling thread a poll may spend reading and handing over lines (the
    // callbacks' parsing included); zero: none. CPU, not wall time: on a busy machine the share
    // of a core the thread gets must not decide how many lines a poll can take. At least one
    // 64 KiB chunk is read per poll, so it always advances.
    Duration cpu_budget{};
    // First open: carry on from here (start_at_end is then ignored). If the path now names
    // another file (rotated meanwhile), that file is new and read from its start; if it is the
    // same file but shorter or rewritten (copytruncate), from its start too.
    std::optional<Position> resume;
  };

  struct PollStats {
    uint64_t bytes = 0;      // bytes read
    uint64_t lines = 0;      // complete lines handed over
    uint64_t too_long = 0;   // lines skipped for exceeding max_line
    uint64_t rotations = 0;  // rename or truncation detected
    bool more = false;       // a budget ran out: data is waiting for the next poll
    uint64_t backlog = 0;    // bytes written but not read yet (the file and a renamed one)
    std::string error;       // non-empty when the file could not be opened or read (retried)
  };

  explicit FileTailer(Options options);
  FileTailer(const FileTailer&) = delete;
  FileTailer& operator=(const FileTailer&) = delete;

  // Calls `on_line` for every complete line (without its '\n'); the view is valid only during the
  // call.
  PollStats Poll(const std::function<void(std::string_view)>& on_line);

  const std::string& path() const { return options_.path; }
  // Byte offset of the next read in the current file (0 when none is open).
  uint64_t offset() const { return current_.offset; }
  // The current file's position; nullopt while no file is open. A renamed file still being
  // drained after a rotation is not part of it.
  std::optional<Position> position() const;

 private:
  // One open file and where reading stands in it.
  struct Source {
    UniqueFd fd;
    dev_t dev = 0;
    ino_t ino = 0;
    uint64_t offset = 0;
    std::string partial;      // the start of a line whose '\n' has not arrived
    bool discarding = false;  // inside a too-long line, until its '\n'
    std::string signature;    // the bytes just before `offset`, to notice copytruncate
  };

  Expected<void> Open();
  PollStats PollOnce(const std::function<void(std::string_view)>& on_line);
  // Reads `src` to its end or until the budget is spent.
  Expected<void> Drain(Source& src, size_t* budget, PollStats* stats,
                       const std::function<void(std::string_view)>& on_line);
  // Bytes of `src` after its offset (0 when closed or unknown).
  static uint64_t Behind(const Source& src);
  void Feed(Source& src, const char* data, size_t n, PollStats* stats,
            const std::function<void(std::string_view)>& on_line);
  bool Truncated(const Source& src, uint64_t size) const;

  Options options_;
  Source current_;
  Source previous_;  // the renamed file, drained for a few polls after a rotation
  int previous_idle_polls_ = 0;
  bool first_poll_ = true;
  std::string buffer_;
  Duration poll_cpu_deadline_{};  // the thread's CPU time at which this poll stops
};

}  // namespace gatewatch
