#include "checks/host_check.h"

#include <fcntl.h>
#include <fnmatch.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "agent/base/fd.h"
#include "agent/base/units.h"
#include "agent/io/event_loop.h"
#include "agent/io/statfs_pool.h"

namespace gatewatch {

namespace {

// ----- Metrics ---------------------------------------------------------------------------------

struct HostMetrics {
  MetricDesc cpu_usage{"host_cpu_usage_ratio",
                       MetricKind::kGauge,
                       "Share of CPU time between the last two samples: busy (all but idle and "
                       "iowait), user (with nice), system (with irq, softirq), iowait, steal.",
                       {"mode"}};
  MetricDesc cpus{"host_cpus", MetricKind::kGauge, "CPUs online.", {}};
  MetricDesc load{"host_load", MetricKind::kGauge, "Load average over 1m, 5m and 15m.", {"window"}};
  MetricDesc memory_bytes{"host_memory_bytes",
                          MetricKind::kGauge,
                          "Host memory: total, available, used (total - available), swap_total, "
                          "swap_used.",
                          {"kind"}};
  MetricDesc memory_used{
      "host_memory_used_ratio", MetricKind::kGauge, "(MemTotal - MemAvailable) / MemTotal.", {}};
  MetricDesc disk_used{"host_disk_used_ratio",
                       MetricKind::kGauge,
                       "Used share of a filesystem as df computes Use%: used / (used + available).",
                       {"mountpoint"}};
  MetricDesc disk_inodes_used{"host_disk_inodes_used_ratio",
                              MetricKind::kGauge,
                              "Used share of a filesystem's inodes.",
                              {"mountpoint"}};
  MetricDesc disk_bytes{"host_disk_bytes",
                        MetricKind::kGauge,
                        "Filesystem size, used and available bytes (as df -B1).",
                        {"mountpoint", "kind"}};
  MetricDesc disk_mountpoints{"host_disk_mountpoints",
                              MetricKind::kGauge,
                              "Mountpoints selected for the disk figures: reported, dropped "
                              "(over max_mountpoints) or stuck (statvfs did not answer in time).",
                              {"state"}};
  MetricDesc pressure{"host_pressure_ratio",
                      MetricKind::kGauge,
                      "Pressure stall information: share of time some tasks stalled on cpu, "
                      "memory or io, averaged over 10s, 60s, 300s.",
                      {"resource", "window"}};
  MetricDesc container_memory_bytes{"container_memory_bytes",
                                    MetricKind::kGauge,
                                    "The agent's cgroup v2: memory.current (usage) and memory.max "
                                    "(limit, absent without a limit).",
                                    {"kind"}};
  MetricDesc container_memory_used{"container_memory_used_ratio",
                                   MetricKind::kGauge,
                                   "memory.current / memory.max of the agent's cgroup (absent "
                                   "without a limit).",
                                   {}};
  MetricDesc container_cpu_limit{"container_cpu_limit_cores",
                                 MetricKind::kGauge,
                                 "cpu.max quota / period of the agent's cgroup (absent without a "
                                 "limit).",
                                 {}};
  MetricDesc container_oom_kills{"container_oom_kills_total",
                                 MetricKind::kCounter,
                                 "OOM kills in the agent's cgroup (memory.events oom_kill) seen "
                                 "since the check started.",
                                 {}};
  MetricDesc container_throttled{"container_cpu_throttled_seconds_total",
                                 MetricKind::kCounter,
                                 "Time the agent's cgroup was throttled by cpu.max (cpu.stat "
                                 "throttled_usec) since the check started.",
                                 {}};
  MetricDesc resource_level{"host_resource_level",
                            MetricKind::kGauge,
                            "Threshold level per resource: 0 ok, 1 warn (degraded, the run still "
                            "succeeds), 2 critical (the run fails).",
                            {"resource"}};
};

// Leaked on purpose: Observations point at these descriptors until the process exits.
const HostMetrics& Metrics() {
  static const HostMetrics* metrics = new HostMetrics();
  return *metrics;
}

constexpr size_t kMaxFileBytes = 1 << 20;
constexpr size_t kMaxMaxMountpoints = 1000;
constexpr Duration kCpuSecondSample = std::chrono::milliseconds(200);
constexpr const char* kPressureResources[] = {"cpu", "memory", "io"};

// Reads a small /proc, /sys or cgroup file. nullopt if it is missing or unreadable: a missing
// file means "not available here" (no PSI, no limit), never an error.
std::optional<std::string> ReadSmallFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  std::string out;
  char buf[8192];
  while (out.size() < kMaxFileBytes) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    // EOPNOTSUPP: /proc/pressure/* on a kernel booted with psi=0.
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string Under(const std::string& root, const std::string& path) {
  if (root.empty() || root == "/") return path;
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  return r + path;
}

bool MatchesAny(const std::vector<std::string>& globs, const std::string& s) {
  return std::any_of(globs.begin(), globs.end(),
                     [&](const std::string& g) { return fnmatch(g.c_str(), s.c_str(), 0) == 0; });
}

// ----- Config ----------------------------------------------------------------------------------

Threshold ParseThreshold(const ConfigNode& node, Threshold fallback) {
  if (!node.IsDefined()) return fallback;
  node.ExpectMap();
  Threshold t;
  if (ConfigNode w = node.Child("warn"); w.IsDefined()) t.warn = w.AsDouble(0, 1);
  if (ConfigNode c = node.Child("critical"); c.IsDefined()) t.critical = c.AsDouble(0, 1);
  if (t.warn && t.critical && *t.warn > *t.critical) {
    node.Child("warn").Fail("must not be greater than critical");
  }
  node.RejectUnknownKeys();
  return t;
}

void ParseIncludeExclude(const ConfigNode& node, std::vector<std::string>& include,
                         std::vector<std::string>& exclude) {
  if (!node.IsDefined()) return;
  node.ExpectMap();
  if (ConfigNode i = node.Child("include"); i.IsDefined()) include = i.AsStringList();
  if (ConfigNode e = node.Child("exclude"); e.IsDefined()) exclude = e.AsStringList();
  node.RejectUnknownKeys();
}

// The statvfs answers of one run. Shared between the run (loop thread) and the workers. Once the
// run stops waiting (all answered, deadline, abort or destruction) `alive` is false and late
// answers are dropped; while it is true, the run and therefore its loop exist.
struct DiskBatch {
  std::mutex mu;
  bool alive = true;
  EventLoop* loop = nullptr;
  std::vector<std::optional<FsStats>> results;  // nullopt: statvfs failed
  std::vector<bool> answered;
  size_t pending = 0;
  std::function<void()> on_all_answered;  // posted to `loop` when pending reaches 0
};

// Previous counters of a check, for deltas: its CheckState (see checks/api/check.h). Touched only
// on the loop thread (runs start and finish there), so it needs no lock.
struct HostState final : CheckState {
  std::optional<CpuTimes> cpu;
  CgroupCounters cgroup;
};

class HostCheck;

// ----- One run ---------------------------------------------------------------------------------

class HostRun final : public CheckRun {
 public:
  HostRun(const HostCheck& check, const RunContext& ctx, DoneCallback done);
  ~HostRun() override { StopWaiting(); }

