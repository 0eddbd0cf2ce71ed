#include "checks/cache_status.h"

#include <cctype>
#include <cstdlib>
#include <string>
#include <vector>

namespace gatewatch {

namespace {

// Splits on `sep` outside double quotes (RFC 8941 strings may hold commas and semicolons).
std::vector<std::string_view> SplitOutsideQuotes(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && quoted) {
      ++i;  // an escaped character inside a string
    } else if (s[i] == '"') {
      quoted = !quoted;
    } else if (s[i] == sep && !quoted) {
      out.push_back(TrimBlanks(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(TrimBlanks(s.substr(std::min(start, s.size()))));
  return out;
}

bool StartsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && EqualsIgnoreCase(s.substr(0, prefix.size()), prefix);
}

// The last non-empty comma-separated entry.
std::string_view LastEntry(std::string_view value) {
  std::vector<std::string_view> entries = SplitOutsideQuotes(value, ',');
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (!it->empty()) return *it;
  }
  return {};
}

}  // namespace

std::string_view CacheStatusName(CacheStatus status) {
  switch (status) {
    case CacheStatus::kHit:
      return "hit";
    case CacheStatus::kMiss:
      return "miss";
    case CacheStatus::kExpired:
      return "expired";
    case CacheStatus::kStale:
      return "stale";
    case CacheStatus::kUpdating:
      return "updating";
    case CacheStatus::kRevalidated:
      return "revalidated";
    case CacheStatus::kBypass:
      return "bypass";
    case CacheStatus::kDynamic:
      return "dynamic";
    case CacheStatus::kNone:
      break;
  }
  return "none";
}

std::optional<CacheStatus> ParseCacheStatusField(std::string_view value) {
  std::string_view member = LastEntry(value);
  if (member.empty()) return std::nullopt;
  std::vector<std::string_view> params = SplitOutsideQuotes(member, ';');
  bool hit = false;
  bool negative_ttl = false;
  std::string_view fwd;
  std::string_view fwd_status;
  // params[0] is the cache's name; the rest are key[=value].
  for (size_t i = 1; i < params.size(); ++i) {
    std::string_view p = params[i];
    size_t eq = p.find('=');
    std::string_view key = TrimBlanks(p.substr(0, eq));
    std::string_view val = eq == std::string_view::npos ? "" : TrimBlanks(p.substr(eq + 1));
    if (EqualsIgnoreCase(key, "hit")) {
      hit = val.empty() || val == "?1";  // a bare key is boolean true in RFC 8941
    } else if (EqualsIgnoreCase(key, "ttl")) {
      negative_ttl = !val.empty() && val.front() == '-';
    } else if (EqualsIgnoreCase(key, "fwd")) {
      fwd = val;
    } else if (EqualsIgnoreCase(key, "fwd-status")) {
      fwd_status = val;
    }
  }
  if (hit) return negative_ttl ? CacheStatus::kStale : CacheStatus::kHit;
  if (fwd.empty()) return std::nullopt;
  if (EqualsIgnoreCase(fwd, "stale")) {
    return fwd_status == "304" ? CacheStatus::kRevalidated : CacheStatus::kExpired;
  }
  for (std::string_view miss : {"uri-miss", "vary-miss", "miss", "partial"}) {
    if (EqualsIgnoreCase(fwd, miss)) return CacheStatus::kMiss;
  }
  for (std::string_view bypass : {"bypass", "method", "request"}) {
    if (EqualsIgnoreCase(fwd, bypass)) return CacheStatus::kBypass;
  }
  return std::nullopt;
}

std::optional<CacheStatus> ParseCacheStatusWord(std::string_view value) {
  std::string_view word = TrimBlanks(value);
  struct Entry {
    std::string_view word;
    CacheStatus status;
  };
  static constexpr Entry kWords[] = {
      {"HIT", CacheStatus::kHit},
      {"MISS", CacheStatus::kMiss},
      {"EXPIRED", CacheStatus::kExpired},
      {"STALE", CacheStatus::kStale},
      {"UPDATING", CacheStatus::kUpdating},
      {"REVALIDATED", CacheStatus::kRevalidated},
      {"BYPASS", CacheStatus::kBypass},
      {"DYNAMIC", CacheStatus::kDynamic},
      // Cloudflare: NONE/UNKNOWN = "not eligible or not cached"; said explicitly, so it is final.
      {"NONE", CacheStatus::kNone},
      {"UNKNOWN", CacheStatus::kNone},
  };
  for (const Entry& e : kWords) {
    if (EqualsIgnoreCase(word, e.word)) return e.status;
  }
  return std::nullopt;
}

std::optional<CacheStatus> ParseXCache(std::string_view value) {
  std::string_view entry = LastEntry(value);
  // The first word: "Hit from cloudfront", "TCP_HIT from a23-...", "HIT: 3" (Varnish hit count).
  size_t end = entry.find_first_of(" \t:");
  std::string_view word = entry.substr(0, end);
  if (StartsWithIgnoreCase(word, "TCP_")) word.remove_prefix(4);  // Akamai, Squid
  struct Entry {
    std::string_view prefix;
    CacheStatus status;
  };
  // Longest first: "REFRESH_HIT" before "HIT"-like prefixes, "MEM_HIT" before "MISS".
  static constexpr Entry kPrefixes[] = {
      {"RefreshHit", CacheStatus::kRevalidated},   // CloudFront
      {"REFRESH_HIT", CacheStatus::kRevalidated},  // Akamai, Squid
      {"REFRESH_MISS", CacheStatus::kExpired},
      {"REFRESH_FAIL_OLD", CacheStatus::kStale},
      {"REFRESH_UNMODIFIED", CacheStatus::kRevalidated},
      {"REFRESH_MODIFIED", CacheStatus::kExpired},
      {"MEM_HIT", CacheStatus::kHit},
      {"IMS_HIT", CacheStatus::kHit},
      {"STALE", CacheStatus::kStale},
      {"HIT", CacheStatus::kHit},
      {"MISS", CacheStatus::kMiss},
      {"EXPIRED", CacheStatus::kExpired},
      {"UPDATING", CacheStatus::kUpdating},
      {"REVALIDATED", CacheStatus::kRevalidated},
      {"PASS", CacheStatus::kBypass},
      {"BYPASS", CacheStatus::kBypass},
      {"DYNAMIC", CacheStatus::kDynamic},
      {"LambdaGeneratedResponse", CacheStatus::kDynamic},    // CloudFront Lambda@Edge
      {"FunctionGeneratedResponse", CacheStatus::kDynamic},  // CloudFront Functions
  };
  for (const Entry& e : kPrefixes) {
    if (EqualsIgnoreCase(word, e.prefix)) return e.status;
  }
  // Varnish VCLs also say "cached"/"uncached".
  if (EqualsIgnoreCase(word, "cached")) return CacheStatus::kHit;
  if (EqualsIgnoreCase(word, "uncached")) return CacheStatus::kMiss;
  return std::nullopt;
}

std::optional<CacheStatus> CacheStatusFromAge(std::string_view age, std::string_view via) {
  age = TrimBlanks(age);
  if (age.empty()) return std::nullopt;
  for (char c : age) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  // Age counts seconds spent in caches: > 0 means this copy was stored before.
  if (age.find_first_not_of('0') != std::string_view::npos) return CacheStatus::kHit;
  if (!TrimBlanks(via).empty()) return CacheStatus::kMiss;
  return std::nullopt;
}

CacheStatus ClassifyCacheStatus(const ResponseHeaders& headers) {
  // Several Cache-Status lines are one list (RFC 9110 field combination): the last line's last
  // member is the cache closest to the client.
  std::vector<std::string_view> rfc = headers.Values("Cache-Status");
  if (!rfc.empty()) {
    if (auto s = ParseCacheStatusField(rfc.back())) return *s;
  }
  for (std::string_view name : {"CF-Cache-Status", "X-Cache-Status"}) {
    if (auto s = ParseCacheStatusWord(headers.First(name))) return *s;
  }
  std::vector<std::string_view> x_cache = headers.Values("X-Cache");
  if (!x_cache.empty()) {
    if (auto s = ParseXCache(x_cache.back())) return *s;
  }
  if (auto s = CacheStatusFromAge(headers.First("Age"), headers.First("Via"))) return *s;
  return CacheStatus::kNone;
}

}  // namespace gatewatch
