// The diagnosis of a running agent behind a real nginx fronting a fake upstream, one fault at a
// time: upstream stopped (refused) -> upstream_down naming the upstream's address; upstream hanging
// -> overloaded; upstream answering garbage -> misconfiguration; and no verdict at all while
// everything is healthy. `gatewatch diagnose --url` prints the verdict and its evidence.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/integration/diagnosis_fixture.h"
#include "tests/testlib/dnsmasq.h"
#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/gatewatch_process.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/nginx.h"
#include "tests/testlib/process.h"
#include "tests/testlib/promtool.h"
#include "tests/testlib/require.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Checks every 300 ms, judged over 3 s, so that each fault's verdict comes within a second.
class DiagnosisIntegrationTest : public DiagnosisFixture {
 protected:
  DiagnosisIntegrationTest() {
    interval_ = "300ms";
    timeout_ = "250ms";
    window_ = "3s";
  }

  bool WaitHealthy() {
    return WaitFor(
        [&] {
          auto s = Shop();
          return s.is_object() && s["healthy"] == true;
        },
        seconds(15));
  }

  // Replaces the upstream by one that behaves as `b`, on the same port.
  void ReplaceUpstream(FakeHttpServer::Behaviour b) {
    upstream_.reset();
    upstream_ = std::make_unique<FakeHttpServer>(b, 200, "127.0.0.1", upstream_port_);
  }
};

TEST_F(DiagnosisIntegrationTest, EachFaultGetsItsCauseAndACleanRunNone) {
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const std::string upstream = "127.0.0.1:" + std::to_string(upstream_port_);

  // Clean: the probe passes through nginx to the upstream; no verdict is ever seen for 4 s
  // (more than the window), once the first results are in.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = Shop();
        return s.is_object() && s["healthy"] == true && s["verdict"].is_null();
      },
      seconds(10)))
      << agent_->Stderr();
  const auto clean_until = std::chrono::steady_clock::now() + seconds(4);
  int polls = 0;
  while (std::chrono::steady_clock::now() < clean_until) {
    auto s = Shop();
    ASSERT_TRUE(s.is_object());
    ASSERT_TRUE(s["verdict"].is_null()) << s.dump(1);
    ++polls;
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_GT(polls, 10);
  HttpResponse metrics = HttpGet(Url() + "/metrics");
  EXPECT_NE(metrics.body.find("gatewatch_diagnosis{service=\"shop\",cause=\"none\"} 1"),
            std::string::npos);

  // Upstream stopped: nothing listens, nginx logs connect() refused.
  upstream_->Stop();
  nlohmann::json last;
  nlohmann::json v = WaitForCause("upstream_down", "connection_refused", &last);
  ASSERT_TRUE(v.is_object()) << last.dump(1);
  EXPECT_EQ(v["why"], "connection_refused") << v.dump(1);
  ASSERT_FALSE(v["upstreams"].empty()) << v.dump(1);
  EXPECT_EQ(v["upstreams"][0], upstream) << v.dump(1);
  EXPECT_TRUE(Mentions(v["evidence"], upstream + " connection_refused")) << v.dump(1);
  EXPECT_GE(v["confidence"].get<double>(), 0.8) << v.dump(1);  // probe and log agree
  metrics = HttpGet(Url() + "/metrics");
  EXPECT_NE(metrics.body.find("gatewatch_diagnosis{service=\"shop\",cause=\"upstream_down\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("gatewatch_diagnosis{service=\"shop\",cause=\"none\"} 0"),
            std::string::npos);
  EXPECT_EQ(PromtoolProblems(metrics.body, dir_.path()), "");
  // What a person reads.
  CommandResult cli =
      RunToExit({GATEWATCH_BINARY, "diagnose", "--url=" + Url(), "--service", "shop"}, seconds(10));
  EXPECT_EQ(cli.exit_code, 1) << cli.err;
  EXPECT_NE(cli.out.find("VERDICT      upstream_down (connection_refused)"), std::string::npos)
      << cli.out;
  EXPECT_NE(cli.out.find("UPSTREAMS    " + upstream), std::string::npos) << cli.out;
  EXPECT_NE(cli.out.find("nginx (proxy_log)"), std::string::npos) << cli.out;
  std::printf("gatewatch diagnose (upstream stopped):\n%s\n", cli.out.c_str());

  ReplaceUpstream(FakeHttpServer::Behaviour::kOk);
  ASSERT_TRUE(WaitHealthy()) << Shop().dump(1);

  // Upstream hanging: nginx gives up after proxy_read_timeout (150 ms, before the probe's 250 ms),
  // answers 504 and logs upstream timed out, naming the upstream.
  ReplaceUpstream(FakeHttpServer::Behaviour::kHang);
  v = WaitForCause("overloaded", "upstream_timeout", &last);
  ASSERT_TRUE(v.is_object()) << last.dump(1);
  EXPECT_EQ(v["why"], "upstream_timeout") << v.dump(1);
  ASSERT_FALSE(v["upstreams"].empty()) << v.dump(1);
  EXPECT_EQ(v["upstreams"][0], upstream) << v.dump(1);
  cli = RunToExit({GATEWATCH_BINARY, "diagnose", "--url=" + Url()}, seconds(10));
  std::printf("gatewatch diagnose (upstream hanging):\n%s\n", cli.out.c_str());

  ReplaceUpstream(FakeHttpServer::Behaviour::kOk);
  ASSERT_TRUE(WaitHealthy()) << Shop().dump(1);

  // Upstream answering garbage: nginx says the upstream sent an invalid header.
  ReplaceUpstream(FakeHttpServer::Behaviour::kGarbage);
  v = WaitForCause("misconfiguration", "protocol_error", &last);
  ASSERT_TRUE(v.is_object()) << last.dump(1);
  ASSERT_FALSE(v["upstreams"].empty()) << v.dump(1);
  EXPECT_EQ(v["upstreams"][0], upstream) << v.dump(1);
  cli = RunToExit({GATEWATCH_BINARY, "diagnose", "--url=" + Url()}, seconds(10));
  std::printf("gatewatch diagnose (upstream garbage):\n%s\n", cli.out.c_str());

  // Back to healthy: the verdict clears.
  ReplaceUpstream(FakeHttpServer::Behaviour::kOk);
  ASSERT_TRUE(WaitHealthy()) << Shop().dump(1);
  cli = RunToExit({GATEWATCH_BINARY, "diagnose", "--url=" + Url()}, seconds(10));
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("VERDICT      none (healthy)"), std::string::npos) << cli.out;
}

