// The host check's config (errors name their exact path), its mount selection, and how a sample
// becomes a Result: thresholds, the one reason picked when several are crossed, warn levels.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

#include "agent/config.h"
#include "checks/host_check.h"
#include "tests/testlib/observed.h"

namespace gatewatch {
namespace {

// Through the real loader, so check-level keys are refused as in a config file.
std::string ErrorText(const std::string& keys) {
  try {
    ParseConfig("checks:\n  - {name: host, type: host, " + keys + "}\n", "test.yml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

std::shared_ptr<const HostCheckConfig> Parse(const std::string& yaml) {
  return ParseHostCheckConfig(ConfigNode(YAML::Load(yaml), "checks[0]"));
}

TEST(HostCheckConfigTest, DefaultsAndPartialBlocks) {
  auto cfg = Parse("{}");
  EXPECT_EQ(cfg->cpu.warn, 0.8);
  EXPECT_EQ(cfg->disk.critical, 0.95);
  EXPECT_TRUE(cfg->oom_kills);
  EXPECT_EQ(cfg->max_mountpoints, 32u);
  // A block that is present sets only what it names.
  cfg = Parse("{disk: {critical: 0.98}, mountpoints: {include: ['/', '/data*']}}");
  EXPECT_FALSE(cfg->disk.warn);
  EXPECT_EQ(cfg->disk.critical, 0.98);
  EXPECT_EQ(cfg->include_mountpoints, (std::vector<std::string>{"/", "/data*"}));
}

TEST(HostCheckConfigTest, ErrorsNameTheirPath) {
  EXPECT_EQ(ErrorText("cpu: {warn: 1.5}"),
            "checks[0].cpu.warn: must be a number between 0 and 1 (got \"1.5\")");
  EXPECT_EQ(ErrorText("memory: {warn: 0.9, critical: 0.8}"),
            "checks[0].memory.warn: must not be greater than critical");
  EXPECT_EQ(ErrorText("disk: {critcal: 0.9}"),
            "checks[0].disk.critcal: unknown key (did you mean \"critical\"?)");
  EXPECT_EQ(ErrorText("max_mountpoints: 0"),
            "checks[0].max_mountpoints: must be an integer between 1 and 1000 (got \"0\")");
  EXPECT_EQ(ErrorText("mountpoints: {only: ['/']}"), "checks[0].mountpoints.only: unknown key");
  EXPECT_EQ(ErrorText("disk_timeout: 0s"), "checks[0].disk_timeout: must be greater than 0");
  EXPECT_EQ(ErrorText("cpu: 0.9"), "checks[0].cpu: must be a map");
  EXPECT_EQ(ErrorText("inodes: {warn: 0.5}, oom_kills: false"), "(no error)");
  EXPECT_EQ(ErrorText("memroy: {warn: 0.5}"),
            "checks[0].memroy: unknown key (did you mean \"memory\"?)");
}

TEST(HostCheckConfigTest, MountSelection) {
  using Globs = std::vector<std::string>;
  struct Row {
    const char* mountpoint;
    const char* fs_type;
    bool reported;
    const char* why;
    Globs include_mountpoints = {}, exclude_mountpoints = {}, include_fs_types = {},
          exclude_fs_types = {};
  };
  const Row rows[] = {
      {"/", "ext4", true, "the root disk"},
      {"/", "overlay", true, "a container's root"},
      {"/run", "tmpfs", true, "tmpfs holds data"},
      {"/proc", "proc", false, "pseudo filesystem"},
      {"/sys/fs/cgroup", "cgroup2", false, "pseudo filesystem"},
      {"/dev/shm", "tmpfs", false, "system mountpoint"},
      {"/var/lib/docker/overlay2/x/merged", "overlay", false, "container storage"},
      // What docker, podman and Kubernetes bind-mount into every container.
      {"/etc/resolv.conf", "ext4", false, "runtime bind mount"},
      {"/etc/hostname", "ext4", false, "runtime bind mount"},
      {"/var/run/secrets/kubernetes.io/serviceaccount", "tmpfs", false, "secrets"},
      {"/run/secrets/db", "tmpfs", false, "secrets"},
      {"/data2", "xfs", true, "included mountpoint", {"/", "/data*"}, {}, {}, {"tmpfs"}},
      {"/srv", "xfs", false, "not an included mountpoint", {"/", "/data*"}, {}, {}, {"tmpfs"}},
      {"/data", "tmpfs", false, "excluded type", {"/", "/data*"}, {}, {}, {"tmpfs"}},
      {"/boot/efi", "vfat", false, "excluded mountpoint", {}, {"/boot*"}},
      {"/boot", "ext2", true, "included type", {}, {}, {"ext*"}},
      {"/srv", "xfs", false, "not an included type", {}, {}, {"ext*"}},
      {"/mnt/bpf", "bpf", true, "a pseudo type included by name", {}, {}, {"bpf"}},
      {"/proc",
       "ext4",
       false,
       "system mountpoints even when the type is included",
       {},
       {},
       {"ext4"}},
  };
  for (const Row& row : rows) {
    HostCheckConfig cfg;
    cfg.include_mountpoints = row.include_mountpoints;
    cfg.exclude_mountpoints = row.exclude_mountpoints;
    cfg.include_fs_types = row.include_fs_types;
    cfg.exclude_fs_types = row.exclude_fs_types;
    EXPECT_EQ(ShouldReportMount(MountEntry{"dev", row.mountpoint, row.fs_type}, cfg), row.reported)
        << row.mountpoint << " " << row.fs_type << ": " << row.why;
  }
}

TEST(HostCheckConfigTest, SelectMountsOnePerMountpointSortedAndCapped) {
  using Mounts = std::vector<MountEntry>;
  using Names = std::vector<std::string>;
  struct Row {
    const char* what;
    Mounts mounts;
    size_t max;
    Names selected;
    size_t dropped;
  };
  const Row rows[] = {
      {"nothing", {}, 32, {}, 0},
      {"sorted, pseudo filesystems left out",
       {{"/dev/sdb", "/srv", "xfs"}, {"proc", "/proc", "proc"}, {"/dev/sda", "/", "ext4"}},
       32,
       {"/", "/srv"},
       0},
      {"a mountpoint mounted twice is one entry",
       {{"/dev/sda", "/", "ext4"}, {"overlay", "/", "overlay"}},
       32,
       {"/"},
       0},
      {"a pseudo mount on top hides the disk under it",
       {{"/dev/sdb", "/mnt", "ext4"}, {"none", "/mnt", "autofs"}},
       32,
       {},
       0},
      {"a disk mounted over a pseudo mount is reported",
       {{"none", "/mnt", "autofs"}, {"/dev/sdb", "/mnt", "ext4"}},
       32,
       {"/mnt"},
       0},
      {"over the cap: the first ones in sorted order, the rest counted",
       {{"d", "/c", "ext4"}, {"d", "/a", "ext4"}, {"d", "/d", "ext4"}, {"d", "/b", "ext4"}},
       2,
       {"/a", "/b"},
       2},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.what);
    HostCheckConfig cfg;
    cfg.max_mountpoints = row.max;
    MountSelection got = SelectMounts(row.mounts, cfg);
    EXPECT_EQ(got.mountpoints, row.selected);
    EXPECT_EQ(got.dropped, row.dropped);
  }
}

using testing::Observed;

HostSample Healthy() {
  HostSample s;
  s.stat = ProcStat{{}, 2};
  s.cpu = CpuUsage{0.2, 0.15, 0.05, 0, 0};
  s.memory = MemInfo{1000, 600, 0, 0};
  s.disks = {{"/", FsStats{100, 30, 70, 1000, 900}}};
  return s;
}

TEST(EvaluateHostTest, HealthyIsSuccessWithLevelsZero) {
  HostCheckConfig cfg;
  Result r = EvaluateHost(Healthy(), cfg);
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(r.reason, Reason::kNone);
  EXPECT_DOUBLE_EQ(Observed(r, "host_memory_used_ratio"), 0.4);
  EXPECT_DOUBLE_EQ(Observed(r, "host_disk_used_ratio", "/"), 0.3);
  EXPECT_DOUBLE_EQ(Observed(r, "host_disk_inodes_used_ratio", "/"), 0.1);
  EXPECT_EQ(Observed(r, "host_resource_level", "cpu"), 0);
  EXPECT_EQ(Observed(r, "host_resource_level", "disk"), 0);
  EXPECT_EQ(Observed(r, "container_memory_used_ratio"), -1) << "no cgroup figures: not reported";
}

TEST(EvaluateHostTest, WarnIsDegradedNotFailed) {
  HostCheckConfig cfg;
  HostSample s = Healthy();
  s.cpu->busy = 0.85;
  Result r = EvaluateHost(s, cfg);
  EXPECT_TRUE(r.success);
  EXPECT_EQ(Observed(r, "host_resource_level", "cpu"), 1);
  EXPECT_EQ(r.detail, "degraded: cpu busy 0.850 >= 0.800 (warn)");
}

TEST(EvaluateHostTest, SeveralCrossingsPickOneReasonInAFixedOrderAndListAll) {
  HostCheckConfig cfg;
  HostSample s = Healthy();
  s.cpu->busy = 0.99;                             // cpu_saturated
  s.disks[0].stats = FsStats{100, 97, 3, 10, 9};  // disk_full
  s.memory = MemInfo{1000, 150, 0, 0};            // memory warn only
  Result r = EvaluateHost(s, cfg);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::kDiskFull);
  EXPECT_EQ(r.detail,
            "disk / used 0.970 >= 0.950 (critical); cpu busy 0.990 >= 0.950 (critical); "
            "memory used 0.850 >= 0.800 (warn)");
  s.new_oom_kills = 1;
  r = EvaluateHost(s, cfg);
  EXPECT_EQ(r.reason, Reason::kOomKilled) << "an OOM kill outranks every other crossing";
  EXPECT_EQ(Observed(r, "container_oom_kills_total"), 1);
  cfg.oom_kills = false;
  EXPECT_EQ(EvaluateHost(s, cfg).reason, Reason::kDiskFull);
}

TEST(EvaluateHostTest, ContainerLimitsAndThrottling) {
  HostCheckConfig cfg;
  HostSample s = Healthy();
  s.container_cgroup = true;
  s.container_memory_current = 960;
  s.container_memory_max = 1000;
  s.throttled_ratio = 0.6;
  s.throttled_seconds = 1.5;
  Result r = EvaluateHost(s, cfg);
  EXPECT_EQ(r.reason, Reason::kMemoryExhausted);
  EXPECT_DOUBLE_EQ(Observed(r, "container_memory_used_ratio"), 0.96);
  EXPECT_EQ(Observed(r, "container_cpu_throttled_seconds_total"), 1.5);
  EXPECT_EQ(Observed(r, "host_resource_level", "cpu_throttling"), 2);
  s.container_memory_max.reset();  // "max": no limit, no ratio, no failure from it
  r = EvaluateHost(s, cfg);
  EXPECT_EQ(r.reason, Reason::kCpuThrottled);
  EXPECT_EQ(Observed(r, "container_memory_used_ratio"), -1);
}

TEST(EvaluateHostTest, FilesystemsWithoutInodesOrSizeReportNoRatio) {
  HostCheckConfig cfg;
  HostSample s = Healthy();
  s.disks = {{"/btrfs", FsStats{100, 50, 50, 0, 0}}, {"/empty", FsStats{0, 0, 0, 10, 10}}};
  Result r = EvaluateHost(s, cfg);
  EXPECT_EQ(Observed(r, "host_disk_inodes_used_ratio", "/btrfs"), -1);
  EXPECT_EQ(Observed(r, "host_disk_used_ratio", "/empty"), -1);
  EXPECT_TRUE(r.success);
}

}  // namespace
}  // namespace gatewatch
