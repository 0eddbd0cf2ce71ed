// The rest of issue 18's fault matrix (diagnosis_test.cc has refused, hanging, garbage and the
// moved name): behind a real nginx, one fault at a time, the diagnosis gives the right cause and
// why within two check intervals of the fault being visible, naming the right upstream:
//   - the upstream resets every connection     -> overloaded (connection_reset)
//   - the upstream process is stopped (SIGSTOP) -> overloaded (upstream_timeout)
//   - the upstream's name NXDOMAIN, SERVFAIL    -> dns (nxdomain), dns (servfail), via dnsmasq
//   - an OOM kill in the agent's view of the host while the upstream dies
//                                               -> resources (oom_killed)
//   - CPU throttling while the upstream hangs   -> resources (cpu_throttled)
// Every row prints `gatewatch diagnose --url=...` as a person reads it.
#include <signal.h>

#include <filesystem>

#include "tests/integration/diagnosis_fixture.h"
#include "tests/testlib/dnsmasq.h"
#include "tests/testlib/fake_dns_server.h"

namespace gatewatch::testing {
namespace {

using std::chrono::seconds;

class DiagnosisFaultsTest : public DiagnosisFixture {
 protected:
  // Waits until the probe passed through nginx and the service has no verdict.
  void WaitClean() {
    nlohmann::json s;
    ASSERT_TRUE(WaitFor(
        [&] {
          s = Shop();
          return s.is_object() && s["healthy"] == true && s["verdict"].is_null() &&
                 Runs("shop") >= 1;
        },
        seconds(15)))
        << s.dump(1) << agent_->Stderr();
  }

  // Replaces the fake upstream by one that behaves as `b`, on the same port.
  void ReplaceUpstream(FakeHttpServer::Behaviour b) {
    upstream_.reset();
    upstream_ = std::make_unique<FakeHttpServer>(b, 200, "127.0.0.1", upstream_port_);
  }

  // The verdict names the upstream first, in its upstreams and in its evidence.
  void ExpectNamesUpstream(const nlohmann::json& v) {
    ASSERT_TRUE(v.is_object());
    ASSERT_FALSE(v["upstreams"].empty()) << v.dump(1);
    EXPECT_EQ(v["upstreams"][0], Upstream()) << v.dump(1);
    EXPECT_TRUE(Mentions(v["evidence"], Upstream())) << v.dump(1);
  }

