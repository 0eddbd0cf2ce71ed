// What an http check sends: any method with a body (inline or from a file), a client certificate
// for mutual TLS, and the HTTP version it asks for, against a real nginx (ssl_verify_client on,
// http2 over TLS and cleartext) with certificates made by the openssl CLI in the test, and a
// recording server for the exact bytes of the request.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/loop_services.h"
#include "tests/testlib/nginx.h"
#include "tests/testlib/observed.h"
#include "tests/testlib/process.h"
#include "tests/testlib/require.h"
#include "tests/testlib/temp_dir.h"
#include "tests/testlib/test_certs.h"

namespace gatewatch::testing {
namespace {

using std::chrono::seconds;
using Behaviour = FakeHttpServer::Behaviour;

std::string Check(const std::string& url, const std::string& extra = "") {
  return HttpCheckYaml(url, extra, "3s");
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(HttpRequestTest, MethodAndBodyReachTheServerAsWritten) {
  FakeHttpServer server(Behaviour::kRecord);
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/api";
  Result post = RunYamlCheckOnce(
      Check(url, "method: POST, body: '{\"ping\": 1}', headers: {Content-Type: application/json}"));
  EXPECT_TRUE(post.success) << post.detail;

  TempDir dir;
  std::string file = dir.path() + "/body.txt";
  std::ofstream(file) << "from a file\n";
  Result put = RunYamlCheckOnce(Check(url, "method: PUT, body_file: '" + file + "'"));
  EXPECT_TRUE(put.success) << put.detail;
  Result del = RunYamlCheckOnce(Check(url, "method: DELETE"));
  EXPECT_TRUE(del.success) << del.detail;
  Result empty_post = RunYamlCheckOnce(Check(url, "method: POST"));
  EXPECT_TRUE(empty_post.success) << empty_post.detail;

  std::vector<std::string> requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].rfind("POST /api HTTP/1.1\r\n", 0), 0u) << requests[0];
  EXPECT_TRUE(Contains(requests[0], "Content-Length: 11\r\n")) << requests[0];
  EXPECT_TRUE(Contains(requests[0], "Content-Type: application/json\r\n")) << requests[0];
  EXPECT_FALSE(Contains(requests[0], "Expect:")) << requests[0];
  EXPECT_TRUE(Contains(requests[0], "\r\n\r\n{\"ping\": 1}")) << requests[0];
  EXPECT_EQ(requests[1].rfind("PUT /api HTTP/1.1\r\n", 0), 0u) << requests[1];
  EXPECT_TRUE(Contains(requests[1], "\r\n\r\nfrom a file\n")) << requests[1];
  EXPECT_EQ(requests[2].rfind("DELETE /api HTTP/1.1\r\n", 0), 0u) << requests[2];
  EXPECT_FALSE(Contains(requests[2], "Content-Length")) << requests[2];
  EXPECT_EQ(requests[3].rfind("POST /api HTTP/1.1\r\n", 0), 0u) << requests[3];
  EXPECT_TRUE(Contains(requests[3], "Content-Length: 0\r\n")) << requests[3];
}

// A POST that meets 301/302/303 is repeated as a GET without its body, as browsers and curl -L
// do; 307 and 308 keep the method and the body. nginx echoes the method and body length it got.
TEST(HttpRequestTest, PostBecomesGetAfter301302303) {
  int port = FreeTcpPort();
  NginxInstance nginx(
      "  server {\n    listen 127.0.0.1:" + std::to_string(port) + ";\n" +
      "    location = /301 { return 301 /echo; }\n"
      "    location = /302 { return 302 /echo; }\n"
      "    location = /303 { return 303 /echo; }\n"
      "    location = /307 { return 307 /echo; }\n"
      "    location = /308 { return 308 /echo; }\n"
      "    location = /echo { return 200 \"$request_method $content_length\\n\"; }\n"
      "  }\n");
  std::string error;
  if (!nginx.Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);
  std::string base = "http://127.0.0.1:" + std::to_string(port) + "/";
  for (const char* code : {"301", "302", "303"}) {
    Result r = RunYamlCheckOnce(
        Check(base + code, "method: POST, body: 'a=1', expect: {body_regex: '^GET \\n'}"));
    EXPECT_TRUE(r.success) << code << ": " << r.detail;
  }
  for (const char* code : {"307", "308"}) {
    Result r = RunYamlCheckOnce(
        Check(base + code, "method: POST, body: 'a=1', expect: {body_regex: '^POST 3\\n'}"));
    EXPECT_TRUE(r.success) << code << ": " << r.detail;
  }
  // PUT stays PUT on a 302 (only POST is rewritten there), but not on a 303.
  Result put302 = RunYamlCheckOnce(
      Check(base + "302", "method: PUT, body: 'a=1', expect: {body_regex: '^PUT 3\\n'}"));
  EXPECT_TRUE(put302.success) << put302.detail;
  Result put303 = RunYamlCheckOnce(
      Check(base + "303", "method: PUT, body: 'a=1', expect: {body_regex: '^GET \\n'}"));
  EXPECT_TRUE(put303.success) << put303.detail;
}

// nginx with `ssl_verify_client on` behind a CA made for the test, plus http2 listeners.
class MutualTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/usr/bin/openssl", X_OK) != 0) GTEST_SKIP() << "openssl not installed";
    MakeCert("ca", "/CN=test-ca", "");
    MakeCert("server", "/CN=localhost", "ca", "subjectAltName=DNS:localhost");
    MakeCert("client", "/CN=gatewatch-client", "ca");
    MakeCert("other-ca", "/CN=other-ca", "");
    MakeCert("stranger", "/CN=stranger", "other-ca");
    mtls_port_ = FreeTcpPort();
    h2_port_ = FreeTcpPort();
    h2c_port_ = FreeTcpPort();
    std::string tls = "    ssl_certificate " + Pem("server") + ";\n    ssl_certificate_key " +
                      Key("server") + ";\n";
    nginx_ = std::make_unique<NginxInstance>(
        "  server {\n    listen 127.0.0.1:" + std::to_string(mtls_port_) + " ssl;\n" + tls +
        "    ssl_client_certificate " + Pem("ca") + ";\n    ssl_verify_client on;\n" +
        "    location / { return 200 \"hello $ssl_client_s_dn\\n\"; }\n  }\n" +
        "  server {\n    listen 127.0.0.1:" + std::to_string(h2_port_) + " ssl http2;\n" + tls +
        "    location / { return 200 \"ok\\n\"; }\n  }\n" +
        "  server {\n    listen 127.0.0.1:" + std::to_string(h2c_port_) + " http2;\n" +
        "    location / { return 200 \"ok\\n\"; }\n  }\n");
    std::string error;
    if (!nginx_->Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);
  }

  void MakeCert(const std::string& name, const std::string& subject, const std::string& ca,
                const std::string& san = "") {
    TestCertificates(dir_.path()).Make(name, subject, ca, san);
  }
  std::string Pem(const std::string& name) const { return TestCertificates(dir_.path()).Pem(name); }
  std::string Key(const std::string& name) const { return TestCertificates(dir_.path()).Key(name); }
  std::string Url(int port) const { return "https://localhost:" + std::to_string(port) + "/"; }

  TempDir dir_;
  std::unique_ptr<NginxInstance> nginx_;
  int mtls_port_ = 0;
  int h2_port_ = 0;
  int h2c_port_ = 0;
};

