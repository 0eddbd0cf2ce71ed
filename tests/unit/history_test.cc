// The per-check history (exporters/history.h) on a fake clock: ring bounds, failures kept after
// many successes, state periods with their durations, reloads; the history API's JSON and routing
// (exporters/history_api.h); and reads from another thread while results arrive.
#include "exporters/history.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "agent/base/utf8.h"
#include "exporters/history_api.h"
#include "exporters/status_json.h"
#include "tests/testlib/check_spec.h"
#include "tests/testlib/fake_clock.h"

namespace gatewatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using testing::Spec;

Result Ok() {
  Result r = Result::Success();
  r.duration = milliseconds(12);
  r.report = {{"status", "200"}};
  return r;
}

Result Fail(Reason reason, std::string detail, std::string body = "") {
  Result r = Result::Failure(reason, std::move(detail));
  r.duration = milliseconds(34);
  r.report = {{"status", "502"}};
  if (!body.empty()) r.report.emplace_back("response_body", std::move(body));
  return r;
}

int64_t WallMs(const FakeClock& clock) {
  return std::chrono::duration_cast<milliseconds>(clock.WallNow().time_since_epoch()).count();
}

class HistoryTest : public ::testing::Test {
 protected:
  void Configure(const std::vector<const CheckSpec*>& specs) { store.OnConfig(specs); }
  void Run(const CheckSpec& spec, const Result& r) {
    clock.Advance(seconds(10));
    store.OnResult(spec, r);
  }

  FakeClock clock;
  HistoryStore store{clock, HistoryOptions{.runs = 100, .failures = 20, .changes = 20}};
  CheckSpec api = Spec("api");
};