  void ExpectPrinted(const CommandResult& cli, const std::string& verdict) {
    EXPECT_EQ(cli.exit_code, 1) << cli.out << cli.err;
    EXPECT_NE(cli.out.find("VERDICT      " + verdict), std::string::npos) << cli.out;
  }
};

// A reset is an upstream that takes the connection and drops it: too busy, or crashing on the
// request. nginx logs "Connection reset by peer", the probe sees a 502. The verdict is not
// upstream_down: it is something alive that cannot cope.
TEST_F(DiagnosisFaultsTest, UpstreamResettingConnectionsIsOverloaded) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  ASSERT_NO_FATAL_FAILURE(WaitClean());
  const double runs = Runs("nginx");
  ReplaceUpstream(FakeHttpServer::Behaviour::kReset);
  nlohmann::json v = WaitForFault("overloaded", "connection_reset", "nginx", runs, true);
  ASSERT_NO_FATAL_FAILURE(ExpectNamesUpstream(v));
  EXPECT_TRUE(Mentions(v["evidence"], Upstream() + " connection_reset")) << v.dump(1);
  ExpectPrinted(Diagnose("upstream resetting connections"), "overloaded (connection_reset)");
}

// A real process as the upstream (python3's http.server), stopped with SIGSTOP: the kernel still
// completes the handshakes, nobody answers, nginx times out reading (504, "upstream timed out").
// Continued with SIGCONT, it serves again and the verdict clears.
TEST_F(DiagnosisFaultsTest, UpstreamStoppedWithSigstopTimesOut) {
  upstream_.reset();  // its port goes to the real process
  Process server({"/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                  dir_.path(), std::to_string(upstream_port_)});
  ASSERT_TRUE(WaitFor(
      [&] {
        return HttpGet("http://127.0.0.1:" + std::to_string(proxy_port_) + "/").status == 200;
      },
      seconds(10)))
      << server.Stderr();
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  ASSERT_NO_FATAL_FAILURE(WaitClean());
  const double runs = Runs("nginx");
  server.Signal(SIGSTOP);
  nlohmann::json v = WaitForFault("overloaded", "upstream_timeout", "nginx", runs, true);
  ExpectPrinted(Diagnose("upstream stopped with SIGSTOP"), "overloaded (upstream_timeout)");
  server.Signal(SIGCONT);
  ASSERT_NO_FATAL_FAILURE(ExpectNamesUpstream(v));
  EXPECT_TRUE(Mentions(v["evidence"], Upstream() + " upstream_timeout")) << v.dump(1);
  nlohmann::json s;
  EXPECT_TRUE(WaitFor(
      [&] {
        s = Shop();
        return s.is_object() && s["verdict"].is_null();
      },
      seconds(20)))
      << "continued, it serves again; the verdict clears\n"
      << s.dump(1);
}

// The upstream's name, asked of dnsmasq (which forwards backend.test to the zone's server, here a
// fake one, with no cache): first it answers the upstream's address (clean), then the name is
// gone (NXDOMAIN), then the zone's server fails (dnsmasq says SERVFAIL). nginx resolved the name
// at start and still serves: the DNS failure is the verdict, naming the name.
TEST_F(DiagnosisFaultsTest, UpstreamNameNxdomainThenServfail) {
  FakeDnsServer zone;
  zone.AddA("backend.test", "127.0.0.1", 0);
  Dnsmasq dns({"--server=/backend.test/" + std::string("127.0.0.1#") + std::to_string(zone.port()),
               "--cache-size=0", "--no-negcache"});
  std::string error;
  if (!dns.Start(&error)) GW_SERVER_DID_NOT_START(kDnsmasqBinary, error);
  ASSERT_NO_FATAL_FAILURE(
      StartAgent("  - {name: backend-dns, type: dns, interval: 1s, timeout: 500ms, query: {name: "
                 "backend.test}, resolvers: ['" +
                     dns.server() + "']}\n",
                 ", backend-dns"));
  ASSERT_NO_FATAL_FAILURE(WaitClean());

  double runs = Runs("backend-dns");
  zone.Clear();  // the name is deleted from its zone
  nlohmann::json v = WaitForFault("dns", "nxdomain", "backend-dns", runs);
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v["evidence"][0]["check"], "backend-dns") << v.dump(1);
  EXPECT_EQ(v["evidence"][0]["reason"], "dns_nxdomain") << v.dump(1);
  EXPECT_TRUE(Mentions(v["evidence"], "backend.test")) << v.dump(1);
  EXPECT_TRUE(v["upstreams"].empty()) << "nothing fails at the upstream yet\n" << v.dump(1);
  ExpectPrinted(Diagnose("upstream name NXDOMAIN"), "dns (nxdomain)");

  runs = Runs("backend-dns");
  zone.AddA("backend.test", "127.0.0.1", 0);
  zone.set_rcode(2);
  zone.set_behaviour(FakeDnsServer::Behaviour::kRcode);  // the zone's server fails
  v = WaitForFault("dns", "servfail", "backend-dns", runs);
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v["evidence"][0]["reason"], "dns_servfail") << v.dump(1);
  EXPECT_TRUE(Mentions(v["evidence"], "backend.test")) << v.dump(1);
  ExpectPrinted(Diagnose("upstream name SERVFAIL"), "dns (servfail)");
}

// The agent's view of the host: a copy of tests/fixtures/host given with --path.procfs/sysfs/
// rootfs, whose cgroup counters the test moves.
class DiagnosisHostTest : public DiagnosisFaultsTest {
 protected:
  void StartWithHost() {
    std::filesystem::copy(std::string(GATEWATCH_SOURCE_DIR) + "/tests/fixtures/host",
                          dir_.path() + "/host", std::filesystem::copy_options::recursive);
    const std::string root = dir_.path() + "/host";
    ASSERT_NO_FATAL_FAILURE(
        StartAgent("  - {name: host, type: host, interval: 1s, timeout: 500ms}\n", ", host",
                   {"--path.procfs=" + root + "/proc", "--path.sysfs=" + root + "/sys",
                    "--path.rootfs=" + root + "/root"}));
    ASSERT_NO_FATAL_FAILURE(WaitClean());
    // The first host run is the counters' baseline; two runs and still clean.
    nlohmann::json s;
    ASSERT_TRUE(WaitFor(
        [&] {
          s = Shop();
          return Runs("host") >= 2 && s.is_object() && s["verdict"].is_null();
        },
        seconds(10)))
        << s.dump(1);
  }
  std::string Cgroup(const std::string& file) {
    return dir_.path() + "/host/sys/fs/cgroup/gatewatch.scope/" + file;
  }
};

// The OOM killer takes the upstream: memory.events counts oom_kill +1 and the upstream refuses.
// The verdict is the kill, not the refusal, and names the upstream it took.
TEST_F(DiagnosisHostTest, OomKillWhileTheUpstreamDiesIsResources) {
  ASSERT_NO_FATAL_FAILURE(StartWithHost());
  const double runs = Runs("host");
  std::ofstream(Cgroup("memory.events"))
      << "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n";
  upstream_->Stop();
  nlohmann::json v = WaitForFault("resources", "oom_killed", "host", runs, true);
  ASSERT_NO_FATAL_FAILURE(ExpectNamesUpstream(v));
  EXPECT_EQ(v["evidence"][0]["check"], "host") << v.dump(1);
  EXPECT_EQ(v["evidence"][0]["reason"], "oom_killed") << v.dump(1);
  EXPECT_TRUE(Mentions(v["evidence"], Upstream() + " connection_refused")) << v.dump(1);
  ExpectPrinted(Diagnose("OOM kill while the upstream dies"), "resources (oom_killed)");
}

// The cgroup's CPU quota throttles 60 of the last 100 periods while the upstream stops answering
// in time: the throttling is the verdict, naming the upstream that times out.
TEST_F(DiagnosisHostTest, CpuThrottlingWhileTheUpstreamTimesOutIsResources) {
  ASSERT_NO_FATAL_FAILURE(StartWithHost());
  const double runs = Runs("host");
  std::ofstream(Cgroup("cpu.stat"))
      << "usage_usec 6000000\nuser_usec 4800000\nsystem_usec 1200000\nnr_periods 1100\n"
         "nr_throttled 70\nthrottled_usec 1700000\nnr_bursts 0\nburst_usec 0\n";
  ReplaceUpstream(FakeHttpServer::Behaviour::kHang);
  nlohmann::json v = WaitForFault("resources", "cpu_throttled", "host", runs, true);
  ASSERT_NO_FATAL_FAILURE(ExpectNamesUpstream(v));
  EXPECT_EQ(v["evidence"][0]["reason"], "cpu_throttled") << v.dump(1);
  EXPECT_TRUE(Mentions(v["evidence"], Upstream() + " upstream_timeout")) << v.dump(1);
  ExpectPrinted(Diagnose("CPU throttling while the upstream times out"),
                "resources (cpu_throttled)");
}

}  // namespace
}  // namespace gatewatch::testing
