// The host check's pure parsers against tables of real file contents: current and old kernels,
// kernels without PSI, cgroup v1 and hybrid hosts, garbage and empty files.
#include "checks/host_parsers.h"

#include <gtest/gtest.h>

namespace gatewatch {
namespace {

// /proc/stat of a 2-CPU Linux 6.x guest (trimmed after the cpu lines is fine: the parser stops
// caring there).
constexpr char kStat6[] =
    "cpu  28160 0 7344 45665 632 0 78 83 0 0\n"
    "cpu0 13881 0 3386 23626 46 0 16 38 0 0\n"
    "cpu1 14279 0 3958 22038 586 0 61 45 0 0\n"
    "intr 2318339 0 9 0 0 0 0 0 0 0 0\n"
    "ctxt 4521893\nbtime 1795572000\nprocesses 16240\nprocs_running 3\nprocs_blocked 0\n"
    "softirq 901744 0 223161 12 48 0 0 32 0 0 678491\n";

TEST(ProcStatTest, ParsesTheAggregateLineAndCountsCpus) {
  auto s = ParseProcStat(kStat6);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->cpus, 2);
  EXPECT_EQ(s->cpu.user, 28160u);
  EXPECT_EQ(s->cpu.system, 7344u);
  EXPECT_EQ(s->cpu.idle, 45665u);
  EXPECT_EQ(s->cpu.iowait, 632u);
  EXPECT_EQ(s->cpu.softirq, 78u);
  EXPECT_EQ(s->cpu.steal, 83u);
}

TEST(ProcStatTest, OldKernelsWithoutStealAndGarbage) {
  // Linux 2.6.9: seven fields, no steal.
  auto old = ParseProcStat("cpu  1000 20 300 40000 50 6 7\ncpu0 1000 20 300 40000 50 6 7\n");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->cpu.steal, 0u);
  EXPECT_EQ(old->cpu.softirq, 7u);
  EXPECT_EQ(old->cpus, 1);
  EXPECT_FALSE(ParseProcStat(""));
  EXPECT_FALSE(ParseProcStat("cpu  a b c d e\n"));
  EXPECT_FALSE(ParseProcStat("cpu0 1 2 3 4 5\n"));  // no aggregate line
  EXPECT_FALSE(ParseProcStat("cpu  1 2\n"));
}

TEST(CpuUsageTest, SharesOfTheTicksBetweenTwoSamples) {
  CpuTimes a{.user = 1000, .nice = 0, .system = 100, .idle = 8000, .iowait = 0};
  CpuTimes b = a;
  b.user += 60;
  b.nice += 10;
  b.system += 10;
  b.softirq += 5;
  b.idle += 10;
  b.iowait += 5;
  auto u = ComputeCpuUsage(a, b);  // 100 ticks in all
  ASSERT_TRUE(u);
  EXPECT_DOUBLE_EQ(u->user, 0.70);
  EXPECT_DOUBLE_EQ(u->system, 0.15);
  EXPECT_DOUBLE_EQ(u->iowait, 0.05);
  EXPECT_DOUBLE_EQ(u->busy, 0.85);
  EXPECT_FALSE(ComputeCpuUsage(a, a)) << "no tick elapsed: nothing to report";
  CpuTimes reset = a;
  reset.user = 10;
  EXPECT_FALSE(ComputeCpuUsage(a, reset)) << "a counter going back is a reset, not usage";
  CpuTimes iowait_back = b;
  iowait_back.iowait = 0;  // iowait is an estimate that may go back on some kernels
  EXPECT_TRUE(ComputeCpuUsage(a, iowait_back));
}

TEST(LoadavgTest, RealAndBroken) {
  auto l = ParseLoadavg("3.78 1.41 0.58 4/123 15967\n");
  ASSERT_TRUE(l);
  EXPECT_DOUBLE_EQ((*l)[0], 3.78);
  EXPECT_DOUBLE_EQ((*l)[2], 0.58);
  EXPECT_FALSE(ParseLoadavg(""));
  EXPECT_FALSE(ParseLoadavg("1.0 2.0\n"));
  EXPECT_FALSE(ParseLoadavg("x 1 2 1/1 1\n"));
}

