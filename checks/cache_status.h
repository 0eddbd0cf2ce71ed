// What a CDN or caching proxy says it did with a response, normalised from the headers they
// actually send into one bounded set (the `status` label of gatewatch_cdn_cache_status_total).
//
//   Cache-Status      RFC 9211, e.g. `ExampleCache; hit, "CDN"; fwd=uri-miss; stored`
//   CF-Cache-Status   Cloudflare: HIT, MISS, EXPIRED, STALE, UPDATING, REVALIDATED, BYPASS, DYNAMIC
//   X-Cache-Status    nginx `add_header X-Cache-Status $upstream_cache_status`: HIT, MISS,
//                     EXPIRED, STALE, UPDATING, REVALIDATED, BYPASS
//   X-Cache           CloudFront "Hit from cloudfront", Fastly "MISS, HIT", Varnish/Squid "HIT",
//                     Akamai "TCP_HIT from ..."
//   Age, Via          the fallback when none of the above is sent: Age > 0 means a cached copy
//
// Pure functions, no I/O: table-tested in tests/unit/cache_status_test.cc with real header values.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "checks/http_transfer.h"

namespace gatewatch {

enum class CacheStatus {
  kHit,          // served from cache, fresh
  kMiss,         // not in cache: fetched from the origin (and maybe stored)
  kExpired,      // in cache but expired: fetched again from the origin
  kStale,        // expired copy served because the origin could not be reached or failed
  kUpdating,     // expired copy served while a refresh runs (stale-while-revalidate)
  kRevalidated,  // expired copy confirmed by the origin (304) and served
  kBypass,       // the cache was told to skip this request or response (config, no-cache, PASS)
  kDynamic,      // not eligible for caching at all (Cloudflare DYNAMIC, generated responses)
  kNone,         // no cache header: no cache in the path, or one that does not say
};

inline constexpr std::array<CacheStatus, 9> kAllCacheStatuses = {
    CacheStatus::kHit,    CacheStatus::kMiss,     CacheStatus::kExpired,
    CacheStatus::kStale,  CacheStatus::kUpdating, CacheStatus::kRevalidated,
    CacheStatus::kBypass, CacheStatus::kDynamic,  CacheStatus::kNone};

// "hit", "miss", ..., "none".
std::string_view CacheStatusName(CacheStatus status);

// Each returns nullopt when the value says nothing it can map (empty, unknown word), so the next
// header in precedence order gets its turn.

// RFC 9211 Cache-Status. The last member is the cache closest to the client (the edge); its
// parameters map as: hit with ttl < 0 -> stale; hit -> hit; fwd=stale with fwd-status=304 ->
// revalidated; fwd=stale -> expired; fwd=uri-miss|vary-miss|miss|partial -> miss;
// fwd=bypass|method|request -> bypass.
std::optional<CacheStatus> ParseCacheStatusField(std::string_view value);
// Cloudflare CF-Cache-Status, and nginx's $upstream_cache_status (the same words,
// case-insensitive).
std::optional<CacheStatus> ParseCacheStatusWord(std::string_view value);
// X-Cache: the last comma-separated entry (Fastly lists the shield first, the edge last), its
// first word, with Akamai's TCP_ prefix and CloudFront's "RefreshHit" understood.
std::optional<CacheStatus> ParseXCache(std::string_view value);
// Age (seconds) and Via: Age > 0 -> hit; Age 0 behind a Via -> miss; else nullopt.
std::optional<CacheStatus> CacheStatusFromAge(std::string_view age, std::string_view via);

// The cache status of one response, trying Cache-Status, CF-Cache-Status, X-Cache-Status, X-Cache,
// then Age/Via, in that order (most precise first); kNone if none of them says anything.
CacheStatus ClassifyCacheStatus(const ResponseHeaders& headers);

}  // namespace gatewatch
