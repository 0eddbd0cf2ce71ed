// The exporter's compact per-check series store (exporters/check_series.h): what each kind of
// series renders through prometheus-cpp's TextSerializer, series lifecycle (reload, gauges a
// result no longer reports), the status it keeps, and a scrape running while results arrive.
// Also LabelValues (checks/api/check.h), the inline label values of an Observation.
#include "exporters/check_series.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <atomic>
#include <limits>
#include <sstream>
#include <thread>

#include "exporters/series_render.h"
#include "exporters/status_json.h"
#include "tests/testlib/check_spec.h"
#include "tests/testlib/metrics_text.h"

namespace gatewatch {
namespace {

using testing::Sample;

const MetricDesc kGauge0{"t_gauge", MetricKind::kGauge, "A gauge.", {}};
const MetricDesc kGauge2{"t_pair", MetricKind::kGauge, "Two labels.", {"zone", "addr"}};
const MetricDesc kCounter1{"t_total", MetricKind::kCounter, "A counter.", {"code"}};
const MetricDesc kHist{"t_seconds", MetricKind::kHistogram, "A histogram.", {"side"}, {0.1, 1}};

using testing::Spec;

std::string Render(const CheckSeriesStore& store) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, CollectCheckSeries(store));
  return out.str();
}

Result WithObservations(std::vector<Observation> obs) {
  Result r = Result::Success();
  r.duration = std::chrono::milliseconds(250);
  r.observations = std::move(obs);
  return r;
}

TEST(LabelValuesTest, BracedListsLikeAVector) {
  LabelValues none = {};
  LabelValues one = {"connect"};
  std::string upstream = "127.0.0.1:9000";
  LabelValues two = {upstream, "502"};
  LabelValues three = {"a", "b", "c"};
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(one.size(), 1u);
  EXPECT_EQ(one.back(), "connect");
  EXPECT_EQ(two[0], upstream);
  EXPECT_EQ(two.at(1), "502");
  EXPECT_THROW((void)two.at(2), std::out_of_range);
  EXPECT_EQ(three, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_FALSE(two == (std::vector<std::string>{upstream}));
  EXPECT_EQ(two, (LabelValues{"127.0.0.1:9000", "502"}));
  Observation obs{&kCounter1, {"2xx"}, 1};
  EXPECT_EQ(obs.label_values, (std::vector<std::string>{"2xx"}));
}

// The one bucketing rule (checks/api/metric.h) the store uses for single values.
TEST(BucketIndexTest, FirstBoundNotBelowTheValueElseInf) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const std::vector<double> bounds = {0.1, 1};
  struct Case {
    double value;
    size_t want;
  };
  const Case cases[] = {{-kInf, 0}, {-1, 0},   {0.05, 0},
                        {0.1, 0},   {0.5, 1},  {1, 1},
                        {1.5, 2},   {kInf, 2}, {std::numeric_limits<double>::quiet_NaN(), 2}};
  for (const Case& c : cases) EXPECT_EQ(BucketIndex(bounds, c.value), c.want) << c.value;
  EXPECT_EQ(BucketIndex({}, 5), 0u) << "no bounds: only +Inf";
  EXPECT_EQ(BucketIndex({}, std::numeric_limits<double>::quiet_NaN()), 0u);

  std::vector<double> counts;
  AddToBuckets(kHist, std::numeric_limits<double>::quiet_NaN(), &counts);
  AddToBuckets(kHist, 0.1, &counts);
  EXPECT_EQ(counts, (std::vector<double>{1, 0, 1})) << "a batch buckets NaN in +Inf too";
}

// The exposed lines of kHist's series for check "c": count, sum, then the cumulative buckets.
std::vector<std::string> HistogramLines(const std::string& side, const std::string& sum,
                                        std::array<int, 3> cumulative) {
  std::string labels = "{check=\"c\",side=\"" + side + "\"";
  std::vector<std::string> lines = {
      "gatewatch_t_seconds_count" + labels + "} " + std::to_string(cumulative[2]),
      "gatewatch_t_seconds_sum" + labels + "} " + sum};
  const char* le[] = {"0.1", "1", "+Inf"};
  for (size_t i = 0; i < 3; ++i) {
    lines.push_back("gatewatch_t_seconds_bucket" + labels + ",le=\"" + le[i] + "\"} " +
                    std::to_string(cumulative[i]));
  }
  return lines;
}

