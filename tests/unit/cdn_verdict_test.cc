// The cdn_origin verdict from the two sides' answers, and the field comparison it rests on.
#include "checks/cdn_verdict.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatewatch {
namespace {

using V = CdnVerdict;
using F = CompareField;

CdnSide Answer(long status, CacheStatus cache = CacheStatus::kNone, std::string body = "ok") {
  CdnSide s;
  s.status = status;
  s.complete = true;
  s.cache = cache;
  s.etag = "\"5f3a-1\"";
  s.body_bytes = body.size();
  s.body_hash = std::hash<std::string>()(body);
  return s;
}

CdnSide NoAnswer() { return CdnSide{}; }  // refused, timed out, DNS failed

CdnSide Truncated(long status) {  // headers arrived, the body did not finish
  CdnSide s = Answer(status);
  s.complete = false;
  s.body_hash.reset();
  return s;
}

TEST(CdnVerdictTest, NamesAreTheReasons) {
  for (CdnVerdict v : kAllCdnVerdicts) {
    if (v == V::kOk) {
      EXPECT_EQ(CdnVerdictReason(v), Reason::kNone);
      continue;
    }
    EXPECT_EQ(ReasonName(CdnVerdictReason(v)), CdnVerdictName(v));
    EXPECT_EQ(ReasonCause(CdnVerdictReason(v)), Cause::kCdnPath);
  }
}

TEST(CdnVerdictTest, Table) {
  struct Row {
    const char* what;
    CdnSide edge, origin;
    CdnVerdict want;
  };
  const std::vector<F> compare = {F::kStatus, F::kBodyHash};
  const std::vector<Row> rows = {
      {"both healthy, same content", Answer(200, CacheStatus::kHit), Answer(200), V::kOk},
      {"both 404 alike", Answer(404), Answer(404), V::kOk},
      {"edge updating (stale-while-revalidate) is normal", Answer(200, CacheStatus::kUpdating),
       Answer(200), V::kOk},
      {"edge serves an old copy", Answer(200, CacheStatus::kHit, "v1"), Answer(200, {}, "v2"),
       V::kContentMismatch},
      {"edge cached a 404 the origin no longer gives", Answer(404, CacheStatus::kHit), Answer(200),
       V::kContentMismatch},
      {"edge 502 while origin healthy", Answer(502), Answer(200), V::kEdgeFault},
      {"edge 504 while origin healthy", Answer(504), Answer(200), V::kEdgeFault},
      {"edge unreachable while origin healthy", NoAnswer(), Answer(200), V::kEdgeFault},
      {"edge body cut while origin healthy", Truncated(200), Answer(200), V::kEdgeFault},
      {"edge serves stale although the origin answers us", Answer(200, CacheStatus::kStale),
       Answer(200), V::kEdgeFault},
      {"origin down, edge serves stale", Answer(200, CacheStatus::kStale), NoAnswer(),
       V::kOriginFault},
      {"origin down, edge still has a fresh hit", Answer(200, CacheStatus::kHit), NoAnswer(),
       V::kOriginFault},
      {"origin down, edge relays 502", Answer(502), NoAnswer(), V::kOriginFault},
      {"origin 500, edge relays 500", Answer(500), Answer(500), V::kOriginFault},
      {"origin 503, edge 200 stale", Answer(200, CacheStatus::kStale), Answer(503),
       V::kOriginFault},
      {"origin body cut, edge answers", Answer(200), Truncated(200), V::kOriginFault},
      {"neither answers", NoAnswer(), NoAnswer(), V::kBothDown},
      {"edge unreachable, origin 502", NoAnswer(), Answer(502), V::kBothDown},
  };
  for (const Row& r : rows) {
    CdnJudgement j = JudgeCdn(r.edge, r.origin, compare);
    EXPECT_EQ(CdnVerdictName(j.verdict), CdnVerdictName(r.want)) << r.what;
  }
}

TEST(CdnVerdictTest, ListsEveryDifferingFieldInConfigOrder) {
  CdnSide edge = Answer(200, CacheStatus::kHit, "old");
  CdnSide origin = Answer(200, CacheStatus::kNone, "new!");
  origin.etag = "\"5f3a-2\"";
  CdnJudgement j = JudgeCdn(edge, origin, {F::kStatus, F::kBodyHash, F::kEtag, F::kContentLength});
  EXPECT_TRUE(j.compared);
  EXPECT_EQ(j.differing, (std::vector<F>{F::kBodyHash, F::kEtag, F::kContentLength}));
  EXPECT_EQ(j.verdict, V::kContentMismatch);
}

TEST(CdnVerdictTest, NothingIsComparedUnlessBothAreHealthy) {
  CdnJudgement j = JudgeCdn(Answer(200), NoAnswer(), {F::kStatus});
  EXPECT_FALSE(j.compared);
  EXPECT_TRUE(j.differing.empty());
}

TEST(CdnVerdictTest, EmptyCompareListJudgesHealthOnly) {
  EXPECT_EQ(JudgeCdn(Answer(200, {}, "a"), Answer(201, {}, "b"), {}).verdict, V::kOk);
}

TEST(CdnVerdictTest, FieldComparison) {
  CdnSide a = Answer(200), b = Answer(200);
  b.etag = "W/\"5f3a-1\"";  // a compressing edge weakens the origin's ETag
  EXPECT_TRUE(SameField(F::kEtag, a, b));
  b.etag = "";
  EXPECT_FALSE(SameField(F::kEtag, a, b));
  a.last_modified = "Tue, 24 Nov 2026 10:00:00 GMT";
  b.last_modified = "Tue, 24 Nov 2026 10:00:00 GMT";
  EXPECT_TRUE(SameField(F::kLastModified, a, b));
  b.last_modified = "Tue, 24 Nov 2026 11:00:00 GMT";
  EXPECT_FALSE(SameField(F::kLastModified, a, b));
  // Bodies beyond body_limit: both too large counts as equal, one of them as different.
  a.body_too_large = b.body_too_large = true;
  a.body_hash.reset();
  b.body_hash.reset();
  EXPECT_TRUE(SameField(F::kBodyHash, a, b));
  EXPECT_TRUE(SameField(F::kContentLength, a, b));
  b = Answer(200);
  EXPECT_FALSE(SameField(F::kBodyHash, a, b));
  EXPECT_FALSE(SameField(F::kContentLength, a, b));
}

TEST(CdnVerdictTest, CompareFieldNamesRoundTrip) {
  for (F f : {F::kStatus, F::kEtag, F::kLastModified, F::kContentLength, F::kBodyHash}) {
    EXPECT_EQ(ParseCompareField(CompareFieldName(f)), f);
  }
  EXPECT_EQ(ParseCompareField("latency"), std::nullopt);
  EXPECT_EQ(ParseCompareField("ETag"), std::nullopt);
}

}  // namespace
}  // namespace gatewatch
