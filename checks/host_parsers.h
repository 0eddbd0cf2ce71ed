// Pure parsers for the host check: the text of /proc and cgroup v2 files in, plain values out.
// No I/O here, so the unit tests feed them tables of real file contents (node_exporter style),
// including kernels without PSI, cgroup v1 hosts and empty or missing files.
//
// Every parser returns nullopt (or an empty result) for text it does not understand; the caller
// treats that like a missing file: the figure is not reported, which is not a failure.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gatewatch {

// ----- /proc/stat --------------------------------------------------------------------------------

// The aggregate "cpu" line of /proc/stat, in USER_HZ ticks. guest and guest_nice are already
// counted in user and nice by the kernel, so they are not read.
struct CpuTimes {
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  uint64_t Total() const { return user + nice + system + idle + iowait + irq + softirq + steal; }
};

struct ProcStat {
  CpuTimes cpu;
  int cpus = 0;  // "cpuN" lines: CPUs online now
};
std::optional<ProcStat> ParseProcStat(std::string_view text);

// Shares of the time between two samples, each 0..1. `busy` is everything but idle and iowait;
// user includes nice, system includes irq and softirq. Modes do not add up to busy exactly
// (iowait is idle time), so they are reported side by side, never summed.
struct CpuUsage {
  double busy = 0, user = 0, system = 0, iowait = 0, steal = 0;
};
// nullopt when no tick elapsed or a counter went backwards (CPU hot-unplug, a new sample source).
std::optional<CpuUsage> ComputeCpuUsage(const CpuTimes& before, const CpuTimes& after);

// ----- /proc/loadavg -----------------------------------------------------------------------------

std::optional<std::array<double, 3>> ParseLoadavg(std::string_view text);

// ----- /proc/meminfo -----------------------------------------------------------------------------

struct MemInfo {
  uint64_t total = 0;      // bytes
  uint64_t available = 0;  // MemAvailable; before Linux 3.14, MemFree + Buffers + Cached
  uint64_t swap_total = 0;
  uint64_t swap_free = 0;
  uint64_t used() const { return total > available ? total - available : 0; }
};
// nullopt without MemTotal (or with MemTotal 0).
std::optional<MemInfo> ParseMeminfo(std::string_view text);

// ----- Mount table (/proc/1/mounts, /proc/self/mounts) -----------------------------------------

struct MountEntry {
  std::string device;
  std::string mountpoint;  // octal escapes (\040 for a space) decoded
  std::string fs_type;
};
// Lines that do not have at least three fields are skipped.
std::vector<MountEntry> ParseMounts(std::string_view text);

// Filesystems that hold no user data (proc, sysfs, cgroup, ...): never reported.
bool IsPseudoFs(std::string_view fs_type);

// ----- Pressure stall information (/proc/pressure/{cpu,memory,io}) -------------------------------

// The "some" line: share of wall time in which at least one task stalled, averaged over 10 s,
// 60 s and 300 s, as ratios 0..1 (the kernel prints percentages).
struct Pressure {
  std::array<double, 3> some{};  // avg10, avg60, avg300
};
std::optional<Pressure> ParsePressure(std::string_view text);

// ----- cgroup v2 ---------------------------------------------------------------------------------

// The process's cgroup v2 path from /proc/self/cgroup (the "0::/path" line). nullopt on a pure
// cgroup v1 host (no "0::" line); hybrid hosts have the line and their unified hierarchy is used.
std::optional<std::string> ParseCgroupV2Path(std::string_view text);

// memory.max / memory.current / memory.high: a byte count, or nullopt for "max" (no limit).
std::optional<uint64_t> ParseCgroupBytes(std::string_view text);

// The value of `key` in a flat keyed file (memory.events "oom_kill 3", cpu.stat "throttled_usec").
std::optional<uint64_t> ParseKeyedValue(std::string_view text, std::string_view key);

// cpu.max "QUOTA PERIOD" (microseconds). nullopt for "max PERIOD" (no limit) or bad text.
struct CpuMax {
  uint64_t quota_us = 0;
  uint64_t period_us = 0;
  double cores() const { return period_us == 0 ? 0 : double(quota_us) / double(period_us); }
};
std::optional<CpuMax> ParseCpuMax(std::string_view text);

// ----- cgroup v2 counters between two runs ------------------------------------------------------

// The counters of memory.events and cpu.stat one run read. A file that could not be read leaves
// its fields nullopt (and cpu_stat false); a key the file lacks (oom_kill before Linux 4.13, the
// throttling keys without the cpu controller) is nullopt too.
struct CgroupCounters {
  std::optional<uint64_t> oom_kills;  // memory.events oom_kill
  bool cpu_stat = false;              // cpu.stat was read
  std::optional<uint64_t> throttled_usec;
  std::optional<uint64_t> nr_periods;
  std::optional<uint64_t> nr_throttled;
};
// nullopt for a file that could not be read.
CgroupCounters ParseCgroupCounters(std::optional<std::string_view> memory_events,
                                   std::optional<std::string_view> cpu_stat);

// What happened between two runs. A counter smaller than before is a new cgroup (the container
// restarted): it starts over from there and the delta is 0 (kills) or not reported.
struct CgroupDeltas {
  std::optional<uint64_t> new_oom_kills;  // nullopt when oom_kill was not read now; 0 on the first
  double throttled_seconds = 0;           // throttled_usec delta; 0 without both samples
  // Throttled periods / periods elapsed, at most 1; 0 when no period elapsed (the cgroup did not
  // run); nullopt without both samples or after a reset.
  std::optional<double> throttled_ratio;
};
CgroupDeltas ComputeCgroupDeltas(const CgroupCounters& before, const CgroupCounters& now);

// The counters the next run compares with: memory.events' oom_kill when it was read now, every
// cpu.stat counter when cpu.stat was read now (a key gone is forgotten), else the earlier ones.
CgroupCounters CarryCgroupCounters(const CgroupCounters& before, const CgroupCounters& now);

}  // namespace gatewatch
