// What this agent (or probe) knows about the log paths it tails, for proxy_log:
//
// - which paths have been tailed already, for `start_at: beginning`: a log is read from byte 0
//   only the first time its path is tailed. A check rebuilt by a reload must not re-read it (the
//   exporter keeps its counters, so they would jump by the whole history and the window would
//   fill with old 5xx);
// - where reading stopped (device, inode, offset, partial line), left by a check's state when it
//   goes away (a reload changed or rebuilt the check: its CheckState is not kept, see
//   docs/architecture.md "Per-check state") and taken over by the next state that tails the same
//   path, so the lines written meanwhile are read exactly once.
//
// - the syslog receivers (receivers()): sockets that outlive the check state that opened them,
//   so a check rebuilt by a reload keeps receiving on the same socket.
//
// Owned next to the loop (declared after it, so destroyed before it) and handed to checks through
// CheckServices, so each agent, probe or test fixture has its own. Bounded by the distinct paths
// ever configured (a saved position holds at most one partial line, max_line bytes).
// Thread-safety: any thread (tests run loops on several threads), except receivers(): the loop
// thread of the loop its receivers were opened on.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "agent/base/clock.h"
#include "agent/io/datagram_receiver.h"
#include "agent/io/file_tailer.h"

namespace gatewatch {

class TailRegistry {
 public:
  // A position with when it was last advanced and how often its owner ran.
  struct Saved {
    FileTailer::Position position;
    TimePoint at{};
    Duration interval{};
  };

  // Marks `path` as tailed; true the first time only.
  bool FirstTail(const std::string& path) {
    std::lock_guard lock(mu_);
    return tailed_.insert(path).second;
  }

  // Leaves where reading `path` stopped for the next tailer of it (replacing an older one).
  void SavePosition(const std::string& path, Saved saved) {
    std::lock_guard lock(mu_);
    positions_[path] = std::move(saved);
  }

  // Hands over (once) the position saved for `path`, if any.
  std::optional<Saved> TakePosition(const std::string& path) {
    std::lock_guard lock(mu_);
    auto it = positions_.find(path);
    if (it == positions_.end()) return std::nullopt;
    Saved saved = std::move(it->second);
    positions_.erase(it);
    return saved;
  }

  // Loop thread only (see above).
  DatagramReceivers& receivers() { return receivers_; }

 private:
  std::mutex mu_;
  std::set<std::string> tailed_;
  std::map<std::string, Saved> positions_;
  DatagramReceivers receivers_;
};

}  // namespace gatewatch
