// The cdn_origin check against real nginx started by the test on 127.0.0.1: one nginx as the
// origin (static files the test rewrites), one as a caching edge in front of it (proxy_cache with
// a short validity, X-Cache-Status from $upstream_cache_status). Each case asserts the verdict an
// on-call engineer would get.
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "agent/config.h"
#include "agent/probe.h"
#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/http_client.h"
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

// The edge keeps a copy for this long; waits for expiry are bounded by a few times it.
constexpr int kCacheValidSeconds = 2;
constexpr milliseconds kExpiryWait = seconds(4 * kCacheValidSeconds);

std::map<std::string, std::string> Report(const Result& r) {
  return {r.report.begin(), r.report.end()};
}

class CdnOriginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WritePage("/page.txt", "version 1\n");
    WritePage("/nostale/page.txt", "no stale copies here\n");
    WritePage("/wrong/page.txt", "the edge never reaches this\n");
    origin_port_ = FreeTcpPort();
    // The origin logs the Host header of each request, to show CONNECT_TO kept the edge's.
    origin_ = std::make_unique<NginxInstance>(
        "  log_format hosts '$http_host';\n  server {\n    listen 127.0.0.1:" +
        std::to_string(origin_port_) + ";\n    root " + www_.path() + ";\n    access_log " +
        HostLog() + " hosts;\n  }\n");
    std::string error;
    if (!origin_->Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);

    edge_port_ = FreeTcpPort();
    const std::string upstream = "http://127.0.0.1:" + std::to_string(origin_port_);
    // The cache directory is created by the nginx master and handed to the worker user.
    edge_ = std::make_unique<NginxInstance>(
        "  proxy_cache_path " + cache_.path() +
        "/edge levels=1 keys_zone=edge:1m inactive=1m use_temp_path=off;\n" +
        "  server {\n    listen 127.0.0.1:" + std::to_string(edge_port_) + ";\n" +
        "    proxy_connect_timeout 1s;\n    proxy_read_timeout 1s;\n" +
        "    proxy_cache edge;\n    proxy_cache_valid 200 " + std::to_string(kCacheValidSeconds) +
        "s;\n    add_header X-Cache-Status $upstream_cache_status always;\n" +
        "    location / {\n      proxy_pass " + upstream + ";\n" +
        "      proxy_cache_use_stale error timeout http_502 http_503 http_504;\n    }\n" +
        "    location /nostale/ { proxy_pass " + upstream + "; }\n" +
        "    location /wrong/ { proxy_pass http://127.0.0.1:" + std::to_string(wrong_.port()) +
        "; }\n" +
        // The same wrong port, with the edge saying why in the standard headers (RFC 9209/9211).
        "    location /wrong-ps/ {\n      proxy_pass http://127.0.0.1:" +
        std::to_string(wrong_.port()) + ";\n" +
        "      add_header Proxy-Status 'edge-nginx; error=connection_refused; "
        "next-hop=\"$upstream_addr\"' always;\n" +
        "      add_header Cache-Status 'edge-nginx; fwd=uri-miss; fwd-status=$upstream_status' "
        "always;\n    }\n  }\n");
    if (!edge_->Start(&error)) GW_SERVER_DID_NOT_START(kNginxBinary, error);
  }

  void WritePage(const std::string& path, const std::string& body) {
    std::string file = www_.path() + path;
    std::string dir = file.substr(0, file.rfind('/'));
    if (dir != www_.path()) ::mkdir(dir.c_str(), 0755);
    std::ofstream(file) << body;
  }

  std::string EdgeUrl(const std::string& path = "/page.txt") const {
    return "http://127.0.0.1:" + std::to_string(edge_port_) + path;
  }
  std::string Origin() const { return "127.0.0.1:" + std::to_string(origin_port_); }
  std::string HostLog() const { return cache_.path() + "/origin-hosts.log"; }
  // How often the origin saw `host` as the Host header.
  int HostLogCount(const std::string& host) const {
    std::ifstream in(HostLog());
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line == host;
    return n;
  }

  // One run of a cdn_origin check with the given url/origin, on the fixture's loop.
  Result Run(const std::string& url, const std::string& origin, const std::string& timeout = "3s") {
    Config config =
        ParseConfig("checks:\n  - {name: shop-cdn, type: cdn_origin, url: '" + url +
                        "', origin: '" + origin + "', interval: 10s, timeout: " + timeout +
                        ", compare: [status, etag, content_length, body_hash]}\n",
                    "test.yml");
    return gatewatch::RunCheckOnce(*config.checks.at(0).check, io_.services);
  }

  TempDir www_;
  TempDir cache_;
  RefusingPort wrong_;
  int origin_port_ = 0;
  int edge_port_ = 0;
  std::unique_ptr<NginxInstance> origin_;
  std::unique_ptr<NginxInstance> edge_;

  LoopServices io_;
};