  // Collects what is synchronous and starts what is not; may call done before returning.
  void Begin();

  Result Abort() override {
    std::string pending = std::string(cpu_pending_ ? " (second CPU sample pending)" : "") +
                          (disks_pending_ ? " (statvfs answers pending)" : "");
    done_ = nullptr;
    StopWaiting();
    return Result::Failure(Reason::kTimeout,
                           "host collection did not finish within the timeout" + pending);
  }

 private:
  void ReadCpu(bool first);
  void ReadCgroup();
  void StartDisks();
  void OnDisksAnswered(bool deadline);
  void MaybeFinish();
  // Stops timers and drops statvfs answers still to come; done is then never called by them.
  void StopWaiting();

  const HostCheck& check_;
  CheckServices& services_;
  HostState* state_;  // ctx.state; null only if the caller broke the contract
  TimePoint deadline_;
  DoneCallback done_;
  HostSample sample_;
  bool cpu_pending_ = false;
  bool disks_pending_ = false;
  TimerId cpu_timer_{};
  TimerId disk_timer_{};
  std::vector<std::string> disk_mountpoints_;
  std::shared_ptr<DiskBatch> batch_;
  // Late loop callbacks (posted answers) hold a weak reference to know the run is gone.
  std::shared_ptr<char> alive_ = std::make_shared<char>();
};

class HostCheck final : public Check {
 public:
  HostCheck(CheckSpec spec, std::shared_ptr<const HostCheckConfig> cfg)
      : Check(std::move(spec)), cfg_(std::move(cfg)) {}

