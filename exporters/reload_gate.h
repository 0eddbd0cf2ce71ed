// Serialises and rate-limits reload requests from the web (POST /-/reload): at most one in
// flight, and a new one only `min_interval` after the previous one began, so a careless (or
// hostile) client cannot keep the loop re-parsing the config or pile up workers waiting on it.
// SIGHUP does not pass here: it runs on the loop, which serialises it anyway.
//
// Thread-safe. Time is passed in so tests need no clock.
#pragma once

#include <chrono>
#include <mutex>

namespace gatewatch {

class ReloadGate {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  enum class Decision { kRun, kBusy, kTooSoon };

  explicit ReloadGate(std::chrono::milliseconds min_interval) : min_interval_(min_interval) {}

  // kRun: the caller runs the reload and then calls End().
  Decision TryBegin(TimePoint now) {
    std::lock_guard lock(mu_);
    if (in_flight_) return Decision::kBusy;
    if (started_ && now - last_start_ < min_interval_) return Decision::kTooSoon;
    in_flight_ = true;
    started_ = true;
    last_start_ = now;
    return Decision::kRun;
  }

  void End() {
    std::lock_guard lock(mu_);
    in_flight_ = false;
  }

 private:
  const std::chrono::milliseconds min_interval_;
  std::mutex mu_;
  bool in_flight_ = false;  // guarded by mu_
  bool started_ = false;    // guarded by mu_
  TimePoint last_start_;    // guarded by mu_
};

}  // namespace gatewatch
