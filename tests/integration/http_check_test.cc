// The http check against a real nginx started by the test on 127.0.0.1 as a reverse proxy in front
// of upstreams the test controls, and against fake servers for what real ones cannot do on demand.
// Each case asserts the reason a user would be paged with.
#include <gtest/gtest.h>

#include "agent/config.h"
#include "agent/io/dns_resolver.h"
#include "agent/probe.h"
#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/loop_services.h"
#include "tests/testlib/nginx.h"
#include "tests/testlib/observed.h"
#include "tests/testlib/process.h"
#include "tests/testlib/require.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Behaviour = FakeHttpServer::Behaviour;

// Runs one check described by `check_yaml` (the keys of one `checks:` entry) on a private loop,
// through the same path as `gatewatch probe`: a deadline at `timeout` aborts the run.
Result RunCheckOnce(const std::string& check_yaml, const std::string& dns_servers = "") {
  DnsResolver::Options dns_options;
  dns_options.servers = dns_servers;
  dns_options.timeout = milliseconds(500);
  return RunYamlCheckOnce(check_yaml, "", dns_options);
}

std::string Url(int port, const std::string& path = "/") {
  return "http://127.0.0.1:" + std::to_string(port) + path;
}

class ProxyTest : public ::testing::Test {
 protected:
  void StartNginx(const std::string& extra_locations = "") {
    nginx_port_ = FreeTcpPort();
    nginx_ = std::make_unique<NginxInstance>(
        "  server {\n    listen 127.0.0.1:" + std::to_string(nginx_port_) + ";\n" +
        "    proxy_connect_timeout 1s;\n    proxy_read_timeout 1s;\n" +
        "    location / { proxy_pass http://127.0.0.1:" + std::to_string(upstream_.port()) +
        "; }\n" + "    location /slow { proxy_pass http://127.0.0.1:" +
        std::to_string(hanging_.port()) + "; }\n" + "    location /loop { return 302 /loop; }\n" +
        "    location /hello { default_type text/plain; return 200 \"hello\\n\"; }\n" +
        extra_locations + "  }\n");
    std::string error;
    if (!nginx_->Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);
  }

  FakeHttpServer upstream_{Behaviour::kOk};
  FakeHttpServer hanging_{Behaviour::kHang};
  std::unique_ptr<NginxInstance> nginx_;
  int nginx_port_ = 0;
};

TEST_F(ProxyTest, HealthyUpstreamThroughNginxSucceeds) {
  StartNginx();
  Result r = RunCheckOnce(HttpCheckYaml(Url(nginx_port_)));
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(r.reason, Reason::kNone);
  EXPECT_EQ(Observed(r, "http_status_code"), 200);
  EXPECT_EQ(Observed(r, "http_responses_total", "2xx"), 1);
  EXPECT_GE(Observed(r, "http_phase_seconds", "connect"), 0);
}

TEST_F(ProxyTest, KilledUpstreamGivesNginxsReal502ClassifiedAsHttp502) {
  StartNginx();
  int upstream_port = upstream_.port();
  upstream_.Stop();
  Result r = RunCheckOnce(HttpCheckYaml(Url(nginx_port_)));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::kHttp502) << r.detail;
  EXPECT_EQ(Observed(r, "http_status_code"), 502);
  EXPECT_EQ(Observed(r, "http_responses_total", "502"), 1);
  EXPECT_NE(nginx_->ErrorLogText().find("Connection refused"), std::string::npos)
      << nginx_->ErrorLogText();
  // The same dead upstream probed directly says why: nothing listens.
  Result direct = RunCheckOnce(HttpCheckYaml(Url(upstream_port)));
  EXPECT_EQ(direct.reason, Reason::kConnectionRefused) << direct.detail;
  EXPECT_EQ(ReasonCause(direct.reason), Cause::kUpstreamDown);
}