// Each kind of series, from its Observations over two results, as exposed.
TEST(CheckSeriesStoreTest, RendersEveryKind) {
  struct Case {
    const char* what;
    std::vector<Observation> first, second;
    std::vector<std::string> lines;  // expected sample lines of the observation family
  };
  std::vector<double> batch(3);
  std::vector<Case> cases = {
      {"gauge without labels is set",
       {{&kGauge0, {}, 1.5}},
       {{&kGauge0, {}, 2}},
       {R"(gatewatch_t_gauge{check="c"} 2)"}},
      {"labels sorted by name, check among them",
       {{&kGauge2, {"eu", "10.0.0.1:53"}, 1}},
       {{&kGauge2, {"eu", "10.0.0.1:53"}, 0}},
       {R"(gatewatch_t_pair{addr="10.0.0.1:53",check="c",zone="eu"} 0)"}},
      {"counter adds, ignores negative increments, keeps creation order",
       {{&kCounter1, {"502"}, 0}, {&kCounter1, {"2xx"}, 1}},
       {{&kCounter1, {"2xx"}, 2}, {&kCounter1, {"502"}, -1}},
       {R"(gatewatch_t_total{check="c",code="502"} 0)",
        R"(gatewatch_t_total{check="c",code="2xx"} 3)"}},
      {"histogram observes single values",
       {{&kHist, {"edge"}, 0.05}, {&kHist, {"edge"}, 0.1}},
       {{&kHist, {"edge"}, 5}},
       HistogramLines("edge", "5.15", {2, 2, 3})},
      {"histogram batches add up; a batch of another shape is dropped",
       {{&kHist, {"origin"}, 2.5, {1, 2, 3}}},
       {{&kHist, {"origin"}, 1, {1, 0, 0}}, {&kHist, {"origin"}, 100, {5, 5}}},
       HistogramLines("origin", "3.5", {2, 4, 7})},
      {"a NUL inside a value (a log's upstream name) stays inside that one label",
       {{&kGauge2, {std::string("eu\0west", 7), "x"}, 1}},
       {{&kGauge2, {std::string("eu\0west", 7), "x"}, 1}},
       {R"(gatewatch_t_pair{addr="x",check="c",zone="eu?west"} 1)"}},
      {"NaN is counted in +Inf, as prometheus-cpp does",
       {{&kHist, {"edge"}, std::numeric_limits<double>::quiet_NaN()}},
       {},
       HistogramLines("edge", "Nan", {0, 0, 1})},
      {"values beyond the desc's labels are not rendered",
       {{&kCounter1, {"2xx", "extra"}, 1}},
       {},
       {R"(gatewatch_t_total{check="c",code="2xx"} 1)"}},
  };
  for (const Case& c : cases) {
    CheckSeriesStore store;
    CheckSpec spec = Spec("c");
    store.SetChecks({&spec});
    store.OnResult(spec, WithObservations(c.first), 1000);
    store.OnResult(spec, WithObservations(c.second), 1001);
    std::string text = Render(store);
    std::vector<std::string> got;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("gatewatch_t_", 0) == 0) got.push_back(line);
    }
    EXPECT_EQ(got, c.lines) << c.what << "\n" << text;
  }
}

