// The status page renderer (exporters/status_page.h): hostile names and details escaped, failing
// checks first, words for every reason, the availability strip, no script and no external asset.
#include "exporters/status_page.h"

#include <gtest/gtest.h>

#include "agent/base/utf8.h"
#include "tests/testlib/check_spec.h"
#include "tests/testlib/fake_clock.h"

namespace gatewatch {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

using testing::Spec;

int64_t WallMs(const FakeClock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.WallNow().time_since_epoch())
      .count();
}

TEST(HtmlEscapeTest, EscapesMarkupAndReplacesInvalidUtf8) {
  EXPECT_EQ(HtmlEscape("<script>alert(\"x\" & 'y')</script>"),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
  std::string out = HtmlEscape("a\xff<b");
  EXPECT_EQ(out, "a\xEF\xBF\xBD&lt;b");
  EXPECT_TRUE(IsValidUtf8(out));
  EXPECT_LE(HtmlEscape(std::string(10000, 'a'), 100).size(), 100u);
}

TEST(UrlPathEscapeTest, EncodesEverythingButUnreserved) {
  EXPECT_EQ(UrlPathEscape("api-1_x.y~"), "api-1_x.y~");
  EXPECT_EQ(UrlPathEscape("a b/\"<"), "a%20b%2F%22%3C");
}

TEST(ReasonWordsTest, EveryReasonAndCauseHasWords) {
  for (int i = 0; i < kReasonCount; ++i) {
    Reason r = static_cast<Reason>(i);
    EXPECT_NE(ReasonWords(r), "unknown reason") << ReasonName(r);
    EXPECT_NE(CauseWords(ReasonCause(r)), "unknown") << ReasonName(r);
  }
}

TEST(AvailabilityStripTest, BucketsRunsByMinute) {
  const int64_t now = 10'000'000;
  auto at = [&](int64_t ago_ms, Reason r) {
    HistoryEntry e;
    e.time_ms = now - ago_ms;
    e.reason = r;
    return e;
  };
  std::vector<HistoryEntry> runs = {
      at(3'600'001, Reason::kTimeout),  // older than the hour: ignored
      at(3'599'000, Reason::kNone),     // slot 0
      at(90'000, Reason::kNone),        // slot 58
      at(80'000, Reason::kHttp502),     // slot 58: mixed
      at(10'000, Reason::kHttp502),     // slot 59
  };
  auto slots = AvailabilityStrip(runs, now, 3'600'000, 60);
  ASSERT_EQ(slots.size(), 60u);
  EXPECT_EQ(slots[0], Slot::kOk);
  EXPECT_EQ(slots[1], Slot::kNone);
  EXPECT_EQ(slots[58], Slot::kMixed);
  EXPECT_EQ(slots[59], Slot::kFailed);
}

class StatusPageTest : public ::testing::Test {
 protected:
  FakeClock clock;
  HistoryStore store{clock};
};

TEST_F(StatusPageTest, HostileNamesAndDetailsAreEscaped) {
  CheckSpec evil = Spec("<img src=x onerror=alert(1)>");
  store.OnConfig({&evil});
  Result r = Result::Failure(Reason::kHttp502, "</div><script>alert('detail')</script>\xff");
  r.report = {{"response_body", "<b>bold</b>"}, {"<k>", "v"}};
  store.OnResult(evil, r);
  int64_t now = WallMs(clock);
  std::string page =
      RenderStatusPage(store.Summaries(), store.Strips(now, kStripSpanMs, kStripSlots), now);
  EXPECT_EQ(page.find("<img"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_NE(page.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  EXPECT_NE(page.find("&lt;/div&gt;&lt;script&gt;alert(&#39;detail&#39;)"), std::string::npos);
  EXPECT_NE(page.find("href=\"/checks/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E\""),
            std::string::npos);
  EXPECT_TRUE(IsValidUtf8(page));

  std::string check = RenderCheckPage(*store.Snapshot(evil.name), now);
  EXPECT_EQ(check.find("<img"), std::string::npos);
  EXPECT_EQ(check.find("<script"), std::string::npos);
  EXPECT_EQ(check.find("<b>bold"), std::string::npos);
  EXPECT_NE(check.find("&lt;b&gt;bold&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(check.find("&lt;k&gt;"), std::string::npos);
  EXPECT_TRUE(IsValidUtf8(check));
}

TEST_F(StatusPageTest, FailingChecksComeFirstWithReasonAndCauseInWords) {
  CheckSpec a = Spec("aaa-ok"), b = Spec("bbb-new"), c = Spec("ccc-down"), d = Spec("ddd-slow");
  store.OnConfig({&a, &b, &c, &d});
  store.OnResult(a, Result::Success());
  clock.Advance(minutes(5));
  store.OnResult(c, Result::Failure(Reason::kConnectionRefused, "connect() refused"));
  store.OnResult(d, Result::Failure(Reason::kTimeout, "no answer in 5 s"));
  clock.Advance(seconds(65));
  const int64_t now = WallMs(clock);
  std::string page =
      RenderStatusPage(store.Summaries(), store.Strips(now, kStripSpanMs, kStripSlots), now);
  size_t pc = page.find(">ccc-down<"), pd = page.find(">ddd-slow<"), pb = page.find(">bbb-new<"),
         pa = page.find(">aaa-ok<");
  ASSERT_NE(pc, std::string::npos);
  ASSERT_NE(pd, std::string::npos);
  ASSERT_NE(pb, std::string::npos);
  ASSERT_NE(pa, std::string::npos);
  EXPECT_LT(pc, pd);
  EXPECT_LT(pd, pb);
  EXPECT_LT(pb, pa);
  EXPECT_NE(page.find("2 failing, 1 ok, 1 not run yet"), std::string::npos);
  EXPECT_NE(page.find("<title>gatewatch: 2 failing</title>"), std::string::npos);
  EXPECT_NE(page.find("nothing listens on the port"), std::string::npos);
  EXPECT_NE(page.find("the upstream is down"), std::string::npos);
  EXPECT_NE(page.find("failing since"), std::string::npos);
  EXPECT_NE(page.find("(1 min 5 s)"), std::string::npos);
  EXPECT_NE(page.find("NOT RUN YET"), std::string::npos);
  // The strips show the failure one minute ago and the success six minutes ago.
  EXPECT_NE(page.find("title=\"2 min ago: failed\""), std::string::npos);
  EXPECT_NE(page.find("title=\"7 min ago: ok\""), std::string::npos);
  // Phone-readable, self-contained, refreshing, linked.
  EXPECT_NE(page.find("name=\"viewport\""), std::string::npos);
  EXPECT_NE(page.find("http-equiv=\"refresh\""), std::string::npos);
  EXPECT_NE(page.find("href=\"/metrics\""), std::string::npos);
  EXPECT_NE(page.find("href=\"/api/v1/checks\""), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
}

TEST_F(StatusPageTest, ListsEveryFailingCheckButCapsOkOnes) {
  std::vector<CheckSpec> specs;
  specs.reserve(kMaxOkListed + 51);
  for (size_t i = 0; i < kMaxOkListed + 50; ++i) specs.push_back(Spec("ok-" + std::to_string(i)));
  specs.push_back(Spec("zz-down"));
  std::vector<const CheckSpec*> ptrs;
  for (const CheckSpec& s : specs) ptrs.push_back(&s);
  store.OnConfig(ptrs);
  for (size_t i = 0; i + 1 < specs.size(); ++i) store.OnResult(specs[i], Result::Success());
  store.OnResult(specs.back(), Result::Failure(Reason::kConnectionRefused, "refused"));
  const int64_t now = WallMs(clock);
  std::string page =
      RenderStatusPage(store.Summaries(), store.Strips(now, kStripSpanMs, kStripSlots), now);
  EXPECT_NE(page.find(">zz-down<"), std::string::npos);
  EXPECT_NE(page.find("and 50 more ok checks"), std::string::npos);
  size_t listed = 0;
  for (size_t at = page.find("class=\"check ok\""); at != std::string::npos;
       at = page.find("class=\"check ok\"", at + 1)) {
    ++listed;
  }
  EXPECT_EQ(listed, kMaxOkListed);
  EXPECT_NE(page.find("1 failing, 250 ok"), std::string::npos);
}

TEST_F(StatusPageTest, CheckPageShowsFailuresWithEvidenceAndStateChanges) {
  CheckSpec api = Spec("api");
  store.OnConfig({&api});
  store.OnResult(api, Result::Success());
  clock.Advance(seconds(30));
  Result r = Result::Failure(Reason::kHttp502, "status 502 from 127.0.0.1:8080");
  r.report = {{"status", "502"},
              {"response_head", "HTTP/1.1 502 Bad Gateway\r\nServer: nginx\r\n"}};
  store.OnResult(api, r);
  clock.Advance(seconds(30));
  store.OnResult(api, Result::Success());
  std::string page = RenderCheckPage(*store.Snapshot("api"), WallMs(clock));
  EXPECT_NE(page.find("Recent failures (1 kept)"), std::string::npos);
  EXPECT_NE(page.find("status 502 from 127.0.0.1:8080"), std::string::npos);
  EXPECT_NE(page.find("HTTP/1.1 502 Bad Gateway"), std::string::npos);
  EXPECT_NE(page.find("the response was 502 Bad Gateway"), std::string::npos);
  EXPECT_NE(page.find("<td>failing: http_502</td>"), std::string::npos);
  EXPECT_NE(page.find("<td>30 s</td>"), std::string::npos);  // the failing period lasted 30 s
  EXPECT_NE(page.find("href=\"/api/v1/checks/api/history?failures=1\""), std::string::npos);
}

// The services' verdicts (docs/diagnosis.md) head the page: the ones with a verdict first, each
// with cause, why, upstreams, since, confidence and its top evidence; healthy services in one
// line; then the checks. Evidence quotes targets and logs: escaped, one line, valid UTF-8.
TEST_F(StatusPageTest, VerdictsHeadThePageWithTheirEvidence) {
  CheckSpec probe = Spec("shop-probe");
  store.OnConfig({&probe});
  store.OnResult(probe, Result::Failure(Reason::kHttp502, "HTTP 502"));
  clock.Advance(seconds(90));
  const int64_t now = WallMs(clock);

  ServiceVerdictView shop;
  shop.service = "shop";
  shop.healthy = false;
  shop.cause = "upstream_down";
  shop.why = "connection_refused";
  shop.upstreams = {"10.0.0.4:8080", "10.0.0.5:8080"};
  shop.confidence = 0.8;
  shop.since_ms = now - 90'000;
  shop.evidence.push_back({now - 60'000, "nginx", "proxy_log", "connection_refused",
                           "10.0.0.4:8080 connection_refused 37 times"});
  shop.evidence.push_back(
      {now - 59'000, "shop-probe", "probe", "http_502",
       std::string("</div><script>alert(1)</script>\xff") + std::string(1, '\0') + "\r\nnext"});
  for (int i = 0; i < 6; ++i) {
    shop.evidence.push_back({now, "extra", "host", "cpu_saturated", "fact " + std::to_string(i)});
  }
  ServiceVerdictView cart;
  cart.service = "cart";
  ServiceVerdictView edge = shop;
  edge.service = "edge";
  edge.cause = "agent_network";
  edge.why = "agent_path_down";
  edge.upstreams.clear();
  edge.evidence.resize(1);
  std::string page = RenderStatusPage(
      store.Summaries(), store.Strips(now, kStripSpanMs, kStripSlots), now, {shop, cart, edge});

  EXPECT_NE(page.find("<title>gatewatch: 2 services with a verdict, 1 failing</title>"),
            std::string::npos);
  size_t p_edge = page.find(">edge <"), p_shop = page.find(">shop <"),
         p_healthy = page.find("Healthy (no verdict): cart."),
         p_check = page.find("<a href=\"/checks/shop-probe\">");
  ASSERT_NE(p_edge, std::string::npos) << page;
  ASSERT_NE(p_shop, std::string::npos);
  ASSERT_NE(p_healthy, std::string::npos);
  ASSERT_NE(p_check, std::string::npos);
  EXPECT_LT(p_edge, p_shop);  // verdicts by service name
  EXPECT_LT(p_shop, p_healthy);
  EXPECT_LT(p_healthy, p_check);  // services before checks
  EXPECT_NE(page.find("upstream_down (connection_refused)"), std::string::npos);
  EXPECT_NE(page.find("the upstream is down"), std::string::npos);
  EXPECT_NE(page.find("agent_network (agent_path_down)"), std::string::npos);
  EXPECT_NE(page.find("gatewatch&#39;s own network path is broken"), std::string::npos);
  EXPECT_NE(page.find("Upstreams: <b>10.0.0.4:8080, 10.0.0.5:8080</b>"), std::string::npos);
  EXPECT_NE(page.find("(1 min 30 s) · confidence 0.80"), std::string::npos);
  EXPECT_NE(page.find("<b>nginx</b> (proxy_log) 10.0.0.4:8080 connection_refused 37 times"),
            std::string::npos);
  // Hostile evidence: escaped, one line, valid UTF-8.
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_NE(page.find("&lt;/div&gt;&lt;script&gt;alert(1)&lt;/script&gt;\xEF\xBF\xBD   next"),
            std::string::npos)
      << page;
  EXPECT_EQ(page.find('\0'), std::string::npos);
  EXPECT_TRUE(IsValidUtf8(page));
  // At most kMaxPageEvidence facts a verdict; the rest behind a link.
  EXPECT_NE(page.find("fact 2"), std::string::npos);
  EXPECT_EQ(page.find("fact 3"), std::string::npos);
  EXPECT_NE(page.find("3 more facts: <a href=\"/api/v1/diagnosis?service=shop\">"),
            std::string::npos);

  // No service configured: no diagnosis section at all.
  std::string plain =
      RenderStatusPage(store.Summaries(), store.Strips(now, kStripSpanMs, kStripSlots), now);
  EXPECT_EQ(plain.find("id=\"diagnosis\""), std::string::npos);
  EXPECT_NE(page.find("id=\"diagnosis\""), std::string::npos);
}

}  // namespace
}  // namespace gatewatch