// nginx configured to say why in Proxy-Status (RFC 9209), to pose as Cloudflare, and to pass on
// its cache's fwd-status (RFC 9211): real headers on the wire, decoded by the check.
TEST_F(ProxyTest, HopInFrontSaysWhyAndTheReasonIsItsReason) {
  int dead = FreeTcpPort();  // nothing listens there
  StartNginx(
      "    location /ps/ { proxy_pass http://127.0.0.1:" + std::to_string(dead) + ";\n" +
      "      add_header Proxy-Status 'ExampleCDN; error=connection_refused; "
      "next-hop=\"$upstream_addr\"; details=\"connect() failed\"' always; }\n" +
      "    location /cf522 { add_header CF-Ray 8a1b2c3d4e5f6789-AMS always; return 522; }\n" +
      "    location /own522 { return 522; }\n" +
      "    location /fwd { proxy_pass http://127.0.0.1:" + std::to_string(upstream_.port()) +
      ";\n      add_header Cache-Status 'nginx-cache; fwd=uri-miss; fwd-status=$upstream_status' "
      "always; }\n");
  std::string next_hop = "127.0.0.1:" + std::to_string(dead);

  Result ps = RunCheckOnce(HttpCheckYaml(Url(nginx_port_, "/ps/")));
  EXPECT_EQ(ps.reason, Reason::kConnectionRefused) << ps.detail;
  EXPECT_NE(ps.detail.find("HTTP 502"), std::string::npos) << ps.detail;
  EXPECT_NE(ps.detail.find("ExampleCDN (Proxy-Status) says connection_refused (next-hop " +
                           next_hop + "): \"connect() failed\""),
            std::string::npos)
      << ps.detail;
  EXPECT_EQ(ReportValue(ps, "hop_reason"), "connection_refused from ExampleCDN (Proxy-Status)");
  EXPECT_EQ(ReportValue(ps, "proxy_status"), "ExampleCDN error=connection_refused next-hop=" +
                                                 next_hop + " details=\"connect() failed\"");
  // The status still counts as what it was.
  EXPECT_EQ(Observed(ps, "http_status_code"), 502);
  EXPECT_EQ(Observed(ps, "http_responses_total", "502"), 1);

  Result cf = RunCheckOnce(HttpCheckYaml(Url(nginx_port_, "/cf522")));
  EXPECT_EQ(cf.reason, Reason::kConnectTimeout) << cf.detail;
  EXPECT_EQ(ReportValue(cf, "hop_reason"), "connect_timeout from cloudflare (Cloudflare 522)");

  // A 522 without Cloudflare's marks is just some 5xx.
  Result own = RunCheckOnce(HttpCheckYaml(Url(nginx_port_, "/own522")));
  EXPECT_EQ(own.reason, Reason::kHttp5xx) << own.detail;
  EXPECT_EQ(ReportValue(own, "hop_reason"), "");

  Result fwd = RunCheckOnce(HttpCheckYaml(Url(nginx_port_, "/fwd")));
  EXPECT_TRUE(fwd.success) << fwd.detail;
  EXPECT_EQ(ReportValue(fwd, "cache_fwd_status"), "200");
}

TEST_F(ProxyTest, HangingUpstreamGivesNginxsReal504) {
  StartNginx();
  Result r = RunCheckOnce(HttpCheckYaml(Url(nginx_port_, "/slow"), "", "5s"));
  EXPECT_EQ(r.reason, Reason::kHttp504) << r.detail;
  EXPECT_EQ(Observed(r, "http_responses_total", "504"), 1);
}

TEST_F(ProxyTest, RedirectLoopStopsAtMaxRedirects) {
  StartNginx();
  Result r = RunCheckOnce(HttpCheckYaml(Url(nginx_port_, "/loop"), "max_redirects: 5"));
  EXPECT_EQ(r.reason, Reason::kRedirectLimit) << r.detail;
  EXPECT_EQ(Observed(r, "http_redirects"), 5);
}