TEST_F(MutualTlsTest, ClientCertificateIsSentAndRequired) {
  std::string ca = "ca_file: '" + Pem("ca") + "'";
  Result ok = RunYamlCheckOnce(Check(
      Url(mtls_port_), ca + ", cert_file: '" + Pem("client") + "', key_file: '" + Key("client") +
                           "', expect: {body_regex: 'hello CN=gatewatch-client'}"));
  EXPECT_TRUE(ok.success) << ok.detail;

  // nginx completes the handshake and answers 400 ("No required SSL certificate was sent").
  Result none = RunYamlCheckOnce(Check(Url(mtls_port_), ca));
  EXPECT_FALSE(none.success);
  EXPECT_EQ(none.reason, Reason::kHttp4xx) << none.detail;
  EXPECT_EQ(Observed(none, "http_status_code"), 400);

  // A certificate from a CA nginx does not trust: refused too (400 "certificate error").
  Result stranger =
      RunYamlCheckOnce(Check(Url(mtls_port_), ca + ", cert_file: '" + Pem("stranger") +
                                                  "', key_file: '" + Key("stranger") + "'"));
  EXPECT_FALSE(stranger.success);
  EXPECT_EQ(stranger.reason, Reason::kHttp4xx) << stranger.detail;

  // The server's own certificate is checked against ca_file as before.
  Result untrusted = RunYamlCheckOnce(Check(Url(mtls_port_)));
  EXPECT_EQ(untrusted.reason, Reason::kTlsCertificate) << untrusted.detail;
}

TEST_F(MutualTlsTest, HttpVersionAskedForAndNegotiatedIsReported) {
  std::string ca = "ca_file: '" + Pem("ca") + "'";
  // TLS: curl offers h2 by ALPN by default; nginx takes it.
  Result h2 = RunYamlCheckOnce(Check(Url(h2_port_), ca));
  EXPECT_TRUE(h2.success) << h2.detail;
  EXPECT_EQ(ReportValue(h2, "http_version"), "2");
  EXPECT_EQ(Observed(h2, "http_version"), 2);
  Result h11 = RunYamlCheckOnce(Check(Url(h2_port_), ca + ", http_version: '1.1'"));
  EXPECT_TRUE(h11.success) << h11.detail;
  EXPECT_EQ(ReportValue(h11, "http_version"), "1.1");
  EXPECT_DOUBLE_EQ(Observed(h11, "http_version"), 1.1);

  // Cleartext HTTP/2 only (nginx `listen ... http2` without ssl): prior knowledge works.
  std::string h2c_url = "http://127.0.0.1:" + std::to_string(h2c_port_) + "/";
  Result prior = RunYamlCheckOnce(Check(h2c_url, "http_version: 2-prior-knowledge"));
  EXPECT_TRUE(prior.success) << prior.detail;
  EXPECT_EQ(ReportValue(prior, "http_version"), "2");
  // HTTP/1.1 to that port is not understood: nginx answers with HTTP/2 frames, which curl sees
  // as HTTP/0.9 and refuses.
  Result plain = RunYamlCheckOnce(Check(h2c_url, "http_version: '1.1'"));
  EXPECT_EQ(plain.reason, Reason::kProtocolError) << plain.detail;
  EXPECT_EQ(ReportValue(plain, "http_version"), "-") << plain.detail;
}

}  // namespace
}  // namespace gatewatch::testing
