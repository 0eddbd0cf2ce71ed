// Config loading: every rule with its exact message, so an operator reading the error knows the
// path and what to change. Uses the real check registry (the http type).
#include "agent/config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace gatewatch {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string ErrorOf(const std::string& yaml) {
  try {
    ParseConfig(yaml, "test.yml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

struct ErrorCase {
  const char* name;
  const char* yaml;
  const char* error;
};

// Shown by gtest instead of the struct's bytes.
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ConfigErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ConfigErrorTest, NamesThePathAndTheRule) {
  EXPECT_EQ(ErrorOf(GetParam().yaml), GetParam().error) << GetParam().yaml;
}

#define URL "url: http://127.0.0.1:1/"

INSTANTIATE_TEST_SUITE_P(
    Rules, ConfigErrorTest,
    ::testing::Values(
        ErrorCase{"TimeoutNotBelowInterval",
                  "checks:\n  - {name: a, type: http, " URL "}\n  - {name: b, type: http, " URL
                  "}\n  - {name: c, type: http, interval: 10s, timeout: 10s, " URL "}\n",
                  "checks[2].timeout: must be less than interval (10s)"},
        ErrorCase{"DefaultTimeoutNotBelowCheckInterval",
                  "defaults: {timeout: 10s}\nchecks:\n  - {name: a, type: http, interval: 5s, " URL
                  "}\n",
                  "checks[0].timeout: must be less than interval (5s)"},
        ErrorCase{"DefaultsTimeoutNotBelowDefaultsInterval",
                  "defaults: {interval: 1m, timeout: 1m30s}\n",
                  "defaults.timeout: must be less than interval (1m)"},
        ErrorCase{"UnknownTopLevelKey", "chekcs: []\n",
                  "chekcs: unknown key (did you mean \"checks\"?)"},
        ErrorCase{"UnknownKeyInCheck", "checks:\n  - {name: a, type: http, timout: 1s, " URL "}\n",
                  "checks[0].timout: unknown key (did you mean \"timeout\"?)"},
        ErrorCase{"UnknownKeyFarFromAnyKnown",
                  "checks:\n  - {name: a, type: http, zzzzzz: 1, " URL "}\n",
                  "checks[0].zzzzzz: unknown key"},
        ErrorCase{"DuplicateKey",
                  "checks:\n  - {name: a, type: http, timeout: 1s, timeout: 2s, " URL "}\n",
                  "checks[0].timeout: duplicate key"},
        ErrorCase{"UnknownKeyInDefaults", "defaults: {intervall: 1s}\n",
                  "defaults.intervall: unknown key (did you mean \"interval\"?)"},
        ErrorCase{"ChecksNotAList", "checks: {name: a}\n", "checks: must be a list"},
        ErrorCase{"CheckNotAMap", "checks:\n  - just-a-string\n", "checks[0]: must be a map"},
        ErrorCase{"NameMissing", "checks:\n  - {type: http, " URL "}\n",
                  "checks[0].name: is required"},
        ErrorCase{"NameInvalid", "checks:\n  - {name: 'a b', type: http, " URL "}\n",
                  "checks[0].name: must match [a-zA-Z0-9_.-]{1,128} (got \"a b\")"},
        ErrorCase{"NameDuplicate",
                  "checks:\n  - {name: api, type: http, " URL "}\n  - {name: x, type: http, " URL
                  "}\n  - {name: api, type: http, " URL "}\n",
                  "checks[2].name: duplicate check name \"api\" (first at checks[0])"},
        ErrorCase{"TypeMissing", "checks:\n  - {name: a, " URL "}\n",
                  "checks[0].type: is required"},
        ErrorCase{"TypeUnknown", "checks:\n  - {name: a, type: ftp}\n",
                  "checks[0].type: unknown check type \"ftp\" (known: http)"},
        ErrorCase{"DurationGarbage",
                  "checks:\n  - {name: a, type: http, interval: soon, " URL "}\n",
                  "checks[0].interval: must be a duration like 500ms, 30s or 5m (got \"soon\")"},
        ErrorCase{"DurationBareNumber", "checks:\n  - {name: a, type: http, timeout: 5, " URL "}\n",
                  "checks[0].timeout: must be a duration like 500ms, 30s or 5m (got \"5\")"},
        ErrorCase{"IntervalTooShort",
                  "checks:\n  - {name: a, type: http, interval: 50ms, timeout: 10ms, " URL "}\n",
                  "checks[0].interval: must be at least 100ms"},
        ErrorCase{"TimeoutZero", "checks:\n  - {name: a, type: http, timeout: 0s, " URL "}\n",
                  "checks[0].timeout: must be greater than 0"},
        ErrorCase{"LabelReserved",
                  "checks:\n  - {name: a, type: http, labels: {check: x}, " URL "}\n",
                  "checks[0].labels.check: label name is reserved"},
        ErrorCase{"LabelDoubleUnderscore",
                  "checks:\n  - {name: a, type: http, labels: {__x: y}, " URL "}\n",
                  "checks[0].labels.__x: label names starting with __ are reserved"},
        ErrorCase{
            "LabelInvalid", "checks:\n  - {name: a, type: http, labels: {team-name: y}, " URL "}\n",
            "checks[0].labels.team-name: invalid label name (must match [a-zA-Z_][a-zA-Z0-9_]*)"},
        ErrorCase{"LabelValueNotString",
                  "checks:\n  - {name: a, type: http, labels: {team: [a]}, " URL "}\n",
                  "checks[0].labels.team: must be a string"},
        ErrorCase{"LabelsNotAMap", "checks:\n  - {name: a, type: http, labels: [a], " URL "}\n",
                  "checks[0].labels: must be a map"},
        ErrorCase{"MaxInFlightRange", "scheduler: {max_in_flight: 0}\n",
                  "scheduler.max_in_flight: must be an integer between 1 and 1000000 (got \"0\")"},
        ErrorCase{"NotAMap", "- a\n- b\n", "test.yml: the config must be a map with a checks list"},
        ErrorCase{"YamlSyntax", "checks: [\n", "test.yml:2:1: end of sequence flow not found"},
        ErrorCase{"HttpCheckErrorsCarryTheirPath",
                  "checks:\n  - {name: a, type: http, url: 'ftp://x/'}\n",
                  "checks[0].url: must be an http or https URL"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(ConfigTest, ValidConfigIsTypedWithDefaultsApplied) {
  Config c = ParseConfig(R"(
defaults: {interval: 20s, timeout: 3s}
scheduler: {max_in_flight: 50}
checks:
  - name: api
    type: http
    url: http://127.0.0.1:8080/healthz
    labels: {team: edge}
  - name: web.front_1
    type: http
    url: https://example.test/
    interval: 1m30s
    timeout: 500ms
)",
                         "test.yml");
  ASSERT_EQ(c.checks.size(), 2u);
  EXPECT_EQ(c.max_in_flight, 50u);
  const CheckSpec& api = c.checks[0].check->spec();
  EXPECT_EQ(api.name, "api");
  EXPECT_EQ(api.type, "http");
  EXPECT_EQ(api.interval, seconds(20));
  EXPECT_EQ(api.timeout, seconds(3));
  EXPECT_EQ(api.labels.at("team"), "edge");
  const CheckSpec& web = c.checks[1].check->spec();
  EXPECT_EQ(web.interval, seconds(90));
  EXPECT_EQ(web.timeout, milliseconds(500));
}

TEST(ConfigTest, JsonIsAccepted) {
  Config c = ParseConfig(
      R"({"defaults": {"interval": "10s", "timeout": "2s"},
          "checks": [{"name": "api", "type": "http", "url": "http://127.0.0.1:1/"}]})",
      "test.json");
  ASSERT_EQ(c.checks.size(), 1u);
  EXPECT_EQ(c.checks[0].check->spec().timeout, seconds(2));
}

TEST(ConfigTest, EmptyFileMeansNoChecks) {
  EXPECT_TRUE(ParseConfig("", "empty.yml").checks.empty());
  EXPECT_TRUE(ParseConfig("checks: []\n", "empty.yml").checks.empty());
}

TEST(ConfigTest, FingerprintChangesWithSettingsButNotKeyOrder) {
  auto fp = [](const std::string& yaml) { return ParseConfig(yaml, "t").checks.at(0).fingerprint; };
  std::string a =
      fp("checks:\n  - {name: a, type: http, url: 'http://127.0.0.1:1/', method: GET}\n");
  std::string reordered =
      fp("checks:\n  - {method: GET, url: 'http://127.0.0.1:1/', type: http, name: a}\n");
  std::string changed =
      fp("checks:\n  - {name: a, type: http, url: 'http://127.0.0.1:2/', method: GET}\n");
  std::string new_default =
      fp("defaults: {interval: 1m}\nchecks:\n  - {name: a, type: http, url: 'http://127.0.0.1:1/', "
         "method: GET}\n");
  EXPECT_EQ(a, reordered);
  EXPECT_NE(a, changed);
  EXPECT_NE(a, new_default) << "a change of defaults must restart the checks that inherit it";
}

TEST(ConfigTest, DeepNestingIsAnErrorNotACrash) {
  std::string deep = "checks: " + std::string(20000, '[') + std::string(20000, ']') + "\n";
  std::string error = ErrorOf(deep);
  EXPECT_EQ(error.rfind("test.yml", 0), 0u) << error;
}

TEST(ConfigTest, UnreadableFileNamesTheFile) {
  try {
    LoadConfigFile("/nonexistent/gatewatch.yml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "/nonexistent/gatewatch.yml: cannot read: No such file or directory");
  }
}

TEST(ConfigTest, EmbeddedDefaultIsValidAndChecksTheAgent) {
  Config c =
      ParseConfig(DefaultConfigYaml("http://127.0.0.1:9142/-/healthy"), "<embedded default>");
  ASSERT_FALSE(c.checks.empty());
  EXPECT_EQ(c.checks[0].check->spec().name, "gatewatch-self");
}

struct DurationCase {
  const char* text;
  std::optional<Duration> value;
};

TEST(DurationTest, ParsesPrometheusStyleDurations) {
  const DurationCase cases[] = {
      {"500ms", milliseconds(500)},
      {"30s", seconds(30)},
      {"5m", std::chrono::minutes(5)},
      {"1h30m", std::chrono::minutes(90)},
      {"250us", std::chrono::microseconds(250)},
      {"0s", Duration::zero()},
      {"0", Duration::zero()},
      {"", std::nullopt},
      {"5", std::nullopt},
      {"s", std::nullopt},
      {"1x", std::nullopt},
      {"30s5m", std::nullopt},  // units must decrease
      {"1s1s", std::nullopt},
      {"-1s", std::nullopt},
  };
  for (const auto& c : cases) EXPECT_EQ(ParseDuration(c.text), c.value) << c.text;
}

TEST(DurationTest, FormatsTheWayItParses) {
  EXPECT_EQ(FormatDuration(seconds(10)), "10s");
  EXPECT_EQ(FormatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(FormatDuration(std::chrono::hours(2)), "2h");
  EXPECT_EQ(FormatDuration(Duration::zero()), "0s");
  for (Duration d : std::vector<Duration>{seconds(10), seconds(90), milliseconds(1500),
                                          std::chrono::minutes(61)}) {
    EXPECT_EQ(ParseDuration(FormatDuration(d)), d);
  }
}

TEST(BytesTest, ParsesSizes) {
  EXPECT_EQ(ParseBytes("65536"), 65536u);
  EXPECT_EQ(ParseBytes("64KiB"), 65536u);
  EXPECT_EQ(ParseBytes("1MiB"), 1048576u);
  EXPECT_EQ(ParseBytes("10KB"), 10000u);
  EXPECT_EQ(ParseBytes("2MB"), 2000000u);
  EXPECT_EQ(ParseBytes("1GiB"), 1073741824u);
  EXPECT_EQ(ParseBytes("64 KiB"), std::nullopt);
  EXPECT_EQ(ParseBytes("KiB"), std::nullopt);
  EXPECT_EQ(ParseBytes("-1"), std::nullopt);
  EXPECT_EQ(ParseBytes("99999999999999999999"), std::nullopt);
}

}  // namespace
}  // namespace gatewatch
