#include "agent/scheduler/scheduler.h"

#include <numeric>
#include <optional>
#include <utility>

namespace gatewatch {

struct Scheduler::Slot {
  std::shared_ptr<const Check> check;
  std::string fingerprint;
  // What the check carries between runs (Check::NewState); kept with the slot, so an unchanged
  // check keeps it across a reload. Declared before `run`: a run never outlives its state.
  std::unique_ptr<CheckState> state;
  TimePoint next_due;
  TimerId due_timer = 0;
  // The run in flight, if any.
  std::unique_ptr<CheckRun> run;
  TimerId deadline_timer = 0;
  TimePoint run_started;
  uint64_t run_seq = 0;   // identifies the current run; late callbacks of older runs are ignored
  bool starting = false;  // inside Check::Start()
  std::optional<Result> early_result;  // `done` called from inside Start()

  const CheckSpec& spec() const { return check->spec(); }
};

Scheduler::Scheduler(TimerQueue& timers, const Clock& clock, Random& random,
                     CheckServices& services, ResultSink& sink)
    : timers_(timers), clock_(clock), random_(random), services_(services), sink_(sink) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::SetChecks(std::vector<ScheduledCheck> checks, const SchedulerOptions& options) {
  options_ = options;
  std::unordered_map<std::string, std::unique_ptr<Slot>> next;
  for (auto& c : checks) {
    const std::string& name = c.check->spec().name;
    auto old = slots_.find(name);
    if (old != slots_.end() && old->second->fingerprint == c.fingerprint) {
      next.emplace(name, std::move(old->second));
      slots_.erase(old);
      continue;
    }
    auto slot = std::make_unique<Slot>();
    slot->check = std::move(c.check);
    slot->fingerprint = std::move(c.fingerprint);
    slot->state = slot->check->NewState();
    ScheduleFirst(*slot);
    next.emplace(name, std::move(slot));
  }
  for (auto& [name, slot] : slots_) Drop(*slot);  // removed or changed
  slots_ = std::move(next);

  std::vector<const CheckSpec*> specs;
  specs.reserve(slots_.size());
  for (auto& [name, slot] : slots_) specs.push_back(&slot->spec());
  sink_.OnConfig(specs);
}

void Scheduler::Stop() {
  for (auto& [name, slot] : slots_) Drop(*slot);
  slots_.clear();
}

void Scheduler::ScheduleFirst(Slot& slot) {
  auto interval = slot.spec().interval;
  auto offset = std::chrono::duration_cast<Duration>(interval * random_.Uniform01());
  // Coalesced once: the window divides the interval, so every later due time (+= interval)
  // stays on the window's grid.
  slot.next_due = Coalesced(slot, clock_.Now() + offset);
  ArmDue(slot);
}

TimePoint Scheduler::Coalesced(const Slot& slot, TimePoint t) const {
  // The window divides the interval (their greatest common divisor, capped at a tenth of the
  // interval): every due time of the check is then rounded by the same amount and consecutive
  // runs stay exactly one interval apart. A window that did not divide it would move runs closer
  // than the interval now and then, and a run with a timeout near its interval would be skipped.
  Duration interval = slot.spec().interval;
  Duration cap = std::min(options_.coalesce, interval / 10);
  if (cap <= Duration::zero()) return t;
  Duration window(std::gcd(interval.count(), cap.count()));
  Duration past = t.time_since_epoch() % window;
  return past == Duration::zero() ? t : t + (window - past);
}

void Scheduler::ArmDue(Slot& slot) {
  slot.due_timer = timers_.Add(slot.next_due, [this, s = &slot] { OnDue(*s); });
}

void Scheduler::OnDue(Slot& slot) {
  TimePoint now = clock_.Now();
  sink_.OnSchedulerLag(now - slot.next_due);

  // Fixed rate; if the loop fell more than an interval behind, skip the missed slots rather than
  // firing them back to back.
  auto interval = slot.spec().interval;
  slot.next_due += interval;
  if (slot.next_due <= now) {
    auto behind = (now - slot.next_due) / interval + 1;
    slot.next_due += behind * interval;
  }
  ArmDue(slot);

  if (slot.run != nullptr || in_flight_ >= options_.max_in_flight) {
    sink_.OnSkipped(slot.spec());
    return;
  }
  StartRun(slot, now);
}

void Scheduler::StartRun(Slot& slot, TimePoint now) {
  uint64_t seq = ++slot.run_seq;
  slot.run_started = now;
  ++in_flight_;
  RunContext ctx{services_, now, now + slot.spec().timeout, slot.state.get()};
  slot.starting = true;
  slot.early_result.reset();
  auto run = slot.check->Start(
      ctx, [this, s = &slot, seq](Result result) { OnDone(*s, seq, std::move(result)); });
  slot.starting = false;
  if (slot.early_result) {
    run.reset();
    Result result = std::move(*slot.early_result);
    slot.early_result.reset();
    Finish(slot, std::move(result));
    return;
  }
  slot.run = std::move(run);
  slot.deadline_timer = timers_.Add(ctx.deadline, [this, s = &slot, seq] { OnDeadline(*s, seq); });
}

void Scheduler::OnDone(Slot& slot, uint64_t seq, Result result) {
  if (seq != slot.run_seq) return;
  if (slot.starting) {
    slot.early_result = std::move(result);
    return;
  }
  if (slot.run == nullptr) return;
  timers_.Cancel(slot.deadline_timer);
  slot.deadline_timer = 0;
  // The contract lets us destroy the run here: the check does not touch it after `done`.
  auto run = std::move(slot.run);
  Finish(slot, std::move(result));
}

void Scheduler::OnDeadline(Slot& slot, uint64_t seq) {
  if (seq != slot.run_seq || slot.run == nullptr) return;
  slot.deadline_timer = 0;
  auto run = std::move(slot.run);
  Result result = run->Abort();
  run.reset();
  if (result.success) {
    // A run that did not finish in time is not a success, whatever it had seen so far.
    result.success = false;
    result.reason = Reason::kTimeout;
  }
  Finish(slot, std::move(result));
}

void Scheduler::Finish(Slot& slot, Result result) {
  --in_flight_;
  result.duration = clock_.Now() - slot.run_started;
  if (result.success) {
    result.reason = Reason::kNone;
  } else if (result.reason == Reason::kNone) {
    result.reason = Reason::kInternalError;  // a check bug must not look like a success
  }
  sink_.OnResult(slot.spec(), result);
}

void Scheduler::Drop(Slot& slot) {
  timers_.Cancel(slot.due_timer);
  timers_.Cancel(slot.deadline_timer);
  slot.due_timer = slot.deadline_timer = 0;
  if (slot.run != nullptr) {
    slot.run.reset();
    ++slot.run_seq;
    --in_flight_;
  }
}

}  // namespace gatewatch
