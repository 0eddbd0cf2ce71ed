// The Prometheus exporter: a golden /metrics (checked by promtool), series lifecycle across
// reloads, stale gauge removal, and every exported metric documented in docs/metrics.md.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "checks/check_types.h"
#include "checks/http_check.h"
#include "exporters/label_names.h"
#include "exporters/prometheus_exporter.h"
#include "tests/testlib/fake_clock.h"
#include "tests/testlib/metrics_text.h"

namespace gatewatch {
namespace {

using testing::Sample;

using std::chrono::milliseconds;

const std::string kGolden = std::string(GATEWATCH_SOURCE_DIR) + "/tests/golden/metrics.prom";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const MetricDesc* HttpDesc(std::string_view name) {
  for (const MetricDesc* d : HttpCheckType().metrics) {
    if (d->name == name) return d;
  }
  ADD_FAILURE() << "http check has no metric " << name;
  return nullptr;
}

CheckSpec Spec(const std::string& name, std::map<std::string, std::string> labels = {}) {
  CheckSpec s;
  s.name = name;
  s.type = "http";
  s.interval = std::chrono::seconds(10);
  s.timeout = std::chrono::seconds(5);
  s.labels = std::move(labels);
  return s;
}

Result HttpResult(int status, Reason reason, bool with_tls) {
  Result r = reason == Reason::kNone ? Result::Success() : Result::Failure(reason, "detail");
  r.duration = milliseconds(125);
  r.observations.push_back({HttpDesc("http_status_code"), {}, static_cast<double>(status)});
  r.observations.push_back({HttpDesc("http_responses_total"), {status == 502 ? "502" : "2xx"}, 1});
  r.observations.push_back({HttpDesc("http_phase_seconds"), {"connect"}, 0.001});
  if (with_tls) r.observations.push_back({HttpDesc("http_phase_seconds"), {"tls"}, 0.004});
  r.observations.push_back({HttpDesc("http_phase_seconds"), {"processing"}, 0.1});
  return r;
}

// A dns check's result with one series of each of its metrics, for the golden exposition.
Result DnsResult() {
  auto desc = [](std::string_view name) -> const MetricDesc* {
    RegisterBuiltinCheckTypes();
    for (const MetricDesc* d : CheckRegistry::Instance().Find("dns")->metrics) {
      if (d->name == name) return d;
    }
    ADD_FAILURE() << "dns check has no metric " << name;
    return nullptr;
  };
  Result r = Result::Failure(Reason::kDnsNotPropagated, "detail");
  r.duration = milliseconds(3);
  const std::string a = "10.0.0.53:53";
  r.observations = {{desc("dns_propagation_ratio"), {}, 0.5},
                    {desc("dns_resolver_up"), {a}, 1},
                    {desc("dns_resolver_match"), {a}, 0},
                    {desc("dns_resolver_rcode_total"), {a, "NOERROR"}, 1},
                    {desc("dns_answer_ttl_seconds"), {a}, 300},
                    {desc("dns_query_duration_seconds"), {a}, 0.002},
                    {desc("dns_soa_serial"), {a}, 2024010101}};
  return r;
}

class ExporterTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  PrometheusExporter exporter_{BuildInfo{"0.1.0", "abc123", "GNU 12.2.0"}, clock_};
};

TEST_F(ExporterTest, GoldenExpositionPassesPromtool) {
  CheckSpec api = Spec("api", {{"team", "edge"}});
  CheckSpec shop = Spec("shop");
  CheckSpec zone = Spec("zone");
  zone.type = "dns";
  exporter_.OnConfig({&api, &shop, &zone});
  exporter_.SetReloadResult(true);
  exporter_.OnResult(api, HttpResult(200, Reason::kNone, true));
  exporter_.OnResult(shop, HttpResult(502, Reason::kHttp502, false));
  exporter_.OnResult(zone, DnsResult());
  exporter_.OnSkipped(shop);
  exporter_.OnSchedulerLag(milliseconds(2));
  exporter_.OnSchedulerLag(milliseconds(30));
  exporter_.SetRunsInFlight(1);
  std::string text = exporter_.Render();

  if (std::getenv("GATEWATCH_UPDATE_GOLDEN") != nullptr) std::ofstream(kGolden) << text;
  EXPECT_EQ(text, ReadFile(kGolden))
      << "regenerate with GATEWATCH_UPDATE_GOLDEN=1 after checking the diff";

  if (access("/usr/bin/promtool", X_OK) != 0)
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  std::string cmd = "promtool check metrics < " + kGolden + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[1024];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_EQ(out, "") << "promtool found problems";
}

TEST_F(ExporterTest, RemovedCheckLosesEverySeriesAndKeptCheckKeepsItsCounters) {
  CheckSpec api = Spec("api"), old = Spec("old");
  exporter_.OnConfig({&api, &old});
  exporter_.OnResult(api, HttpResult(200, Reason::kNone, false));
  exporter_.OnResult(api, HttpResult(200, Reason::kNone, false));
  exporter_.OnResult(old, HttpResult(502, Reason::kHttp502, false));
  ASSERT_NE(exporter_.Render().find("check=\"old\""), std::string::npos);

  exporter_.OnConfig({&api});
  std::string text = exporter_.Render();
  EXPECT_EQ(text.find("check=\"old\""), std::string::npos) << text;
  EXPECT_EQ(Sample(text, R"(gatewatch_check_runs_total{check="api",result="success",type="http"})"),
            2);
  EXPECT_EQ(Sample(text, R"(gatewatch_http_responses_total{check="api",code="2xx"})"), 2);
}

TEST_F(ExporterTest, GaugesNotReportedAgainAreRemovedCountersStay) {
  CheckSpec api = Spec("api");
  exporter_.OnConfig({&api});
  exporter_.OnResult(api, HttpResult(200, Reason::kNone, true));
  ASSERT_EQ(Sample(exporter_.Render(), R"(gatewatch_http_phase_seconds{check="api",phase="tls"})"),
            0.004);
  exporter_.OnResult(api, HttpResult(502, Reason::kHttp502, false));
  std::string text = exporter_.Render();
  EXPECT_EQ(Sample(text, R"(gatewatch_http_phase_seconds{check="api",phase="tls"})"), -1) << text;
  EXPECT_EQ(Sample(text, R"(gatewatch_http_responses_total{check="api",code="2xx"})"), 1);
  EXPECT_EQ(Sample(text, R"(gatewatch_http_responses_total{check="api",code="502"})"), 1);
  EXPECT_EQ(
      Sample(text, R"(gatewatch_check_failures_total{check="api",reason="http_502",type="http"})"),
      1);
  EXPECT_EQ(Sample(text, R"(gatewatch_check_success{check="api",type="http"})"), 0);
}

TEST_F(ExporterTest, ACheckThatHasNotRunYetDoesNotLookFailing) {
  CheckSpec api = Spec("api");
  exporter_.OnConfig({&api});
  std::string text = exporter_.Render();
  EXPECT_EQ(Sample(text, R"(gatewatch_check_success{check="api",type="http"})"), -1) << text;
  EXPECT_EQ(Sample(text, R"(gatewatch_check_runs_total{check="api",result="failure",type="http"})"),
            0);
  exporter_.OnResult(api, HttpResult(200, Reason::kNone, false));
  EXPECT_EQ(Sample(exporter_.Render(), R"(gatewatch_check_success{check="api",type="http"})"), 1);
}

TEST_F(ExporterTest, ChangedLabelsRecreateTheInfoSeries) {
  CheckSpec v1 = Spec("api", {{"team", "edge"}});
  exporter_.OnConfig({&v1});
  CheckSpec v2 = Spec("api", {{"team", "core"}});
  exporter_.OnConfig({&v2});
  std::string text = exporter_.Render();
  EXPECT_EQ(Sample(text, R"(gatewatch_check_info{check="api",team="core",type="http"})"), 1);
  EXPECT_EQ(text.find("team=\"edge\""), std::string::npos);
}

TEST_F(ExporterTest, StatusCarriesReasonCauseAndReport) {
  CheckSpec api = Spec("api");
  exporter_.OnConfig({&api});
  Result r = HttpResult(502, Reason::kHttp502, false);
  r.report = {{"status", "502"}};
  exporter_.OnResult(api, r);
  nlohmann::json status = exporter_.StatusJson();
  ASSERT_EQ(status["checks"].size(), 1u);
  EXPECT_EQ(status["checks"][0]["reason"], "http_502");
  EXPECT_EQ(status["checks"][0]["cause"], "upstream_down");
  EXPECT_EQ(status["checks"][0]["report"]["status"], "502");
  EXPECT_EQ(status["checks"][0]["success"], false);

  AlertSpec alert;
  alert.name = "High502Rate";
  alert.severity = "page";
  exporter_.OnAlertsConfigured({alert});
  exporter_.OnAlertVerdict(alert, "verdict: upstream_down (bad_gateway)");
  exporter_.OnAlertState(alert, true, 0.4, 0.05, "http_502");
  status = exporter_.StatusJson();
  ASSERT_EQ(status["alerts"].size(), 1u);
  EXPECT_EQ(status["alerts"][0]["state"], "firing");
  EXPECT_EQ(status["alerts"][0]["reason"], "http_502");
  EXPECT_EQ(status["alerts"][0]["verdict"], "verdict: upstream_down (bad_gateway)");
  exporter_.OnAlertVerdict(alert, "");
  exporter_.OnAlertState(alert, false, 0.01, 0.05, "none");
  EXPECT_EQ(exporter_.StatusJson()["alerts"][0]["verdict"], "");
}

TEST_F(ExporterTest, PreBucketedHistogramBatchEqualsObservingEachValue) {
  static const MetricDesc kLatency{
      "test_latency_seconds", MetricKind::kHistogram, "Test.", {}, {0.1, 1}};
  const std::vector<double> values = {0.05, 0.1, 0.5, 0.7, 3};
  Result batch = Result::Success();
  Observation obs{&kLatency, {}, 0};
  for (double v : values) {
    AddToBuckets(kLatency, v, &obs.bucket_counts);
    obs.value += v;
  }
  EXPECT_EQ(obs.bucket_counts, (std::vector<double>{2, 2, 1}));  // <=0.1, <=1, +Inf
  batch.observations.push_back(obs);
  Result single = Result::Success();
  for (double v : values) single.observations.push_back({&kLatency, {}, v});

  CheckSpec a = Spec("a"), b = Spec("b");
  exporter_.OnConfig({&a, &b});
  exporter_.OnResult(a, batch);
  exporter_.OnResult(b, single);
  // A second batch adds to the first: the histogram stays cumulative.
  exporter_.OnResult(a, batch);
  exporter_.OnResult(b, single);
  std::string text = exporter_.Render();
  for (const char* suffix :
       {"_bucket{check=\"%s\",le=\"0.1\"}", "_bucket{check=\"%s\",le=\"1\"}",
        "_bucket{check=\"%s\",le=\"+Inf\"}", "_count{check=\"%s\"}", "_sum{check=\"%s\"}"}) {
    char sa[128], sb[128];
    std::snprintf(sa, sizeof sa, suffix, "a");
    std::snprintf(sb, sizeof sb, suffix, "b");
    double va = Sample(text, std::string("gatewatch_test_latency_seconds") + sa);
    EXPECT_GT(va, 0) << sa << "\n" << text;
    EXPECT_DOUBLE_EQ(va, Sample(text, std::string("gatewatch_test_latency_seconds") + sb)) << sa;
  }
  EXPECT_EQ(Sample(text, R"(gatewatch_test_latency_seconds_bucket{check="a",le="1"})"), 8);
  EXPECT_EQ(Sample(text, R"(gatewatch_test_latency_seconds_count{check="a"})"), 10);
}

// The label names of every sample line of an exposition.
std::set<std::string> RenderedLabelNames(const std::string& text) {
  std::set<std::string> names;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t at = line.find('{');
    if (at == std::string::npos) continue;
    ++at;
    while (at < line.size() && line[at] != '}') {
      size_t eq = line.find("=\"", at);
      if (eq == std::string::npos) break;
      names.insert(line.substr(at, eq - at));
      at = eq + 2;
      while (at < line.size() && line[at] != '"') at += line[at] == '\\' ? 2 : 1;
      at += 1;  // the closing quote
      if (at < line.size() && line[at] == ',') ++at;
    }
  }
  return names;
}

