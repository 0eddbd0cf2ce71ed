// The scheduler on a fake clock: spread, fixed rate, deadlines, skip on overlap, the global cap,
// lag, and reloads. No sleeping: time moves only when the test advances it. No event loop, curl
// or c-ares either: the scheduler needs only a TimerQueue, driven here by the fake clock, and the
// fake checks do no I/O, so their CheckServices has none.
#include "agent/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "agent/io/statfs_pool.h"
#include "agent/io/tail_registry.h"
#include "tests/testlib/fake_clock.h"

namespace gatewatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

class SequenceRandom final : public Random {
 public:
  explicit SequenceRandom(std::deque<double> values) : values_(std::move(values)) {}
  double Uniform01() override {
    double v = values_.front();
    values_.pop_front();
    values_.push_back(v);
    return v;
  }

 private:
  std::deque<double> values_;
};

struct Recorded {
  std::string check;
  Result result;
  TimePoint at;
};

class RecordingSink final : public ResultSink {
 public:
  explicit RecordingSink(const Clock& clock) : clock_(clock) {}
  void OnConfig(const std::vector<const CheckSpec*>& checks) override {
    configured.clear();
    for (auto* c : checks) configured.push_back(c->name);
  }
  void OnResult(const CheckSpec& check, const Result& result) override {
    results.push_back({check.name, result, clock_.Now()});
  }
  void OnSkipped(const CheckSpec& check) override { skipped[check.name]++; }
  void OnSchedulerLag(Duration lag) override { lags.push_back(lag); }

  std::vector<std::string> configured;
  std::vector<Recorded> results;
  std::map<std::string, int> skipped;
  std::vector<Duration> lags;

 private:
  const Clock& clock_;
};

// How a fake check's runs behave.
enum class Behaviour { kSucceedAtOnce, kFailAtOnce, kNeverFinish, kFinishAfter };

struct FakeState {
  int starts = 0;
  int aborts = 0;
  int destroyed = 0;
  DoneCallback pending_done;              // for kFinishAfter: the test calls it
  std::vector<const CheckState*> states;  // ctx.state of each start, in order
};

// A fake check's CheckState: counts the runs that were given it.
struct CountingState final : CheckState {
  int runs = 0;
};

class FakeRun final : public CheckRun {
 public:
  explicit FakeRun(FakeState& state) : state_(state) {}
  ~FakeRun() override { state_.destroyed++; }
  Result Abort() override {
    state_.aborts++;
    state_.pending_done = nullptr;
    return Result::Failure(Reason::kConnectTimeout, "still connecting");
  }

 private:
  FakeState& state_;
};

class FakeCheck final : public Check {
 public:
  FakeCheck(CheckSpec spec, Behaviour behaviour, FakeState& state)
      : Check(std::move(spec)), behaviour_(behaviour), state_(state) {}
  std::unique_ptr<CheckState> NewState() const override {
    return std::make_unique<CountingState>();
  }
  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    state_.starts++;
    state_.states.push_back(ctx.state);
    if (ctx.state != nullptr) static_cast<CountingState*>(ctx.state)->runs++;
    auto run = std::make_unique<FakeRun>(state_);
    switch (behaviour_) {
      case Behaviour::kSucceedAtOnce:
        done(Result::Success());
        break;
      case Behaviour::kFailAtOnce:
        done(Result::Failure(Reason::kHttp502, "502"));
        break;
      case Behaviour::kNeverFinish:
        break;
      case Behaviour::kFinishAfter:
        state_.pending_done = std::move(done);
        break;
    }
    return run;
  }

 private:
  Behaviour behaviour_;
  FakeState& state_;
};

class SchedulerTest : public ::testing::Test {
 protected:
  SchedulerTest() : services_{nullptr, nullptr, nullptr, clock_, statfs_, tails_}, sink_(clock_) {}

  ScheduledCheck Make(const std::string& name, Duration interval, Duration timeout,
                      Behaviour behaviour, FakeState& state, std::string fingerprint = "v1") {
    CheckSpec spec;
    spec.name = name;
    spec.type = "fake";
    spec.interval = interval;
    spec.timeout = timeout;
    return {std::make_shared<FakeCheck>(spec, behaviour, state), std::move(fingerprint)};
  }

