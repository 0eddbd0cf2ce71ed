// Runs every configured check on its interval, on the loop thread.
//
// - First runs are spread uniformly over each check's interval (no thundering herd at start or
//   after a reload); later runs keep a fixed rate (due += interval), not "interval after the end".
// - Each run has a hard deadline (spec.timeout): when it passes, the run is Abort()ed and its
//   Result reported as the check describes it.
// - A check never runs twice at once: a run due while the previous one is in flight is skipped
//   and reported (ResultSink::OnSkipped), as is a run that would exceed max_in_flight.
// - Due times are rounded up to a multiple of a window on the loop clock, so runs whose due times
//   fall in the same window start in one wake-up of the loop: on this kind of VM each wake-up and
//   its context switches cost about as much CPU as a run (docs/performance.md). The window is the
//   greatest common divisor of the interval and `coalesce`, capped at a tenth of the interval, so
//   runs of one check stay exactly one interval apart; the spread over an interval stays uniform
//   at that granularity. Lag is measured from the rounded due time.
// - Lag (how late a due run was picked up) is reported for every due run.
// - Time and randomness are injected: tests drive a TimerQueue with a FakeClock.
//
// Thread-safety: loop thread only.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/base/clock.h"
#include "agent/io/timer_queue.h"
#include "checks/api/check.h"
#include "checks/api/result_sink.h"

namespace gatewatch {

struct SchedulerOptions {
  size_t max_in_flight = 1000;                        // scheduler.max_in_flight
  Duration coalesce = std::chrono::milliseconds(50);  // scheduler.coalesce; zero: exact due times
};

// A check as the config builds it (Config::checks) and the scheduler runs it.
struct ScheduledCheck {
  std::shared_ptr<const Check> check;
  // Equal fingerprints across a reload mean "unchanged": the check keeps its schedule and state.
  std::string fingerprint;
};

class Scheduler {
 public:
  // All references must outlive the scheduler.
  Scheduler(TimerQueue& timers, const Clock& clock, Random& random, CheckServices& services,
            ResultSink& sink);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Replaces the set of checks. A check with the same name and fingerprint as before keeps its
  // schedule, its run in flight and its CheckState; a changed one restarts with a new spread and
  // a fresh state (Check::NewState); a removed one stops (its run in flight is dropped without a
  // result, then its state). A new max_in_flight applies at once; a new
  // coalesce window to the checks that (re)start, so a running check keeps its phase.
  void SetChecks(std::vector<ScheduledCheck> checks, const SchedulerOptions& options);
  // Stops scheduling and drops every run in flight (their I/O is cancelled, nothing is reported).
  void Stop();

  size_t in_flight() const { return in_flight_; }
  size_t size() const { return slots_.size(); }

 private:
  struct Slot;
  void ScheduleFirst(Slot& slot);
  // The first coalescing boundary at or after `t` for this slot's interval.
  TimePoint Coalesced(const Slot& slot, TimePoint t) const;
  void ArmDue(Slot& slot);
  void OnDue(Slot& slot);
  void StartRun(Slot& slot, TimePoint now);
  void OnDone(Slot& slot, uint64_t seq, Result result);
  void OnDeadline(Slot& slot, uint64_t seq);
  void Finish(Slot& slot, Result result);
  void Drop(Slot& slot);

  TimerQueue& timers_;
  const Clock& clock_;
  Random& random_;
  CheckServices& services_;
  ResultSink& sink_;
  SchedulerOptions options_;
  size_t in_flight_ = 0;
  std::unordered_map<std::string, std::unique_ptr<Slot>> slots_;
};

}  // namespace gatewatch
