// Which log paths have been tailed already by this agent (or probe), for proxy_log's
// `start_at: beginning`: a log is read from byte 0 only the first time its path is tailed. A check
// rebuilt by a reload must not re-read it (the exporter keeps its counters, so they would jump by
// the whole history and the window would fill with old 5xx). Owned next to the loop and handed to
// checks through CheckServices, so each agent, probe or test fixture has its own.
//
// Bounded by the distinct paths ever configured. Thread-safety: any thread (tests run loops on
// several threads).
#pragma once

#include <mutex>
#include <set>
#include <string>

namespace gatewatch {

class TailRegistry {
 public:
  // Marks `path` as tailed; true the first time only.
  bool FirstTail(const std::string& path) {
    std::lock_guard lock(mu_);
    return tailed_.insert(path).second;
  }

 private:
  std::mutex mu_;
  std::set<std::string> tailed_;
};

}  // namespace gatewatch