  std::unique_ptr<CheckState> NewState() const override { return std::make_unique<HostState>(); }

  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    auto run = std::make_unique<HostRun>(*this, ctx, std::move(done));
    run->Begin();
    return run;
  }

  const HostCheckConfig& cfg() const { return *cfg_; }

 private:
  std::shared_ptr<const HostCheckConfig> cfg_;
};

HostRun::HostRun(const HostCheck& check, const RunContext& ctx, DoneCallback done)
    : check_(check),
      services_(ctx.services),
      // Made by NewState() of this check or of one with the same fingerprint (same type).
      state_(static_cast<HostState*>(ctx.state)),
      deadline_(ctx.deadline),
      done_(std::move(done)) {}

void HostRun::Begin() {
  if (state_ == nullptr) {
    DoneCallback done = std::move(done_);
    done_ = nullptr;
    done(Result::Failure(Reason::kInternalError, "host run started without its state"));
    return;  // may be destroyed
  }
  const HostPaths& p = services_.paths;
  ReadCpu(true);
  if (auto text = ReadSmallFile(p.procfs + "/loadavg")) sample_.load = ParseLoadavg(*text);
  if (auto text = ReadSmallFile(p.procfs + "/meminfo")) sample_.memory = ParseMeminfo(*text);
  for (size_t i = 0; i < 3; ++i) {
    auto text = ReadSmallFile(p.procfs + "/pressure/" + kPressureResources[i]);
    if (text) sample_.pressure[i] = ParsePressure(*text);
  }
  ReadCgroup();
  StartDisks();
  MaybeFinish();  // may call done: nothing after this line
}

// The first run of a check has no earlier sample: it takes a second one shortly after the first
// (kCpuSecondSample, bounded by the deadline) rather than report usage since boot, which says
// nothing about now. Later runs compare with the previous run's sample.
void HostRun::ReadCpu(bool first) {
  auto text = ReadSmallFile(services_.paths.procfs + "/stat");
  std::optional<ProcStat> stat = text ? ParseProcStat(*text) : std::nullopt;
  if (!stat) return;
  sample_.stat = stat;
  HostState& state = *state_;
  if (state.cpu) sample_.cpu = ComputeCpuUsage(*state.cpu, stat->cpu);
  bool had_previous = state.cpu.has_value();
  state.cpu = stat->cpu;
  if (first && !had_previous) {
    Duration wait = std::min<Duration>(kCpuSecondSample, (deadline_ - services_.clock.Now()) / 4);
    cpu_pending_ = true;
    cpu_timer_ = services_.loop->AddTimerAfter(std::max(wait, Duration::zero()), [this] {
      cpu_timer_ = {};
      cpu_pending_ = false;
      ReadCpu(false);
      MaybeFinish();
    });
  }
}

void HostRun::ReadCgroup() {
  const HostPaths& p = services_.paths;
  auto self = ReadSmallFile(p.procfs + "/self/cgroup");
  std::optional<std::string> rel = self ? ParseCgroupV2Path(*self) : std::nullopt;
  if (!rel) return;  // cgroup v1 only: no container figures
  std::string dir = Under(p.sysfs + "/fs/cgroup", *rel == "/" ? "" : *rel);
  if (!ReadSmallFile(dir + "/cgroup.controllers")) return;
  sample_.container_cgroup = true;
  HostState& state = *state_;
  if (auto t = ReadSmallFile(dir + "/memory.current")) {
    sample_.container_memory_current = ParseCgroupBytes(*t);
  }
  if (auto t = ReadSmallFile(dir + "/memory.max"))
    sample_.container_memory_max = ParseCgroupBytes(*t);
  if (auto t = ReadSmallFile(dir + "/cpu.max")) sample_.container_cpu_max = ParseCpuMax(*t);
  std::optional<std::string> events = ReadSmallFile(dir + "/memory.events");
  std::optional<std::string> cpu_stat = ReadSmallFile(dir + "/cpu.stat");
  CgroupCounters now = ParseCgroupCounters(events, cpu_stat);
  CgroupDeltas deltas = ComputeCgroupDeltas(state.cgroup, now);
  state.cgroup = CarryCgroupCounters(state.cgroup, now);
  sample_.new_oom_kills = deltas.new_oom_kills;
  sample_.throttled_seconds = deltas.throttled_seconds;
  sample_.throttled_ratio = deltas.throttled_ratio;
}

void HostRun::StartDisks() {
  const HostPaths& p = services_.paths;
  const HostCheckConfig& cfg = check_.cfg();
  auto text = ReadSmallFile(p.procfs + "/1/mounts");
  if (!text) text = ReadSmallFile(p.procfs + "/self/mounts");
  if (!text) return;
  MountSelection selection = SelectMounts(ParseMounts(*text), cfg);
  sample_.disks_dropped = selection.dropped;
  disk_mountpoints_ = std::move(selection.mountpoints);
  std::vector<std::string> paths;
  for (const std::string& mountpoint : disk_mountpoints_) {
    paths.push_back(Under(p.rootfs, mountpoint));
  }
  if (paths.empty()) return;

  batch_ = std::make_shared<DiskBatch>();
  batch_->loop = services_.loop;
  batch_->results.resize(paths.size());
  batch_->answered.resize(paths.size());
  batch_->pending = paths.size();
  std::weak_ptr<char> alive = alive_;
  batch_->on_all_answered = [this, alive] {
    if (alive.expired()) return;
    OnDisksAnswered(false);
  };
  disks_pending_ = true;
  TimePoint now = services_.clock.Now();
  Duration wait = std::min<Duration>(cfg.disk_timeout, (deadline_ - now) * 3 / 4);
  disk_timer_ = services_.loop->AddTimerAfter(std::max(wait, Duration::zero()), [this] {
    disk_timer_ = {};
    OnDisksAnswered(true);
  });
  // Both ways a path is settled (an answer on a worker, a stuck call right here) count down.
  auto count_down = [](DiskBatch& batch) {
    if (--batch.pending == 0 && batch.alive) batch.loop->Post(batch.on_all_answered);
  };
  for (size_t i = 0; i < paths.size(); ++i) {
    auto answer = [batch = batch_, count_down, i](std::optional<FsStats> result) {
      std::lock_guard l(batch->mu);
      batch->results[i] = result;
      batch->answered[i] = true;
      count_down(*batch);
    };
    // A call still running since before this run's disk_timeout is stuck at once: this run
    // neither waits for it nor asks again (answered[i] stays false).
    auto outcome =
        services_.statfs.Request(paths[i], now, now - cfg.disk_timeout, std::move(answer));
    if (outcome == StatfsPool::Outcome::kStuck) {
      std::lock_guard l(batch_->mu);
      count_down(*batch_);
    }
  }
}

void HostRun::OnDisksAnswered(bool deadline) {
  if (!disks_pending_) return;
  disks_pending_ = false;
  if (!deadline) services_.loop->CancelTimer(disk_timer_);
  disk_timer_ = {};
  {
    std::lock_guard l(batch_->mu);
    batch_->alive = false;
    for (size_t i = 0; i < batch_->results.size(); ++i) {
      if (batch_->results[i]) {
        sample_.disks.push_back({disk_mountpoints_[i], *batch_->results[i]});
      } else if (!batch_->answered[i]) {
        ++sample_.disks_stuck;
      }
      // An answered failure (EACCES, a mount gone since the table was read) is just not reported.
    }
  }
  MaybeFinish();
}

void HostRun::MaybeFinish() {
  if (cpu_pending_ || disks_pending_ || !done_) return;
  Result result = EvaluateHost(sample_, check_.cfg());
  DoneCallback done = std::move(done_);
  done_ = nullptr;
  done(std::move(result));  // may destroy this
}

void HostRun::StopWaiting() {
  if (cpu_pending_) services_.loop->CancelTimer(cpu_timer_);
  if (disks_pending_) services_.loop->CancelTimer(disk_timer_);
  cpu_pending_ = disks_pending_ = false;
  if (batch_) {
    std::lock_guard l(batch_->mu);
    batch_->alive = false;
  }
}

// ----- Evaluation ------------------------------------------------------------------------------

// Reasons in the order a failing run picks them: the most specific and destructive cause first.
constexpr Reason kReasonOrder[] = {Reason::kOomKilled,    Reason::kMemoryExhausted,
                                   Reason::kDiskFull,     Reason::kInodesExhausted,
                                   Reason::kCpuThrottled, Reason::kCpuSaturated};

size_t Priority(Reason r) {
  for (size_t i = 0; i < std::size(kReasonOrder); ++i) {
    if (kReasonOrder[i] == r) return i;
  }
  return std::size(kReasonOrder);
}

struct Crossing {
  Reason reason;
  Level level;
  std::string text;
};

// What the per-resource evaluators below add to: observations, threshold crossings, resource
// levels and the report lines; Finish() turns them into the Result.
class HostEvaluation {
 public:
  explicit HostEvaluation(const HostMetrics& m) : m(m) {}