TEST(CheckSeriesStoreTest, OwnSeriesBeforeAndAfterTheFirstResult) {
  CheckSeriesStore store;
  CheckSpec api = Spec("api", "http", {{"team", "edge"}, {"app", "shop"}});
  store.SetChecks({&api});
  // Before any run: counters and info only, and no empty family (no HELP without a sample).
  EXPECT_EQ(Render(store),
            "# HELP gatewatch_check_runs_total Completed runs of the check, by result (success or "
            "failure).\n"
            "# TYPE gatewatch_check_runs_total counter\n"
            "gatewatch_check_runs_total{check=\"api\",result=\"success\",type=\"http\"} 0\n"
            "gatewatch_check_runs_total{check=\"api\",result=\"failure\",type=\"http\"} 0\n"
            "# HELP gatewatch_check_skipped_total Runs not started because the previous run was "
            "still in flight or the global cap on runs in flight was reached.\n"
            "# TYPE gatewatch_check_skipped_total counter\n"
            "gatewatch_check_skipped_total{check=\"api\"} 0\n"
            "# HELP gatewatch_check_info Always 1: the check's type and the labels given to it in "
            "the config.\n"
            "# TYPE gatewatch_check_info gauge\n"
            "gatewatch_check_info{app=\"shop\",check=\"api\",team=\"edge\",type=\"http\"} 1\n");

  Result fail = Result::Failure(Reason::kHttp502, "502 from 127.0.0.1");
  fail.duration = std::chrono::milliseconds(125);
  store.OnResult(api, fail, 1700000000);
  store.OnResult(api, fail, 1700000001);
  store.OnSkipped(api);
  std::string text = Render(store);
  EXPECT_EQ(Sample(text, R"(gatewatch_check_success{check="api",type="http"})"), 0) << text;
  EXPECT_EQ(Sample(text, R"(gatewatch_check_duration_seconds{check="api",type="http"})"), 0.125);
  EXPECT_EQ(Sample(text, R"(gatewatch_check_last_run_timestamp_seconds{check="api"})"), 1700000001);
  EXPECT_EQ(Sample(text, R"(gatewatch_check_runs_total{check="api",result="failure",type="http"})"),
            2);
  EXPECT_EQ(
      Sample(text, R"(gatewatch_check_failures_total{check="api",reason="http_502",type="http"})"),
      2);
  EXPECT_EQ(Sample(text, R"(gatewatch_check_skipped_total{check="api"})"), 1);
}

TEST(CheckSeriesStoreTest, ReloadKeepsUnchangedChecksAndDropsRemovedOrChangedOnes) {
  CheckSeriesStore store;
  CheckSpec kept = Spec("kept"), removed = Spec("removed"), relabelled = Spec("relabelled"),
            retyped = Spec("retyped");
  store.SetChecks({&kept, &removed, &relabelled, &retyped});
  for (const CheckSpec* s : {&kept, &removed, &relabelled, &retyped}) {
    Result r = WithObservations({{&kCounter1, {"2xx"}, 1}});
    r.report = {{"status", "200"}};
    store.OnResult(*s, r, 1);
  }
  CheckSpec relabelled2 = Spec("relabelled", "http", {{"team", "core"}});
  CheckSpec retyped2 = Spec("retyped", "dns");
  CheckSpec added = Spec("added");
  store.SetChecks({&retyped2, &added, &kept, &relabelled2});

  std::string text = Render(store);
  EXPECT_EQ(text.find("check=\"removed\""), std::string::npos) << text;
  EXPECT_EQ(Sample(text, R"(gatewatch_t_total{check="kept",code="2xx"})"), 1) << text;
  EXPECT_EQ(Sample(text, R"(gatewatch_check_success{check="kept",type="http"})"), 1);
  for (const char* fresh : {"relabelled", "retyped", "added"}) {
    std::string check = std::string("{check=\"") + fresh + "\"";
    EXPECT_EQ(Sample(text, "gatewatch_t_total" + check + ",code=\"2xx\"}"), -1) << fresh;
    EXPECT_EQ(text.find("gatewatch_check_success" + check), std::string::npos) << fresh;
    EXPECT_EQ(Sample(text, "gatewatch_check_skipped_total" + check + "}"), 0) << fresh;
  }
  EXPECT_EQ(Sample(text, R"(gatewatch_check_info{check="relabelled",team="core",type="http"})"), 1);
  EXPECT_EQ(Sample(text, R"(gatewatch_check_info{check="retyped",type="dns"})"), 1);

  // Status: sorted by name; a label change keeps the last result, a type change does not.
  nlohmann::json status = StatusJson(store);
  ASSERT_EQ(status.size(), 4u);
  std::vector<std::string> names;
  for (const auto& c : status) names.push_back(c["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"added", "kept", "relabelled", "retyped"}));
  EXPECT_EQ(status[1]["report"]["status"], "200");
  EXPECT_EQ(status[2]["success"], true);
  EXPECT_EQ(status[2]["report"]["status"], "200");
  EXPECT_TRUE(status[3]["success"].is_null());
  EXPECT_EQ(status[3]["type"], "dns");
}

TEST(CheckSeriesStoreTest, GaugesNotReportedAgainDisappearWithTheirEmptyFamily) {
  CheckSeriesStore store;
  CheckSpec spec = Spec("c");
  store.SetChecks({&spec});
  store.OnResult(spec,
                 WithObservations({{&kGauge2, {"eu", "a"}, 1},
                                   {&kGauge2, {"eu", "b"}, 1},
                                   {&kGauge0, {}, 3},
                                   {&kCounter1, {"2xx"}, 1}}),
                 1);
  store.OnResult(spec, WithObservations({{&kGauge2, {"eu", "b"}, 0}}), 2);
  std::string text = Render(store);
  EXPECT_EQ(Sample(text, R"(gatewatch_t_pair{addr="a",check="c",zone="eu"})"), -1) << text;
  EXPECT_EQ(Sample(text, R"(gatewatch_t_pair{addr="b",check="c",zone="eu"})"), 0);
  EXPECT_EQ(text.find("gatewatch_t_gauge"), std::string::npos) << "no HELP of an empty family";
  EXPECT_EQ(Sample(text, R"(gatewatch_t_total{check="c",code="2xx"})"), 1);
}

TEST(CheckSeriesStoreTest, StatusReportKeepsEveryFactWhateverItsLength) {
  CheckSeriesStore store;
  CheckSpec spec = Spec("c");
  Result r = Result::Failure(Reason::kConnectionRefused, "connect to 127.0.0.1:1 refused");
  std::string long_url = "http://example.test/" + std::string(300, 'x');
  r.report = {{"url", long_url}, {"empty", ""}, {"", "no key"}, {"status", "-"}};
  store.OnResult(spec, r, 5);
  nlohmann::json status = StatusJson(store);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0]["reason"], "connection_refused");
  EXPECT_EQ(status[0]["cause"], "upstream_down");
  EXPECT_EQ(status[0]["detail"], "connect to 127.0.0.1:1 refused");
  EXPECT_EQ(status[0]["report"],
            (nlohmann::json{{"url", long_url}, {"empty", ""}, {"", "no key"}, {"status", "-"}}));
  EXPECT_EQ(status[0]["last_run_timestamp_seconds"], 5);
}

