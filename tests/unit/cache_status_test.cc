// Cache-status normalisation with the header values CDNs and caching proxies really send, one
// table per header, then whole responses (precedence between headers).
#include "checks/cache_status.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace gatewatch {
namespace {

using S = CacheStatus;

struct Row {
  std::string value;
  std::optional<CacheStatus> want;
};

std::string Name(std::optional<CacheStatus> s) {
  return s ? std::string(CacheStatusName(*s)) : "(nothing)";
}

TEST(CacheStatusTest, NamesAreTheBoundedLabelSet) {
  std::vector<std::string> names;
  for (CacheStatus s : kAllCacheStatuses) names.emplace_back(CacheStatusName(s));
  EXPECT_EQ(names, (std::vector<std::string>{"hit", "miss", "expired", "stale", "updating",
                                             "revalidated", "bypass", "dynamic", "none"}));
}

TEST(CacheStatusTest, CloudflareCfCacheStatus) {
  const std::vector<Row> rows = {
      {"HIT", S::kHit},       {"MISS", S::kMiss},         {"EXPIRED", S::kExpired},
      {"STALE", S::kStale},   {"UPDATING", S::kUpdating}, {"REVALIDATED", S::kRevalidated},
      {"BYPASS", S::kBypass}, {"DYNAMIC", S::kDynamic},   {"NONE", S::kNone},
      {"UNKNOWN", S::kNone},  {"hit", S::kHit},           {" HIT ", S::kHit},
      {"", std::nullopt},     {"WARM", std::nullopt},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(Name(ParseCacheStatusWord(r.value)), Name(r.want)) << "CF-Cache-Status: " << r.value;
  }
}

TEST(CacheStatusTest, NginxUpstreamCacheStatus) {
  // Every value of $upstream_cache_status in nginx 1.22.
  const std::vector<Row> rows = {
      {"HIT", S::kHit},       {"MISS", S::kMiss},         {"EXPIRED", S::kExpired},
      {"STALE", S::kStale},   {"UPDATING", S::kUpdating}, {"REVALIDATED", S::kRevalidated},
      {"BYPASS", S::kBypass},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(Name(ParseCacheStatusWord(r.value)), Name(r.want)) << "X-Cache-Status: " << r.value;
  }
}

TEST(CacheStatusTest, XCacheOfCloudFrontFastlyVarnishSquidAkamai) {
  const std::vector<Row> rows = {
      // CloudFront
      {"Hit from cloudfront", S::kHit},
      {"Miss from cloudfront", S::kMiss},
      {"RefreshHit from cloudfront", S::kRevalidated},
      {"LambdaGeneratedResponse from cloudfront", S::kDynamic},
      {"FunctionGeneratedResponse from cloudfront", S::kDynamic},
      {"Error from cloudfront", std::nullopt},
      {"Redirect from cloudfront", std::nullopt},
      // Fastly: shield first, edge last
      {"HIT", S::kHit},
      {"MISS", S::kMiss},
      {"MISS, HIT", S::kHit},
      {"HIT, MISS", S::kMiss},
      {"MISS, MISS", S::kMiss},
      {"HIT, HIT", S::kHit},
      // Varnish VCLs
      {"HIT: 3", S::kHit},
      {"cached", S::kHit},
      {"uncached", S::kMiss},
      {"PASS", S::kBypass},
      // Squid
      {"HIT from proxy.example.com", S::kHit},
      {"MISS from proxy.example.com", S::kMiss},
      // Akamai (Pragma: akamai-x-cache-on)
      {"TCP_HIT from a23-45-67-89.deploy.akamaitechnologies.com (AkamaiGHost/10.7.2-45) (-)",
       S::kHit},
      {"TCP_MISS from a23-45-67-89.deploy.akamaitechnologies.com (AkamaiGHost/10.7.2-45) (-)",
       S::kMiss},
      {"TCP_MEM_HIT from a2-16-20-45.deploy.akamaitechnologies.com (AkamaiGHost/10.7.2-45) (-)",
       S::kHit},
      {"TCP_IMS_HIT from a2-16-20-45.deploy.akamaitechnologies.com (AkamaiGHost/10.7.2-45) (-)",
       S::kHit},
      {"TCP_REFRESH_HIT from a2-16-20-45.deploy.akamaitechnologies.com (AkamaiGHost/10.7.2) (-)",
       S::kRevalidated},
      {"TCP_REFRESH_MISS from a2-16-20-45.deploy.akamaitechnologies.com (AkamaiGHost/10.7) (-)",
       S::kExpired},
      {"", std::nullopt},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(Name(ParseXCache(r.value)), Name(r.want)) << "X-Cache: " << r.value;
  }
}

TEST(CacheStatusTest, Rfc9211CacheStatus) {
  const std::vector<Row> rows = {
      // RFC 9211 section 2 and 5 examples
      {"ExampleCache; hit", S::kHit},
      {"ExampleCache; fwd=uri-miss", S::kMiss},
      {"ExampleCache; fwd=uri-miss; stored", S::kMiss},
      {"ExampleCache; fwd=vary-miss; stored", S::kMiss},
      {"ExampleCache; fwd=stale; fwd-status=304", S::kRevalidated},
      {"ExampleCache; fwd=stale; fwd-status=200; stored", S::kExpired},
      {"ExampleCache; hit; ttl=-412", S::kStale},
      {"ExampleCache; hit; ttl=376", S::kHit},
      {"ExampleCache; fwd=bypass", S::kBypass},
      {"ExampleCache; fwd=method", S::kBypass},
      {"ExampleCache; fwd=request", S::kBypass},
      {"ExampleCache; fwd=partial; stored", S::kMiss},
      {"ExampleCache; detail=\"ok\"", std::nullopt},
      // Several caches: the last member is the one closest to the client.
      {"OriginCache; hit; ttl=1100, \"CDN Company Here\"; hit; ttl=545", S::kHit},
      {"ExampleCache; hit, \"CDN\"; fwd=uri-miss; stored", S::kMiss},
      {"ExampleCache; fwd=uri-miss, \"CDN\"; hit", S::kHit},
      // Netlify
      {"\"Netlify Edge\"; hit", S::kHit},
      {"\"Netlify Edge\"; fwd=miss", S::kMiss},
      {"\"Netlify Durable\"; hit; ttl=31535999, \"Netlify Edge\"; fwd=miss", S::kMiss},
      // Strings may hold the separators.
      {"\"a, b; c\"; hit", S::kHit},
      {"ExampleCache; hit=?1", S::kHit},
      {"ExampleCache; hit=?0; fwd=miss", S::kMiss},
      {"", std::nullopt},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(Name(ParseCacheStatusField(r.value)), Name(r.want)) << "Cache-Status: " << r.value;
  }
}

TEST(CacheStatusTest, AgeAndVia) {
  struct AgeRow {
    std::string age, via;
    std::optional<CacheStatus> want;
  };
  const std::vector<AgeRow> rows = {
      {"1432", "1.1 varnish (Varnish/7.1)", S::kHit},
      {"17", "", S::kHit},
      {"0", "1.1 varnish (Varnish/7.1)", S::kMiss},
      {"0", "1.1 0f6b8c6c2a7e.cloudfront.net (CloudFront)", S::kMiss},
      {"0", "", std::nullopt},
      {"", "1.1 varnish", std::nullopt},
      {"-1", "1.1 varnish", std::nullopt},
      {"soon", "", std::nullopt},
  };
  for (const AgeRow& r : rows) {
    EXPECT_EQ(Name(CacheStatusFromAge(r.age, r.via)), Name(r.want))
        << "Age: " << r.age << ", Via: " << r.via;
  }
}

CacheStatus Classify(const std::vector<std::string>& lines) {
  ResponseHeaders h;
  h.OnLine("HTTP/1.1 200 OK\r\n");
  for (const std::string& l : lines) h.OnLine(l + "\r\n");
  h.OnLine("\r\n");
  return ClassifyCacheStatus(h);
}

TEST(CacheStatusTest, WholeResponsesOfEachCdn) {
  struct Response {
    const char* who;
    std::vector<std::string> headers;
    CacheStatus want;
  };
  const std::vector<Response> responses = {
      {"CloudFront hit",
       {"X-Cache: Hit from cloudfront", "Via: 1.1 0f6b8c6c2a7e.cloudfront.net (CloudFront)",
        "X-Amz-Cf-Pop: FRA56-P5", "Age: 52"},
       S::kHit},
      {"CloudFront miss",
       {"X-Cache: Miss from cloudfront", "Via: 1.1 0f6b8c6c2a7e.cloudfront.net (CloudFront)"},
       S::kMiss},
      {"Cloudflare dynamic",
       {"CF-Cache-Status: DYNAMIC", "CF-RAY: 7d1c5a8f3b2e0a1c-FRA"},
       S::kDynamic},
      {"Cloudflare hit with Age", {"CF-Cache-Status: HIT", "Age: 3600"}, S::kHit},
      {"Cloudflare expired, Age 0", {"Age: 0", "CF-Cache-Status: EXPIRED"}, S::kExpired},
      {"Fastly shield miss, edge hit",
       {"Via: 1.1 varnish, 1.1 varnish", "X-Served-By: cache-fra-1, cache-ams-2",
        "X-Cache: MISS, HIT", "X-Cache-Hits: 0, 1", "Age: 12"},
       S::kHit},
      {"Varnish without X-Cache", {"Via: 1.1 varnish (Varnish/6.0)", "Age: 0"}, S::kMiss},
      {"nginx stale", {"Server: nginx/1.22.1", "X-Cache-Status: STALE"}, S::kStale},
      {"nginx with no cache lookup", {"Server: nginx/1.22.1"}, S::kNone},
      {"Cache-Status wins over X-Cache",
       {"X-Cache: HIT", "Cache-Status: ExampleCache; fwd=uri-miss"},
       S::kMiss},
      {"two Cache-Status lines form one list",
       {"Cache-Status: OriginCache; hit", "Cache-Status: \"CDN\"; fwd=stale; fwd-status=304"},
       S::kRevalidated},
      {"an unknown Cache-Status falls back to X-Cache",
       {"Cache-Status: ExampleCache; detail=x", "X-Cache: Hit from cloudfront"},
       S::kHit},
      {"header names are case-insensitive", {"x-cache-status: UPDATING"}, S::kUpdating},
      {"no cache headers at all", {"Content-Type: text/plain"}, S::kNone},
  };
  for (const Response& r : responses) {
    EXPECT_EQ(CacheStatusName(Classify(r.headers)), CacheStatusName(r.want)) << r.who;
  }
}

}  // namespace
}  // namespace gatewatch