TEST_F(HistoryTest, RunsRingKeepsTheLastNOldestFirst) {
  Configure({&api});
  for (int i = 0; i < 250; ++i) Run(api, i % 2 == 0 ? Ok() : Fail(Reason::kHttp502, "502"));
  auto h = store.Snapshot("api");
  ASSERT_TRUE(h);
  ASSERT_EQ(h->runs.size(), 100u);
  EXPECT_EQ(h->runs.front().seq, 151u);
  EXPECT_EQ(h->runs.back().seq, 250u);
  for (size_t i = 1; i < h->runs.size(); ++i) {
    EXPECT_EQ(h->runs[i].time_ms - h->runs[i - 1].time_ms, 10'000);
  }
  EXPECT_EQ(h->summary.runs_total, 250u);
  EXPECT_EQ(h->summary.failures_total, 125u);
  EXPECT_EQ(h->failures.size(), 20u);
  EXPECT_EQ(h->runs.back().duration_us, 34'000);
}

TEST_F(HistoryTest, FailuresSurviveManySuccessesWithTheirEvidence) {
  Configure({&api});
  Run(api, Fail(Reason::kConnectionRefused, "connect() to 127.0.0.1:1 refused"));
  Run(api, Fail(Reason::kHttp502, "status 502", "<h1>502 Bad Gateway</h1>"));
  for (int i = 0; i < 200; ++i) Run(api, Ok());
  auto h = store.Snapshot("api");
  ASSERT_TRUE(h);
  // The runs ring has only successes now; the two failures are still kept in full.
  for (const HistoryEntry& e : h->runs) EXPECT_TRUE(e.success());
  ASSERT_EQ(h->failures.size(), 2u);
  EXPECT_EQ(h->failures[0].reason, Reason::kConnectionRefused);
  EXPECT_EQ(h->failures[0].seq, 1u);
  ASSERT_NE(h->failures[0].evidence, nullptr);
  EXPECT_EQ(h->failures[0].evidence->detail, "connect() to 127.0.0.1:1 refused");
  EXPECT_EQ(h->failures[1].reason, Reason::kHttp502);
  ASSERT_NE(h->failures[1].evidence, nullptr);
  EXPECT_EQ(h->failures[1].evidence->report.back().second, "<h1>502 Bad Gateway</h1>");
  EXPECT_EQ(h->summary.failures_total, 2u);
  EXPECT_TRUE(h->summary.ok);
}

TEST_F(HistoryTest, FailuresRingIsBoundedToTheLastM) {
  Configure({&api});
  for (int i = 0; i < 50; ++i) Run(api, Fail(Reason::kTimeout, "run " + std::to_string(i)));
  auto h = store.Snapshot("api");
  ASSERT_EQ(h->failures.size(), 20u);
  EXPECT_EQ(h->failures.front().evidence->detail, "run 30");
  EXPECT_EQ(h->failures.back().evidence->detail, "run 49");
}

TEST_F(HistoryTest, StateChangesHaveStartEndAndDuration) {
  Configure({&api});
  Run(api, Ok());
  int64_t ok_start = WallMs(clock);
  Run(api, Ok());
  Run(api, Fail(Reason::kConnectionRefused, "refused"));
  int64_t fail_start = WallMs(clock);
  Run(api, Fail(Reason::kHttp502, "502"));  // still failing: same period, first reason kept
  Run(api, Fail(Reason::kTimeout, "slow"));
  Run(api, Ok());
  int64_t back = WallMs(clock);
  auto h = store.Snapshot("api");
  ASSERT_EQ(h->changes.size(), 3u);
  EXPECT_TRUE(h->changes[0].ok);
  EXPECT_EQ(h->changes[0].start_ms, ok_start);
  EXPECT_EQ(h->changes[0].end_ms, fail_start);
  EXPECT_EQ(h->changes[0].runs, 2u);
  EXPECT_FALSE(h->changes[1].ok);
  EXPECT_EQ(h->changes[1].first_reason, Reason::kConnectionRefused);
  EXPECT_EQ(h->changes[1].end_ms - h->changes[1].start_ms, 30'000);
  EXPECT_EQ(h->changes[1].runs, 3u);
  EXPECT_TRUE(h->changes[2].ok);
  EXPECT_EQ(h->changes[2].start_ms, back);
  EXPECT_EQ(h->changes[2].end_ms, 0);
  EXPECT_EQ(h->summary.since_ms, back);

  auto j = CheckDetailJson(*h);
  EXPECT_EQ(j["state"], "ok");
  EXPECT_EQ(j["changes"][1]["state"], "failing");
  EXPECT_EQ(j["changes"][1]["reason"], "connection_refused");
  EXPECT_EQ(j["changes"][1]["cause"], "upstream_down");
  EXPECT_DOUBLE_EQ(j["changes"][1]["duration_seconds"].get<double>(), 30.0);
  EXPECT_TRUE(j["changes"][2]["end_timestamp_seconds"].is_null());
}

TEST_F(HistoryTest, ChangesRingIsBounded) {
  store.SetOptions(HistoryOptions{.runs = 10, .failures = 3, .changes = 4});
  Configure({&api});
  for (int i = 0; i < 30; ++i) Run(api, i % 2 == 0 ? Ok() : Fail(Reason::kTimeout, "t"));
  auto h = store.Snapshot("api");
  EXPECT_EQ(h->runs.size(), 10u);
  EXPECT_EQ(h->failures.size(), 3u);
  EXPECT_EQ(h->changes.size(), 4u);
}

TEST_F(HistoryTest, ReloadKeepsUnchangedChecksAndDropsOthers) {
  CheckSpec db = Spec("db", "dns");
  Configure({&api, &db});
  Run(api, Fail(Reason::kHttp502, "x"));
  Run(db, Ok());
  CheckSpec db_now_http = Spec("db", "http");
  Configure({&api, &db_now_http});
  EXPECT_EQ(store.Snapshot("api")->runs.size(), 1u);
  EXPECT_EQ(store.Snapshot("db")->runs.size(), 0u);  // type changed: starts over
  Configure({&db_now_http});
  EXPECT_FALSE(store.Snapshot("api"));
  CheckSpec ghost = Spec("ghost");
  store.OnResult(ghost, Ok());  // a result for a check no longer configured is dropped
  EXPECT_FALSE(store.Snapshot("ghost"));
}

TEST_F(HistoryTest, HostileBytesAreSanitisedAndReportsCapped) {
  Configure({&api});
  Result r = Fail(Reason::kHttp502, std::string("bad \xff\xfe bytes") + std::string(5000, 'x'));
  for (int i = 0; i < 20; ++i)
    r.report.emplace_back("k" + std::to_string(i), std::string(900, 'v'));
  Run(api, r);
  auto h = store.Snapshot("api");
  const RunEvidence& e = *h->failures.back().evidence;
  EXPECT_LE(e.detail.size(), kMaxDetailBytes);
  EXPECT_NE(e.detail.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD
  size_t bytes = 0;
  for (const auto& [k, v] : e.report) bytes += k.size() + v.size();
  EXPECT_LE(bytes, HistoryStore::kMaxReportBytes + 64);
  EXPECT_EQ(e.report.back().first, "truncated");
  std::string json = DumpJson(HistoryJson(*h, true, 0));
  EXPECT_TRUE(nlohmann::json::accept(json));
}

// The evidence of a check's kept failures is bounded by history.evidence_bytes: the newest failure
// keeps all of it; older ones give up their long values (response head and body) first, keeping
// the short report fields, then their report, then their detail.
TEST(HistoryBudgetTest, OlderFailuresGiveUpLongEvidenceFirst) {
  FakeClock clock;
  HistoryStore store{clock, HistoryOptions{.runs = 100, .failures = 20, .evidence_bytes = 3000}};
  CheckSpec api = Spec("api");
  store.OnConfig({&api});
  for (int i = 0; i < 6; ++i) {
    clock.Advance(seconds(10));
    store.OnResult(api, Fail(Reason::kHttp502, "run " + std::to_string(i), std::string(1000, 'b')));
  }
  auto h = store.Snapshot("api");
  ASSERT_EQ(h->failures.size(), 6u);
  size_t total = 0;
  for (const auto& f : h->failures) total += EvidenceBytes(*f.evidence);
  EXPECT_LE(total, 3000u);
  // The newest ones whole, with the body; the oldest without it but with status and detail.
  const RunEvidence& newest = *h->failures.back().evidence;
  EXPECT_EQ(newest.report.size(), 2u);
  EXPECT_EQ(newest.report[1].second.size(), 1000u);
  const RunEvidence& oldest = *h->failures.front().evidence;
  EXPECT_EQ(oldest.detail, "run 0");
  ASSERT_EQ(oldest.report.size(), 2u);
  EXPECT_EQ(oldest.report[0], (std::pair<std::string, std::string>{"status", "502"}));
  EXPECT_EQ(oldest.report[1].first, "trimmed");
  // The run list finds the trimmed evidence too, and the last run is the newest failure, whole.
  EXPECT_EQ(h->runs.front().evidence->report[1].first, "trimmed");
  EXPECT_EQ(h->last->evidence->report[1].second.size(), 1000u);
}

TEST(HistoryBudgetTest, EveryCheckFailingWithMaximalEvidenceStaysWithinTheBound) {
  FakeClock clock;
  const HistoryOptions options;  // the defaults
  HistoryStore store{clock, options};
  CheckSpec api = Spec("api");
  store.OnConfig({&api});
  Result worst = Fail(Reason::kHttp502, std::string(5000, 'd'));
  worst.report.clear();
  for (int i = 0; i < 8; ++i)
    worst.report.emplace_back("k" + std::to_string(i), std::string(1022, 'v'));
  size_t one_run = 0;
  for (int i = 0; i < 3 * static_cast<int>(options.failures); ++i) {
    clock.Advance(seconds(10));
    store.OnResult(api, worst);
    auto h = store.Snapshot("api");
    one_run = EvidenceBytes(*h->failures.back().evidence);
    size_t total = 0;
    for (const auto& f : h->failures) {
      if (f.evidence) total += EvidenceBytes(*f.evidence);
    }
    ASSERT_LE(total, std::max(options.evidence_bytes, one_run)) << "after run " << i;
  }
  EXPECT_GT(one_run, 5000u);  // one run at its caps: the newest is never cut
  auto h = store.Snapshot("api");
  EXPECT_EQ(h->failures.size(), options.failures);   // every failure is still listed...
  EXPECT_EQ(h->failures.front().evidence, nullptr);  // ...the oldest without evidence
}

TEST(HistoryBudgetTest, SmallerBudgetOnReloadTrimsAtOnce) {
  FakeClock clock;
  HistoryStore store{clock, HistoryOptions{.evidence_bytes = 1 << 20}};
  CheckSpec api = Spec("api");
  store.OnConfig({&api});
  for (int i = 0; i < 10; ++i) {
    clock.Advance(seconds(10));
    store.OnResult(api, Fail(Reason::kHttp502, "x", std::string(1000, 'b')));
  }
  auto total = [&] {
    size_t n = 0;
    auto h = store.Snapshot("api");
    for (const auto& f : h->failures) n += f.evidence ? EvidenceBytes(*f.evidence) : 0;
    return n;
  };
  EXPECT_GT(total(), 10'000u);
  store.SetOptions(HistoryOptions{.evidence_bytes = 2048});
  EXPECT_LE(total(), 2048u);
}

TEST_F(HistoryTest, HistoryJsonOrderLimitAndFailures) {
  Configure({&api});
  Run(api, Ok());
  Run(api, Fail(Reason::kConnectionRefused, "refused"));
  Run(api, Fail(Reason::kHttp502, "502"));
  Run(api, Ok());
  auto h = store.Snapshot("api");
  auto all = HistoryJson(*h, false, 0);
  ASSERT_EQ(all["runs"].size(), 4u);
  EXPECT_EQ(all["runs"][0]["reason"], "none");
  EXPECT_EQ(all["runs"][1]["reason"], "connection_refused");
  EXPECT_EQ(all["runs"][1]["cause"], "upstream_down");
  EXPECT_EQ(all["runs"][1]["detail"], "refused");  // evidence joined from the failures ring
  EXPECT_EQ(all["runs"][1]["report"]["status"], "502");
  EXPECT_EQ(all["runs"][0]["evidence"], false);
  EXPECT_EQ(all["runs"][3]["evidence"], true);  // the last run keeps its report
  auto last2 = HistoryJson(*h, false, 2);
  ASSERT_EQ(last2["runs"].size(), 2u);
  EXPECT_EQ(last2["runs"][0]["reason"], "http_502");
  auto failures = HistoryJson(*h, true, 0);
  ASSERT_EQ(failures["runs"].size(), 2u);
  EXPECT_EQ(failures["runs"][0]["seq"], 2);
  EXPECT_EQ(failures["runs"][1]["seq"], 3);
}

TEST_F(HistoryTest, RoutesAnswerJsonAnd404) {
  CheckSpec slash = Spec("a/history");  // a name that looks like a sub-path
  Configure({&api, &slash});
  Run(api, Fail(Reason::kHttp502, "502"));
  auto list = RouteHistory(store, clock, "/api/v1/checks", "");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  auto j = nlohmann::json::parse(list->body);
  ASSERT_EQ(j["checks"].size(), 2u);
  EXPECT_EQ(j["checks"][1]["name"], "api");
  EXPECT_EQ(j["checks"][1]["state"], "failing");
  EXPECT_EQ(j["checks"][1]["reason"], "http_502");
  EXPECT_EQ(j["checks"][0]["state"], "unknown");
  EXPECT_TRUE(j["checks"][0]["since_timestamp_seconds"].is_null());

  EXPECT_EQ(RouteHistory(store, clock, "/api/v1/checks/api", "")->status, 200);
  EXPECT_EQ(RouteHistory(store, clock, "/api/v1/checks/nope", "")->status, 404);
  EXPECT_EQ(RouteHistory(store, clock, "/api/v1/checks/nope/history", "")->status, 404);
  EXPECT_EQ(RouteHistory(store, clock, "/checks/nope", "")->status, 404);
  EXPECT_EQ(RouteHistory(store, clock, "/api/v1/checks/api/history", "limit=x")->status, 400);
  auto h = RouteHistory(store, clock, "/api/v1/checks/api/history", "failures=1&limit=5");
  ASSERT_TRUE(h);
  EXPECT_EQ(nlohmann::json::parse(h->body)["failures_only"], true);
  auto odd = RouteHistory(store, clock, "/api/v1/checks/a/history", "");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->status, 200);
  EXPECT_EQ(nlohmann::json::parse(odd->body)["name"], "a/history");
  EXPECT_FALSE(RouteHistory(store, clock, "/elsewhere", ""));
  auto page = RouteHistory(store, clock, "/", "");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
}

TEST_F(HistoryTest, ReadsFromAnotherThreadWhileResultsArrive) {
  Configure({&api});
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!stop) {
      auto h = store.Snapshot("api");
      if (h) {
        for (const HistoryEntry& e : h->failures) ASSERT_NE(e.evidence, nullptr);
        (void)DumpJson(HistoryJson(*h, false, 0));
      }
      (void)store.Summaries();
      ++reads;
    }
  });
  // At least 3,000 results and 10 reads overlapping them (bounded: at most 1,000,000 results).
  uint64_t written = 0;
  while (written < 3000 || (reads.load() < 10 && written < 1'000'000)) {
    store.OnResult(api, written % 3 == 0 ? Fail(Reason::kTimeout, "t") : Ok());
    ++written;
  }
  stop = true;
  reader.join();
  EXPECT_GE(reads.load(), 10);
  EXPECT_EQ(store.Snapshot("api")->summary.runs_total, written);
}

}  // namespace
}  // namespace gatewatch
