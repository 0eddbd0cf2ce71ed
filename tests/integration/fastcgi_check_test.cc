// The fastcgi check against Debian's php-fpm started by the test with its own config: two pools
// (TCP on 127.0.0.1 and a unix socket in a temp dir) of one child each, ping.path and PHP scripts.
// Healthy ping and script; a 503 and a 404 from PHP; the pool saturated for real by a slow request
// (timeout, overloaded); fpm stopped (connection_refused on both sockets). A third pool (dynamic,
// one child, a backlog of 2) for the status page: its figures, and its saturation by slow
// requests named pool_saturated.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>
#include <vector>

#include "checks/fastcgi_protocol.h"
#include "tests/testlib/loop_services.h"
#include "tests/testlib/process.h"
#include "tests/testlib/require.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kPhpFpm = "/usr/sbin/php-fpm8.2";

class FastcgiCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kPhpFpm, X_OK) != 0) GTEST_SKIP() << "php8.2-fpm not installed";
    // php-fpm's children run as nobody: they must read the scripts.
    chmod(dir_.path().c_str(), 0755);
    Write("ok.php", "<?php echo \"fine\\n\";");
    Write("down.php", "<?php http_response_code(503); echo \"down\\n\";");
    Write("slow.php", "<?php sleep(4); echo \"late\\n\";");
    Write("slow1.php", "<?php usleep(1500000); echo \"late\\n\";");
    port_ = FreeTcpPort();
    sat_port_ = FreeTcpPort();
    std::string pool =
        "user = nobody\ngroup = nogroup\npm = static\npm.max_children = 1\n"
        "ping.path = /ping\nping.response = pong\npm.status_path = /status\n";
    Write("fpm.conf", "[global]\nerror_log = " + dir_.path() + "/fpm.log\ndaemonize = no\n" +
                          "[tcp]\nlisten = 127.0.0.1:" + std::to_string(port_) + "\n" + pool +
                          "[unix]\nlisten = " + Sock() + "\nlisten.mode = 0666\n" + pool +
                          // pm.max_children reached is counted for dynamic pools only.
                          "[sat]\nlisten = 127.0.0.1:" + std::to_string(sat_port_) +
                          "\nlisten.backlog = 2\nuser = nobody\ngroup = nogroup\npm = dynamic\n"
                          "pm.max_children = 1\npm.start_servers = 1\npm.min_spare_servers = 1\n"
                          "pm.max_spare_servers = 1\npm.status_path = /status\n");
    fpm_ = std::make_unique<Process>(
        std::vector<std::string>{kPhpFpm, "-n", "-R", "-F", "-y", dir_.path() + "/fpm.conf"});
    // Ready when both sockets take connections (bounded).
    for (int i = 0; i < 100; ++i) {
      if (Connects() && Connects(sat_port_) && access(Sock().c_str(), F_OK) == 0) return;
      std::this_thread::sleep_for(milliseconds(50));
    }
    GW_SERVER_DID_NOT_START(kPhpFpm, ReadFile(dir_.path() + "/fpm.log") + fpm_->Stderr());
  }

  // SIGTERM, not the Process destructor's SIGKILL: the master then stops its children (which
  // would otherwise outlive the test).
  void TearDown() override {
    if (fpm_ == nullptr) return;
    int status = 0;
    fpm_->Signal(SIGTERM);
    fpm_->WaitExit(seconds(10), &status);
  }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.path() + "/" + name) << text;
    chmod((dir_.path() + "/" + name).c_str(), 0644);
  }
  std::string Sock() const { return dir_.path() + "/fpm.sock"; }
  std::string Script(const std::string& name) const { return dir_.path() + "/" + name; }

  int Connect(int port = 0) const {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port != 0 ? port : port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }
  bool Connects(int port = 0) const {
    int fd = Connect(port);
    if (fd < 0) return false;
    close(fd);
    return true;
  }

  std::string Check(const std::string& address, const std::string& extra,
                    const std::string& timeout = "2s") const {
    return "{name: php, type: fastcgi, address: '" + address +
           "', interval: 10s, timeout: " + timeout + ", " + extra + "}";
  }
  std::string Tcp() const { return "127.0.0.1:" + std::to_string(port_); }

  TempDir dir_;
  int port_ = 0;
  int sat_port_ = 0;
  std::unique_ptr<Process> fpm_;
};

