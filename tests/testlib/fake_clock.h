// Test doubles for agent/base/clock.h: a clock and a randomness source that move only when told.
#pragma once

#include <chrono>

#include "agent/base/clock.h"

namespace gatewatch {

// A clock that only moves when told to. Not thread-safe: tests drive it from one thread.
class FakeClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::time_point(wall_offset_ + (now_ - TimePoint()));
  }
  void Advance(Duration d) { now_ += d; }
  void Set(TimePoint t) { now_ = t; }

 private:
  // Start far from the epoch so that "zero" time points are never confused with real ones.
  TimePoint now_ = TimePoint(std::chrono::hours(1000));
  std::chrono::system_clock::duration wall_offset_ = std::chrono::hours(24 * 365 * 50);
};

// Returns values from a fixed cycle, so that tests know where each check's first run lands.
class FakeRandom final : public Random {
 public:
  explicit FakeRandom(double value = 0.5) : value_(value) {}
  double Uniform01() override { return value_; }
  void set(double value) { value_ = value; }

 private:
  double value_;
};

}  // namespace gatewatch
