// Config loading: every rule with its exact message, so an operator reading the error knows the
// path and what to change. The generic rules use a fake check type, so they do not depend on what
// the http type requires; a few cases use the real http type (RegisterBuiltinCheckTypes()).
#include "agent/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "checks/check_types.h"
#include "exporters/label_names.h"
#include "tests/testlib/config_error.h"

namespace gatewatch {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// A check type whose factory reads one optional key, `value` (an integer 0..100).
class FakeCheck : public Check {
 public:
  FakeCheck(CheckSpec spec, int64_t value) : Check(std::move(spec)), value_(value) {}
  int64_t value() const { return value_; }
  std::unique_ptr<CheckRun> Start(const RunContext&, DoneCallback done) const override {
    done(Result::Success());
    return nullptr;
  }

 private:
  int64_t value_;
};

// Registered before main(), so every test sees the same registry: fake and http.
const bool kFakeRegistered = CheckRegistry::Instance().Register(CheckType{
    .name = "fake",
    .factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
      return std::make_unique<FakeCheck>(spec, node.IntOr("value", 0, 0, 100));
    },
    .metrics = {},
});

int64_t FakeValue(const ScheduledCheck& entry) {
  return dynamic_cast<const FakeCheck&>(*entry.check).value();
}

std::string ErrorOf(const std::string& yaml) { return testing::ConfigErrorOf(yaml); }

// ----- ParseConfig: one case per rule ------------------------------------------------------------

struct ErrorCase {
  const char* name;
  const char* yaml;
  const char* error;
};

