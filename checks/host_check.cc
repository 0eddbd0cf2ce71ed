#include "checks/host_check.h"

#include <fcntl.h>
#include <fnmatch.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "agent/base/fd.h"
#include "agent/io/event_loop.h"
#include "agent/io/statfs_pool.h"
#include "checks/host_evaluate.h"

namespace gatewatch {

namespace {

constexpr size_t kMaxFileBytes = 1 << 20;
constexpr size_t kMaxMaxMountpoints = 1000;
constexpr Duration kCpuSecondSample = std::chrono::milliseconds(200);

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
    auto text = ReadSmallFile(p.procfs + "/pressure/" + kHostPressureResources[i]);
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

}  // namespace

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
  const HostMetrics& m = HostCheckMetrics();
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
