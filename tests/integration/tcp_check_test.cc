// The tcp check against real listeners: a plain connect, a send/expect exchange, a refused port, a
// server that never answers, one that resets, one that closes, a name that does not resolve, and
// TLS against a real nginx with certificates made by the openssl CLI (verified, untrusted, expiry).
#include <gtest/gtest.h>
#include <unistd.h>

#include "tests/testlib/fake_dns_server.h"
#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/loop_services.h"
#include "tests/testlib/loopback.h"
#include "tests/testlib/nginx.h"
#include "tests/testlib/process.h"
#include "tests/testlib/require.h"
#include "tests/testlib/temp_dir.h"
#include "tests/testlib/test_certs.h"

namespace gatewatch::testing {
namespace {

using std::chrono::seconds;
using Behaviour = FakeHttpServer::Behaviour;

std::string Tcp(const std::string& address, const std::string& extra = "",
                const std::string& timeout = "2s") {
  return "{name: t, type: tcp, address: '" + address + "', interval: 10s, timeout: " + timeout +
         (extra.empty() ? "" : ", " + extra) + "}";
}

std::string Local(int port) { return "127.0.0.1:" + std::to_string(port); }

bool Observed(const Result& r, std::string_view metric, std::string_view label) {
  for (const Observation& o : r.observations) {
    if (o.desc->name == metric && (label.empty() || o.label_values[0] == label)) return true;
  }
  return false;
}

TEST(TcpCheckTest, ConnectSucceedsAndReportsPhases) {
  int port = 0;
  UniqueFd listener = BindLoopback(SOCK_STREAM, &port);  // the kernel accepts for it
  Result r = RunYamlCheckOnce(Tcp(Local(port)));
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(ReportValue(r, "address"), Local(port));
  EXPECT_TRUE(Observed(r, "tcp_phase_seconds", "connect"));
  EXPECT_FALSE(Observed(r, "tcp_phase_seconds", "tls"));
}

TEST(TcpCheckTest, SendAndExpectMatchesTheAnswer) {
  FakeHttpServer server(std::string("+PONG\r\n"));  // answers after a blank line, as Redis would
  Result r =
      RunYamlCheckOnce(Tcp(Local(server.port()), "send: \"PING\\r\\n\\r\\n\", expect: '^\\+PONG'"));
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(ReportValue(r, "received"), "\"+PONG  \"");

  // The same answer, another expectation: closed before a match.
  Result wrong =
      RunYamlCheckOnce(Tcp(Local(server.port()), "send: \"PING\\r\\n\\r\\n\", expect: '^-ERR'"));
  EXPECT_FALSE(wrong.success);
  EXPECT_EQ(wrong.reason, Reason::kBodyMismatch) << wrong.detail;
}

// More exchanges at once than the multi handle's connection cache holds (CURLMOPT_MAXCONNECTS 16):
// connect-only connections kept for the exchange must not be pruned from under a run.
TEST(TcpCheckTest, ManyExchangesAtOnceOnOneLoop) {
  FakeHttpServer server(std::string("+PONG\r\n"));
  Config config = ParseConfig(
      "checks:\n  - " +
          Tcp(Local(server.port()), "send: \"PING\\r\\n\\r\\n\", expect: '^\\+PONG'") + "\n",
      "test.yml");
  const Check& check = *config.checks.at(0).check;
  LoopServices io;
  constexpr int kRuns = 40;
  std::vector<std::unique_ptr<CheckRun>> runs;
  std::vector<Result> results;
  TimePoint now = io.clock.Now();
  for (int i = 0; i < kRuns; ++i) {
    RunContext ctx{io.services, now, now + seconds(5)};
    runs.push_back(check.Start(ctx, [&results](Result r) { results.push_back(std::move(r)); }));
  }
  TimePoint end = now + seconds(10);
  while (results.size() < kRuns && io.clock.Now() < end) {
    io.loop.RunOnce(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(results.size(), static_cast<size_t>(kRuns));
  for (const Result& r : results) EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(server.accepted(), kRuns);
}

TEST(TcpCheckTest, ByteCapEndsTheWaitWithAMismatch) {
  FakeHttpServer endless(Behaviour::kEndless);
  Result r = RunYamlCheckOnce(Tcp(Local(endless.port()),
                                  "send: \"GET / HTTP/1.1\\r\\n\\r\\n\", expect: 'never-there', "
                                  "max_bytes: 100"));
  EXPECT_EQ(r.reason, Reason::kBodyMismatch) << r.detail;
  EXPECT_NE(r.detail.find("first 100 bytes"), std::string::npos) << r.detail;
}

TEST(TcpCheckTest, RefusedPortIsConnectionRefused) {
  RefusingPort refusing;
  Result r = RunYamlCheckOnce(Tcp(Local(refusing.port())));
  EXPECT_EQ(r.reason, Reason::kConnectionRefused) << r.detail;
}

TEST(TcpCheckTest, SilentServerIsATimeoutNotAConnectTimeout) {
  FakeHttpServer hang(Behaviour::kHang);
  Result r = RunYamlCheckOnce(
      Tcp(Local(hang.port()), "send: \"HELLO\\r\\n\\r\\n\", expect: 'banner'", "500ms"));
  EXPECT_EQ(r.reason, Reason::kTimeout) << r.detail;
  EXPECT_NE(r.detail.find("no match"), std::string::npos) << r.detail;
}

TEST(TcpCheckTest, ResetAndCloseAreTold) {
  FakeHttpServer reset(Behaviour::kReset);
  Result r = RunYamlCheckOnce(Tcp(Local(reset.port()), "send: \"X\\r\\n\\r\\n\", expect: 'ok'"));
  EXPECT_EQ(r.reason, Reason::kConnectionReset) << r.detail;

  FakeHttpServer closing(Behaviour::kCloseImmediately);
  Result c = RunYamlCheckOnce(Tcp(Local(closing.port()), "send: \"X\\r\\n\\r\\n\", expect: 'ok'"));
  EXPECT_EQ(c.reason, Reason::kEmptyReply) << c.detail;
}

TEST(TcpCheckTest, UnknownNameIsADnsReason) {
  FakeDnsServer dns;  // answers NXDOMAIN for names it does not know
  DnsResolver::Options options;
  options.servers = "127.0.0.1:" + std::to_string(dns.port());
  Result r = RunYamlCheckOnce(Tcp("nowhere.example.test:6379"), "", options);
  EXPECT_EQ(r.reason, Reason::kDnsNxdomain) << r.detail;
}

// TLS against nginx with a certificate from a CA made for the test.
class TcpTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/openssl", X_OK) != 0) GTEST_SKIP() << "openssl not installed";
    MakeCert("ca", "/CN=test-ca", "");
    MakeCert("server", "/CN=localhost", "ca", "subjectAltName=DNS:localhost");
    MakeCert("other-ca", "/CN=other-ca", "");
    port_ = FreeTcpPort();
    nginx_ = std::make_unique<NginxInstance>(
        "  server {\n    listen 127.0.0.1:" + std::to_string(port_) + " ssl;\n" +
        "    ssl_certificate " + Pem("server") + ";\n    ssl_certificate_key " + Key("server") +
        ";\n    location / { return 200 \"ok\\n\"; }\n  }\n");
    std::string error;
    if (!nginx_->Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);
  }

  void MakeCert(const std::string& name, const std::string& subject, const std::string& ca,
                const std::string& san = "") {
    TestCertificates(dir_.path()).Make(name, subject, ca, san);
  }
  std::string Pem(const std::string& name) const { return TestCertificates(dir_.path()).Pem(name); }
  std::string Key(const std::string& name) const { return TestCertificates(dir_.path()).Key(name); }

  TempDir dir_;
  std::unique_ptr<NginxInstance> nginx_;
  int port_ = 0;
};

TEST_F(TcpTlsTest, TlsExchangeWithSniAndExpiry) {
  Result r = RunYamlCheckOnce(
      Tcp(Local(port_), "tls: true, server_name: localhost, ca_file: '" + Pem("ca") +
                            "', send: \"GET / HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n\", "
                            "expect: '^HTTP/1\\.1 200'"));
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_TRUE(Observed(r, "tcp_phase_seconds", "tls"));
  EXPECT_TRUE(Observed(r, "tls_cert_expiry_timestamp_seconds", ""));
  int64_t expiry = std::stoll(ReportValue(r, "cert_expiry_unix"));
  int64_t now =
      std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  // -days 2: between one and three days from now.
  EXPECT_GT(expiry, now + 86400);
  EXPECT_LT(expiry, now + 3 * 86400);
}

TEST_F(TcpTlsTest, UntrustedCertificateAndWrongNameAreTlsCertificate) {
  Result untrusted = RunYamlCheckOnce(
      Tcp(Local(port_), "tls: true, server_name: localhost, ca_file: '" + Pem("other-ca") + "'"));
  EXPECT_EQ(untrusted.reason, Reason::kTlsCertificate) << untrusted.detail;
  Result wrong_name = RunYamlCheckOnce(
      Tcp(Local(port_), "tls: true, server_name: other.test, ca_file: '" + Pem("ca") + "'"));
  EXPECT_EQ(wrong_name.reason, Reason::kTlsCertificate) << wrong_name.detail;
  // Plain bytes to a TLS port: nginx answers an HTTP 400 in clear text, not a match.
  Result plain =
      RunYamlCheckOnce(Tcp(Local(port_), "send: \"PING\\r\\n\\r\\n\", expect: '^\\+PONG'"));
  EXPECT_FALSE(plain.success);
}

}  // namespace
}  // namespace gatewatch::testing