  const HostMetrics& m;

  void Observe(const MetricDesc& d, LabelValues labels, double v) {
    obs_.push_back({&d, std::move(labels), v});
  }
  void SetLevel(const char* resource, Level l) {
    Observe(m.resource_level, {resource}, static_cast<double>(l));
  }
  void Cross(Reason reason, Level level, std::string text) {
    crossings_.push_back({reason, level, std::move(text)});
  }
  // Records a crossing of `value` (if any) and returns its level.
  Level Judge(Reason reason, const std::string& what, double value, const Threshold& t) {
    Level l = LevelOf(value, t);
    if (l != Level::kOk) {
      double limit = l == Level::kCritical ? *t.critical : *t.warn;
      Cross(reason, l,
            what + " " + FormatFixed(value, 3) + " >= " + FormatFixed(limit, 3) +
                (l == Level::kCritical ? " (critical)" : " (warn)"));
    }
    return l;
  }
  void Report(std::string key, std::string value) {
    report_.emplace_back(std::move(key), std::move(value));
  }

  // The most important critical crossing fails the run; warn crossings make it "degraded".
  Result Finish() && {
    // Deterministic: by reason priority, critical before warn, then in the order found.
    std::stable_sort(crossings_.begin(), crossings_.end(),
                     [](const Crossing& a, const Crossing& b) {
                       if (a.level != b.level) return a.level > b.level;
                       return Priority(a.reason) < Priority(b.reason);
                     });
    std::string detail;
    for (const Crossing& c : crossings_) detail += (detail.empty() ? "" : "; ") + c.text;
    Result r;
    if (!crossings_.empty() && crossings_.front().level == Level::kCritical) {
      r = Result::Failure(crossings_.front().reason, detail);
    } else {
      r = Result::Success();
      std::string summary;
      for (const auto& [k, v] : report_) summary += (summary.empty() ? "" : ", ") + k + " " + v;
      r.detail = detail.empty() ? summary : "degraded: " + detail;
    }
    r.observations = std::move(obs_);
    r.report = std::move(report_);
    return r;
  }

