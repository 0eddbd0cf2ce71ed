// HTTP checks resolving through a chosen DNS server (`resolver:`) and probing every address of a
// name (`fanout: true`), against a real dnsmasq and HTTP servers bound to 127.0.0.x.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <map>

#include "agent/base/fd.h"
#include "agent/config.h"
#include "tests/testlib/dnsmasq.h"
#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/loop_services.h"
#include "tests/testlib/observed.h"
#include "tests/testlib/require.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using Behaviour = FakeHttpServer::Behaviour;

// A TCP port on `address` that refuses connections while this lives (bound, never listening).
UniqueFd RefuseOn(const char* address, int port) {
  int bound = 0;
  UniqueFd fd = BindInet(SOCK_STREAM, address, port, &bound);
  EXPECT_TRUE(fd.valid());
  return fd;
}

class FanoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dns_ = std::make_unique<Dnsmasq>(std::vector<std::string>{
        "--local=/example.test/", "--host-record=backends.example.test,127.0.0.2",
        "--host-record=backends.example.test,127.0.0.3",
        "--host-record=backends.example.test,127.0.0.4",
        "--host-record=one.example.test,127.0.0.2"});
    std::string error;
    if (!dns_->Start(&error)) GW_SERVER_DID_NOT_START(kDnsmasqBinary, error);
  }
  std::string Check(const std::string& host, int port, const std::string& extra) {
    return "{name: t, type: http, interval: 10s, timeout: 2s, url: 'http://" + host + ":" +
           std::to_string(port) + "/', resolver: '" + dns_->server() + "'" +
           (extra.empty() ? "" : ", " + extra) + "}";
  }
  std::unique_ptr<Dnsmasq> dns_;
};

TEST_F(FanoutTest, ResolverKeyAsksThatServerAndReportsIt) {
  FakeHttpServer up(Behaviour::kOk, 200, "127.0.0.2");
  Result r = RunYamlCheckOnce(Check("one.example.test", up.port(), ""));
  EXPECT_TRUE(r.success) << r.detail;
  bool shown = false;
  for (const auto& [k, v] : r.report) {
    if (k == "resolve") shown = v == "one.example.test via " + dns_->server() + ": 127.0.0.2";
  }
  EXPECT_TRUE(shown) << "the probe report names the resolver and its answer";
  EXPECT_EQ(RunYamlCheckOnce(Check("nope.example.test", up.port(), "")).reason,
            Reason::kDnsNxdomain);
}

TEST_F(FanoutTest, OneDeadBackendBehindTheNameIsFoundAndNamed) {
  FakeHttpServer a(Behaviour::kOk, 200, "127.0.0.2");
  FakeHttpServer b(Behaviour::kOk, 200, "127.0.0.3", a.port());
  UniqueFd dead = RefuseOn("127.0.0.4", a.port());
  Result r = RunYamlCheckOnce(Check("backends.example.test", a.port(), "fanout: true"));
  std::string port = std::to_string(a.port());
  EXPECT_EQ(r.reason, Reason::kConnectionRefused) << r.detail;
  EXPECT_EQ(Observed(r, "http_backend_up", "127.0.0.2:" + port), 1);
  EXPECT_EQ(Observed(r, "http_backend_up", "127.0.0.3:" + port), 1);
  EXPECT_EQ(Observed(r, "http_backend_up", "127.0.0.4:" + port), 0);
  EXPECT_EQ(Observed(r, "http_backends"), 3);
  EXPECT_NE(r.detail.find("1/3 backends down: 127.0.0.4:" + port + " connection_refused"),
            std::string::npos)
      << r.detail;
  EXPECT_EQ(a.accepted(), 1);
  EXPECT_EQ(b.accepted(), 1);
  // The probe's report gives each address its own verdict and reason.
  std::map<std::string, std::string> report(r.report.begin(), r.report.end());
  EXPECT_EQ(report["backend 127.0.0.4:" + port].rfind("down connection_refused", 0), 0u)
      << report["backend 127.0.0.4:" + port];
  EXPECT_EQ(report["backend 127.0.0.2:" + port].rfind("up HTTP 200", 0), 0u)
      << report["backend 127.0.0.2:" + port];

  // With the third backend back, the run succeeds and every address is up.
  dead.reset();
  FakeHttpServer c(Behaviour::kOk, 200, "127.0.0.4", a.port());
  Result ok = RunYamlCheckOnce(Check("backends.example.test", a.port(), "fanout: true"));
  EXPECT_TRUE(ok.success) << ok.detail;
  EXPECT_EQ(Observed(ok, "http_backend_up", "127.0.0.4:" + port), 1);
}

// Behind a load balancer with one bad zone: `any` passes while one backend answers, `quorum` while
// a majority does, and the per-address gauge still names the dead ones.
TEST_F(FanoutTest, PolicyAnyAndQuorumToleratesDeadBackends) {
  FakeHttpServer a(Behaviour::kOk, 200, "127.0.0.2");
  UniqueFd dead3 = RefuseOn("127.0.0.3", a.port());
  UniqueFd dead4 = RefuseOn("127.0.0.4", a.port());
  std::string port = std::to_string(a.port());
  Result any = RunYamlCheckOnce(
      Check("backends.example.test", a.port(), "fanout: true, fanout_policy: any"));
  EXPECT_TRUE(any.success) << any.detail;
  EXPECT_EQ(any.detail.rfind("2/3 backends down (policy any): 127.0.0.3:" + port, 0), 0u)
      << any.detail;
  EXPECT_EQ(Observed(any, "http_backend_up", "127.0.0.3:" + port), 0);
  EXPECT_EQ(Observed(any, "http_status_code"), 200) << "a passing run shows an up backend";

  Result quorum = RunYamlCheckOnce(
      Check("backends.example.test", a.port(), "fanout: true, fanout_policy: quorum"));
  EXPECT_EQ(quorum.reason, Reason::kConnectionRefused) << quorum.detail;

  dead3.reset();
  FakeHttpServer b(Behaviour::kOk, 200, "127.0.0.3", a.port());
  quorum = RunYamlCheckOnce(
      Check("backends.example.test", a.port(), "fanout: true, fanout_policy: quorum"));
  EXPECT_TRUE(quorum.success) << quorum.detail;
  Result all = RunYamlCheckOnce(Check("backends.example.test", a.port(), "fanout: true"));
  EXPECT_EQ(all.reason, Reason::kConnectionRefused) << all.detail;
}

TEST_F(FanoutTest, AHangingBackendTimesOutAtTheDeadlineWhileTheOthersReport) {
  FakeHttpServer a(Behaviour::kOk, 200, "127.0.0.2");
  FakeHttpServer b(Behaviour::kOk, 200, "127.0.0.3", a.port());
  FakeHttpServer hang(Behaviour::kHang, 200, "127.0.0.4", a.port());
  Result r = RunYamlCheckOnce(Check("backends.example.test", a.port(), "fanout: true"));
  EXPECT_EQ(r.reason, Reason::kTimeout) << r.detail;
  std::string port = std::to_string(a.port());
  EXPECT_EQ(Observed(r, "http_backend_up", "127.0.0.2:" + port), 1);
  EXPECT_EQ(Observed(r, "http_backend_up", "127.0.0.4:" + port), 0);
}

}  // namespace
}  // namespace gatewatch::testing