  // Moves time forward in small steps, running timers as the event loop would.
  void AdvanceTo(TimePoint t) {
    while (auto next = timers_.NextDue()) {
      if (*next > t) break;
      if (*next > clock_.Now()) clock_.Set(*next);
      timers_.RunDue(clock_.Now());
    }
    clock_.Set(t);
  }
  void Advance(Duration d) { AdvanceTo(clock_.Now() + d); }

  FakeClock clock_;
  TimerQueue timers_;
  StatfsPool statfs_;
  TailRegistry tails_;
  CheckServices services_;
  RecordingSink sink_;
};

TEST_F(SchedulerTest, FirstRunsAreSpreadAcrossTheInterval) {
  SequenceRandom random({0.0, 0.25, 0.5, 0.75});
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  TimePoint t0 = clock_.Now();
  std::vector<ScheduledCheck> checks;
  for (const char* name : {"a", "b", "c", "d"}) {
    checks.push_back(Make(name, seconds(8), seconds(1), Behaviour::kSucceedAtOnce, state));
  }
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100});
  Advance(seconds(7));
  ASSERT_EQ(sink_.results.size(), 4u);
  std::map<std::string, TimePoint> first;
  for (auto& r : sink_.results) first[r.check] = r.at;
  EXPECT_EQ(first["a"], t0);
  EXPECT_EQ(first["b"], t0 + seconds(2));
  EXPECT_EQ(first["c"], t0 + seconds(4));
  EXPECT_EQ(first["d"], t0 + seconds(6));
}

TEST_F(SchedulerTest, RunsAtAFixedRateAndReportsResults) {
  FakeRandom random(0.0);
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  TimePoint t0 = clock_.Now();
  std::vector<ScheduledCheck> checks;
  checks.push_back(Make("api", seconds(10), seconds(5), Behaviour::kFailAtOnce, state));
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100});
  Advance(seconds(25));
  ASSERT_EQ(sink_.results.size(), 3u);
  EXPECT_EQ(sink_.results[0].at, t0);
  EXPECT_EQ(sink_.results[1].at, t0 + seconds(10));
  EXPECT_EQ(sink_.results[2].at, t0 + seconds(20));
  EXPECT_EQ(sink_.results[0].result.reason, Reason::kHttp502);
  EXPECT_EQ(state.destroyed, 3);
  EXPECT_EQ(scheduler.in_flight(), 0u);
}

TEST_F(SchedulerTest, DurationIsMeasuredOnTheInjectedClock) {
  FakeRandom random(0.0);
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  std::vector<ScheduledCheck> checks;
  checks.push_back(Make("api", seconds(10), seconds(5), Behaviour::kFinishAfter, state));
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100});
  Advance(milliseconds(0));
  ASSERT_TRUE(state.pending_done);
  Advance(milliseconds(1500));
  auto done = std::move(state.pending_done);
  done(Result::Success());
  ASSERT_EQ(sink_.results.size(), 1u);
  EXPECT_TRUE(sink_.results[0].result.success);
  EXPECT_EQ(sink_.results[0].result.duration, milliseconds(1500));
}

TEST_F(SchedulerTest, DeadlineAbortsTheRunWithTheReasonTheCheckGives) {
  FakeRandom random(0.0);
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  TimePoint t0 = clock_.Now();
  std::vector<ScheduledCheck> checks;
  checks.push_back(Make("slow", seconds(10), seconds(3), Behaviour::kNeverFinish, state));
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100});
  Advance(milliseconds(2999));
  EXPECT_TRUE(sink_.results.empty());
  EXPECT_EQ(scheduler.in_flight(), 1u);
  Advance(milliseconds(1));
  ASSERT_EQ(sink_.results.size(), 1u);
  EXPECT_EQ(sink_.results[0].at, t0 + seconds(3));
  EXPECT_FALSE(sink_.results[0].result.success);
  EXPECT_EQ(sink_.results[0].result.reason, Reason::kConnectTimeout);
  EXPECT_EQ(sink_.results[0].result.duration, seconds(3));
  EXPECT_EQ(state.aborts, 1);
  EXPECT_EQ(state.destroyed, 1);
  EXPECT_EQ(scheduler.in_flight(), 0u);
}