TEST_F(FastcgiCheckTest, PingAndScriptsOverTcpAndUnixSocket) {
  for (const std::string& address : {Tcp(), "unix:" + Sock()}) {
    Result ping = RunYamlCheckOnce(Check(address, "path: /ping, expect: {body_regex: '^pong'}"));
    EXPECT_TRUE(ping.success) << address << ": " << ping.detail;
    EXPECT_EQ(ReportValue(ping, "status"), "200");

    Result ok = RunYamlCheckOnce(
        Check(address, "path: /ok.php, script_filename: '" + Script("ok.php") + "'"));
    EXPECT_TRUE(ok.success) << address << ": " << ok.detail;
  }
  Result down = RunYamlCheckOnce(
      Check(Tcp(), "path: /down.php, script_filename: '" + Script("down.php") + "'"));
  EXPECT_EQ(down.reason, Reason::kHttp503) << down.detail;
  EXPECT_EQ(ReportValue(down, "status"), "503");
  // php-fpm's own answer for a script that is not there: 404 and "Primary script unknown".
  Result missing = RunYamlCheckOnce(
      Check(Tcp(), "path: /gone.php, script_filename: '" + Script("gone.php") + "'"));
  EXPECT_EQ(missing.reason, Reason::kHttp4xx) << missing.detail;
  EXPECT_NE(missing.detail.find("Primary script unknown"), std::string::npos) << missing.detail;
}