// Shown by gtest instead of the struct's bytes.
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, NamesThePathAndTheRule) {
  ASSERT_TRUE(kFakeRegistered);
  EXPECT_EQ(ErrorOf(GetParam().yaml), GetParam().error) << GetParam().yaml;
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ConfigErrorTest,
    ::testing::Values(
        // The document.
        ErrorCase{"YamlSyntax", "checks: [\n", "test.yml:2:1: end of sequence flow not found"},
        ErrorCase{"YamlSyntaxLaterLine", "checks:\n  - {name: a\n  type: fake}\n",
                  "test.yml:3:7: end of map flow not found"},
        ErrorCase{"NotAMap", "- a\n- b\n", "test.yml: the config must be a map with a checks list"},
        ErrorCase{"ScalarDocument", "hello\n",
                  "test.yml: the config must be a map with a checks list"},
        ErrorCase{"UnknownTopLevelKey", "bogus: 1\n", "bogus: unknown key"},
        ErrorCase{"UnknownTopLevelKeyNearAKnownOne", "chekcs: []\n",
                  "chekcs: unknown key (did you mean \"checks\"?)"},
        ErrorCase{"ChecksNotAList", "checks: {name: a}\n", "checks: must be a list"},

        // defaults and scheduler.
        ErrorCase{"DefaultsNotAMap", "defaults: 10s\n", "defaults: must be a map"},
        ErrorCase{"DefaultsIntervalGarbage", "defaults: {interval: abc}\n",
                  "defaults.interval: must be a duration like 500ms, 30s or 5m (got \"abc\")"},
        ErrorCase{"DefaultsIntervalZero", "defaults: {interval: 0s}\n",
                  "defaults.interval: must be at least 100ms"},
        ErrorCase{"DefaultsTimeoutZero", "defaults: {timeout: 0s}\n",
                  "defaults.timeout: must be greater than 0"},
        ErrorCase{"DefaultsTimeoutNotBelowDefaultsInterval",
                  "defaults: {interval: 1m, timeout: 1m30s}\n",
                  "defaults.timeout: must be less than interval (1m)"},
        ErrorCase{"UnknownKeyInDefaults", "defaults: {intervall: 1s}\n",
                  "defaults.intervall: unknown key (did you mean \"interval\"?)"},
        ErrorCase{"MaxInFlightZero", "scheduler: {max_in_flight: 0}\n",
                  "scheduler.max_in_flight: must be an integer between 1 and 1000000 (got \"0\")"},
        ErrorCase{"MaxInFlightTooLarge", "scheduler: {max_in_flight: 1000001}\n",
                  "scheduler.max_in_flight: must be an integer between 1 and 1000000 (got "
                  "\"1000001\")"},
        ErrorCase{"MaxInFlightNotANumber", "scheduler: {max_in_flight: many}\n",
                  "scheduler.max_in_flight: must be an integer between 1 and 1000000 (got "
                  "\"many\")"},
        ErrorCase{"CoalesceTooLong", "scheduler: {coalesce: 150ms}\n",
                  "scheduler.coalesce: must be at most 100ms"},
        ErrorCase{"CoalesceNotADuration", "scheduler: {coalesce: 10}\n",
                  "scheduler.coalesce: must be a duration like 500ms, 30s or 5m (got \"10\")"},
        ErrorCase{"UnknownKeyInScheduler", "scheduler: {max_inflight: 5}\n",
                  "scheduler.max_inflight: unknown key (did you mean \"max_in_flight\"?)"},
        ErrorCase{"HistoryRunsZero", "history: {runs: 0}\n",
                  "history.runs: must be an integer between 1 and 10000 (got \"0\")"},
        ErrorCase{"HistoryFailuresTooMany", "history: {failures: 1001}\n",
                  "history.failures: must be an integer between 0 and 1000 (got \"1001\")"},
        ErrorCase{"HistoryNotAMap", "history: 100\n", "history: must be a map"},
        ErrorCase{"HistoryEvidenceTooLarge", "history: {evidence_bytes: 2MiB}\n",
                  "history.evidence_bytes: must be at most 1MiB"},
        ErrorCase{"UnknownKeyInHistory", "history: {run: 5}\n",
                  "history.run: unknown key (did you mean \"runs\"?)"},

        // Common check keys.
        ErrorCase{"CheckNotAMap", "checks:\n  - just-a-string\n", "checks[0]: must be a map"},
        ErrorCase{"NameMissing", "checks:\n  - {type: fake}\n", "checks[0].name: is required"},
        ErrorCase{"NameNotAString", "checks:\n  - {name: [a], type: fake}\n",
                  "checks[0].name: must be a string"},
        ErrorCase{"NameInvalid", "checks:\n  - {name: 'a b', type: fake}\n",
                  "checks[0].name: must match [a-zA-Z0-9_.-]{1,128} (got \"a b\")"},
        ErrorCase{"NameDuplicate",
                  "checks:\n  - {name: api, type: fake}\n  - {name: x, type: fake}\n"
                  "  - {name: y, type: fake}\n  - {name: api, type: fake}\n",
                  "checks[3].name: duplicate check name \"api\" (first at checks[0])"},
        ErrorCase{"TypeMissing", "checks:\n  - {name: a}\n", "checks[0].type: is required"},
        ErrorCase{"TypeUnknown", "checks:\n  - {name: a, type: ftp}\n",
                  "checks[0].type: unknown check type \"ftp\" (known: cdn_origin, dns, fake, "
                  "fastcgi, grpc, host, http, nginx, proxy_log, tcp)"},
        ErrorCase{"DurationGarbage", "checks:\n  - {name: a, type: fake, interval: soon}\n",
                  "checks[0].interval: must be a duration like 500ms, 30s or 5m (got \"soon\")"},
        ErrorCase{"DurationBareNumber", "checks:\n  - {name: a, type: fake, timeout: 5}\n",
                  "checks[0].timeout: must be a duration like 500ms, 30s or 5m (got \"5\")"},
        ErrorCase{"IntervalTooShort",
                  "checks:\n  - {name: a, type: fake, interval: 50ms, timeout: 10ms}\n",
                  "checks[0].interval: must be at least 100ms"},
        ErrorCase{"TimeoutZero", "checks:\n  - {name: a, type: fake, timeout: 0s}\n",
                  "checks[0].timeout: must be greater than 0"},
        ErrorCase{"TimeoutNotBelowInterval",
                  "checks:\n  - {name: a, type: fake}\n  - {name: b, type: fake}\n"
                  "  - {name: c, type: fake, interval: 10s, timeout: 10s}\n",
                  "checks[2].timeout: must be less than interval (10s)"},
        ErrorCase{"DefaultTimeoutNotBelowCheckInterval",
                  "defaults: {timeout: 10s}\nchecks:\n  - {name: a, type: fake, interval: 5s}\n",
                  "checks[0].timeout: must be less than interval (5s)"},
        ErrorCase{"CheckTimeoutNotBelowDefaultInterval",
                  "defaults: {interval: 90s}\nchecks:\n  - {name: a, type: fake, timeout: 2m}\n",
                  "checks[0].timeout: must be less than interval (1m30s)"},

        // Labels.
        ErrorCase{"LabelsNotAMap", "checks:\n  - {name: a, type: fake, labels: [a]}\n",
                  "checks[0].labels: must be a map"},
        ErrorCase{"LabelReserved", "checks:\n  - {name: a, type: fake, labels: {check: x}}\n",
                  "checks[0].labels.check: label name is reserved"},
        // Label values leave the process on every scrape: valid UTF-8 of bounded size only.
        ErrorCase{"LabelValueNotUtf8",
                  "checks:\n  - {name: a, type: fake, labels: {team: x\xff}}\n",
                  "checks[0].labels.team: label value must be valid UTF-8"},
        ErrorCase{"LabelValueTooLong",
                  "checks:\n  - {name: a, type: fake, labels: {team: "
                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                  "xxxxxxxxxxxxxxxxxxxxxxxxxx}}\n",  // 257 bytes
                  "checks[0].labels.team: label value longer than 256 bytes"},
        ErrorCase{"LabelReservedInstance",
                  "checks:\n  - {name: a, type: fake, labels: {team: x, instance: y}}\n",
                  "checks[0].labels.instance: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_kind", "checks:\n  - {name: a, type: fake, labels: {kind: x}}\n",
                  "checks[0].labels.kind: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_log", "checks:\n  - {name: a, type: fake, labels: {log: x}}\n",
                  "checks[0].labels.log: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_mode", "checks:\n  - {name: a, type: fake, labels: {mode: x}}\n",
                  "checks[0].labels.mode: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_rcode", "checks:\n  - {name: a, type: fake, labels: {rcode: x}}\n",
                  "checks[0].labels.rcode: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_resource",
                  "checks:\n  - {name: a, type: fake, labels: {resource: x}}\n",
                  "checks[0].labels.resource: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_state", "checks:\n  - {name: a, type: fake, labels: {state: x}}\n",
                  "checks[0].labels.state: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_window",
                  "checks:\n  - {name: a, type: fake, labels: {window: x}}\n",
                  "checks[0].labels.window: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_version",
                  "checks:\n  - {name: a, type: fake, labels: {version: x}}\n",
                  "checks[0].labels.version: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_revision",
                  "checks:\n  - {name: a, type: fake, labels: {revision: x}}\n",
                  "checks[0].labels.revision: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_compiler",
                  "checks:\n  - {name: a, type: fake, labels: {compiler: x}}\n",
                  "checks[0].labels.compiler: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_shard", "checks:\n  - {name: a, type: fake, labels: {shard: x}}\n",
                  "checks[0].labels.shard: label name is reserved"},
        // Newly reserved: declared by a check type or put on a series by the exporter.
        ErrorCase{"LabelReserved_location",
                  "checks:\n  - {name: a, type: fake, labels: {location: x}}\n",
                  "checks[0].labels.location: label name is reserved"},
        ErrorCase{"LabelDoubleUnderscore", "checks:\n  - {name: a, type: fake, labels: {__x: y}}\n",
                  "checks[0].labels.__x: label names starting with __ are reserved"},
        ErrorCase{
            "LabelInvalid", "checks:\n  - {name: a, type: fake, labels: {team-name: y}}\n",
            "checks[0].labels.team-name: invalid label name (must match [a-zA-Z_][a-zA-Z0-9_]*)"},
        ErrorCase{"LabelStartsWithDigit", "checks:\n  - {name: a, type: fake, labels: {1x: y}}\n",
                  "checks[0].labels.1x: invalid label name (must match [a-zA-Z_][a-zA-Z0-9_]*)"},
        ErrorCase{"LabelValueNotString",
                  "checks:\n  - {name: a, type: fake, labels: {team: [a]}}\n",
                  "checks[0].labels.team: must be a string"},
        ErrorCase{"LabelDuplicate",
                  "checks:\n  - {name: a, type: fake, labels: {team: a, team: b}}\n",
                  "checks[0].labels.team: duplicate key"},

        // Keys of the type, and keys nobody reads.
        ErrorCase{"FactoryErrorCarriesItsPath",
                  "checks:\n  - {name: a, type: fake}\n  - {name: b, type: fake, value: lots}\n",
                  "checks[1].value: must be an integer between 0 and 100 (got \"lots\")"},
        ErrorCase{"UnknownKeyInCheck", "checks:\n  - {name: a, type: fake, timout: 1s}\n",
                  "checks[0].timout: unknown key (did you mean \"timeout\"?)"},
        ErrorCase{"UnknownKeyNearAFactoryKey", "checks:\n  - {name: a, type: fake, valeu: 1}\n",
                  "checks[0].valeu: unknown key (did you mean \"value\"?)"},
        ErrorCase{"UnknownKeyFarFromAnyKnown", "checks:\n  - {name: a, type: fake, zzzzzz: 1}\n",
                  "checks[0].zzzzzz: unknown key"},
        ErrorCase{"DuplicateKey", "checks:\n  - {name: a, type: fake, timeout: 1s, timeout: 2s}\n",
                  "checks[0].timeout: duplicate key"},
        ErrorCase{"HttpCheckErrorsCarryTheirPath",
                  "checks:\n  - {name: a, type: http, url: 'ftp://x/'}\n",
                  "checks[0].url: must be an http or https URL"},
        // A typo of a required key is named before (with) the "required" error it explains.
        ErrorCase{"RequiredKeyTypo", "checks:\n  - {name: a, type: http, urll: 'http://x/'}\n",
                  "checks[0].urll: unknown key (did you mean \"url\"?)\n"
                  "checks[0].url: is required"},
        ErrorCase{"RequiredNameTypo", "checks:\n  - {nme: a, type: fake}\n",
                  "checks[0].nme: unknown key (did you mean \"name\"?)\n"
                  "checks[0].name: is required"},
        ErrorCase{"RequiredWithoutTypo", "checks:\n  - {name: a, type: http, zzzz: 1}\n",
                  "checks[0].url: is required"},
        // Every check's error at once (one line each), and a bad section beside them.
        ErrorCase{"EveryCheckErrorAtOnce",
                  "scheduler: {max_inflight: 5}\nchecks:\n  - {name: a, type: fake, value: lots}\n"
                  "  - {name: b, type: fake}\n  - {name: c, type: fake, timout: 1s}\n",
                  "scheduler.max_inflight: unknown key (did you mean \"max_in_flight\"?)\n"
                  "checks[0].value: must be an integer between 0 and 100 (got \"lots\")\n"
                  "checks[2].timout: unknown key (did you mean \"timeout\"?)"},
        ErrorCase{"HttpUnknownKey",
                  "checks:\n  - {name: a, type: http, url: 'http://127.0.0.1:1/', value: 1}\n",
                  "checks[0].value: unknown key"},
        // fastcgi's pool status (issue 20).
        ErrorCase{"FastcgiStatusPathWithPath",
                  "checks:\n  - {name: a, type: fastcgi, address: '127.0.0.1:9000', path: /ping, "
                  "status_path: /status}\n",
                  "checks[0].status_path: cannot be combined with path (one request per run; the "
                  "status reply shows the pool answers)"},
        ErrorCase{"FastcgiStatusPathRelative",
                  "checks:\n  - {name: a, type: fastcgi, address: '127.0.0.1:9000', "
                  "status_path: status}\n",
                  "checks[0].status_path: must start with /"},
        ErrorCase{"FastcgiThresholdWithoutStatusPath",
                  "checks:\n  - {name: a, type: fastcgi, address: '127.0.0.1:9000', "
                  "max_listen_queue: 5}\n",
                  "checks[0].max_listen_queue: needs status_path"},
        ErrorCase{"FastcgiMaxListenQueueNegative",
                  "checks:\n  - {name: a, type: fastcgi, address: '127.0.0.1:9000', "
                  "status_path: /status, max_listen_queue: -1}\n",
                  "checks[0].max_listen_queue: must be an integer between 0 and 1073741824 (got "
                  "\"-1\")"},
        ErrorCase{"FastcgiStatusQueryWithoutJson",
                  "checks:\n  - {name: a, type: fastcgi, address: '127.0.0.1:9000', "
                  "status_path: /status, query: full}\n",
                  "checks[0].query: must ask for json with status_path (e.g. \"json\" or "
                  "\"json&full\")"}),
    [](const auto& info) { return std::string(info.param.name); });