TEST_F(SchedulerTest, ARunThatWouldOverlapIsSkippedAndCounted) {
  FakeRandom random(0.0);
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  std::vector<ScheduledCheck> checks;
  // Config validation forbids timeout >= interval; the scheduler must still never overlap.
  checks.push_back(Make("stuck", seconds(10), seconds(25), Behaviour::kNeverFinish, state));
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100});
  Advance(seconds(21));
  EXPECT_EQ(state.starts, 1);
  EXPECT_EQ(sink_.skipped["stuck"], 2);
  Advance(seconds(10));  // deadline at 25 s ends the run; the run due at 30 s starts
  EXPECT_EQ(state.starts, 2);
  EXPECT_EQ(sink_.results.size(), 1u);
}

TEST_F(SchedulerTest, GlobalCapSkipsRunsBeyondMaxInFlight) {
  FakeRandom random(0.0);
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  std::vector<ScheduledCheck> checks;
  checks.push_back(Make("a", seconds(10), seconds(5), Behaviour::kNeverFinish, state));
  checks.push_back(Make("b", seconds(10), seconds(5), Behaviour::kNeverFinish, state));
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 1});
  Advance(milliseconds(0));
  EXPECT_EQ(state.starts, 1);
  EXPECT_EQ(scheduler.in_flight(), 1u);
  int skipped = sink_.skipped["a"] + sink_.skipped["b"];
  EXPECT_EQ(skipped, 1);
}

TEST_F(SchedulerTest, LagIsHowLateADueRunWasPickedUp) {
  FakeRandom random(0.0);
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  std::vector<ScheduledCheck> checks;
  checks.push_back(Make("api", seconds(10), seconds(5), Behaviour::kSucceedAtOnce, state));
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100});
  // The loop was busy for 3 s: the timer runs late.
  clock_.Advance(seconds(3));
  timers_.RunDue(clock_.Now());
  ASSERT_EQ(sink_.lags.size(), 1u);
  EXPECT_EQ(sink_.lags[0], seconds(3));
}

TEST_F(SchedulerTest, AStalledLoopDoesNotFireMissedRunsBackToBack) {
  FakeRandom random(0.0);
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  TimePoint t0 = clock_.Now();
  std::vector<ScheduledCheck> checks;
  checks.push_back(Make("api", seconds(10), seconds(5), Behaviour::kSucceedAtOnce, state));
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100});
  timers_.RunDue(clock_.Now());  // run at t0
  clock_.Advance(seconds(35));   // stalled past three due times
  timers_.RunDue(clock_.Now());
  EXPECT_EQ(state.starts, 2);
  Advance(seconds(4));  // next due stays on the original phase: t0 + 40 s
  EXPECT_EQ(state.starts, 2);
  Advance(seconds(1));
  EXPECT_EQ(state.starts, 3);
  EXPECT_EQ(sink_.results.back().at, t0 + seconds(40));
}

TEST_F(SchedulerTest, ReloadKeepsUnchangedChecksRestartsChangedAndDropsRemoved) {
  FakeRandom random(0.0);
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState kept, changed, removed;
  std::vector<ScheduledCheck> v1;
  v1.push_back(Make("kept", seconds(10), seconds(5), Behaviour::kNeverFinish, kept));
  v1.push_back(Make("changed", seconds(10), seconds(5), Behaviour::kNeverFinish, changed));
  v1.push_back(Make("removed", seconds(10), seconds(5), Behaviour::kNeverFinish, removed));
  scheduler.SetChecks(std::move(v1), {.max_in_flight = 100});
  Advance(seconds(1));
  EXPECT_EQ(scheduler.in_flight(), 3u);

  random.set(0.5);
  std::vector<ScheduledCheck> v2;
  v2.push_back(Make("kept", seconds(10), seconds(5), Behaviour::kNeverFinish, kept));
  v2.push_back(Make("changed", seconds(10), seconds(5), Behaviour::kNeverFinish, changed, "v2"));
  scheduler.SetChecks(std::move(v2), {.max_in_flight = 100});

  EXPECT_EQ(sink_.configured.size(), 2u);
  EXPECT_EQ(removed.destroyed, 1);  // dropped, not reported
  EXPECT_EQ(changed.destroyed, 1);
  EXPECT_EQ(kept.destroyed, 0);  // its run goes on
  EXPECT_EQ(scheduler.in_flight(), 1u);
  EXPECT_TRUE(sink_.results.empty());
  Advance(seconds(4));  // kept's deadline (5 s after its start) reports it
  ASSERT_EQ(sink_.results.size(), 1u);
  EXPECT_EQ(sink_.results[0].check, "kept");
  Advance(seconds(1));  // changed restarts half an interval after the reload
  EXPECT_EQ(changed.starts, 2);
}

