// The fastcgi check against Debian's php-fpm started by the test with its own config: two pools
// (TCP on 127.0.0.1 and a unix socket in a temp dir) of one child each, ping.path and PHP scripts.
// Healthy ping and script; a 503 and a 404 from PHP; the pool saturated for real by a slow request
// (timeout, overloaded); fpm stopped (connection_refused on both sockets).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

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
    port_ = FreeTcpPort();
    std::string pool =
        "user = nobody\ngroup = nogroup\npm = static\npm.max_children = 1\n"
        "ping.path = /ping\nping.response = pong\npm.status_path = /status\n";
    Write("fpm.conf", "[global]\nerror_log = " + dir_.path() + "/fpm.log\ndaemonize = no\n" +
                          "[tcp]\nlisten = 127.0.0.1:" + std::to_string(port_) + "\n" + pool +
                          "[unix]\nlisten = " + Sock() + "\nlisten.mode = 0666\n" + pool);
    fpm_ = std::make_unique<Process>(
        std::vector<std::string>{kPhpFpm, "-n", "-R", "-F", "-y", dir_.path() + "/fpm.conf"});
    // Ready when both sockets take connections (bounded).
    for (int i = 0; i < 100; ++i) {
      if (Connects() && access(Sock().c_str(), F_OK) == 0) return;
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

  int Connect() const {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      return -1;
    }
    return fd;
  }
  bool Connects() const {
    int fd = Connect();
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

}  // namespace
}  // namespace gatewatch::testing
