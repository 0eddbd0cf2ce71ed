#include "agent/io/file_tailer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace gatewatch {

namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr size_t kSignatureBytes = 64;
// Polls without new data after which a renamed file is closed: nginx workers reopen their logs
// within milliseconds of the master, so two quiet polls are plenty.
constexpr int kDrainPolls = 2;

// Keeps the error of `r` in `stats` (for the check to report); returns whether `r` is ok.
// CPU time the calling thread has used.
Duration ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

bool Record(const Expected<void>& r, FileTailer::PollStats* stats) {
  if (!r) stats->error = r.error().message;
  return r.ok();
}

}  // namespace

FileTailer::FileTailer(Options options) : options_(std::move(options)) { buffer_.resize(kChunk); }

Expected<void> FileTailer::Open() {
  bool first = first_poll_;
  first_poll_ = false;
  UniqueFd fd(::open(options_.path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return ErrnoError("open " + options_.path);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return ErrnoError("fstat " + options_.path);
  if (!S_ISREG(st.st_mode)) return Error{options_.path + ": not a regular file", EINVAL};
  current_ = Source{};
  current_.fd = std::move(fd);
  current_.dev = st.st_dev;
  current_.ino = st.st_ino;
  if (first && options_.resume) {
    const Position& p = *options_.resume;
    // Another file at the path is new since the position was taken: read from its start. The
    // same file is checked for truncation by Poll() right after, like any other poll.
    if (p.dev == st.st_dev && p.ino == st.st_ino) {
      current_.offset = p.offset;
      current_.partial = p.partial;
      current_.discarding = p.discarding;
      current_.signature = p.signature;
    }
    options_.resume.reset();
    return {};
  }
  if (first && options_.start_at_end && st.st_size > 0) {
    current_.offset = static_cast<uint64_t>(st.st_size);
    // Starting inside a line: its rest is not a line of its own.
    char last = '\n';
    if (pread(current_.fd.get(), &last, 1, st.st_size - 1) == 1 && last != '\n') {
      current_.discarding = true;
    }
    size_t n = std::min<uint64_t>(kSignatureBytes, current_.offset);
    current_.signature.resize(n);
    ssize_t got = pread(current_.fd.get(), current_.signature.data(), n,
                        static_cast<off_t>(current_.offset - n));
    current_.signature.resize(got > 0 ? static_cast<size_t>(got) : 0);
  }
  return {};
}

std::optional<FileTailer::Position> FileTailer::position() const {
  if (!current_.fd.valid()) return std::nullopt;
  return Position{current_.dev,     current_.ino,        current_.offset,
                  current_.partial, current_.discarding, current_.signature};
}

bool FileTailer::Truncated(const Source& src, uint64_t size) const {
  if (size < src.offset) return true;
  if (src.signature.empty()) return false;
  // Grown past the old offset again since the truncation: the bytes before it tell.
  char buf[kSignatureBytes];
  size_t n = src.signature.size();
  ssize_t got = pread(src.fd.get(), buf, n, static_cast<off_t>(src.offset - n));
  return got != static_cast<ssize_t>(n) || std::memcmp(buf, src.signature.data(), n) != 0;
}

void FileTailer::Feed(Source& src, const char* data, size_t n, PollStats* stats,
                      const std::function<void(std::string_view)>& on_line) {
  while (n > 0) {
    const char* nl = static_cast<const char*>(std::memchr(data, '\n', n));
    if (nl == nullptr) {
      if (src.discarding) return;
      if (src.partial.size() + n > options_.max_line) {
        src.partial.clear();
        src.discarding = true;
        ++stats->too_long;
        return;
      }
      src.partial.append(data, n);
      return;
    }
    size_t len = static_cast<size_t>(nl - data);
    if (src.discarding) {
      src.discarding = false;
    } else if (src.partial.size() + len > options_.max_line) {
      src.partial.clear();
      ++stats->too_long;
    } else if (src.partial.empty()) {
      ++stats->lines;
      on_line(std::string_view(data, len));
    } else {
      src.partial.append(data, len);
      ++stats->lines;
      on_line(src.partial);
      src.partial.clear();
    }
    data = nl + 1;
    n -= len + 1;
  }
}

Expected<void> FileTailer::Drain(Source& src, size_t* budget, PollStats* stats,
                                 const std::function<void(std::string_view)>& on_line) {
  while (*budget > 0) {
    size_t want = std::min(kChunk, *budget);
    ssize_t got = pread(src.fd.get(), buffer_.data(), want, static_cast<off_t>(src.offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read " + options_.path);
    }
    if (got == 0) return {};
    size_t n = static_cast<size_t>(got);
    src.offset += n;
    *budget -= n;
    stats->bytes += n;
    if (n >= kSignatureBytes) {
      src.signature.assign(buffer_.data() + n - kSignatureBytes, kSignatureBytes);
    } else {
      src.signature.append(buffer_.data(), n);
      if (src.signature.size() > kSignatureBytes) {
        src.signature.erase(0, src.signature.size() - kSignatureBytes);
      }
    }
    Feed(src, buffer_.data(), n, stats, on_line);
    if (options_.cpu_budget > Duration::zero() && ThreadCpu() >= poll_cpu_deadline_) {
      break;
    }
  }
  stats->more = true;
  return {};
}

uint64_t FileTailer::Behind(const Source& src) {
  struct stat st {};
  if (!src.fd.valid() || fstat(src.fd.get(), &st) != 0) return 0;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  return size > src.offset ? size - src.offset : 0;
}

FileTailer::PollStats FileTailer::Poll(const std::function<void(std::string_view)>& on_line) {
  PollStats stats = PollOnce(on_line);
  stats.backlog = Behind(current_) + Behind(previous_);
  return stats;
}

FileTailer::PollStats FileTailer::PollOnce(const std::function<void(std::string_view)>& on_line) {
  PollStats stats;
  size_t budget = options_.max_bytes_per_poll;
  if (options_.cpu_budget > Duration::zero())
    poll_cpu_deadline_ = ThreadCpu() + options_.cpu_budget;

  if (previous_.fd.valid()) {
    uint64_t before = stats.bytes;
    Record(Drain(previous_, &budget, &stats, on_line), &stats);
    if (stats.bytes == before && !stats.more && ++previous_idle_polls_ >= kDrainPolls) {
      previous_ = Source{};  // a partial last line of a finished file is dropped
    } else if (stats.bytes != before) {
      previous_idle_polls_ = 0;
    }
    if (stats.more) return stats;
  }

  if (!current_.fd.valid()) {
    if (!Record(Open(), &stats)) return stats;
  } else {
    struct stat st {};
    if (::stat(options_.path.c_str(), &st) == 0) {
      if (st.st_ino != current_.ino || st.st_dev != current_.dev) {
        if (!Record(Drain(current_, &budget, &stats, on_line), &stats) || stats.more) return stats;
        previous_ = std::move(current_);
        previous_idle_polls_ = 0;
        ++stats.rotations;
        current_ = Source{};
        if (!Record(Open(), &stats)) return stats;
      }
    } else if (fstat(current_.fd.get(), &st) == 0 && st.st_nlink == 0) {
      // Deleted, not renamed: finish what it holds, then report it missing until it is back.
      if (!Record(Drain(current_, &budget, &stats, on_line), &stats) || stats.more) return stats;
      current_ = Source{};
      if (!Record(Open(), &stats)) return stats;
    }
    // Otherwise a missing path is the moment between rename and reopen: nginx still writes into
    // the renamed file, keep reading it.
  }

  struct stat st {};
  if (fstat(current_.fd.get(), &st) != 0) {
    Record(ErrnoError("fstat " + options_.path), &stats);
    return stats;
  }
  if (Truncated(current_, static_cast<uint64_t>(st.st_size))) {
    ++stats.rotations;
    current_.offset = 0;
    current_.partial.clear();
    current_.discarding = false;
    current_.signature.clear();
  }
  Record(Drain(current_, &budget, &stats, on_line), &stats);
  return stats;
}

}  // namespace gatewatch