// ExporterLabelNames() (what the config reserves beside the check types' labels) must list every
// label the exporter renders that no MetricDesc declares.
TEST(ExporterLabelNamesTest, EveryRenderedLabelIsDeclared) {
  FakeClock clock;
  PrometheusExporter exporter(BuildInfo{"v", "r", "c"}, clock, Placement{"1/2", "eu-west"});
  CheckSpec api = Spec("api", {{"team", "edge"}});
  CheckSpec zone = Spec("zone");
  zone.type = "dns";
  exporter.OnConfig({&api, &zone});
  exporter.OnResult(api, HttpResult(502, Reason::kHttp502, true));
  exporter.OnResult(zone, DnsResult());
  exporter.OnSkipped(api);
  exporter.OnSchedulerLag(milliseconds(1));
  AlertSpec alert;
  alert.name = "High502Rate";
  alert.severity = "page";
  exporter.OnAlertsConfigured({alert});
  exporter.OnAlertState(alert, true, 0.5, 0.05, "http_502");
  std::set<std::string> rendered = RenderedLabelNames(exporter.Render());

  std::set<std::string> declared = {"team"};  // api's config label, on gatewatch_check_info
  for (std::string_view name : ExporterLabelNames()) declared.emplace(name);
  RegisterBuiltinCheckTypes();
  for (const MetricDesc* d : CheckRegistry::Instance().AllMetrics()) {
    for (std::string_view name : d->labels) declared.emplace(name);
  }
  for (const std::string& name : rendered) {
    EXPECT_TRUE(declared.contains(name)) << "label \"" << name << "\" is rendered but neither a "
                                         << "MetricDesc nor ExporterLabelNames() declares it";
  }
  // Not vacuous: the exporter's own labels of each kind of series were seen.
  for (const char* name : {"check", "type", "result", "reason", "le", "alert", "severity",
                           "version", "shard", "location", "phase", "resolver", "rcode"}) {
    EXPECT_TRUE(rendered.contains(name)) << name;
  }
}