// The reserved label names are derived, not listed: every label a check type's MetricDesc
// declares, every label the exporter renders itself and Prometheus' target labels are refused as
// a check's config label. Fails when a new MetricDesc label would not be reserved.
TEST(ConfigTest, EveryDeclaredLabelNameIsReserved) {
  RegisterBuiltinCheckTypes();
  std::set<std::string> names;
  for (const MetricDesc* desc : CheckRegistry::Instance().AllMetrics()) {
    for (std::string_view name : desc->labels) names.emplace(name);
  }
  EXPECT_GT(names.size(), 15u) << "the built-in check types declare labels";
  for (std::string_view name : ExporterLabelNames()) names.emplace(name);
  for (std::string_view name : PrometheusTargetLabelNames()) names.emplace(name);
  for (const std::string& name : names) {
    EXPECT_EQ(ErrorOf("checks:\n  - {name: a, type: fake, labels: {" + name + ": x}}\n"),
              "checks[0].labels." + name + ": label name is reserved");
  }
  // Other names stay free.
  EXPECT_EQ(ErrorOf("checks:\n  - {name: a, type: fake, labels: {team: x, tier: y}}\n"),
            "(no error)");
}

// ----- ParseConfig: valid documents --------------------------------------------------------------

TEST(ConfigTest, ValidConfigIsTypedWithDefaultsApplied) {
  Config c = ParseConfig(R"(
defaults: {interval: 20s, timeout: 3s}
scheduler: {max_in_flight: 50, coalesce: 0}
checks:
  - name: api
    type: fake
    labels: {team: edge, tier: "1"}
  - name: web.front_1
    type: fake
    interval: 1m30s
    timeout: 500ms
    value: 42
  - name: real-http
    type: http
    url: http://127.0.0.1:8080/healthz
)",
                         "test.yml");
  EXPECT_EQ(c.source, "test.yml");
  EXPECT_EQ(c.default_interval, seconds(20));
  EXPECT_EQ(c.default_timeout, seconds(3));
  EXPECT_EQ(c.scheduler.max_in_flight, 50u);
  EXPECT_EQ(c.scheduler.coalesce, Duration::zero());
  ASSERT_EQ(c.checks.size(), 3u);
  const CheckSpec& api = c.checks[0].check->spec();
  EXPECT_EQ(api.name, "api");
  EXPECT_EQ(api.type, "fake");
  EXPECT_EQ(api.interval, seconds(20));
  EXPECT_EQ(api.timeout, seconds(3));
  EXPECT_EQ(api.labels, (std::map<std::string, std::string>{{"team", "edge"}, {"tier", "1"}}));
  EXPECT_EQ(FakeValue(c.checks[0]), 0);
  const CheckSpec& web = c.checks[1].check->spec();
  EXPECT_EQ(web.interval, seconds(90));
  EXPECT_EQ(web.timeout, milliseconds(500));
  EXPECT_TRUE(web.labels.empty());
  EXPECT_EQ(FakeValue(c.checks[1]), 42);
  EXPECT_EQ(c.checks[2].check->spec().type, "http");
}

