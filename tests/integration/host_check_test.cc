// The host check on a fixture tree (tests/fixtures/host, copied to a temp dir so a test can change
// files between runs) through CheckServices::paths, and on this very machine: figures compared
// with `free -b` and `df -B1`, CPU usage while the test burns a core. statvfs goes through a
// stand-in on the fixture tree, so disks can fill, empty and hang on demand.
#include "checks/host_check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "agent/config.h"
#include "agent/probe.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/loop_services.h"
#include "tests/testlib/metrics_text.h"
#include "tests/testlib/observed.h"
#include "tests/testlib/process.h"
#include "tests/testlib/promtool.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kFixture = std::string(GATEWATCH_SOURCE_DIR) + "/tests/fixtures/host";

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// statvfs on the fixture tree: answers from a table the test edits; a path can be made to hang
// until released, like a dead NFS server. The state lives in a shared_ptr that Fn() captures by
// value: the function runs on the fixture's statvfs pool, whose worker may still be inside it
// (re-locking the mutex after a Release) when the test and this object are gone.
class FakeStatfs {
 public:
  void Set(const std::string& path, FsStats s) {
    std::lock_guard l(state_->mu);
    state_->table[path] = s;
  }
  void Hang(const std::string& path) {
    std::lock_guard l(state_->mu);
    state_->hanging = path;
  }
  void Release() {
    std::lock_guard l(state_->mu);
    state_->hanging.clear();
    state_->cv.notify_all();
  }
  int Calls(const std::string& path) {
    std::lock_guard l(state_->mu);
    return state_->calls[path];
  }
  StatfsFn Fn() {
    return [state = state_](const std::string& path, FsStats* out) {
      std::unique_lock l(state->mu);
      ++state->calls[path];
      // Bounded even if a test forgets to release: the worker must come back.
      state->cv.wait_for(l, seconds(20), [&] { return state->hanging != path; });
      auto it = state->table.find(path);
      if (it == state->table.end()) return false;
      *out = it->second;
      return true;
    };
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::map<std::string, FsStats> table;
    std::map<std::string, int> calls;
    std::string hanging;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

class HostFixtureTest : public ::testing::Test {
 protected:
  HostFixtureTest() {
    std::filesystem::copy(kFixture, dir_.path(), std::filesystem::copy_options::recursive);
    io_.services.paths =
        HostPaths{dir_.path() + "/proc", dir_.path() + "/sys", dir_.path() + "/root"};
    statfs_.Set(Root("/"), FsStats{1000, 300, 700, 100, 90});
    statfs_.Set(Root("/data"), FsStats{2000, 1000, 1000, 100, 50});
  }
  ~HostFixtureTest() override { statfs_.Release(); }

  std::string Root(const std::string& mountpoint) { return dir_.path() + "/root" + mountpoint; }
  std::string Proc(const std::string& file) { return dir_.path() + "/proc/" + file; }
  std::string Cgroup(const std::string& file) {
    return dir_.path() + "/sys/fs/cgroup/gatewatch.scope/" + file;
  }

  void MakeCheck(const std::string& yaml = "{}") {
    CheckSpec spec;
    spec.name = "host";
    spec.type = "host";
    spec.interval = seconds(10);
    spec.timeout = seconds(2);
    check_ = MakeHostCheck(spec, ParseHostCheckConfig(ConfigNode(YAML::Load(yaml), "checks[0]")));
    state_ = check_->NewState();  // what the scheduler's slot would keep across runs
  }
  Result Run() { return RunCheckOnce(*check_, io_.services, state_.get()); }
  // Runs until no mount is stuck (a released call has returned on its worker); bounded.
  std::optional<Result> RunUntilNoneStuck() {
    Result r;
    bool ok = WaitFor(
        [&] {
          r = Run();
          return Observed(r, "host_disk_mountpoints", "stuck") == 0;
        },
        seconds(5));
    if (!ok) return std::nullopt;
    return r;
  }

  // /proc/stat advanced from the fixture by `busy` and `idle` ticks (user time).
  void AdvanceCpu(uint64_t busy, uint64_t idle) {
    cpu_user_ += busy;
    cpu_idle_ += idle;
    WriteFile(Proc("stat"), "cpu  " + std::to_string(cpu_user_) + " 0 2000 " +
                                std::to_string(cpu_idle_) +
                                " 500 0 100 0 0 0\ncpu0 1 0 0 0 0 0 0 0 0 0\n"
                                "cpu1 1 0 0 0 0 0 0 0 0 0\n");
  }

  TempDir dir_;
  FakeStatfs statfs_;  // before io_, whose statvfs pool calls it
  LoopServices io_{{}, statfs_.Fn()};
  std::unique_ptr<Check> check_;
  std::unique_ptr<CheckState> state_;
  uint64_t cpu_user_ = 10000, cpu_idle_ = 80000;
};

TEST_F(HostFixtureTest, ReadsEveryFigureOfTheFixtureTree) {
  MakeCheck();
  Result r = Run();
  ASSERT_TRUE(r.success) << r.detail;
  EXPECT_EQ(Observed(r, "host_cpus"), 2);
  EXPECT_EQ(Observed(r, "host_cpu_usage_ratio"), -1)
      << "/proc/stat did not move between the two samples: no usage to report";
  EXPECT_DOUBLE_EQ(Observed(r, "host_load", "1m"), 0.52);
  EXPECT_DOUBLE_EQ(Observed(r, "host_memory_used_ratio"), 0.75);
  EXPECT_EQ(Observed(r, "host_memory_bytes", "swap_used"), 250000.0 * 1024);
  EXPECT_DOUBLE_EQ(Observed(r, "host_disk_used_ratio", "/"), 0.3);
  EXPECT_DOUBLE_EQ(Observed(r, "host_disk_used_ratio", "/data"), 0.5);
  EXPECT_DOUBLE_EQ(Observed(r, "host_disk_inodes_used_ratio", "/data"), 0.5);
  // proc, sysfs, devtmpfs, cgroup2, nsfs, docker's overlays: never asked about.
  EXPECT_EQ(statfs_.Calls(Root("/proc")) + statfs_.Calls(Root("/sys/fs/cgroup")) +
                statfs_.Calls(Root("/dev/shm")) +
                statfs_.Calls(Root("/var/lib/docker/overlay2/0123abcd/merged")),
            0);
  EXPECT_EQ(statfs_.Calls(Root("/run")), 1) << "tmpfs /run is a real filesystem";
  EXPECT_EQ(Observed(r, "host_disk_mountpoints", "reported"), 2);
  EXPECT_DOUBLE_EQ(Observed(r, "host_pressure_ratio", "cpu"), 0.015);
  EXPECT_DOUBLE_EQ(Observed(r, "container_memory_used_ratio"), 0.390625);
  EXPECT_DOUBLE_EQ(Observed(r, "container_cpu_limit_cores"), 0.5);
  EXPECT_EQ(Observed(r, "container_oom_kills_total"), 0) << "the first run is the baseline";

  AdvanceCpu(30, 70);
  r = Run();
  EXPECT_DOUBLE_EQ(Observed(r, "host_cpu_usage_ratio", "busy"), 0.3);
  EXPECT_DOUBLE_EQ(Observed(r, "host_cpu_usage_ratio", "user"), 0.3);
}

TEST_F(HostFixtureTest, ThresholdsFireAndClearAsFilesChange) {
  MakeCheck("{cpu: {warn: 0.8, critical: 0.95}, disk: {warn: 0.8, critical: 0.9}}");
  ASSERT_TRUE(Run().success);

  AdvanceCpu(97, 3);
  Result r = Run();
  EXPECT_EQ(r.reason, Reason::kCpuSaturated) << r.detail;
  EXPECT_EQ(Observed(r, "host_resource_level", "cpu"), 2);
  AdvanceCpu(85, 15);
  r = Run();
  EXPECT_TRUE(r.success) << "a warn level is degraded, not failed";
  EXPECT_EQ(Observed(r, "host_resource_level", "cpu"), 1);
  EXPECT_EQ(r.detail, "degraded: cpu busy 0.850 >= 0.800 (warn)");
  AdvanceCpu(10, 90);
  r = Run();
  EXPECT_TRUE(r.success);
  EXPECT_EQ(Observed(r, "host_resource_level", "cpu"), 0);

  // Memory and a disk at once: one reason (memory first), both in the detail.
  std::string meminfo = ReadAll(Proc("meminfo"));
  WriteFile(Proc("meminfo"), "MemTotal: 8000000 kB\nMemAvailable: 100000 kB\n");
  statfs_.Set(Root("/data"), FsStats{2000, 1900, 100, 100, 50});
  AdvanceCpu(10, 90);
  r = Run();
  EXPECT_EQ(r.reason, Reason::kMemoryExhausted);
  EXPECT_NE(r.detail.find("disk /data used 0.950 >= 0.900 (critical)"), std::string::npos)
      << r.detail;
  WriteFile(Proc("meminfo"), meminfo);
  AdvanceCpu(10, 90);
  EXPECT_EQ(Run().reason, Reason::kDiskFull);
  statfs_.Set(Root("/data"), FsStats{2000, 1000, 1000, 100, 99});
  AdvanceCpu(10, 90);
  EXPECT_TRUE(Run().success);

  // Inodes.
  statfs_.Set(Root("/"), FsStats{1000, 300, 700, 100, 2});
  EXPECT_EQ(Run().reason, Reason::kInodesExhausted);
  statfs_.Set(Root("/"), FsStats{1000, 300, 700, 100, 90});

  // An OOM kill fails exactly the run that sees it; the counter keeps it.
  WriteFile(Cgroup("memory.events"), "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
  r = Run();
  EXPECT_EQ(r.reason, Reason::kOomKilled) << r.detail;
  EXPECT_EQ(Observed(r, "container_oom_kills_total"), 1);
  r = Run();
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(Observed(r, "container_oom_kills_total"), 0) << "counters report what is new";

  // Throttling: 60 of the last 100 cpu.max periods throttled, 1.5 s in all.
  WriteFile(Cgroup("cpu.stat"),
            "usage_usec 6000000\nnr_periods 1100\nnr_throttled 70\nthrottled_usec 1700000\n");
  r = Run();
  EXPECT_EQ(r.reason, Reason::kCpuThrottled) << r.detail;
  EXPECT_DOUBLE_EQ(Observed(r, "container_cpu_throttled_seconds_total"), 1.5);
  r = Run();
  EXPECT_TRUE(r.success) << "no period since: nothing throttled";
  EXPECT_EQ(Observed(r, "host_resource_level", "cpu_throttling"), 0);

  // Container memory near its limit, then the limit removed ("max" = no limit).
  WriteFile(Cgroup("memory.current"), "260000000\n");
  EXPECT_EQ(Run().reason, Reason::kMemoryExhausted);
  WriteFile(Cgroup("memory.max"), "max\n");
  r = Run();
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(Observed(r, "container_memory_used_ratio"), -1);
}

TEST_F(HostFixtureTest, MissingFilesMeanNoFigureNotAFailure) {
  // A kernel without PSI, a cgroup v1 host, no mount table for PID 1 (falls back to self).
  std::filesystem::remove_all(Proc("pressure"));
  WriteFile(Proc("self/cgroup"), "11:memory:/docker/abc\n1:name=systemd:/docker/abc\n");
  std::filesystem::rename(Proc("1/mounts"), Proc("self/mounts"));
  MakeCheck();
  Result r = Run();
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(Observed(r, "host_pressure_ratio"), -1);
  EXPECT_EQ(Observed(r, "container_memory_used_ratio"), -1);
  EXPECT_EQ(Observed(r, "container_oom_kills_total"), -1);
  EXPECT_EQ(Observed(r, "host_disk_mountpoints", "reported"), 2);

  // Nothing at all (wrong --path.procfs): still a result, with no figures.
  io_.services.paths = HostPaths{"/nonexistent/proc", "/nonexistent/sys", "/nonexistent"};
  r = Run();
  EXPECT_TRUE(r.success);
  EXPECT_EQ(Observed(r, "host_memory_used_ratio"), -1);
}

TEST_F(HostFixtureTest, MountpointLabelsAreCapped) {
  std::string mounts;
  for (int i = 0; i < 10; ++i) {
    std::string mp = "/m" + std::to_string(i);
    mounts += "/dev/vd" + std::to_string(i) + " " + mp + " ext4 rw 0 0\n";
    statfs_.Set(Root(mp), FsStats{10, 1, 9, 10, 9});
  }
  WriteFile(Proc("1/mounts"), mounts);
  MakeCheck("{max_mountpoints: 3}");
  Result r = Run();
  EXPECT_EQ(Observed(r, "host_disk_mountpoints", "reported"), 3);
  EXPECT_EQ(Observed(r, "host_disk_mountpoints", "dropped"), 7);
  EXPECT_EQ(Observed(r, "host_disk_used_ratio", "/m0"), 0.1) << "sorted: the first three stay";
  EXPECT_EQ(Observed(r, "host_disk_used_ratio", "/m3"), -1);
}

TEST_F(HostFixtureTest, AHungMountIsStuckAndSkippedUntilItReturns) {
  MakeCheck("{disk_timeout: 200ms}");
  statfs_.Hang(Root("/data"));
  Result r = Run();
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(Observed(r, "host_disk_mountpoints", "stuck"), 1);
  EXPECT_EQ(Observed(r, "host_disk_used_ratio", "/"), 0.3) << "the other mounts still report";
  // Still hanging: skipped, not asked again (no second worker stuck on it).
  r = Run();
  EXPECT_EQ(Observed(r, "host_disk_mountpoints", "stuck"), 1);
  EXPECT_EQ(statfs_.Calls(Root("/data")), 1);
  statfs_.Release();
  // The released call returns on its worker; a later run asks again.
  std::optional<Result> answered = RunUntilNoneStuck();
  ASSERT_TRUE(answered);
  EXPECT_EQ(Observed(*answered, "host_disk_used_ratio", "/data"), 0.5);
}

TEST_F(HostFixtureTest, ARunDestroyedOrAbortedWhileWaitingGetsNoLateCallback) {
  MakeCheck("{disk_timeout: 10s}");
  statfs_.Hang(Root("/data"));
  bool called = false;
  TimePoint now = io_.clock.Now();
  {
    auto run = check_->Start(RunContext{io_.services, now, now + seconds(2), state_.get()},
                             [&](Result) { called = true; });
    for (int i = 0; i < 5; ++i) io_.loop.RunOnce(milliseconds(50));
    Result aborted = run->Abort();
    EXPECT_EQ(aborted.reason, Reason::kTimeout);
    EXPECT_NE(aborted.detail.find("statvfs"), std::string::npos) << aborted.detail;
  }
  // Destroyed at once: its answer for "/" and its CPU timer must not reach it.
  check_->Start(RunContext{io_.services, now, now + seconds(2), state_.get()},
                [&](Result) { called = true; });
  statfs_.Release();
  ASSERT_TRUE(RunUntilNoneStuck());
  for (int i = 0; i < 5; ++i) io_.loop.RunOnce(milliseconds(10));
  EXPECT_FALSE(called);
}

// Finding from review: the "still running" set was per check while the pool (4 workers) is per
// process, so every host check, and every check rebuilt by a reload, queued its own call on the
// dead mount until all workers hung and no disk of any check was answered again.
TEST_F(HostFixtureTest, AHungMountTiesUpOneWorkerWhateverTheChecksAndReloads) {
  statfs_.Hang(Root("/data"));
  std::vector<std::unique_ptr<Check>> checks;  // kept alive, as checks of other names would be
  for (int i = 0; i < 6; ++i) {                // more checks than the pool has workers
    MakeCheck("{disk_timeout: 200ms}");        // a new check each time, as after a reload
    Result r = Run();
    EXPECT_EQ(Observed(r, "host_disk_mountpoints", "stuck"), 1)
        << "check " << i << ": " << r.detail;
    EXPECT_EQ(Observed(r, "host_disk_used_ratio", "/"), 0.3)
        << "check " << i << ": a mount that answers is still reported";
    checks.push_back(std::move(check_));
  }
  EXPECT_EQ(statfs_.Calls(Root("/data")), 1) << "one call on the dead mount, not one per check";
  statfs_.Release();
  MakeCheck("{disk_timeout: 200ms}");
  std::optional<Result> answered = RunUntilNoneStuck();
  ASSERT_TRUE(answered);
  EXPECT_EQ(Observed(*answered, "host_disk_used_ratio", "/data"), 0.5);
}

TEST_F(HostFixtureTest, ChecksAskingAtOnceShareOneCallAndAllGetItsAnswer) {
  statfs_.Hang(Root("/data"));
  MakeCheck("{disk_timeout: 10s}");
  std::unique_ptr<Check> first = std::move(check_);
  std::unique_ptr<CheckState> first_state = std::move(state_);
  MakeCheck("{disk_timeout: 10s}");
  std::vector<Result> results;
  TimePoint now = io_.clock.Now();
  RunContext ctx{io_.services, now, now + seconds(30), first_state.get()};
  auto a = first->Start(ctx, [&](Result r) { results.push_back(std::move(r)); });
  ctx.state = state_.get();
  auto b = check_->Start(ctx, [&](Result r) { results.push_back(std::move(r)); });
  ASSERT_TRUE(WaitFor([&] { return statfs_.Calls(Root("/data")) >= 1; }, seconds(5)));
  statfs_.Release();
  for (int i = 0; i < 200 && results.size() < 2; ++i) io_.loop.RunOnce(milliseconds(50));
  ASSERT_EQ(results.size(), 2u);
  for (const Result& r : results) {
    EXPECT_EQ(Observed(r, "host_disk_mountpoints", "stuck"), 0) << r.detail;
    EXPECT_EQ(Observed(r, "host_disk_used_ratio", "/data"), 0.5)
        << "the second check waits for the call the first one started, and gets its answer";
  }
  EXPECT_EQ(statfs_.Calls(Root("/data")), 1);
}

// ----- The real binary on the fixture tree ------------------------------------------------------

// Host and container series of a scrape, sorted, without the ones that come from statvfs on the
// fixture's real filesystem (disk bytes and ratios differ from machine to machine).
std::string HostSeries(const std::string& metrics) {
  std::istringstream in(metrics);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    bool ours = line.rfind("gatewatch_host_", 0) == 0 || line.rfind("gatewatch_container_", 0) == 0;
    bool real_fs = line.rfind("gatewatch_host_disk_bytes", 0) == 0 ||
                   line.rfind("gatewatch_host_disk_used_ratio", 0) == 0 ||
                   line.rfind("gatewatch_host_disk_inodes_used_ratio", 0) == 0 ||
                   line.find("resource=\"disk\"") != std::string::npos ||
                   line.find("resource=\"inodes\"") != std::string::npos;
    if (ours && !real_fs) lines.push_back(line);
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

TEST(HostBinaryTest, FixtureTreeThroughPathFlagsMatchesGoldenMetrics) {
  TempDir dir;
  std::string config = dir.path() + "/gatewatch.yml";
  WriteFile(config, "checks:\n  - {name: host, type: host, interval: 300ms, timeout: 250ms}\n");
  int port = FreeTcpPort();
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  Process agent({GATEWATCH_BINARY, "--config.file=" + config,
                 "--web.listen-address=127.0.0.1:" + std::to_string(port),
                 "--path.procfs=" + kFixture + "/proc", "--path.sysfs=" + kFixture + "/sys",
                 "--path.rootfs=" + kFixture + "/root"});
  std::string metrics;
  // Two runs: the second has deltas for the cgroup counters.
  ASSERT_TRUE(WaitFor(
      [&] {
        metrics = HttpGet(base + "/metrics").body;
        return Sample(metrics,
                      R"(gatewatch_check_runs_total{check="host",result="success",type="host"})") >=
               2;
      },
      seconds(10)))
      << metrics << agent.Stderr();
  EXPECT_GE(Sample(metrics, R"(gatewatch_host_disk_used_ratio{check="host",mountpoint="/data"})"),
            0);
  std::string golden_path = std::string(GATEWATCH_SOURCE_DIR) + "/tests/golden/host.prom";
  std::string got = HostSeries(metrics);
  if (std::getenv("GATEWATCH_UPDATE_GOLDEN") != nullptr) WriteFile(golden_path, got);
  EXPECT_EQ(got, ReadAll(golden_path)) << "GATEWATCH_UPDATE_GOLDEN=1 rewrites the golden file";

  EXPECT_EQ(PromtoolProblems(metrics, dir.path()), "");
}

// ----- This machine ----------------------------------------------------------------------------

std::string RunCommand(const std::string& cmd) {
  Process p({"/bin/sh", "-c", cmd});
  int status = -1;
  if (!p.WaitExit(seconds(20), &status) || status != 0) return "";
  return p.Stdout();
}

class HostLiveTest : public ::testing::Test {
 protected:
  HostLiveTest() {
    Config config = ParseConfig(
        "checks:\n  - {name: host, type: host, interval: 10s, timeout: 5s,"
        " cpu: {}, memory: {}, disk: {}, inodes: {}, container_memory: {}, cpu_throttling: {},"
        " oom_kills: false}\n",
        "test.yml");
    check_ = config.checks.at(0).check;
    state_ = check_->NewState();
  }
  Result Run() { return RunCheckOnce(*check_, io_.services, state_.get()); }

  LoopServices io_;
  std::shared_ptr<const Check> check_;
  std::unique_ptr<CheckState> state_;
};

TEST_F(HostLiveTest, MemoryAndDiskMatchFreeAndDf) {
  Result r = Run();
  ASSERT_TRUE(r.success) << r.detail;
  // free -b: "Mem:  total used free shared buff/cache available" (procps 4: used = total -
  // available)
  std::istringstream free_out(RunCommand("free -b | awk '/^Mem:/ {print $2, $7}'"));
  double total = -1, available = -1;
  free_out >> total >> available;
  ASSERT_GT(total, 0) << "free -b did not run";
  EXPECT_EQ(Observed(r, "host_memory_bytes", "total"), total);
  // Memory moves between the two reads: within 2% of total.
  EXPECT_NEAR(Observed(r, "host_memory_bytes", "available"), available, total * 0.02);

  std::istringstream df_out(RunCommand("df -B1 --output=size,used,avail / | tail -n 1"));
  double size = -1, used = -1, avail = -1;
  df_out >> size >> used >> avail;
  ASSERT_GT(size, 0) << "df -B1 did not run";
  const double kSlack = 64.0 * 1024 * 1024;  // other tests and builds write meanwhile
  double got_size = -1, got_used = -1, got_avail = -1;
  for (const auto& o : r.observations) {
    if (o.desc->name != "host_disk_bytes" || o.label_values[0] != "/") continue;
    if (o.label_values[1] == "size") got_size = o.value;
    if (o.label_values[1] == "used") got_used = o.value;
    if (o.label_values[1] == "available") got_avail = o.value;
  }
  EXPECT_EQ(got_size, size);
  EXPECT_NEAR(got_used, used, kSlack);
  EXPECT_NEAR(got_avail, avail, kSlack);
  EXPECT_NEAR(Observed(r, "host_disk_used_ratio", "/"), used / (used + avail), 0.01);
}

TEST_F(HostLiveTest, CpuUsageRisesWhileTheTestBurnsACore) {
  Result first = Run();
  double cpus = Observed(first, "host_cpus");
  ASSERT_GE(cpus, 1);
  ASSERT_GE(Observed(first, "host_cpu_usage_ratio", "busy"), 0)
      << "the first run takes two samples, so it reports usage at once";
  std::atomic<bool> stop{false};
  std::thread burner([&] {
    volatile uint64_t x = 0;
    while (!stop.load(std::memory_order_relaxed)) x = x + 1;
  });
  std::this_thread::sleep_for(milliseconds(1500));  // bounded burn
  Result during = Run();
  stop = true;
  burner.join();
  // One busy core is at least 1/cpus of the machine, whatever else runs; allow scheduling slack.
  EXPECT_GE(Observed(during, "host_cpu_usage_ratio", "busy"), 0.8 / cpus) << during.detail;
  EXPECT_GE(Observed(during, "host_cpu_usage_ratio", "user"), 0.7 / cpus) << during.detail;
}

}  // namespace
}  // namespace gatewatch::testing