// One request through nginx on a connection of its own, with `header` (e.g. "X-Request-ID: x"),
// as other clients send: what the per-probe log join must never mistake for the probe's request.
void RawRequest(int port, const std::string& header) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return;
  timeval tv{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET /other HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n" +
                      (header.empty() ? "" : header + "\r\n") + "\r\n";
    if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      while (recv(fd, buf, sizeof buf, 0) > 0) {
      }
    }
  }
  close(fd);
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The per-probe log join: with the upstream refusing and other clients failing through the same
// nginx at the same time (some with ids of the probe's shape, on connections of their own), a
// failed probe run's history entry and the verdict's evidence carry nginx's access line of exactly
// that run's request id and the error line(s) of exactly its connection.
TEST_F(DiagnosisIntegrationTest, FailedProbeGetsNginxLinesOfItsOwnRequest) {
  upstream_->Stop();
  std::atomic<bool> stop{false};
  std::thread traffic([&] {
    // Bounded: at most 2000 requests, stopped with the test.
    for (int i = 0; i < 2000 && !stop; ++i) {
      char id[32];
      std::snprintf(id, sizeof id, "gw-%016x", 0xff000000u + static_cast<unsigned>(i));
      RawRequest(proxy_port_, i % 2 == 0 ? std::string("X-Request-ID: ") + id : "");
      std::this_thread::sleep_for(milliseconds(20));
    }
  });
  struct StopTraffic {
    std::atomic<bool>& stop;
    std::thread& t;
    ~StopTraffic() {
      stop = true;
      t.join();
    }
  } stop_traffic{stop, traffic};
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  const std::string upstream = "http://127.0.0.1:" + std::to_string(upstream_port_) + "/";

  // A failed probe run whose report gained nginx's lines.
  std::string id, log;
  ASSERT_TRUE(WaitFor(
      [&] {
        HttpResponse r = HttpGet(Url() + "/api/v1/checks/shop/history?failures=1");
        auto doc = nlohmann::json::parse(r.body, nullptr, false);
        if (!doc.is_object() || !doc["runs"].is_array()) return false;
        for (const auto& run : doc["runs"]) {
          const auto& report = run["report"];
          if (report.is_object() && report.contains("nginx_log") &&
              report["nginx_log"].get<std::string>().find("; error: ") != std::string::npos) {
            id = report["request_id"];
            log = report["nginx_log"];
            return true;
          }
        }
        return false;
      },
      seconds(10)))
      << agent_->Stderr();
  ASSERT_EQ(id.rfind("gw-", 0), 0u) << id;
  EXPECT_EQ(id.rfind("gw-ff", 0), std::string::npos) << "an id of the other traffic: " << id;

  // What nginx wrote for that id: its access line, its connection, that connection's errors.
  std::string access;
  for (const std::string& line : Lines(dir_.path() + "/proxy.log")) {
    if (line.find(" rid=" + id + " ") != std::string::npos) access = line;
  }
  ASSERT_FALSE(access.empty()) << id;
  const std::string cid = access.substr(access.rfind(" cid=") + 5);
  std::vector<std::string> errors;
  for (const std::string& line : Lines(nginx_->error_log())) {
    if (line.find(": *" + cid + " ") != std::string::npos) errors.push_back(line);
  }
  ASSERT_FALSE(errors.empty()) << cid;
  EXPECT_EQ(log.substr(0, log.find("; error: ")), access) << log;
  size_t joined = 0;
  for (size_t at = log.find("; error: "); at != std::string::npos;
       at = log.find("; error: ", at + 1)) {
    ++joined;
  }
  // One refused attempt, one error line: not those of the keepalive connection's other runs.
  EXPECT_EQ(joined, 1u) << log;
  EXPECT_NE(log.find("; error: connect() failed (111: Connection refused) while connecting to "
                     "upstream, upstream: \"" +
                     upstream + "\""),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find("/other"), std::string::npos) << log;  // no other client's line

  // The verdict's evidence: the probe's failure, then nginx's lines for its latest failed run.
  nlohmann::json last;
  nlohmann::json v;
  ASSERT_TRUE(WaitFor(
      [&] {
        last = Shop();
        if (!last.is_object() || !last["verdict"].is_object()) return false;
        for (const auto& f : last["verdict"]["evidence"]) {
          std::string text = f.value("text", "");
          if (text.rfind("nginx log for gw-", 0) == 0 &&
              text.find("; error: ") != std::string::npos) {
            v = f;
            return true;
          }
        }
        return false;
      },
      seconds(10)))
      << last.dump(1);
  const std::string text = v["text"];
  const std::string fact_id = text.substr(14, text.find(':') - 14);
  EXPECT_EQ(fact_id.rfind("gw-ff", 0), std::string::npos) << text;
  EXPECT_NE(text.find(" rid=" + fact_id + " "), std::string::npos) << text;
  EXPECT_NE(text.find("(111: Connection refused)"), std::string::npos) << text;
  EXPECT_EQ(v["check"], "shop") << v.dump();
  // Never a label: no series names a request id.
  HttpResponse metrics = HttpGet(Url() + "/metrics");
  EXPECT_EQ(metrics.body.find("gw-"), std::string::npos);
  CommandResult cli = RunToExit({GATEWATCH_BINARY, "diagnose", "--url=" + Url()}, seconds(10));
  EXPECT_NE(cli.out.find("nginx log for gw-"), std::string::npos) << cli.out;
  std::printf("gatewatch diagnose (per-probe log join):\n%s\n", cli.out.c_str());
}