TEST(ConfigTest, BuiltInDefaultsWhenNothingIsSet) {
  Config c = ParseConfig("checks:\n  - {name: a, type: fake}\n", "test.yml");
  EXPECT_EQ(c.default_interval, seconds(30));
  EXPECT_EQ(c.default_timeout, seconds(10));
  EXPECT_EQ(c.scheduler.max_in_flight, 1000u);
  EXPECT_EQ(c.scheduler.coalesce, milliseconds(50));
  EXPECT_EQ(c.history.runs, 100u);
  EXPECT_EQ(c.history.failures, 20u);
  EXPECT_EQ(c.history.changes, 20u);
  EXPECT_EQ(c.history.evidence_bytes, 6u * 1024);
  ASSERT_EQ(c.checks.size(), 1u);
  EXPECT_EQ(c.checks[0].check->spec().interval, seconds(30));
  EXPECT_EQ(c.checks[0].check->spec().timeout, seconds(10));
}

TEST(ConfigTest, JsonIsAccepted) {
  Config c = ParseConfig(
      R"({"defaults": {"interval": "10s", "timeout": "2s"},
          "scheduler": {"max_in_flight": 7},
          "checks": [{"name": "api", "type": "fake", "value": 9, "labels": {"team": "edge"}},
                     {"name": "web", "type": "http", "url": "http://127.0.0.1:1/"}]})",
      "test.json");
  ASSERT_EQ(c.checks.size(), 2u);
  EXPECT_EQ(c.scheduler.max_in_flight, 7u);
  EXPECT_EQ(c.checks[0].check->spec().interval, seconds(10));
  EXPECT_EQ(c.checks[0].check->spec().timeout, seconds(2));
  EXPECT_EQ(c.checks[0].check->spec().labels.at("team"), "edge");
  EXPECT_EQ(FakeValue(c.checks[0]), 9);
}

