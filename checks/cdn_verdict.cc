#include "checks/cdn_verdict.h"

namespace gatewatch {

namespace {

std::string_view WithoutWeakPrefix(std::string_view etag) {
  if (etag.size() >= 2 && (etag[0] == 'W' || etag[0] == 'w') && etag[1] == '/') {
    etag.remove_prefix(2);
  }
  return etag;
}

}  // namespace

std::string_view CdnVerdictName(CdnVerdict verdict) {
  switch (verdict) {
    case CdnVerdict::kOk:
      return "ok";
    case CdnVerdict::kEdgeFault:
      return "edge_fault";
    case CdnVerdict::kOriginFault:
      return "origin_fault";
    case CdnVerdict::kBothDown:
      return "both_down";
    case CdnVerdict::kContentMismatch:
      return "content_mismatch";
  }
  return "ok";
}

Reason CdnVerdictReason(CdnVerdict verdict) {
  switch (verdict) {
    case CdnVerdict::kOk:
      return Reason::kNone;
    case CdnVerdict::kEdgeFault:
      return Reason::kEdgeFault;
    case CdnVerdict::kOriginFault:
      return Reason::kOriginFault;
    case CdnVerdict::kBothDown:
      return Reason::kBothDown;
    case CdnVerdict::kContentMismatch:
      return Reason::kContentMismatch;
  }
  return Reason::kInternalError;
}

std::optional<CompareField> ParseCompareField(std::string_view name) {
  for (CompareField f : {CompareField::kStatus, CompareField::kEtag, CompareField::kLastModified,
                         CompareField::kContentLength, CompareField::kBodyHash}) {
    if (CompareFieldName(f) == name) return f;
  }
  return std::nullopt;
}

std::string_view CompareFieldName(CompareField field) {
  switch (field) {
    case CompareField::kStatus:
      return "status";
    case CompareField::kEtag:
      return "etag";
    case CompareField::kLastModified:
      return "last_modified";
    case CompareField::kContentLength:
      return "content_length";
    case CompareField::kBodyHash:
      return "body_hash";
  }
  return "status";
}

bool SameField(CompareField field, const CdnSide& edge, const CdnSide& origin) {
  switch (field) {
    case CompareField::kStatus:
      return edge.status == origin.status;
    case CompareField::kEtag:
      return WithoutWeakPrefix(edge.etag) == WithoutWeakPrefix(origin.etag);
    case CompareField::kLastModified:
      return edge.last_modified == origin.last_modified;
    case CompareField::kContentLength:
      if (edge.body_too_large || origin.body_too_large) {
        return edge.body_too_large == origin.body_too_large;
      }
      return edge.body_bytes == origin.body_bytes;
    case CompareField::kBodyHash:
      if (edge.body_too_large || origin.body_too_large) {
        return edge.body_too_large == origin.body_too_large;
      }
      return edge.body_hash == origin.body_hash;
  }
  return true;
}

CdnJudgement JudgeCdn(const CdnSide& edge, const CdnSide& origin,
                      const std::vector<CompareField>& compare) {
  CdnJudgement j;
  if (!origin.healthy()) {
    j.verdict = edge.answered() ? CdnVerdict::kOriginFault : CdnVerdict::kBothDown;
    return j;
  }
  if (!edge.healthy()) {
    j.verdict = CdnVerdict::kEdgeFault;
    return j;
  }
  j.compared = true;
  for (CompareField f : compare) {
    if (!SameField(f, edge, origin)) j.differing.push_back(f);
  }
  if (edge.cache == CacheStatus::kStale) {
    // The edge served an expired copy because its own fetch failed, while the origin answers us:
    // the path from the edge to the origin is broken, masked by the cache.
    j.verdict = CdnVerdict::kEdgeFault;
  } else if (!j.differing.empty()) {
    j.verdict = CdnVerdict::kContentMismatch;
  } else {
    j.verdict = CdnVerdict::kOk;
  }
  return j;
}

}  // namespace gatewatch