// The one JSON shape of a result (/api/v1/status and `gatewatch probe --json`): exact keys, types
// and values, so a renamed or retyped key fails here before it breaks a consumer.
TEST(ResultJsonTest, PinsKeysTypesAndValues) {
  struct Case {
    const char* what;
    Result result;
    nlohmann::json want;
  };
  Result ok = Result::Success();
  ok.duration = std::chrono::milliseconds(1500);
  Result fail = Result::Failure(Reason::kHttp502, "502 from 127.0.0.1:8080");
  fail.duration = std::chrono::milliseconds(20);
  fail.report = {{"status", "502"}, {"url", "http://x/"}, {"status", "last wins"}, {"", ""}};
  Result refused = Result::Failure(Reason::kConnectionRefused, "connect() to 127.0.0.1:1 refused");
  refused.duration = std::chrono::milliseconds(1);
  std::vector<Case> cases = {
      {"success: reason none, empty report object",
       ok,
       {{"success", true},
        {"reason", "none"},
        {"cause", "none"},
        {"proxy_status_error", nullptr},
        {"proxy_status", nullptr},
        {"detail", ""},
        {"duration_seconds", 1.5},
        {"report", nlohmann::json::object()}}},
      {"failure: reason, cause, detail, every fact",
       fail,
       {{"success", false},
        {"reason", "http_502"},
        {"cause", "upstream_down"},
        {"proxy_status_error", nullptr},  // a relayed status is no RFC 9209 error
        {"proxy_status", nullptr},
        {"detail", "502 from 127.0.0.1:8080"},
        {"duration_seconds", 0.02},
        {"report", {{"status", "last wins"}, {"url", "http://x/"}, {"", ""}}}}},
      {"failure with an RFC 9209 name: the error type and the member gatewatch would send",
       refused,
       {{"success", false},
        {"reason", "connection_refused"},
        {"cause", "upstream_down"},
        {"proxy_status_error", "connection_refused"},
        {"proxy_status",
         "gatewatch; error=connection_refused; details=\"connect() to 127.0.0.1:1 refused\""},
        {"detail", "connect() to 127.0.0.1:1 refused"},
        {"duration_seconds", 0.001},
        {"report", nlohmann::json::object()}}},
  };
  for (const Case& c : cases) {
    nlohmann::json got = ResultJson(c.result);
    EXPECT_EQ(got, c.want) << c.what << "\n" << got.dump(2);
    EXPECT_TRUE(got["success"].is_boolean()) << c.what;
    EXPECT_TRUE(got["reason"].is_string()) << c.what;
    EXPECT_TRUE(got["cause"].is_string()) << c.what;
    EXPECT_TRUE(got["detail"].is_string()) << c.what;
    EXPECT_TRUE(got["duration_seconds"].is_number_float()) << c.what;
    EXPECT_TRUE(got["report"].is_object()) << c.what;
  }
}