 private:
  std::vector<Observation> obs_;
  std::vector<Crossing> crossings_;
  std::vector<std::pair<std::string, std::string>> report_;
};

void EvaluateCpu(const HostSample& s, const HostCheckConfig& cfg, HostEvaluation& e) {
  if (s.stat) e.Observe(e.m.cpus, {}, s.stat->cpus);
  if (!s.cpu) return;
  e.Observe(e.m.cpu_usage, {"busy"}, s.cpu->busy);
  e.Observe(e.m.cpu_usage, {"user"}, s.cpu->user);
  e.Observe(e.m.cpu_usage, {"system"}, s.cpu->system);
  e.Observe(e.m.cpu_usage, {"iowait"}, s.cpu->iowait);
  e.Observe(e.m.cpu_usage, {"steal"}, s.cpu->steal);
  e.SetLevel("cpu", e.Judge(Reason::kCpuSaturated, "cpu busy", s.cpu->busy, cfg.cpu));
  e.Report("cpu busy", FormatFixed(s.cpu->busy, 3));
}

void EvaluateLoad(const HostSample& s, HostEvaluation& e) {
  if (!s.load) return;
  static constexpr const char* kWindows[] = {"1m", "5m", "15m"};
  for (size_t i = 0; i < 3; ++i) e.Observe(e.m.load, {kWindows[i]}, (*s.load)[i]);
  e.Report("load 1m", FormatFixed((*s.load)[0], 3));
}

void EvaluateMemory(const HostSample& s, const HostCheckConfig& cfg, HostEvaluation& e) {
  if (!s.memory) return;
  const MemInfo& mem = *s.memory;
  e.Observe(e.m.memory_bytes, {"total"}, double(mem.total));
  e.Observe(e.m.memory_bytes, {"available"}, double(mem.available));
  e.Observe(e.m.memory_bytes, {"used"}, double(mem.used()));
  e.Observe(e.m.memory_bytes, {"swap_total"}, double(mem.swap_total));
  e.Observe(e.m.memory_bytes, {"swap_used"}, double(mem.swap_total - mem.swap_free));
  double ratio = double(mem.used()) / double(mem.total);
  e.Observe(e.m.memory_used, {}, ratio);
  e.SetLevel("memory", e.Judge(Reason::kMemoryExhausted, "memory used", ratio, cfg.memory));
  e.Report("memory used", FormatFixed(ratio, 3));
}

// Space and inodes of every reported mount; one level each for all mounts (the worst).
void EvaluateDisks(const HostSample& s, const HostCheckConfig& cfg, HostEvaluation& e) {
  Level disk_level = Level::kOk, inode_level = Level::kOk;
  bool any_inodes = false;
  for (const DiskFigures& d : s.disks) {
    const FsStats& f = d.stats;
    e.Observe(e.m.disk_bytes, {d.mountpoint, "size"}, double(f.size));
    e.Observe(e.m.disk_bytes, {d.mountpoint, "used"}, double(f.used));
    e.Observe(e.m.disk_bytes, {d.mountpoint, "available"}, double(f.available));
    if (f.used + f.available > 0) {
      double ratio = double(f.used) / double(f.used + f.available);
      e.Observe(e.m.disk_used, {d.mountpoint}, ratio);
      disk_level = std::max(disk_level, e.Judge(Reason::kDiskFull, "disk " + d.mountpoint + " used",
                                                ratio, cfg.disk));
    }
    // Some filesystems (btrfs, vfat) have no fixed inode table and report 0.
    if (f.inodes > 0) {
      any_inodes = true;
      double ratio = double(f.inodes - f.inodes_free) / double(f.inodes);
      e.Observe(e.m.disk_inodes_used, {d.mountpoint}, ratio);
      inode_level = std::max(
          inode_level,
          e.Judge(Reason::kInodesExhausted, "inodes " + d.mountpoint + " used", ratio, cfg.inodes));
    }
  }
  if (!s.disks.empty()) e.SetLevel("disk", disk_level);
  if (any_inodes) e.SetLevel("inodes", inode_level);
  e.Observe(e.m.disk_mountpoints, {"reported"}, double(s.disks.size()));
  e.Observe(e.m.disk_mountpoints, {"dropped"}, double(s.disks_dropped));
  e.Observe(e.m.disk_mountpoints, {"stuck"}, double(s.disks_stuck));
  e.Report("disks", std::to_string(s.disks.size()) + " reported, " + std::to_string(s.disks_stuck) +
                        " stuck, " + std::to_string(s.disks_dropped) + " dropped");
}

void EvaluatePressure(const HostSample& s, HostEvaluation& e) {
  static constexpr const char* kPsiWindows[] = {"10s", "60s", "300s"};
  for (size_t r = 0; r < 3; ++r) {
    if (!s.pressure[r]) continue;
    for (size_t w = 0; w < 3; ++w) {
      e.Observe(e.m.pressure, {kPressureResources[r], kPsiWindows[w]}, s.pressure[r]->some[w]);
    }
  }
}

void EvaluateContainerMemory(const HostSample& s, const HostCheckConfig& cfg, HostEvaluation& e) {
  if (s.container_memory_current) {
    e.Observe(e.m.container_memory_bytes, {"usage"}, double(*s.container_memory_current));
  }
  if (s.container_memory_max) {
    e.Observe(e.m.container_memory_bytes, {"limit"}, double(*s.container_memory_max));
  }
  if (s.container_memory_current && s.container_memory_max && *s.container_memory_max > 0) {
    double ratio =
        std::min(1.0, double(*s.container_memory_current) / double(*s.container_memory_max));
    e.Observe(e.m.container_memory_used, {}, ratio);
    e.SetLevel("container_memory", e.Judge(Reason::kMemoryExhausted, "container memory used", ratio,
                                           cfg.container_memory));
    e.Report("container memory used", FormatFixed(ratio, 3));
  }
}

// Any new OOM kill is critical (unless oom_kills: false): there is no warn level for a kill.
void EvaluateOomKills(const HostSample& s, const HostCheckConfig& cfg, HostEvaluation& e) {
  if (!s.new_oom_kills) return;
  e.Observe(e.m.container_oom_kills, {}, double(*s.new_oom_kills));
  Level l = cfg.oom_kills && *s.new_oom_kills > 0 ? Level::kCritical : Level::kOk;
  if (l == Level::kCritical) {
    e.Cross(Reason::kOomKilled, l,
            std::to_string(*s.new_oom_kills) + " new OOM kill(s) in the container (critical)");
  }
  e.SetLevel("oom_kills", l);
}

void EvaluateContainerCpu(const HostSample& s, const HostCheckConfig& cfg, HostEvaluation& e) {
  if (s.container_cpu_max) e.Observe(e.m.container_cpu_limit, {}, s.container_cpu_max->cores());
  if (s.container_cgroup) e.Observe(e.m.container_throttled, {}, s.throttled_seconds);
  if (s.throttled_ratio) {
    e.SetLevel("cpu_throttling", e.Judge(Reason::kCpuThrottled, "container cpu throttled",
                                         *s.throttled_ratio, cfg.cpu_throttling));
  }
}

}  // namespace