TEST_F(CdnOriginTest, BothHealthyIsOkAndTheEdgeCacheMovesFromMissToHit) {
  Result first = Run(EdgeUrl(), Origin());
  EXPECT_TRUE(first.success) << first.detail;
  EXPECT_EQ(Report(first)["verdict"], "ok");
  EXPECT_EQ(Report(first)["edge_cache"], "miss") << first.detail;
  EXPECT_EQ(Report(first)["body_hash"].rfind("same ", 0), 0u) << Report(first)["body_hash"];
  EXPECT_EQ(Observed(first, "cdn_cache_status_total", "miss"), 1);
  EXPECT_EQ(Observed(first, "cdn_cache_status_total", "hit"), 0);
  EXPECT_EQ(Observed(first, "cdn_status_code", "edge"), 200);
  EXPECT_EQ(Observed(first, "cdn_status_code", "origin"), 200);
  EXPECT_EQ(Observed(first, "cdn_content_match"), 1);
  // The verdict is a state set: every verdict present, 1 only for the current one.
  for (const char* v : {"edge_fault", "origin_fault", "both_down", "content_mismatch"}) {
    EXPECT_EQ(Observed(first, "cdn_verdict", v), 0) << v;
  }
  EXPECT_EQ(Observed(first, "cdn_verdict", "ok"), 1);

  Result second = Run(EdgeUrl(), Origin());
  EXPECT_TRUE(second.success) << second.detail;
  EXPECT_EQ(Report(second)["edge_cache"], "hit") << second.detail;
  EXPECT_EQ(Observed(second, "cdn_cache_status_total", "hit"), 1);
  EXPECT_EQ(Report(second)["origin_address"], Origin());
  // The origin side kept the URL's Host (the edge's host:port) in both runs, only the connection
  // went elsewhere; the edge's own fetch (first run only: then it hit) sent the origin's.
  std::string edge_host = "127.0.0.1:" + std::to_string(edge_port_);
  // nginx logs a request after it answered it: wait for the lines.
  EXPECT_TRUE(WaitFor([&] { return HostLogCount(edge_host) == 2; }, seconds(2)))
      << HostLogCount(edge_host);
  EXPECT_EQ(HostLogCount(Origin()), 1);
}

TEST_F(CdnOriginTest, OriginUrlOfItsOwnIsAlsoAccepted) {
  Result r = Run(EdgeUrl(), "http://" + Origin() + "/page.txt");
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(Report(r)["verdict"], "ok");
}

TEST_F(CdnOriginTest, StoppedOriginIsOriginFaultAndTheEdgesStaleCopyIsRecognised) {
  ASSERT_TRUE(Run(EdgeUrl(), Origin()).success);  // the edge now holds a copy
  origin_->Stop();

  // While the copy is fresh the edge answers from cache; once it expired, nginx serves it stale.
  // Either way the origin is at fault.
  Result r = Run(EdgeUrl(), Origin());
  EXPECT_EQ(r.reason, Reason::kOriginFault) << r.detail;
  bool stale = WaitFor(
      [&] {
        r = Run(EdgeUrl(), Origin());
        EXPECT_EQ(r.reason, Reason::kOriginFault) << r.detail;
        return Report(r)["edge_cache"] == "stale";
      },
      kExpiryWait);
  ASSERT_TRUE(stale) << "edge_cache stayed " << Report(r)["edge_cache"] << ": " << r.detail;
  EXPECT_EQ(Report(r)["edge_status"], "200");
  EXPECT_EQ(Report(r)["origin_reason"], "connection_refused");
  EXPECT_EQ(Observed(r, "cdn_cache_status_total", "stale"), 1);
  EXPECT_EQ(Observed(r, "cdn_verdict", "origin_fault"), 1);
  EXPECT_EQ(Observed(r, "cdn_status_code", "origin"), 0);
  EXPECT_EQ(Observed(r, "cdn_content_match"), -1);  // nothing to compare with a dead origin
  EXPECT_NE(r.detail.find("(stale)"), std::string::npos) << r.detail;

  // Without a stale copy the edge relays a 502: still the origin's fault.
  Result relayed = Run(EdgeUrl("/nostale/page.txt"), Origin());
  EXPECT_EQ(relayed.reason, Reason::kOriginFault) << relayed.detail;
  EXPECT_EQ(Report(relayed)["edge_status"], "502");
}

TEST_F(CdnOriginTest, EdgePointedAtAWrongOriginPortIsEdgeFault) {
  Result r = Run(EdgeUrl("/wrong/page.txt"), Origin());
  EXPECT_EQ(r.reason, Reason::kEdgeFault) << r.detail;
  EXPECT_EQ(Report(r)["edge_status"], "502");
  EXPECT_EQ(Report(r)["edge_reason"], "http_502");
  EXPECT_EQ(Report(r)["origin_status"], "200");
  EXPECT_EQ(Observed(r, "cdn_verdict", "edge_fault"), 1);
  EXPECT_NE(edge_->ErrorLogText().find("Connection refused"), std::string::npos);
}