// A status API entry is the result shape plus what names the check and when it ran.
TEST(ResultJsonTest, StatusEntryIsTheResultShapePlusNameTypeSkipsAndLastRun) {
  CheckSeriesStore store;
  CheckSpec spec = Spec("api");
  store.SetChecks({&spec});
  EXPECT_EQ(StatusJson(store),
            (nlohmann::json::array(
                {{{"name", "api"}, {"type", "http"}, {"skipped_total", 0}, {"success", nullptr}}})))
      << "before the first run";
  Result r = Result::Failure(Reason::kConnectionRefused, "refused");
  r.duration = std::chrono::milliseconds(250);
  r.report = {{"status", "-"}};
  store.OnResult(spec, r, 1700000000);
  store.OnSkipped(spec);
  nlohmann::json status = StatusJson(store);
  ASSERT_EQ(status.size(), 1u);
  nlohmann::json want = ResultJson(r);
  want["name"] = "api";
  want["type"] = "http";
  want["skipped_total"] = 1;
  want["last_run_timestamp_seconds"] = 1700000000.0;
  EXPECT_EQ(status[0], want) << status[0].dump(2);
}

// Scrapes and status reads on another thread while results and reloads arrive: every scrape sees
// a consistent record (runs of a check never go down), and nothing is lost. Under ASan it also
// catches a scrape reading a record a reload freed.
TEST(CheckSeriesStoreTest, ConcurrentScrapesWhileResultsArrive) {
  CheckSeriesStore store;
  std::vector<CheckSpec> specs;
  for (int i = 0; i < 20; ++i) specs.push_back(Spec("c" + std::to_string(i)));
  std::vector<const CheckSpec*> all;
  for (const auto& s : specs) all.push_back(&s);
  store.SetChecks(all);

  std::atomic<bool> done{false};
  std::atomic<int> scrapes{0};
  double last_seen = 0;
  bool went_down = false;
  std::thread scraper([&] {
    // Bounded in count; the loop below ends it early when the results are in.
    for (; scrapes.load() < 2000 && !done.load(); ++scrapes) {
      std::string text = Render(store);
      double runs =
          Sample(text, R"(gatewatch_check_runs_total{check="c0",result="success",type="http"})");
      if (runs < last_seen) went_down = true;
      last_seen = runs;
      (void)StatusJson(store);
    }
  });
  // Results start once the scraper is running, so the two overlap.
  while (scrapes.load() == 0) std::this_thread::yield();
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds; ++round) {
    for (const auto& s : specs) {
      store.OnResult(s,
                     WithObservations({{&kGauge2, {"eu", std::to_string(round % 3)}, 1},
                                       {&kCounter1, {"2xx"}, 1},
                                       {&kHist, {"edge"}, 0.5}}),
                     round);
    }
    // A reload now and then that drops and re-adds the last check.
    if (round % 50 == 25) {
      store.SetChecks(std::vector<const CheckSpec*>(all.begin(), all.end() - 1));
      store.SetChecks(all);
    }
  }
  done = true;
  scraper.join();
  EXPECT_FALSE(went_down);
  std::string text = Render(store);
  EXPECT_EQ(Sample(text, R"(gatewatch_check_runs_total{check="c0",result="success",type="http"})"),
            kRounds);
  EXPECT_EQ(Sample(text, R"(gatewatch_t_seconds_count{check="c0",side="edge"})"), kRounds);
  EXPECT_EQ(Sample(text, R"(gatewatch_t_pair{addr="1",check="c0",zone="eu"})"), 1) << text;
  EXPECT_EQ(Sample(text, R"(gatewatch_t_pair{addr="0",check="c0",zone="eu"})"), -1);
}

}  // namespace
}  // namespace gatewatch