TEST(ConfigTest, EmptyOrAbsentChecksMeanNoChecks) {
  EXPECT_TRUE(ParseConfig("", "empty.yml").checks.empty());
  EXPECT_TRUE(ParseConfig("checks: []\n", "empty.yml").checks.empty());
  EXPECT_TRUE(ParseConfig("checks:\n", "empty.yml").checks.empty());
  EXPECT_TRUE(ParseConfig("defaults: {interval: 1m}\n", "empty.yml").checks.empty());
}

TEST(ConfigTest, FingerprintChangesWithSettingsButNotKeyOrder) {
  auto fp = [](const std::string& yaml) { return ParseConfig(yaml, "t").checks.at(0).fingerprint; };
  std::string a = fp("checks:\n  - {name: a, type: fake, value: 1, labels: {x: '1', y: '2'}}\n");
  EXPECT_EQ(a, fp("checks:\n  - {labels: {y: '2', x: '1'}, value: 1, type: fake, name: a}\n"));
  EXPECT_EQ(a, fp("checks:\n  - name: a\n    type: fake\n    value: 1\n    labels:\n"
                  "      x: '1'\n      y: '2'\n"));
  EXPECT_NE(a, fp("checks:\n  - {name: a, type: fake, value: 2, labels: {x: '1', y: '2'}}\n"));
  EXPECT_NE(a, fp("checks:\n  - {name: a, type: fake, value: 1, labels: {x: '1', y: '3'}}\n"));
  EXPECT_NE(a, fp("defaults: {interval: 1m}\nchecks:\n"
                  "  - {name: a, type: fake, value: 1, labels: {x: '1', y: '2'}}\n"))
      << "a change of defaults must restart the checks that inherit it";
  EXPECT_NE(a, fp("defaults: {timeout: 5s}\nchecks:\n"
                  "  - {name: a, type: fake, value: 1, labels: {x: '1', y: '2'}}\n"));
}

// An edit of a top-level resolver list restarts only the checks that name that list: host and
// http checks (their state, e.g. disk figures, survives) and dns checks with their own servers
// keep their fingerprint.
TEST(ConfigTest, ResolverListEditRestartsOnlyTheChecksNamingThatList) {
  auto fps = [](const std::string& lists) {
    Config c = ParseConfig(
        "resolvers: {" + lists +
            "}\n"
            "checks:\n"
            "  - {name: h, type: host}\n"
            "  - {name: w, type: http, url: 'http://127.0.0.1/'}\n"
            "  - {name: own, type: dns, query: {name: www.example.test}, resolvers: "
            "['127.0.0.1']}\n"
            "  - {name: pub, type: dns, query: {name: www.example.test}, resolvers: public}\n",
        "t");
    std::vector<std::string> out;
    for (const auto& e : c.checks) out.push_back(e.fingerprint);
    return out;
  };
  auto before = fps("public: ['10.0.0.1'], other: ['10.0.0.2']");
  auto other_edited = fps("public: ['10.0.0.1'], other: ['10.0.0.3']");
  auto public_edited = fps("public: ['10.0.0.1', '10.0.0.4'], other: ['10.0.0.2']");
  ASSERT_EQ(before.size(), 4u);
  EXPECT_EQ(other_edited, before) << "no check names `other`";
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(public_edited[i], before[i]) << "check " << i;
  EXPECT_NE(public_edited[3], before[3]) << "the dns check naming `public` must restart";
  EXPECT_EQ(fps("public: ['10.0.0.1']")[0], before[0]) << "removing an unused list";
  // The fingerprint's look at `resolvers` must not make the key known to types without it.
  EXPECT_EQ(ErrorOf("resolvers: {public: ['10.0.0.1']}\n"
                    "checks:\n  - {name: h, type: host, resolvers: public}\n"),
            "checks[0].resolvers: unknown key");
}

TEST(ConfigTest, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "checks: " + std::string(20000, '[') + std::string(20000, ']') + "\n";
  std::string error = ErrorOf(deep);
  EXPECT_EQ(error.rfind("test.yml:", 0), 0u) << error;
}

TEST(ConfigTest, LoadsAFileAndNamesItAsTheSource) {
  std::string path = ::testing::TempDir() + "gatewatch_config_test_" + std::to_string(getpid());
  {
    std::ofstream out(path);
    out << "checks:\n  - {name: a, type: fake}\n";
  }
  Config c = LoadConfigFile(path);
  EXPECT_EQ(c.source, path);
  EXPECT_EQ(c.checks.size(), 1u);
  {
    std::ofstream out(path);
    out << "checks: [\n";
  }
  try {
    LoadConfigFile(path);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.what(), path + ":2:1: end of sequence flow not found");
  }
  std::remove(path.c_str());
}

TEST(ConfigTest, UnreadableFileNamesTheFile) {
  try {
    LoadConfigFile("/nonexistent/gatewatch.yml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/gatewatch.yml: cannot read: No such file or directory");
    EXPECT_EQ(e.path(), "/nonexistent/gatewatch.yml");
  }
}