TEST_F(CdnOriginTest, EdgeThatSaysWhyInProxyStatusGivesTheEdgeSideItsReason) {
  WritePage("/wrong-ps/page.txt", "the edge never reaches this either\n");
  Result r = Run(EdgeUrl("/wrong-ps/page.txt"), Origin());
  EXPECT_EQ(r.reason, Reason::kEdgeFault) << r.detail;  // the verdict stays the check's reason
  auto report = Report(r);
  EXPECT_EQ(report["edge_status"], "502");
  EXPECT_EQ(report["edge_reason"], "connection_refused") << report["edge_error"];
  EXPECT_EQ(report["edge_hop_reason"], "connection_refused from edge-nginx (Proxy-Status)");
  EXPECT_EQ(report["edge_proxy_status"], "edge-nginx error=connection_refused next-hop=127.0.0.1:" +
                                             std::to_string(wrong_.port()));
  EXPECT_EQ(report["edge_cache_fwd_status"], "502");
  EXPECT_NE(r.detail.find("edge-nginx (Proxy-Status) says connection_refused"), std::string::npos)
      << r.detail;
  EXPECT_EQ(Observed(r, "cdn_cache_forward_responses_total", "502"), 1);
  EXPECT_EQ(Observed(r, "cdn_cache_forward_responses_total", "504"), 0);
  EXPECT_EQ(report["origin_reason"], "none");
}

TEST_F(CdnOriginTest, OriginThatHangsIsOriginFaultAtTheDeadline) {
  FakeHttpServer hanging(FakeHttpServer::Behaviour::kHang);
  Result r = Run(EdgeUrl(), "127.0.0.1:" + std::to_string(hanging.port()), "1s");
  EXPECT_EQ(r.reason, Reason::kOriginFault) << r.detail;
  EXPECT_EQ(Report(r)["origin_reason"], "timeout") << Report(r)["origin_error"];
  EXPECT_EQ(Report(r)["edge_status"], "200");
}

TEST_F(CdnOriginTest, NeitherAnsweringIsBothDown) {
  origin_->Stop();
  RefusingPort no_edge;
  Result r = Run("http://127.0.0.1:" + std::to_string(no_edge.port()) + "/page.txt", Origin());
  EXPECT_EQ(r.reason, Reason::kBothDown) << r.detail;
  EXPECT_EQ(Report(r)["edge_reason"], "connection_refused");
  EXPECT_EQ(Report(r)["origin_reason"], "connection_refused");
}

TEST_F(CdnOriginTest, ChangedOriginContentIsContentMismatchUntilTheEdgeCopyExpires) {
  ASSERT_TRUE(Run(EdgeUrl(), Origin()).success);
  WritePage("/page.txt", "version 2, longer\n");

  Result r = Run(EdgeUrl(), Origin());
  EXPECT_EQ(r.reason, Reason::kContentMismatch) << r.detail;
  EXPECT_EQ(Report(r)["edge_cache"], "hit");
  EXPECT_EQ(Report(r)["body_hash"].rfind("differs: ", 0), 0u) << Report(r)["body_hash"];
  EXPECT_EQ(Report(r)["content_length"], "differs: edge 10, origin 18");
  EXPECT_EQ(Observed(r, "cdn_content_match"), 0);

  bool converged = WaitFor(
      [&] {
        r = Run(EdgeUrl(), Origin());
        if (r.success) return true;
        EXPECT_EQ(r.reason, Reason::kContentMismatch) << r.detail;
        return false;
      },
      kExpiryWait);
  ASSERT_TRUE(converged) << r.detail;
  EXPECT_EQ(Report(r)["edge_cache"], "expired");  // the edge fetched the new version
  EXPECT_EQ(Observed(r, "cdn_content_match"), 1);
}

TEST_F(CdnOriginTest, ProbePrintsBothSidesAndTheVerdict) {
  Process ok({GATEWATCH_BINARY, "probe", "--origin", Origin(), EdgeUrl(), "--timeout", "3s"});
  int status = 0;
  ASSERT_TRUE(ok.WaitExit(seconds(10), &status));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ok.Stdout() << ok.Stderr();
  for (const char* line : {"edge_status", "origin_status", "edge_cache", "verdict"}) {
    EXPECT_NE(ok.Stdout().find(line), std::string::npos) << line << " in\n" << ok.Stdout();
  }

  origin_->Stop();
  Process down({GATEWATCH_BINARY, "probe", "--origin", Origin(), EdgeUrl("/nostale/page.txt"),
                "--timeout", "3s", "--json"});
  ASSERT_TRUE(down.WaitExit(seconds(10), &status));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << down.Stdout() << down.Stderr();
  EXPECT_NE(down.Stdout().find("\"reason\": \"origin_fault\""), std::string::npos) << down.Stdout();
  EXPECT_NE(down.Stdout().find("\"verdict\": \"origin_fault\""), std::string::npos)
      << down.Stdout();
}

}  // namespace
}  // namespace gatewatch::testing
