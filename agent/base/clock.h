// Time and randomness as injectable interfaces, so the scheduler and the checks can be driven by a
// fake clock in tests instead of sleeping.
//
// Every duration in gatewatch is measured on the steady clock; the wall clock is only used for
// values that are timestamps by nature (certificate expiry, build info).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace gatewatch {

using SteadyClock = std::chrono::steady_clock;
using TimePoint = SteadyClock::time_point;
using Duration = std::chrono::nanoseconds;

// Thread-safety: implementations must be safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  virtual std::chrono::system_clock::time_point WallNow() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return SteadyClock::now(); }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::now();
  }
};

// Source of uniform randomness in [0, 1). Not thread-safe; used from the loop thread only.
class Random {
 public:
  virtual ~Random() = default;
  virtual double Uniform01() = 0;
};

class SystemRandom final : public Random {
 public:
  SystemRandom() : engine_(std::random_device{}()) {}
  double Uniform01() override { return std::uniform_real_distribution<double>(0.0, 1.0)(engine_); }

 private:
  std::mt19937_64 engine_;
};

inline double ToSeconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace gatewatch