TEST_F(FastcgiCheckTest, SaturatedPoolIsATimeoutAfterTheConnect) {
  // The pool's only child busy with a slow script, as a real request would keep it.
  int busy = Connect();
  ASSERT_GE(busy, 0);
  std::string request = EncodeFcgiRequest({{"REQUEST_METHOD", "GET"},
                                           {"SCRIPT_FILENAME", Script("slow.php")},
                                           {"SCRIPT_NAME", "/slow.php"}});
  ASSERT_EQ(write(busy, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::this_thread::sleep_for(milliseconds(300));  // the child takes it

  Result r = RunYamlCheckOnce(Check(Tcp(), "path: /ping", "1s"));
  EXPECT_EQ(r.reason, Reason::kTimeout) << r.detail;
  EXPECT_EQ(ReasonCause(r.reason), Cause::kOverloaded);
  EXPECT_NE(r.detail.find("pool saturated"), std::string::npos) << r.detail;
  // The other pool is not saturated.
  Result other = RunYamlCheckOnce(Check("unix:" + Sock(), "path: /ping", "1s"));
  EXPECT_TRUE(other.success) << other.detail;
  close(busy);
}

TEST_F(FastcgiCheckTest, StoppedFpmIsConnectionRefused) {
  fpm_->Signal(SIGTERM);
  int status = 0;
  ASSERT_TRUE(fpm_->WaitExit(seconds(10), &status));
  Result tcp = RunYamlCheckOnce(Check(Tcp(), "path: /ping"));
  EXPECT_EQ(tcp.reason, Reason::kConnectionRefused) << tcp.detail;
  Result unix_socket = RunYamlCheckOnce(Check("unix:" + Sock(), "path: /ping"));
  EXPECT_EQ(unix_socket.reason, Reason::kConnectionRefused) << unix_socket.detail;
}

TEST_F(FastcgiCheckTest, StatusPathReportsThePoolsFigures) {
  Result tcp = RunYamlCheckOnce(Check(Tcp(), "status_path: /status"));
  ASSERT_TRUE(tcp.success) << tcp.detail;
  EXPECT_EQ(ReportValue(tcp, "pool"), "tcp");
  EXPECT_EQ(ReportValue(tcp, "process_manager"), "static");
  // The one child answers the status request itself.
  EXPECT_EQ(ReportValue(tcp, "active_processes"), "1");
  EXPECT_EQ(ReportValue(tcp, "idle_processes"), "0");
  EXPECT_EQ(ReportValue(tcp, "total_processes"), "1");
  EXPECT_EQ(ReportValue(tcp, "listen_queue"), "0");
  EXPECT_GT(std::stoll(ReportValue(tcp, "listen_queue_length")), 0);  // known for TCP
  EXPECT_NE(tcp.detail.find("1 active, 0 idle of 1"), std::string::npos) << tcp.detail;

  // The dynamic pool keeps its spare child idle beside the one answering.
  Result sat = RunYamlCheckOnce(
      Check("127.0.0.1:" + std::to_string(sat_port_), "status_path: /status, query: 'json&full'"));
  ASSERT_TRUE(sat.success) << sat.detail;
  EXPECT_EQ(ReportValue(sat, "process_manager"), "dynamic");
  EXPECT_EQ(ReportValue(sat, "total_processes"), "1");
  EXPECT_EQ(ReportValue(sat, "listen_queue_length"), "2");

  // The text form (no json) is refused at load; a page that is not the status JSON fails.
  try {
    RunYamlCheckOnce(Check(Tcp(), "status_path: /status, query: full"));
    ADD_FAILURE() << "query without json accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("checks[0].query: must ask for json"), std::string::npos)
        << e.what();
  }
  Result ping = RunYamlCheckOnce(Check(Tcp(), "status_path: /ping"));
  EXPECT_EQ(ping.reason, Reason::kProtocolError) << ping.detail;
  EXPECT_NE(ping.detail.find("not JSON"), std::string::npos) << ping.detail;
}

TEST_F(FastcgiCheckTest, PoolSaturatedBySlowRequestsIsNamedWithinTwoRuns) {
  Config config = ParseConfig(
      "checks:\n  - " +
          Check("127.0.0.1:" + std::to_string(sat_port_), "status_path: /status", "1s") + "\n",
      "test.yml");
  const gatewatch::Check& check = *config.checks.at(0).check;
  LoopServices io;
  Result baseline = RunCheckOnce(check, io.services);
  ASSERT_TRUE(baseline.success) << baseline.detail;
  EXPECT_EQ(ReportValue(baseline, "max_children_reached"), "0");

  // Three connections (bounded): a slow request on the only child, two waiting in the backlog of
  // 2. Those two sent only their FCGI_BEGIN_REQUEST (their params still to come), so that when
  // their clients give up below the child drops them at once instead of running them.
  std::vector<int> busy;
  std::string request = EncodeFcgiRequest({{"REQUEST_METHOD", "GET"},
                                           {"SCRIPT_FILENAME", Script("slow1.php")},
                                           {"SCRIPT_NAME", "/slow1.php"}});
  for (int i = 0; i < 3; ++i) {
    int fd = Connect(sat_port_);
    ASSERT_GE(fd, 0);
    size_t n = i == 0 ? request.size() : 2 * fcgi::kHeaderSize;  // the whole, or BEGIN_REQUEST
    ASSERT_EQ(write(fd, request.data(), n), static_cast<ssize_t>(n));
    busy.push_back(fd);
  }
  std::this_thread::sleep_for(milliseconds(200));  // the child takes the first

  // Run 1: accepted into the queue, no child answers within the timeout.
  Result during = RunCheckOnce(check, io.services);
  EXPECT_EQ(during.reason, Reason::kPoolSaturated) << during.detail;
  EXPECT_EQ(ReasonCause(during.reason), Cause::kOverloaded);
  EXPECT_NE(during.detail.find("no child answered the status page"), std::string::npos)
      << during.detail;

  // The clients give up. The queued connections stay in the backlog until the child, free after
  // 1.5 s, accepts (and drops) them: the next run comes an interval later, after that.
  for (int fd : busy) close(fd);
  std::this_thread::sleep_for(milliseconds(600));
  // Run 2: the pool answers again, with php-fpm's figures of the saturation. It measures its
  // listen queue once a second, so the figure may still be the full queue (listen_queue_full);
  // otherwise the grown max-children-reached counter names it (pool_saturated).
  Result after = RunCheckOnce(check, io.services);
  if (after.reason == Reason::kListenQueueFull) {
    EXPECT_NE(after.detail.find("the backlog holds 2"), std::string::npos) << after.detail;
  } else {
    EXPECT_EQ(after.reason, Reason::kPoolSaturated) << after.detail;
    EXPECT_NE(after.detail.find("reached pm.max_children 1 time(s) since the last run"),
              std::string::npos)
        << after.detail;
  }
  EXPECT_EQ(ReportValue(after, "max_children_reached"), "1");
  EXPECT_EQ(ReportValue(after, "total_processes"), "1");
  // The backlog held the slow requests and the first run's connection.
  EXPECT_GE(std::stoll("0" + ReportValue(after, "max_listen_queue")), 2) << after.detail;
}

}  // namespace
}  // namespace gatewatch::testing