// The upstream's name moved (dnsmasq answers a new address) while nginx keeps sending to the
// address it resolved at start: dns / stale_upstream_address, naming the old address, although
// every request still succeeds.
TEST_F(DiagnosisIntegrationTest, NameMovedWhileNginxKeepsTheOldAddress) {
  Dnsmasq dns({"--address=/backend.test/127.0.0.2"});
  std::string error;
  if (!dns.Start(&error)) GW_SERVER_DID_NOT_START(kDnsmasqBinary, error);
  ASSERT_NO_FATAL_FAILURE(StartAgent(
      "  - {name: backend-dns, type: dns, interval: 300ms, timeout: 250ms, query: {name: "
      "backend.test}, resolvers: ['" +
          dns.server() + "']}\n",
      ", backend-dns"));
  const std::string upstream = "127.0.0.1:" + std::to_string(upstream_port_);
  nlohmann::json last;
  nlohmann::json v = WaitForCause("dns", "stale_upstream_address", &last);
  ASSERT_TRUE(v.is_object()) << last.dump(1) << agent_->Stderr();
  ASSERT_FALSE(v["upstreams"].empty()) << v.dump(1);
  EXPECT_EQ(v["upstreams"][0], upstream) << v.dump(1);
  EXPECT_TRUE(Mentions(v["evidence"], "backend-dns answers 127.0.0.2")) << v.dump(1);
  EXPECT_TRUE(Mentions(v["evidence"], "still sends to " + upstream)) << v.dump(1);
  CommandResult cli = RunToExit({GATEWATCH_BINARY, "diagnose", "--url=" + Url()}, seconds(10));
  std::printf("gatewatch diagnose (name moved):\n%s\n", cli.out.c_str());
}

}  // namespace
}  // namespace gatewatch::testing