Level LevelOf(double value, const Threshold& t) {
  if (t.critical && value >= *t.critical) return Level::kCritical;
  if (t.warn && value >= *t.warn) return Level::kWarn;
  return Level::kOk;
}

bool ShouldReportMount(const MountEntry& m, const HostCheckConfig& cfg) {
  bool type_included = !cfg.include_fs_types.empty() && MatchesAny(cfg.include_fs_types, m.fs_type);
  if (IsPseudoFs(m.fs_type) && !type_included) return false;
  if (!cfg.include_fs_types.empty() && !type_included) return false;
  if (MatchesAny(cfg.exclude_fs_types, m.fs_type)) return false;
  // node_exporter's default --collector.filesystem.mount-points-exclude, plus the files and
  // secrets a container runtime bind-mounts into every container (they are the host's disk or a
  // tiny tmpfs, never the container's own).
  static const std::vector<std::string> kSystemMounts = {"/dev",
                                                         "/dev/*",
                                                         "/proc",
                                                         "/proc/*",
                                                         "/sys",
                                                         "/sys/*",
                                                         "/run/credentials/*",
                                                         "/var/lib/docker/*",
                                                         "/var/lib/containers/storage/*",
                                                         "/etc/hostname",
                                                         "/etc/hosts",
                                                         "/etc/resolv.conf",
                                                         "/run/secrets/*",
                                                         "/var/run/secrets/*"};
  if (MatchesAny(kSystemMounts, m.mountpoint)) return false;
  if (!cfg.include_mountpoints.empty() && !MatchesAny(cfg.include_mountpoints, m.mountpoint)) {
    return false;
  }
  return !MatchesAny(cfg.exclude_mountpoints, m.mountpoint);
}