// curl 7.88 re-sends CURLOPT_HTTPHEADER to whatever host and port a redirect names; the check
// follows redirects itself, so configured headers and URL credentials reach the configured origin
// (scheme, host, port) only. nginx on one port redirects to a recording server on another.
TEST_F(ProxyTest, CustomHeadersAndCredentialsStayWithTheConfiguredOrigin) {
  FakeHttpServer other(Behaviour::kRecord);
  std::string other_base = "http://127.0.0.1:" + std::to_string(other.port());
  StartNginx("    location /away { return 302 " + other_base + "/landed?token=s3cret; }\n" +
             "    location /home { return 302 /echo; }\n" + "    location /echo { proxy_pass " +
             other_base + "; }\n");
  const std::string headers = "headers: {X-Api-Key: k3y, Authorization: 'Bearer b3arer'}";
  std::string with_user = "http://user:pa55@127.0.0.1:" + std::to_string(nginx_port_);

  Result away = RunCheckOnce(HttpCheckYaml(with_user + "/away", headers));
  EXPECT_TRUE(away.success) << away.detail;
  EXPECT_EQ(Observed(away, "http_redirects"), 1);
  ASSERT_EQ(other.requests().size(), 1u);
  std::string landed = other.requests()[0];
  EXPECT_EQ(landed.rfind("GET /landed?token=s3cret HTTP/1.1\r\n", 0), 0u) << landed;
  EXPECT_EQ(landed.find("k3y"), std::string::npos) << landed;
  EXPECT_EQ(landed.find("b3arer"), std::string::npos) << landed;
  EXPECT_EQ(landed.find("Authorization"), std::string::npos) << landed;
  // The final URL in the detail keeps the key, not the value.
  EXPECT_NE(away.detail.find("/landed?token=<redacted>"), std::string::npos) << away.detail;
  EXPECT_EQ(away.detail.find("s3cret"), std::string::npos) << away.detail;

  // A redirect within the origin keeps them (nginx proxies /echo to the recording server).
  Result home = RunCheckOnce(HttpCheckYaml(Url(nginx_port_, "/home"), headers));
  EXPECT_TRUE(home.success) << home.detail;
  ASSERT_EQ(other.requests().size(), 2u);
  EXPECT_NE(other.requests()[1].find("X-Api-Key: k3y"), std::string::npos) << other.requests()[1];

  // Or such a redirect is refused, and nothing is sent there.
  Result refused = RunCheckOnce(
      HttpCheckYaml(Url(nginx_port_, "/away"), headers + ", cross_origin_redirects: refuse"));
  EXPECT_EQ(refused.reason, Reason::kRedirectRefused) << refused.detail;
  EXPECT_EQ(ReasonCause(refused.reason), Cause::kMisconfiguration);
  EXPECT_NE(refused.detail.find("refused: another origin (cross_origin_redirects: refuse)"),
            std::string::npos)
      << refused.detail;
  EXPECT_EQ(refused.detail.find("s3cret"), std::string::npos) << refused.detail;
  EXPECT_EQ(other.requests().size(), 2u);
}

TEST_F(ProxyTest, HeadWorks) {
  StartNginx();
  Result r = RunCheckOnce(HttpCheckYaml(Url(nginx_port_, "/hello"), "method: HEAD"));
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(Observed(r, "http_status_code"), 200);
  EXPECT_EQ(Observed(r, "http_content_length_bytes"), 0) << "HEAD must not read a body";
}

TEST_F(ProxyTest, BodyAndHeaderAssertions) {
  StartNginx();
  Result body =
      RunCheckOnce(HttpCheckYaml(Url(nginx_port_, "/hello"), "expect: {body_regex: '^ok'}"));
  EXPECT_EQ(body.reason, Reason::kBodyMismatch) << body.detail;
  Result ok =
      RunCheckOnce(HttpCheckYaml(Url(nginx_port_, "/hello"), "expect: {body_regex: '^hello'}"));
  EXPECT_TRUE(ok.success) << ok.detail;
  Result header = RunCheckOnce(HttpCheckYaml(
      Url(nginx_port_, "/hello"), "expect: {headers: {Content-Type: 'application/json'}}"));
  EXPECT_EQ(header.reason, Reason::kHeaderMismatch) << header.detail;
}

