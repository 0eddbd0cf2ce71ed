// The host check's judgement, pure: a HostSample (what one run collected) and the thresholds in,
// a Result out (observations, the one reason of a failing run, the detail and the report). One
// evaluator per resource adds its figures and crossings; EvaluateHost assembles them. The
// declarations of EvaluateHost and LevelOf are in checks/host_check.h.
#pragma once

#include "checks/api/metric.h"
#include "checks/host_check.h"

namespace gatewatch {

// Every metric the host check reports (HostCheckType lists them).
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

// The one instance; Observations point at its descriptors until the process exits.
const HostMetrics& HostCheckMetrics();

}  // namespace gatewatch