MountSelection SelectMounts(const std::vector<MountEntry>& mounts, const HostCheckConfig& cfg) {
  // One entry per mountpoint: the last mount on top wins, also when it is not reported (it hides
  // what is under it). Sorted, so the cap is deterministic.
  std::set<std::string> selected;
  for (const MountEntry& m : mounts) {
    if (ShouldReportMount(m, cfg)) {
      selected.insert(m.mountpoint);
    } else {
      selected.erase(m.mountpoint);
    }
  }
  MountSelection out;
  for (const std::string& mountpoint : selected) {
    if (out.mountpoints.size() >= cfg.max_mountpoints) {
      ++out.dropped;
    } else {
      out.mountpoints.push_back(mountpoint);
    }
  }
  return out;
}

Result EvaluateHost(const HostSample& s, const HostCheckConfig& cfg) {
  HostEvaluation e(Metrics());
  EvaluateCpu(s, cfg, e);
  EvaluateLoad(s, e);
  EvaluateMemory(s, cfg, e);
  EvaluateDisks(s, cfg, e);
  EvaluatePressure(s, e);
  EvaluateContainerMemory(s, cfg, e);
  EvaluateOomKills(s, cfg, e);
  EvaluateContainerCpu(s, cfg, e);
  return std::move(e).Finish();
}