TEST_F(SchedulerTest, AnUnchangedCheckKeepsItsStateAcrossReloadsAChangedOneStartsFresh) {
  FakeRandom random(0.0);
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState kept, changed;
  auto checks = [&](const std::string& changed_fingerprint) {
    std::vector<ScheduledCheck> v;
    v.push_back(Make("kept", seconds(10), seconds(5), Behaviour::kSucceedAtOnce, kept));
    v.push_back(Make("changed", seconds(10), seconds(5), Behaviour::kSucceedAtOnce, changed,
                     changed_fingerprint));
    return v;
  };
  scheduler.SetChecks(checks("v1"), {.max_in_flight = 100});
  Advance(seconds(11));  // two runs each
  ASSERT_EQ(kept.starts, 2);
  ASSERT_EQ(changed.starts, 2);
  ASSERT_NE(kept.states[0], nullptr);
  EXPECT_EQ(kept.states[1], kept.states[0]) << "one state for every run of a check";
  EXPECT_NE(kept.states[0], changed.states[0]) << "each check has its own";

  scheduler.SetChecks(checks("v2"), {.max_in_flight = 100});  // new Check objects for both
  Advance(seconds(10));
  ASSERT_EQ(kept.starts, 3);
  ASSERT_GE(changed.starts, 3);
  EXPECT_EQ(kept.states[2], kept.states[0]) << "same fingerprint: the state carries over";
  EXPECT_EQ(static_cast<const CountingState*>(kept.states[2])->runs, 3);
  EXPECT_NE(changed.states[2], changed.states[0]) << "changed: a fresh state";
  EXPECT_EQ(static_cast<const CountingState*>(changed.states.back())->runs, changed.starts - 2);
}