TEST(MetricsDocTest, EveryExportedMetricIsDocumented) {
  std::string doc = ReadFile(std::string(GATEWATCH_SOURCE_DIR) + "/docs/metrics.md");
  ASSERT_FALSE(doc.empty());
  std::set<std::string> names;
  // The exporter's own families (prometheus-cpp renders only families with a series: give each
  // one)...
  FakeClock clock;
  PrometheusExporter exporter(BuildInfo{"v", "r", "c"}, clock);
  CheckSpec api = Spec("api");
  exporter.OnConfig({&api});
  exporter.OnResult(api, HttpResult(502, Reason::kHttp502, false));
  exporter.OnSchedulerLag(milliseconds(1));
  AlertSpec alert;
  alert.name = "High502Rate";
  exporter.OnAlertsConfigured({alert});
  exporter.OnAlertState(alert, true, 0.5, 0.05, "connection_refused");
  std::istringstream in(exporter.Render());
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) == 0) names.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  EXPECT_GT(names.size(), 18u);
  // ...and every metric of every check type.
  RegisterBuiltinCheckTypes();
  for (const MetricDesc* d : CheckRegistry::Instance().AllMetrics())
    names.insert("gatewatch_" + std::string(d->name));
  for (const auto& name : names) {
    EXPECT_NE(doc.find("`" + name + "`"), std::string::npos)
        << name << " is missing from docs/metrics.md";
  }
}

}  // namespace
}  // namespace gatewatch
