// Whose fault is it: the verdict of a cdn_origin run from what the edge (the URL through the CDN)
// and the origin (the same request sent straight to the origin) answered. Pure, no I/O:
// table-tested in tests/unit/cdn_verdict_test.cc.
//
// A side "answers" when an HTTP response arrived (any status). It is "healthy" when the whole
// response arrived with a status below 500 (a body beyond body_limit still counts: the limit is a
// config choice, not a fault). Then, in this order:
//
//   origin healthy, edge healthy, edge cache says stale  -> edge_fault: the edge could not refresh
//                                                           from a healthy origin and hides it
//   origin healthy, edge healthy, compared fields differ -> content_mismatch (stale cache, split
//                                                           deployment)
//   origin healthy, edge healthy                         -> ok
//   origin healthy, edge not healthy (5xx, no answer)    -> edge_fault (CDN-to-origin path, CDN
//                                                           config)
//   origin not healthy, edge answers (any status, also a stale copy) -> origin_fault
//   origin not healthy, edge does not answer             -> both_down
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checks/api/reason.h"
#include "checks/cache_status.h"

namespace gatewatch {

enum class CdnVerdict { kOk, kEdgeFault, kOriginFault, kBothDown, kContentMismatch };

inline constexpr std::array<CdnVerdict, 5> kAllCdnVerdicts = {
    CdnVerdict::kOk, CdnVerdict::kEdgeFault, CdnVerdict::kOriginFault, CdnVerdict::kBothDown,
    CdnVerdict::kContentMismatch};

// "ok", "edge_fault", "origin_fault", "both_down", "content_mismatch" (the reason names).
std::string_view CdnVerdictName(CdnVerdict verdict);
// kNone for ok, else the reason of the same name.
Reason CdnVerdictReason(CdnVerdict verdict);

// What the two sides are compared on (config `compare:`).
enum class CompareField { kStatus, kEtag, kLastModified, kContentLength, kBodyHash };

// "status", "etag", "last_modified", "content_length", "body_hash"; nullopt for anything else.
std::optional<CompareField> ParseCompareField(std::string_view name);
std::string_view CompareFieldName(CompareField field);

// One side's answer, reduced to what the verdict needs.
struct CdnSide {
  long status = 0;        // final status, 0 when no HTTP response arrived
  bool complete = false;  // the whole response arrived (or only body_limit was exceeded)
  CacheStatus cache = CacheStatus::kNone;
  std::string etag;           // "" when absent
  std::string last_modified;  // "" when absent
  uint64_t body_bytes = 0;
  bool body_too_large = false;
  std::optional<uint64_t> body_hash;  // of the whole body; absent when not hashed or too large

  bool answered() const { return status != 0; }
  bool healthy() const { return complete && status >= 100 && status < 500; }
};

// True when `field` is the same on both sides. ETags compare without the weak prefix (W/): a CDN
// that compresses or transforms weakens them. content_length compares body bytes received (the
// header is absent on chunked answers); two bodies both beyond body_limit count as equal, one
// beyond and one not as different. body_hash likewise.
bool SameField(CompareField field, const CdnSide& edge, const CdnSide& origin);

struct CdnJudgement {
  CdnVerdict verdict = CdnVerdict::kOk;
  // Only when both sides are healthy: every configured field that differs, in config order.
  bool compared = false;
  std::vector<CompareField> differing;
};

CdnJudgement JudgeCdn(const CdnSide& edge, const CdnSide& origin,
                      const std::vector<CompareField>& compare);

}  // namespace gatewatch