// Runs whose due times fall in one coalescing window start together, at the window's end, and the
// rate stays exact: the rounding applies to each due time, never accumulates.
TEST_F(SchedulerTest, DueTimesInOneWindowStartTogetherWithoutDriftingTheRate) {
  SequenceRandom random({0.005, 0.0149, 0.0151});
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  TimePoint t0 = clock_.Now();  // a whole number of hours: on every window boundary
  std::vector<ScheduledCheck> checks;
  for (const char* name : {"a", "b", "c"}) {
    checks.push_back(Make(name, seconds(1), milliseconds(500), Behaviour::kSucceedAtOnce, state));
  }
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100, .coalesce = milliseconds(10)});
  // Offsets 5.0, 14.9 and 15.1 ms: a starts at 10 ms; b and c share the window ending at 20 ms.
  Advance(milliseconds(10));
  ASSERT_EQ(sink_.results.size(), 1u);
  EXPECT_EQ(sink_.results[0].check, "a");
  EXPECT_EQ(sink_.results[0].at, t0 + milliseconds(10));
  Advance(milliseconds(9));
  EXPECT_EQ(sink_.results.size(), 1u);
  Advance(milliseconds(1));
  ASSERT_EQ(sink_.results.size(), 3u);
  EXPECT_EQ(sink_.results[1].at, t0 + milliseconds(20));
  EXPECT_EQ(sink_.results[2].at, t0 + milliseconds(20));
  AdvanceTo(t0 + milliseconds(100'020));
  std::map<std::string, int> runs;
  std::map<std::string, TimePoint> last;
  for (const auto& r : sink_.results) runs[r.check]++, last[r.check] = r.at;
  EXPECT_EQ(runs["a"], 101);
  EXPECT_EQ(last["a"], t0 + milliseconds(100'010));
  EXPECT_EQ(last["c"], t0 + milliseconds(100'020));
  for (Duration lag : sink_.lags) EXPECT_EQ(lag, Duration::zero());  // lag from the coalesced time
}

// An interval the configured window does not divide (1,025 ms, 50 ms) is coalesced on a window
// that does (25 ms), so every due time of the check lands on one grid and its runs stay exactly one
// interval apart: a run whose timeout is close to its interval is never skipped.
TEST_F(SchedulerTest, RunsOfOneCheckStayExactlyOneIntervalApart) {
  FakeRandom random(0.36);  // offset 369 ms -> 375 ms (a 50 ms window would give 400 ms)
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  TimePoint t0 = clock_.Now();
  std::vector<ScheduledCheck> checks;
  checks.push_back(
      Make("hung", milliseconds(1025), milliseconds(1020), Behaviour::kNeverFinish, state));
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100, .coalesce = milliseconds(50)});
  Advance(seconds(41));
  EXPECT_EQ(sink_.skipped["hung"], 0);
  ASSERT_EQ(state.starts, 40);           // at 0.375 s, 1.4 s, ... 40.35 s
  ASSERT_EQ(sink_.results.size(), 39u);  // each ends at its deadline, 1,020 ms after its start
  EXPECT_EQ(sink_.results[0].at, t0 + milliseconds(375 + 1020));
  for (size_t i = 1; i < sink_.results.size(); ++i) {
    EXPECT_EQ(sink_.results[i].at - sink_.results[i - 1].at, milliseconds(1025)) << i;
  }
}

TEST_F(SchedulerTest, CoalesceZeroKeepsExactDueTimes) {
  FakeRandom random(0.00390625);  // 2^-8 s: exact in binary, 3,906.25 us
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  TimePoint t0 = clock_.Now();
  std::vector<ScheduledCheck> checks;
  checks.push_back(Make("api", seconds(1), milliseconds(500), Behaviour::kSucceedAtOnce, state));
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100, .coalesce = Duration::zero()});
  Advance(milliseconds(1'003));
  ASSERT_EQ(sink_.results.size(), 1u);
  EXPECT_EQ(sink_.results[0].at, t0 + nanoseconds(3'906'250));
  Advance(milliseconds(1));
  ASSERT_EQ(sink_.results.size(), 2u);
  EXPECT_EQ(sink_.results[1].at, t0 + nanoseconds(1'003'906'250));
}

TEST_F(SchedulerTest, CoalescingNeverTakesMoreThanATenthOfTheInterval) {
  FakeRandom random(0.31);
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  TimePoint t0 = clock_.Now();
  std::vector<ScheduledCheck> checks;
  checks.push_back(
      Make("fast", milliseconds(100), milliseconds(50), Behaviour::kSucceedAtOnce, state));
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100, .coalesce = milliseconds(100)});
  // Offset 31 ms; the window is 10 ms (a tenth of 100 ms), not 100 ms: first run at 40 ms.
  Advance(milliseconds(39));
  EXPECT_TRUE(sink_.results.empty());
  Advance(milliseconds(1));
  ASSERT_EQ(sink_.results.size(), 1u);
  EXPECT_EQ(sink_.results[0].at, t0 + milliseconds(40));
}

TEST_F(SchedulerTest, StopDropsRunsWithoutReporting) {
  FakeRandom random(0.0);
  Scheduler scheduler(timers_, clock_, random, services_, sink_);
  FakeState state;
  std::vector<ScheduledCheck> checks;
  checks.push_back(Make("api", seconds(10), seconds(5), Behaviour::kNeverFinish, state));
  scheduler.SetChecks(std::move(checks), {.max_in_flight = 100});
  Advance(milliseconds(10));
  scheduler.Stop();
  EXPECT_EQ(state.destroyed, 1);
  EXPECT_EQ(scheduler.in_flight(), 0u);
  Advance(seconds(30));
  EXPECT_TRUE(sink_.results.empty());
  EXPECT_EQ(state.starts, 1);
}

}  // namespace
}  // namespace gatewatch