TEST(MisbehavingTargetTest, AcceptingButSilentServerIsATimeoutWithinTheDeadline) {
  FakeHttpServer hang(Behaviour::kHang);
  Result r = RunCheckOnce(HttpCheckYaml(Url(hang.port()), "", "1s"));
  EXPECT_EQ(r.reason, Reason::kTimeout) << r.detail << " (it accepted: not connect_timeout)";
}

TEST(MisbehavingTargetTest, TrickleIsATimeoutWithBoundedMemory) {
  FakeHttpServer trickle(Behaviour::kTrickle);
  Result r = RunCheckOnce(HttpCheckYaml(Url(trickle.port()), "", "1s"));
  EXPECT_EQ(r.reason, Reason::kTimeout) << r.detail;
  EXPECT_EQ(Observed(r, "http_status_code"), 200);
}

TEST(MisbehavingTargetTest, EndlessBodyIsCutAtTheLimit) {
  FakeHttpServer endless(Behaviour::kEndless);
  Result r = RunCheckOnce(HttpCheckYaml(Url(endless.port()), "body_limit: 64KiB"));
  EXPECT_EQ(r.reason, Reason::kBodyTooLarge) << r.detail;
  double received = Observed(r, "http_content_length_bytes");
  EXPECT_GT(received, 64 * 1024 - 1);
  EXPECT_LE(received, 64 * 1024 + 256 * 1024) << "read far past the limit";
}

TEST(MisbehavingTargetTest, GarbageEmptyReplyAndResetHaveTheirReasons) {
  FakeHttpServer garbage(Behaviour::kGarbage);
  EXPECT_EQ(RunCheckOnce(HttpCheckYaml(Url(garbage.port()))).reason, Reason::kProtocolError);
  FakeHttpServer empty(Behaviour::kCloseImmediately);
  EXPECT_EQ(RunCheckOnce(HttpCheckYaml(Url(empty.port()))).reason, Reason::kEmptyReply);
  FakeHttpServer reset(Behaviour::kReset);
  EXPECT_EQ(RunCheckOnce(HttpCheckYaml(Url(reset.port()))).reason, Reason::kConnectionReset);
}

TEST(MisbehavingTargetTest, UnexpectedStatusesMapToTheirClass) {
  FakeHttpServer s503(Behaviour::kOk, 503);
  EXPECT_EQ(RunCheckOnce(HttpCheckYaml(Url(s503.port()))).reason, Reason::kHttp503);
  FakeHttpServer s404(Behaviour::kOk, 404);
  EXPECT_EQ(RunCheckOnce(HttpCheckYaml(Url(s404.port()))).reason, Reason::kHttp4xx);
  EXPECT_TRUE(RunCheckOnce(HttpCheckYaml(Url(s404.port()), "expect: {status: [404]}")).success);
}

// TLS through a real nginx with a certificate made by openssl for the test (valid 30 days).
class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/openssl", X_OK) != 0) GTEST_SKIP() << "openssl not installed";
    std::string cert = certs_.path() + "/cert.pem", key = certs_.path() + "/key.pem";
    Process openssl({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                     "30", "-subj", "/CN=localhost", "-keyout", key, "-out", cert});
    int status = -1;
    ASSERT_TRUE(openssl.WaitExit(seconds(30), &status));
    ASSERT_EQ(status, 0) << openssl.Stderr();
    port_ = FreeTcpPort();
    nginx_ = std::make_unique<NginxInstance>(
        "  server {\n    listen 127.0.0.1:" + std::to_string(port_) +
        " ssl;\n    ssl_certificate " + cert + ";\n    ssl_certificate_key " + key +
        ";\n    location / { return 200 \"ok\\n\"; }\n" +
        "    location /down { return 302 http://127.0.0.1:" + std::to_string(plain_.port()) +
        "/plain; }\n  }\n");
    std::string error;
    if (!nginx_->Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);
  }
  FakeHttpServer plain_{Behaviour::kRecord};  // plain http, where /down redirects
  TempDir certs_;
  std::unique_ptr<NginxInstance> nginx_;
  int port_ = 0;
};

