// The cdn_origin check's config: every error names its exact path; the origin forms.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>

#include "checks/cdn_origin_check.h"
#include "tests/testlib/config_error.h"

namespace gatewatch {
namespace {

std::string ErrorText(const std::string& yaml) {
  return testing::CheckConfigErrorOf(CdnOriginCheckType(), yaml, "checks[2]");
}

std::shared_ptr<const CdnOriginConfig> Parse(const std::string& yaml) {
  ConfigNode node(YAML::Load(yaml), "checks[2]");
  return ParseCdnOriginConfig(node);
}

TEST(CdnOriginConfigTest, Errors) {
  EXPECT_EQ(ErrorText("origin: 10.0.0.5:443"), "checks[2].url: is required");
  EXPECT_EQ(ErrorText("url: https://www.example.com/health"), "checks[2].origin: is required");
  for (const char* bad : {"10.0.0.5", "10.0.0.5:", "10.0.0.5:0", "10.0.0.5:70000", ":443",
                          "::1:443", "[::1]", "[zz]:443", "a b:80", "host:8o"}) {
    EXPECT_EQ(ErrorText(std::string("{url: 'https://www.example.com/', origin: '") + bad + "'}"),
              "checks[2].origin: must be ip:port, [ipv6]:port, host:port or an http(s) URL")
        << bad;
  }
  EXPECT_EQ(ErrorText("{url: 'https://www.example.com/', origin: 'ftp://10.0.0.5/'}"),
            "checks[2].origin: must be an http or https URL, or ip:port");
  EXPECT_EQ(ErrorText("{url: 'http://e.test/', origin: '10.0.0.5:80', compare: [latency]}"),
            "checks[2].compare[0]: must be one of status, etag, last_modified, content_length, "
            "body_hash");
  EXPECT_EQ(ErrorText("{url: 'http://e.test/', origin: '10.0.0.5:80', compare: [etag, etag]}"),
            "checks[2].compare[1]: is listed twice");
  EXPECT_EQ(ErrorText("{url: 'http://e.test/', origin: '10.0.0.5:80', compare: etag}"),
            "checks[2].compare: must be a list");
  EXPECT_EQ(ErrorText("{url: 'http://e.test/', origin: '10.0.0.5:80', method: HEAD}"),
            "checks[2].method: method HEAD receives no body to compare (drop body_hash from "
            "compare)");
  EXPECT_EQ(ErrorText("{url: 'http://e.test/', origin: '10.0.0.5:80', expect: {status: 200}}"),
            "checks[2].expect: unknown key");
}

TEST(CdnOriginConfigTest, OriginAddressKeepsTheEdgeRequest) {
  auto cfg = Parse(
      "{url: 'https://www.example.com/health', origin: '10.0.0.5:443', "
      "compare: [status, etag, content_length, body_hash]}");
  EXPECT_EQ(cfg->origin, cfg->edge);  // the same request: URL, Host and SNI kept
  EXPECT_EQ(cfg->origin_connect_host, "10.0.0.5");
  EXPECT_EQ(cfg->origin_connect_port, 443);
  EXPECT_EQ(cfg->origin_label, "10.0.0.5:443");
  EXPECT_EQ(cfg->compare.size(), 4u);

  cfg = Parse("{url: 'http://www.example.com/', origin: '[2001:db8::5]:8080'}");
  EXPECT_EQ(cfg->origin_connect_host, "2001:db8::5");
  EXPECT_EQ(cfg->origin_connect_port, 8080);
  cfg = Parse("{url: 'http://www.example.com/', origin: 'origin.internal:8080'}");
  EXPECT_EQ(cfg->origin_connect_host, "origin.internal");
  EXPECT_EQ(cfg->compare,
            (std::vector<CompareField>{CompareField::kStatus, CompareField::kBodyHash}));
}

TEST(CdnOriginConfigTest, OriginUrlOfItsOwnKeepsTheOtherSettings) {
  auto cfg = Parse(
      "{url: 'https://www.example.com/health', origin: 'http://10.0.0.5:8080/health', "
      "headers: {X-Probe: gw}, max_redirects: 2, compare: []}");
  EXPECT_EQ(cfg->origin->url, "http://10.0.0.5:8080/health");
  EXPECT_FALSE(cfg->origin->https);
  EXPECT_EQ(cfg->origin->host, "10.0.0.5");
  EXPECT_EQ(cfg->origin->port, 8080);
  EXPECT_EQ(cfg->origin->max_redirects, 2);
  EXPECT_EQ(cfg->origin->request_headers, cfg->edge->request_headers);
  EXPECT_EQ(cfg->origin_connect_port, 0);
  EXPECT_TRUE(cfg->compare.empty());
}

}  // namespace
}  // namespace gatewatch
