#include "checks/host_evaluate.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/units.h"

namespace gatewatch {

// Leaked on purpose: Observations point at these descriptors until the process exits.
const HostMetrics& HostCheckMetrics() {
  static const HostMetrics* metrics = new HostMetrics();
  return *metrics;
}

namespace {

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
      e.Observe(e.m.pressure, {kHostPressureResources[r], kPsiWindows[w]}, s.pressure[r]->some[w]);
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

Result EvaluateHost(const HostSample& s, const HostCheckConfig& cfg) {
  HostEvaluation e(HostCheckMetrics());
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

}  // namespace gatewatch