TEST(MeminfoTest, ModernKernelUsesMemAvailable) {
  auto m = ParseMeminfo(
      "MemTotal:       24684084 kB\nMemFree:        22598616 kB\nMemAvailable:   24060592 kB\n"
      "Buffers:           13128 kB\nCached:          1611656 kB\nSwapCached:            0 kB\n"
      "SwapTotal:       2097148 kB\nSwapFree:        1048574 kB\nHugePages_Total:       0\n"
      "Hugepagesize:       2048 kB\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->total, 24684084ull * 1024);
  EXPECT_EQ(m->available, 24060592ull * 1024);
  EXPECT_EQ(m->used(), (24684084ull - 24060592ull) * 1024);
  EXPECT_EQ(m->swap_total, 2097148ull * 1024);
  EXPECT_EQ(m->swap_free, 1048574ull * 1024);
}

TEST(MeminfoTest, KernelBefore314EstimatesAvailableAndGarbageIsRefused) {
  // Linux 3.10 without MemAvailable: free + buffers + cached.
  auto m = ParseMeminfo(
      "MemTotal:        1000 kB\nMemFree:          100 kB\nBuffers:           50 kB\n"
      "Cached:           250 kB\nSwapTotal:          0 kB\nSwapFree:           0 kB\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->available, 400u * 1024);
  EXPECT_EQ(m->swap_total, 0u);
  EXPECT_FALSE(ParseMeminfo(""));
  EXPECT_FALSE(ParseMeminfo("MemFree: 1 kB\n")) << "no total: nothing to relate to";
  EXPECT_FALSE(ParseMeminfo("MemTotal: 0 kB\n"));
}

TEST(MountsTest, FieldsEscapesAndShortLines) {
  auto mounts = ParseMounts(
      "proc /proc proc rw,relatime 0 0\n"
      "/dev/vda / ext4 rw,relatime,discard 0 0\n"
      "/dev/sdb1 /media/My\\040Disk vfat rw 0 0\n"
      "broken-line\n"
      "server:/export /mnt/nfs nfs4 rw,vers=4.2,hard 0 0\n");
  ASSERT_EQ(mounts.size(), 4u);
  EXPECT_EQ(mounts[1].mountpoint, "/");
  EXPECT_EQ(mounts[1].fs_type, "ext4");
  EXPECT_EQ(mounts[2].mountpoint, "/media/My Disk");
  EXPECT_EQ(mounts[3].device, "server:/export");
  EXPECT_EQ(mounts[3].fs_type, "nfs4");
  EXPECT_TRUE(ParseMounts("").empty());
}

TEST(MountsTest, PseudoFilesystems) {
  for (const char* t : {"proc", "sysfs", "cgroup", "cgroup2", "devpts", "nsfs", "tracefs"}) {
    EXPECT_TRUE(IsPseudoFs(t)) << t;
  }
  for (const char* t : {"ext4", "xfs", "btrfs", "nfs4", "tmpfs", "overlay", "zfs"}) {
    EXPECT_FALSE(IsPseudoFs(t)) << t;
  }
}

TEST(PressureTest, SomeLineAsRatios) {
  auto p = ParsePressure(
      "some avg10=65.10 avg60=49.53 avg300=15.92 total=57109078\n"
      "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n");
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(p->some[0], 0.651);
  EXPECT_DOUBLE_EQ(p->some[1], 0.4953);
  EXPECT_DOUBLE_EQ(p->some[2], 0.1592);
  // Linux 5.2-5.12 /proc/pressure/cpu has only the "some" line.
  EXPECT_TRUE(ParsePressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"));
  // A kernel without PSI has no file (or psi=0 makes reads fail): the caller gets nothing to
  // parse; an empty or unknown text is not pressure either.
  EXPECT_FALSE(ParsePressure(""));
  EXPECT_FALSE(ParsePressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"));
  EXPECT_FALSE(ParsePressure("some avg10=x avg60=0.00 avg300=0.00 total=0\n"));
}

TEST(CgroupTest, FindsTheV2PathOnV2AndHybridHostsAndNothingOnV1) {
  EXPECT_EQ(ParseCgroupV2Path("0::/system.slice/docker-abc.scope\n"),
            "/system.slice/docker-abc.scope");
  EXPECT_EQ(ParseCgroupV2Path("0::/\n"), "/");  // inside a cgroup namespace
  // Hybrid host (this kind of CI machine): v1 controllers plus an empty unified hierarchy.
  EXPECT_EQ(ParseCgroupV2Path("9:name=systemd:/\n8:pids:/\n4:memory:/process_api/fe45\n"
                              "1:cpu:/\n0::/\n"),
            "/");
  // Pure cgroup v1 (e.g. CentOS 7): no container figures, not an error.
  EXPECT_FALSE(
      ParseCgroupV2Path("11:memory:/docker/abc\n10:cpu,cpuacct:/docker/abc\n"
                        "1:name=systemd:/docker/abc\n"));
  EXPECT_FALSE(ParseCgroupV2Path(""));
}

TEST(CgroupTest, LimitsCountersAndMax) {
  EXPECT_EQ(ParseCgroupBytes("268435456\n"), 268435456u);
  EXPECT_FALSE(ParseCgroupBytes("max\n")) << "max means no limit";
  EXPECT_FALSE(ParseCgroupBytes(""));
  constexpr char kEvents[] = "low 0\nhigh 12\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n";
  EXPECT_EQ(ParseKeyedValue(kEvents, "oom_kill"), 2u);
  EXPECT_EQ(ParseKeyedValue(kEvents, "high"), 12u);
  // oom_kill appeared in Linux 4.13; older memory.events do not have it.
  EXPECT_FALSE(ParseKeyedValue("low 0\nhigh 0\nmax 0\noom 0\n", "oom_kill"));
  constexpr char kCpuStat[] =
      "usage_usec 5000000\nuser_usec 4000000\nsystem_usec 1000000\nnr_periods 1000\n"
      "nr_throttled 10\nthrottled_usec 200000\n";
  EXPECT_EQ(ParseKeyedValue(kCpuStat, "throttled_usec"), 200000u);
  EXPECT_EQ(ParseKeyedValue(kCpuStat, "nr_periods"), 1000u);
  // Without the cpu controller, cpu.stat has only usage lines.
  EXPECT_FALSE(ParseKeyedValue("usage_usec 1\nuser_usec 1\nsystem_usec 0\n", "throttled_usec"));

  auto half = ParseCpuMax("50000 100000\n");
  ASSERT_TRUE(half);
  EXPECT_DOUBLE_EQ(half->cores(), 0.5);
  EXPECT_FALSE(ParseCpuMax("max 100000\n")) << "no quota";
  EXPECT_FALSE(ParseCpuMax("50000 0\n"));
  EXPECT_FALSE(ParseCpuMax(""));
}

TEST(CgroupCountersTest, WhatEachFileGives) {
  CgroupCounters c =
      ParseCgroupCounters("low 0\nhigh 0\nmax 0\noom 1\noom_kill 3\n",
                          "usage_usec 9\nnr_periods 100\nnr_throttled 7\nthrottled_usec 2500\n");
  EXPECT_EQ(c.oom_kills, 3u);
  EXPECT_TRUE(c.cpu_stat);
  EXPECT_EQ(c.throttled_usec, 2500u);
  EXPECT_EQ(c.nr_periods, 100u);
  EXPECT_EQ(c.nr_throttled, 7u);
  // Unreadable files: nothing; cpu.stat without the cpu controller: read, but no counters.
  c = ParseCgroupCounters(std::nullopt, std::nullopt);
  EXPECT_FALSE(c.oom_kills);
  EXPECT_FALSE(c.cpu_stat);
  c = ParseCgroupCounters("low 0\n", "usage_usec 1\nuser_usec 1\nsystem_usec 0\n");
  EXPECT_FALSE(c.oom_kills) << "memory.events before Linux 4.13";
  EXPECT_TRUE(c.cpu_stat);
  EXPECT_FALSE(c.throttled_usec);
  EXPECT_FALSE(c.nr_periods);
}

// The counters as a table row: nullopt is a counter not read (by then or now).
using U = std::optional<uint64_t>;
CgroupCounters Counters(U oom, U usec, U periods, U throttled) {
  CgroupCounters c;
  c.oom_kills = oom;
  c.cpu_stat = usec || periods || throttled;
  c.throttled_usec = usec;
  c.nr_periods = periods;
  c.nr_throttled = throttled;
  return c;
}

TEST(CgroupDeltasTest, Table) {
  constexpr auto none = std::nullopt;
  struct Row {
    const char* what;
    CgroupCounters before, now;
    std::optional<uint64_t> new_oom_kills;
    double throttled_seconds;
    std::optional<double> throttled_ratio;
  };
  const Row rows[] = {
      {"first run: kills start at 0, no throttling figures", Counters(none, none, none, none),
       Counters(2, 1000, 50, 5), 0u, 0, none},
      {"growth", Counters(2, 1'000'000, 1000, 10), Counters(5, 2'500'000, 1100, 70), 3u, 1.5, 0.6},
      {"nothing new", Counters(5, 2'500'000, 1100, 70), Counters(5, 2'500'000, 1100, 70), 0u, 0,
       0.0},
      {"no period elapsed: the cgroup did not run, nothing throttled", Counters(1, 10, 1100, 70),
       Counters(1, 10, 1100, 70), 0u, 0, 0.0},
      {"every period throttled", Counters(0, 0, 100, 0), Counters(0, 400, 110, 10), 0u, 0.0004,
       1.0},
      {"more throttled than periods is capped at 1", Counters(0, 0, 100, 0),
       Counters(0, 0, 110, 20), 0u, 0, 1.0},
      {"smaller counts: a new cgroup (the container restarted) starts over",
       Counters(9, 5'000'000, 1000, 100), Counters(1, 200, 10, 2), 0u, 0, none},
      {"periods reset but throttled grew: no ratio", Counters(0, 0, 1000, 1), Counters(0, 0, 10, 5),
       0u, 0, none},
      {"memory.events not read now: no kills figure", Counters(4, none, none, none),
       Counters(none, none, none, none), none, 0, none},
      {"oom_kill without earlier value", Counters(none, 1, 1, 1), Counters(7, 1, 1, 1), 0u, 0, 0.0},
      {"throttled_usec gone (cpu controller off)", Counters(0, 100, 10, 1),
       Counters(0, none, none, none), 0u, 0, none},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    CgroupDeltas d = ComputeCgroupDeltas(row.before, row.now);
    EXPECT_EQ(d.new_oom_kills, row.new_oom_kills);
    EXPECT_DOUBLE_EQ(d.throttled_seconds, row.throttled_seconds);
    ASSERT_EQ(d.throttled_ratio.has_value(), row.throttled_ratio.has_value());
    if (row.throttled_ratio) {
      EXPECT_DOUBLE_EQ(*d.throttled_ratio, *row.throttled_ratio);
    }
  }
}

TEST(CgroupDeltasTest, CarriedCountersKeepWhatWasNotReadAndForgetKeysThatWent) {
  CgroupCounters before = Counters(4, 100, 10, 1);
  // Neither file read now: the next run compares with the earlier counters.
  CgroupCounters next = CarryCgroupCounters(before, Counters(U(), U(), U(), U()));
  EXPECT_EQ(next.oom_kills, 4u);
  EXPECT_EQ(next.throttled_usec, 100u);
  EXPECT_EQ(next.nr_periods, 10u);
  // Both read: the new counters, also when they went down (a new cgroup).
  next = CarryCgroupCounters(before, Counters(1, 5, 2, 0));
  EXPECT_EQ(next.oom_kills, 1u);
  EXPECT_EQ(next.throttled_usec, 5u);
  EXPECT_EQ(next.nr_throttled, 0u);
  // cpu.stat read without its throttling keys: they are forgotten, not kept stale.
  CgroupCounters read_bare;
  read_bare.cpu_stat = true;
  next = CarryCgroupCounters(before, read_bare);
  EXPECT_EQ(next.oom_kills, 4u) << "memory.events gave no oom_kill: the earlier count stays";
  EXPECT_FALSE(next.throttled_usec);
  EXPECT_FALSE(next.nr_periods);
}

}  // namespace
}  // namespace gatewatch
