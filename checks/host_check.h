// The "host" check: CPU, memory, disks, load and pressure of the host, and the cgroup v2 limits of
// the agent's own container, compared with thresholds. Overload is a main cause of 502s; this
// puts it next to them, with a Reason (cpu_saturated, memory_exhausted, disk_full,
// inodes_exhausted, oom_killed, cpu_throttled) when a critical threshold is crossed.
//
// Files are read under CheckServices::paths (--path.procfs, --path.sysfs, --path.rootfs), so a
// container can watch the host through read-only mounts. No external command is run.
//
// Config (the check's own keys; errors name their exact path):
//   cpu:              {warn: 0.8, critical: 0.95}   busy share of all CPUs between two runs
//   memory:           {warn: 0.8, critical: 0.95}   (MemTotal - MemAvailable) / MemTotal
//   disk:             {warn: 0.8, critical: 0.95}   used / (used + available), as df's Use%
//   inodes:           {warn: 0.8, critical: 0.95}
//   container_memory: {warn: 0.8, critical: 0.95}   memory.current / memory.max (with a limit)
//   cpu_throttling:   {warn: 0.1, critical: 0.5}    throttled share of cpu.max periods
//   oom_kills: true                  a new oom_kill in memory.events fails the run (oom_killed)
//   mountpoints: {include: ["/", "/data*"], exclude: ["/boot*"]}   fnmatch globs
//   fs_types:    {include: [ext4, xfs], exclude: [tmpfs]}
//   max_mountpoints: 32              bound of the mountpoint label; the rest are counted
//   disk_timeout: 1s                 bounded wait for statvfs answers (capped by the timeout)
// A threshold block that is absent takes the defaults above; a block that is present sets only
// the levels it names (e.g. `disk: {critical: 0.98}` has no warn level). A value is crossed when
// it is >= the threshold.
//
// Results: a critical crossing fails the run with one reason, picked in the fixed order
// oom_killed, memory_exhausted, disk_full, inodes_exhausted, cpu_throttled, cpu_saturated; the
// detail lists every crossing (warn ones too). A warn crossing keeps the run successful and shows
// in gatewatch_host_resource_level{resource} (0 ok, 1 warn, 2 critical) and the detail.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/io/statfs_pool.h"  // FsStats; statvfs goes through CheckServices::statfs
#include "checks/api/check_type.h"
#include "checks/host_parsers.h"

namespace gatewatch {

// The "host" check type: name, factory and every metric it reports.
CheckType HostCheckType();

struct Threshold {
  std::optional<double> warn;
  std::optional<double> critical;
};

enum class Level { kOk = 0, kWarn = 1, kCritical = 2 };
Level LevelOf(double value, const Threshold& t);

struct HostCheckConfig {
  Threshold cpu{0.8, 0.95};
  Threshold memory{0.8, 0.95};
  Threshold disk{0.8, 0.95};
  Threshold inodes{0.8, 0.95};
  Threshold container_memory{0.8, 0.95};
  Threshold cpu_throttling{0.1, 0.5};
  bool oom_kills = true;
  std::vector<std::string> include_mountpoints;  // empty: every mountpoint
  std::vector<std::string> exclude_mountpoints;
  std::vector<std::string> include_fs_types;  // empty: every non-pseudo type
  std::vector<std::string> exclude_fs_types;
  size_t max_mountpoints = 32;
  Duration disk_timeout = std::chrono::seconds(1);
};

// Reads the check's own keys (see the header comment). Throws ConfigError naming the exact path.
std::shared_ptr<const HostCheckConfig> ParseHostCheckConfig(const ConfigNode& node);

// Whether a mount is reported: pseudo filesystems and node_exporter's default excluded
// mountpoints (/proc, /sys, /dev, container storage) never; then the include/exclude globs.
bool ShouldReportMount(const MountEntry& m, const HostCheckConfig& cfg);

// The mountpoints a run asks statvfs about, from the mount table in its order: one per mountpoint
// (the last mount on a mountpoint decides, and one that is not reported hides those under it),
// sorted, at most max_mountpoints; the rest are counted in `dropped`.
struct MountSelection {
  std::vector<std::string> mountpoints;
  size_t dropped = 0;
};
MountSelection SelectMounts(const std::vector<MountEntry>& mounts, const HostCheckConfig& cfg);

struct DiskFigures {
  std::string mountpoint;  // as the host's PID 1 sees it
  FsStats stats;
};

// The resources of /proc/pressure, in HostSample::pressure's order.
inline constexpr const char* kHostPressureResources[] = {"cpu", "memory", "io"};

// Everything one collection found. An absent figure was not available here (no PSI, no cgroup
// v2, no limit): it is not reported and is not a failure.
struct HostSample {
  std::optional<ProcStat> stat;
  std::optional<CpuUsage> cpu;
  std::optional<std::array<double, 3>> load;
  std::optional<MemInfo> memory;
  std::vector<DiskFigures> disks;  // answered mounts, sorted by mountpoint
  size_t disks_dropped = 0;        // over max_mountpoints
  size_t disks_stuck = 0;  // statvfs did not answer in time, or has hung for over disk_timeout
  std::array<std::optional<Pressure>, 3> pressure;  // kHostPressureResources
  std::optional<uint64_t> container_memory_current;
  std::optional<uint64_t> container_memory_max;
  std::optional<CpuMax> container_cpu_max;
  bool container_cgroup = false;          // a cgroup v2 directory was found
  std::optional<uint64_t> new_oom_kills;  // since the previous run; 0 on the first
  double throttled_seconds = 0;           // since the previous run
  std::optional<double> throttled_ratio;  // throttled periods / periods since the previous run
};

// Turns a sample into a Result: observations, reason and detail from the thresholds. Pure; one
// evaluator per resource (checks/host_evaluate.cc).
Result EvaluateHost(const HostSample& sample, const HostCheckConfig& cfg);

// For tests: a host check from a parsed config. Its runs ask ctx.services.statfs (a test gives a
// pool with a stand-in statvfs) and need ctx.state from its NewState().
std::unique_ptr<Check> MakeHostCheck(const CheckSpec& spec,
                                     std::shared_ptr<const HostCheckConfig> cfg);

}  // namespace gatewatch