TEST_F(TlsTest, RedirectFromHttpsToHttpIsRefusedUnlessAllowed) {
  std::string down = "https://localhost:" + std::to_string(port_) + "/down";
  Result r = RunCheckOnce(HttpCheckYaml(down, "insecure: true"));
  EXPECT_EQ(r.reason, Reason::kRedirectRefused) << r.detail;
  EXPECT_NE(r.detail.find("https never downgrades to http"), std::string::npos) << r.detail;
  EXPECT_TRUE(plain_.requests().empty());
  Result allowed = RunCheckOnce(HttpCheckYaml(down, "insecure: true, allow_https_downgrade: true"));
  EXPECT_TRUE(allowed.success) << allowed.detail;
  EXPECT_EQ(plain_.requests().size(), 1u);
}

TEST_F(TlsTest, UntrustedCertificateIsATlsCertificateFailure) {
  Result r = RunCheckOnce(HttpCheckYaml("https://localhost:" + std::to_string(port_) + "/"));
  EXPECT_EQ(r.reason, Reason::kTlsCertificate) << r.detail;
  EXPECT_EQ(ReasonCause(r.reason), Cause::kMisconfiguration);
}

TEST_F(TlsTest, InsecureCheckSucceedsAndReportsTheCertificatesExpiry) {
  Result r = RunCheckOnce(
      HttpCheckYaml("https://localhost:" + std::to_string(port_) + "/", "insecure: true"));
  EXPECT_TRUE(r.success) << r.detail;
  double expiry = Observed(r, "tls_cert_expiry_timestamp_seconds");
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Made for 30 days just now: expiry within a day of now + 30 days.
  EXPECT_NEAR(expiry, now + 30 * 86400, 86400);
  EXPECT_GE(Observed(r, "http_phase_seconds", "tls"), 0);
}

TEST_F(TlsTest, PlainHttpToTheTlsPortIsNotASuccess) {
  Result r = RunCheckOnce(HttpCheckYaml("http://127.0.0.1:" + std::to_string(port_) + "/"));
  EXPECT_EQ(r.reason, Reason::kHttp4xx)
      << r.detail << " (nginx answers 400 to plain HTTP on a TLS port)";
}

class DnsmasqTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/sbin/dnsmasq", X_OK) != 0)
      GTEST_SKIP() << "dnsmasq not installed (dnsmasq-base)";
    port_ = FreeTcpPort();
    dnsmasq_ = std::make_unique<Process>(std::vector<std::string>{
        "/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null",
        "--port=" + std::to_string(port_), "--listen-address=127.0.0.1", "--bind-interfaces",
        "--no-resolv", "--no-hosts", "--local=/example.test/",
        "--address=/www.example.test/127.0.0.1", "--pid-file=", "--user=root"});
    servers_ = "127.0.0.1:" + std::to_string(port_);
    // Ready when it answers; a bounded wait, not a timing assertion.
    for (int i = 0; i < 100; ++i) {
      Result r = RunCheckOnce(
          HttpCheckYaml("http://www.example.test:" + std::to_string(upstream_.port()) + "/"),
          servers_);
      if (r.reason != Reason::kDnsTimeout && r.reason != Reason::kDnsError) break;
    }
  }
  FakeHttpServer upstream_{Behaviour::kOk};
  std::unique_ptr<Process> dnsmasq_;
  int port_ = 0;
  std::string servers_;
};

TEST_F(DnsmasqTest, NamesResolveThroughTheAgentsResolver) {
  Result r = RunCheckOnce(
      HttpCheckYaml("http://www.example.test:" + std::to_string(upstream_.port()) + "/"), servers_);
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_GE(Observed(r, "http_phase_seconds", "resolve"), 0);
}

TEST_F(DnsmasqTest, UnknownNameIsNxdomain) {
  Result r = RunCheckOnce(HttpCheckYaml("http://nope.example.test/"), servers_);
  EXPECT_EQ(r.reason, Reason::kDnsNxdomain) << r.detail;
  EXPECT_EQ(ReasonCause(r.reason), Cause::kDns);
}

}  // namespace
}  // namespace gatewatch::testing