std::string LoadError(const std::string& path) {
  try {
    LoadConfigFile(path);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// Regular files only, at most kMaxConfigFileBytes: a FIFO is refused without blocking on its
// open, /dev/zero without reading it, a file one byte over the cap without parsing it.
TEST(ConfigTest, OnlyRegularFilesUpToTheCapAreRead) {
  std::string dir = ::testing::TempDir() + "gatewatch_config_kinds_" + std::to_string(getpid());
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  std::string fifo = dir + "/fifo.yml";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string rule = " (config files must be regular files of at most 16 MiB)";
  EXPECT_EQ(LoadError(fifo), fifo + ": is a FIFO, not a regular file" + rule);
  EXPECT_EQ(LoadError("/dev/zero"), "/dev/zero: is a character device, not a regular file" + rule);
  EXPECT_EQ(LoadError(dir), dir + ": is a directory, not a regular file" + rule);

  std::string big = dir + "/big.yml";
  std::string text = "checks: []\n#";
  text.resize(kMaxConfigFileBytes, 'x');  // one long comment
  {
    std::ofstream out(big);
    out << text;
  }
  EXPECT_EQ(LoadError(big), "(no error)");  // exactly at the cap: read and parsed
  {
    std::ofstream out(big);
    out << text << 'x';
  }
  EXPECT_EQ(LoadError(big), big + ": is larger than 16777216 bytes" + rule);
  std::remove(big.c_str());
  std::remove(fifo.c_str());
  rmdir(dir.c_str());
}

TEST(ConfigTest, EmbeddedDefaultIsValidAndChecksTheAgent) {
  const std::string url = "http://127.0.0.1:9142/-/healthy";
  std::string yaml = DefaultConfigYaml(url);
  EXPECT_NE(yaml.find(url), std::string::npos);
  Config c = ParseConfig(yaml, "<embedded default>");
  ASSERT_EQ(c.checks.size(), 2u);
  const CheckSpec& self = c.checks[0].check->spec();
  EXPECT_EQ(self.name, "gatewatch-self");
  EXPECT_EQ(self.type, "http");
  EXPECT_EQ(self.interval, seconds(15));
  EXPECT_EQ(self.timeout, seconds(5));
  // This machine's resources, so the first scrape already shows real host figures.
  EXPECT_EQ(c.checks[1].check->spec().type, "host");
}

// The Debian package's /etc/gatewatch/gatewatch.yml is the embedded default, commented: the same
// checks (equal fingerprints: the scheduler's "unchanged") for the default listen port.
TEST(ConfigTest, DebianPackagesConfigIsTheEmbeddedDefault) {
  Config packaged = LoadConfigFile(std::string(GATEWATCH_SOURCE_DIR) + "/debian/gatewatch.yml");
  Config embedded =
      ParseConfig(DefaultConfigYaml("http://127.0.0.1:9142/-/healthy"), "<embedded default>");
  ASSERT_EQ(packaged.checks.size(), embedded.checks.size());
  for (size_t i = 0; i < embedded.checks.size(); ++i) {
    EXPECT_EQ(packaged.checks[i].fingerprint, embedded.checks[i].fingerprint) << i;
  }
}

// ----- ConfigNode --------------------------------------------------------------------------------

ConfigNode Doc(const std::string& yaml) { return ConfigNode(YAML::Load(yaml), ""); }

template <typename F>
std::string NodeError(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ConfigNodeTest, ErrorTextIsPathThenMessage) {
  ConfigError with_path("checks[0].url", "is required");
  EXPECT_STREQ(with_path.what(), "checks[0].url: is required");
  EXPECT_EQ(with_path.path(), "checks[0].url");
  EXPECT_EQ(with_path.message(), "is required");
  EXPECT_STREQ(ConfigError("", "config must be a map").what(), "config must be a map");
}

TEST(ConfigNodeTest, ChildrenKnowTheirPath) {
  ConfigNode root = Doc("checks: [a, b, {expect: {status: [200, 204]}}]\ndefaults: {}\n");
  EXPECT_EQ(root.path(), "");
  EXPECT_EQ(root.Child("defaults").path(), "defaults");
  ConfigNode checks = root.Child("checks");
  EXPECT_EQ(checks.path(), "checks");
  ASSERT_EQ(checks.size(), 3u);
  ConfigNode status = checks.At(2).Child("expect").Child("status");
  EXPECT_EQ(checks.At(2).path(), "checks[2]");
  EXPECT_EQ(status.At(0).path(), "checks[2].expect.status[0]");
  EXPECT_EQ(status.At(1).AsInt(100, 599), 204);
  EXPECT_EQ(NodeError([&] { status.At(0).AsInt(300, 399); }),
            "checks[2].expect.status[0]: must be an integer between 300 and 399 (got \"200\")");
  // Absent children and out-of-range items are undefined, not errors, until used.
  EXPECT_FALSE(root.Child("missing").IsDefined());
  EXPECT_FALSE(root.Child("missing").Child("deeper").IsDefined());
  EXPECT_EQ(root.Child("missing").Child("deeper").path(), "missing.deeper");
  EXPECT_FALSE(checks.At(7).IsDefined());
  EXPECT_EQ(NodeError([&] { checks.At(7).AsString(); }), "checks[7]: must be a string");
}

TEST(ConfigNodeTest, RequiredNamesTheMissingKey) {
  ConfigNode root = Doc("a: {b: 1, n: ~}\n");
  EXPECT_EQ(NodeError([&] { root.Required("x"); }), "x: is required");
  EXPECT_EQ(NodeError([&] { root.Child("a").Required("c"); }), "a.c: is required");
  EXPECT_EQ(NodeError([&] { root.Child("a").Required("n"); }), "a.n: is required")
      << "null counts as absent";
  EXPECT_EQ(root.Child("a").Required("b").AsInt(0, 9), 1);
}

struct ConversionCase {
  const char* name;
  const char* value;  // YAML for the value of key `v`
  std::function<void(const ConfigNode&)> convert;
  const char* error;
};

void PrintTo(const ConversionCase& c, std::ostream* os) { *os << c.name; }

class ConversionErrorTest : public ::testing::TestWithParam<ConversionCase> {};

TEST_P(ConversionErrorTest, NamesTheExpectedForm) {
  ConfigNode v = Doc(std::string("v: ") + GetParam().value + "\n").Child("v");
  EXPECT_EQ(NodeError([&] { GetParam().convert(v); }), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Conversions, ConversionErrorTest,
    ::testing::Values(ConversionCase{"StringFromList", "[a]", [](auto& n) { n.AsString(); },
                                     "v: must be a string"},
                      ConversionCase{"StringFromMap", "{a: b}", [](auto& n) { n.AsString(); },
                                     "v: must be a string"},
                      ConversionCase{"BoolFromYes", "yes", [](auto& n) { n.AsBool(); },
                                     "v: must be a boolean (true or false)"},
                      ConversionCase{"BoolFromNumber", "1", [](auto& n) { n.AsBool(); },
                                     "v: must be a boolean (true or false)"},
                      ConversionCase{"IntBelowRange", "0", [](auto& n) { n.AsInt(1, 65535); },
                                     "v: must be an integer between 1 and 65535 (got \"0\")"},
                      ConversionCase{"IntAboveRange", "65536", [](auto& n) { n.AsInt(1, 65535); },
                                     "v: must be an integer between 1 and 65535 (got \"65536\")"},
                      ConversionCase{"IntFraction", "1.5", [](auto& n) { n.AsInt(1, 65535); },
                                     "v: must be an integer between 1 and 65535 (got \"1.5\")"},
                      ConversionCase{"IntFromList", "[1]", [](auto& n) { n.AsInt(1, 65535); },
                                     "v: must be an integer between 1 and 65535"},
                      ConversionCase{"DoubleOutOfRange", "1.5", [](auto& n) { n.AsDouble(0, 1); },
                                     "v: must be a number between 0 and 1 (got \"1.5\")"},
                      ConversionCase{"DoubleGarbage", "nan", [](auto& n) { n.AsDouble(0, 0.5); },
                                     "v: must be a number between 0 and 0.5 (got \"nan\")"},
                      ConversionCase{"DurationGarbage", "abc", [](auto& n) { n.AsDuration(); },
                                     "v: must be a duration like 500ms, 30s or 5m (got \"abc\")"},
                      ConversionCase{"DurationFromList", "[1s]", [](auto& n) { n.AsDuration(); },
                                     "v: must be a duration like 500ms, 30s or 5m"},
                      ConversionCase{"BytesFromMap", "{a: 1}", [](auto& n) { n.AsBytes(); },
                                     "v: must be a size like 65536, 64KiB or 1MiB"},
                      ConversionCase{"BytesGarbage", "1XB", [](auto& n) { n.AsBytes(); },
                                     "v: must be a size like 65536, 64KiB or 1MiB (got \"1XB\")"},
                      ConversionCase{"StringListFromMap", "{a: b}",
                                     [](auto& n) { n.AsStringList(); },
                                     "v: must be a string or a list of strings"},
                      ConversionCase{"StringListItemNotString", "[a, {b: c}]",
                                     [](auto& n) { n.AsStringList(); }, "v[1]: must be a string"},
                      ConversionCase{"ExpectMapOnList", "[a]", [](auto& n) { n.ExpectMap(); },
                                     "v: must be a map"},
                      ConversionCase{"ExpectMapOnScalar", "a", [](auto& n) { n.ExpectMap(); },
                                     "v: must be a map"},
                      ConversionCase{"Fail", "a", [](auto& n) { n.Fail("must be a list"); },
                                     "v: must be a list"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ConfigNodeTest, ConversionsOfValidValues) {
  ConfigNode root =
      Doc("s: hello\nb: true\nf: false\ni: -5\nd: 0.25\ndur: 1h30m\nbytes: 64KiB\none: a\n"
          "list: [a, b]\n");
  EXPECT_EQ(root.Child("s").AsString(), "hello");
  EXPECT_TRUE(root.Child("b").AsBool());
  EXPECT_FALSE(root.Child("f").AsBool());
  EXPECT_EQ(root.Child("i").AsInt(-10, 10), -5);
  EXPECT_DOUBLE_EQ(root.Child("d").AsDouble(0, 1), 0.25);
  EXPECT_EQ(root.Child("dur").AsDuration(), minutes(90));
  EXPECT_EQ(root.Child("bytes").AsBytes(), 65536u);
  EXPECT_EQ(root.Child("one").AsStringList(), std::vector<std::string>{"a"});
  EXPECT_EQ(root.Child("list").AsStringList(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(root.StringOr("s", "x"), "hello");
  EXPECT_EQ(root.StringOr("none", "x"), "x");
  EXPECT_TRUE(root.BoolOr("none", true));
  EXPECT_EQ(root.DurationOr("none", seconds(3)), seconds(3));
  EXPECT_EQ(root.BytesOr("none", 7), 7u);
  EXPECT_EQ(root.IntOr("none", 4, 0, 9), 4);
  EXPECT_EQ(root.Keys(),
            (std::vector<std::string>{"s", "b", "f", "i", "d", "dur", "bytes", "one", "list"}));
}

TEST(ConfigNodeTest, RejectUnknownKeysKnowsEveryKeyAskedFor) {
  ConfigNode root = Doc("timeout: 1s\ninterval: 2s\nurl: x\nheaders: {}\n");
  root.Has("timeout");
  root.Child("interval");
  ConfigNode copy = root;  // a copy's lookups count for the original
  copy.StringOr("url", "");
  EXPECT_EQ(NodeError([&] { root.RejectUnknownKeys(); }), "headers: unknown key");
  root.Required("headers");
  EXPECT_EQ(NodeError([&] { root.RejectUnknownKeys(); }), "(no error)");
}

TEST(ConfigNodeTest, DidYouMeanSuggestsTheClosestKnownKeyWithinTwoEdits) {
  ConfigNode node = ConfigNode(YAML::Load("timout: 1s\n"), "checks[0]");
  node.Has("timeout");
  node.Has("interval");
  EXPECT_EQ(NodeError([&] { node.RejectUnknownKeys(); }),
            "checks[0].timout: unknown key (did you mean \"timeout\"?)");
  ConfigNode far = ConfigNode(YAML::Load("tmt: 1s\n"), "checks[0]");
  far.Has("timeout");  // three edits away: no suggestion
  EXPECT_EQ(NodeError([&] { far.RejectUnknownKeys(); }), "checks[0].tmt: unknown key");
  ConfigNode none = ConfigNode(YAML::Load("timout: 1s\n"), "checks[0]");
  EXPECT_EQ(NodeError([&] { none.RejectUnknownKeys(); }), "checks[0].timout: unknown key")
      << "only keys that were asked for are suggested";
}

TEST(ConfigNodeTest, FingerprintIsCanonical) {
  auto fp = [](const std::string& yaml) { return Doc(yaml).Fingerprint(); };
  EXPECT_EQ(fp("{a: 1, b: [x, y], c: {d: e}}"), fp("c:\n  d: e\nb: [x, y]\na: 1\n"));
  EXPECT_EQ(fp("{a: 1}"), fp("{\"a\": \"1\"}")) << "values are read as text either way";
  EXPECT_NE(fp("{a: 1}"), fp("{a: 2}"));
  EXPECT_NE(fp("{b: [x, y]}"), fp("{b: [y, x]}")) << "list order matters";
  EXPECT_NE(fp("{a: ''}"), fp("{a: ~}"));
  // Fingerprinting must not modify the document (sorting once wrote through YAML nodes).
  ConfigNode node = Doc("{b: 1, a: 2}");
  std::string first = node.Fingerprint();
  EXPECT_EQ(node.Fingerprint(), first);
  EXPECT_EQ(node.Keys(), (std::vector<std::string>{"b", "a"}));
}

// ----- Durations and sizes -----------------------------------------------------------------------

struct DurationCase {
  const char* text;
  std::optional<Duration> value;
};

TEST(DurationTest, ParsesPrometheusStyleDurations) {
  const DurationCase cases[] = {
      {"500ms", milliseconds(500)},
      {"30s", seconds(30)},
      {"5m", minutes(5)},
      {"1h", std::chrono::hours(1)},
      {"1h30m", minutes(90)},
      {"1m30s500ms", milliseconds(90500)},
      {"250us", microseconds(250)},
      {"250µs", microseconds(250)},
      {"10ns", std::chrono::nanoseconds(10)},
      {"0s", Duration::zero()},
      {"0", Duration::zero()},  // as in Prometheus: the one bare number without ambiguity
      {"2562047h", std::chrono::hours(2562047)},
      {"", std::nullopt},
      {"5", std::nullopt},
      {"s", std::nullopt},
      {"1x", std::nullopt},
      {"1.5s", std::nullopt},
      {"1 s", std::nullopt},
      {"1S", std::nullopt},
      {"30s5m", std::nullopt},  // units must decrease
      {"1s1s", std::nullopt},
      {"-1s", std::nullopt},
      {"1d", std::nullopt},
      {"2562048h", std::nullopt},  // past int64 nanoseconds: refused, not wrapped
      {"2562047h48m", std::nullopt},
      {"99999999999999999999s", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(ParseDuration(c.text), c.value) << c.text;
}

TEST(DurationTest, FormatsTheWayItParses) {
  struct {
    Duration d;
    const char* text;
  } const cases[] = {
      {seconds(10), "10s"},          {seconds(90), "1m30s"},
      {milliseconds(500), "500ms"},  {milliseconds(1500), "1s500ms"},
      {std::chrono::hours(2), "2h"}, {minutes(61), "1h1m"},
      {microseconds(250), "250us"},  {Duration::zero(), "0s"},
      {-seconds(5), "-5s"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(FormatDuration(c.d), c.text);
    if (c.d >= Duration::zero()) {
      EXPECT_EQ(ParseDuration(FormatDuration(c.d)), c.d) << c.text;
    }
  }
}

TEST(BytesTest, ParsesSizes) {
  const std::pair<const char*, std::optional<uint64_t>> cases[] = {
      {"0", 0u},
      {"65536", 65536u},
      {"100B", 100u},
      {"64KiB", 65536u},
      {"1MiB", 1048576u},
      {"1GiB", 1073741824u},
      {"10KB", 10000u},
      {"2MB", 2000000u},
      {"3GB", 3000000000u},
      {"", std::nullopt},
      {"64 KiB", std::nullopt},
      {"KiB", std::nullopt},
      {"-1", std::nullopt},
      {"1.5MiB", std::nullopt},
      {"1TiB", std::nullopt},
      {"99999999999999999999", std::nullopt},
      {"17179869184GiB", std::nullopt},  // 2^64 bytes: refused, not wrapped
  };
  for (const auto& [text, value] : cases) EXPECT_EQ(ParseBytes(text), value) << text;
}

}  // namespace
}  // namespace gatewatch