std::shared_ptr<const HostCheckConfig> ParseHostCheckConfig(const ConfigNode& node) {
  auto cfg = std::make_shared<HostCheckConfig>();
  cfg->cpu = ParseThreshold(node.Child("cpu"), cfg->cpu);
  cfg->memory = ParseThreshold(node.Child("memory"), cfg->memory);
  cfg->disk = ParseThreshold(node.Child("disk"), cfg->disk);
  cfg->inodes = ParseThreshold(node.Child("inodes"), cfg->inodes);
  cfg->container_memory = ParseThreshold(node.Child("container_memory"), cfg->container_memory);
  cfg->cpu_throttling = ParseThreshold(node.Child("cpu_throttling"), cfg->cpu_throttling);
  cfg->oom_kills = node.BoolOr("oom_kills", true);
  ParseIncludeExclude(node.Child("mountpoints"), cfg->include_mountpoints,
                      cfg->exclude_mountpoints);
  ParseIncludeExclude(node.Child("fs_types"), cfg->include_fs_types, cfg->exclude_fs_types);
  cfg->max_mountpoints =
      static_cast<size_t>(node.IntOr("max_mountpoints", static_cast<int64_t>(cfg->max_mountpoints),
                                     1, static_cast<int64_t>(kMaxMaxMountpoints)));
  if (ConfigNode t = node.Child("disk_timeout"); t.IsDefined()) {
    cfg->disk_timeout = t.AsDuration();
    if (cfg->disk_timeout <= Duration::zero()) t.Fail("must be greater than 0");
  }
  return cfg;
}

std::unique_ptr<Check> MakeHostCheck(const CheckSpec& spec,
                                     std::shared_ptr<const HostCheckConfig> cfg) {
  return std::make_unique<HostCheck>(spec, std::move(cfg));
}

CheckType HostCheckType() {
  const HostMetrics& m = Metrics();
  CheckType type;
  type.name = "host";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return MakeHostCheck(spec, ParseHostCheckConfig(node));
  };
  type.metrics = {&m.cpu_usage,
                  &m.cpus,
                  &m.load,
                  &m.memory_bytes,
                  &m.memory_used,
                  &m.disk_used,
                  &m.disk_inodes_used,
                  &m.disk_bytes,
                  &m.disk_mountpoints,
                  &m.pressure,
                  &m.container_memory_bytes,
                  &m.container_memory_used,
                  &m.container_cpu_limit,
                  &m.container_oom_kills,
                  &m.container_throttled,
                  &m.resource_level};
  return type;
}

}  // namespace gatewatch
