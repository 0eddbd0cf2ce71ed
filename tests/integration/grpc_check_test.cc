// The grpc check against a real gRPC server (Debian's python3-grpcio, started by the test with
// /usr/bin/python3): SERVING, NOT_SERVING, an unknown service (NOT_FOUND), a failing call
// (UNAVAILABLE), the server stopped (connection_refused), and a plain HTTP server that is not gRPC.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/loop_services.h"
#include "tests/testlib/nginx.h"
#include "tests/testlib/process.h"
#include "tests/testlib/require.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kPython = "/usr/bin/python3";

std::string Grpc(int port, const std::string& extra = "") {
  return "{name: g, type: grpc, address: '127.0.0.1:" + std::to_string(port) +
         "', interval: 10s, timeout: 2s" + (extra.empty() ? "" : ", " + extra) + "}";
}

class GrpcCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (RunToExit({kPython, "-c", "import grpc"}, seconds(30)).exit_code != 0) {
      GTEST_SKIP() << "python3-grpcio not installed";
    }
    SetStatuses("=SERVING\napi=SERVING\n");
    port_ = FreeTcpPort();
    server_ = std::make_unique<Process>(std::vector<std::string>{
        kPython,
        std::string(GATEWATCH_SOURCE_DIR) + "/tests/integration/servers/grpc_health_server.py",
        std::to_string(port_), dir_.path() + "/status"});
    for (int i = 0; i < 200 && server_->Stdout().find("ready") == std::string::npos; ++i) {
      std::this_thread::sleep_for(milliseconds(50));
    }
    if (server_->Stdout().find("ready") == std::string::npos) {
      FAIL() << "gRPC server did not start: " << server_->Stderr();
    }
  }
  void SetStatuses(const std::string& text) { std::ofstream(dir_.path() + "/status") << text; }

  TempDir dir_;
  int port_ = 0;
  std::unique_ptr<Process> server_;
};

TEST_F(GrpcCheckTest, ServingStatusesAndGrpcStatuses) {
  Result whole = RunYamlCheckOnce(Grpc(port_));
  EXPECT_TRUE(whole.success) << whole.detail;
  EXPECT_EQ(ReportValue(whole, "serving"), "SERVING");
  EXPECT_EQ(ReportValue(whole, "grpc_status"), "0");
  Result api = RunYamlCheckOnce(Grpc(port_, "service: api"));
  EXPECT_TRUE(api.success) << api.detail;

  SetStatuses("=SERVING\napi=NOT_SERVING\n");
  Result down = RunYamlCheckOnce(Grpc(port_, "service: api"));
  EXPECT_EQ(down.reason, Reason::kHttp503) << down.detail;
  EXPECT_EQ(ReportValue(down, "serving"), "NOT_SERVING");

  Result unknown = RunYamlCheckOnce(Grpc(port_, "service: nope"));
  EXPECT_EQ(unknown.reason, Reason::kUnexpectedStatus) << unknown.detail;
  EXPECT_EQ(ReportValue(unknown, "grpc_status"), "5");  // NOT_FOUND

  SetStatuses("=UNAVAILABLE\n");
  Result unavailable = RunYamlCheckOnce(Grpc(port_));
  EXPECT_EQ(unavailable.reason, Reason::kHttp503) << unavailable.detail;
  EXPECT_EQ(ReportValue(unavailable, "grpc_status"), "14");
  EXPECT_NE(unavailable.detail.find("told to fail"), std::string::npos) << unavailable.detail;
}

TEST_F(GrpcCheckTest, StoppedServerAndNotGrpc) {
  server_.reset();  // SIGKILL: the port refuses
  Result stopped = RunYamlCheckOnce(Grpc(port_));
  EXPECT_EQ(stopped.reason, Reason::kConnectionRefused) << stopped.detail;

  // An HTTP/1.1-only nginx: it closes on the HTTP/2 preface without a byte libcurl takes for a
  // response, so the run says empty_reply (what nginx's grpc_pass to such a port sees too).
  int port = FreeTcpPort();
  NginxInstance nginx("  server {\n    listen 127.0.0.1:" + std::to_string(port) +
                      ";\n    location / { return 200 \"ok\\n\"; }\n  }\n");
  std::string error;
  if (!nginx.Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);
  Result plain = RunYamlCheckOnce(Grpc(port));
  EXPECT_EQ(plain.reason, Reason::kEmptyReply) << plain.detail;
}

}  // namespace
}  // namespace gatewatch::testing
