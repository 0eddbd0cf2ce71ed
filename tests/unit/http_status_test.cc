// checks/api/http_status: status specs ("502", "5xx") as configs and alerts write them, the
// Reason of a status, and the `code` label schemes the counters and the generated rules share.
#include "checks/api/http_status.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gatewatch {
namespace {

TEST(StatusSpecTest, ParseTable) {
  struct Row {
    const char* text;
    bool ok;
    std::string normalized;  // ToString
    std::string regex;       // LabelRegex
  };
  const std::vector<Row> rows = {
      {"502", true, "502", "502"}, {"100", true, "100", "100"}, {"599", true, "599", "599"},
      {"5xx", true, "5xx", "5.."}, {"5XX", true, "5xx", "5.."}, {"2xX", true, "2xx", "2.."},
      {"1xx", true, "1xx", "1.."}, {"6xx", false, "", ""},      {"0xx", false, "", ""},
      {"099", false, "", ""},      {"600", false, "", ""},      {"2000", false, "", ""},
      {"20x", false, "", ""},      {"x02", false, "", ""},      {"", false, "", ""},
      {"50", false, "", ""},       {" 502", false, "", ""},     {"-50", false, "", ""},
  };
  for (const Row& row : rows) {
    std::optional<StatusSpec> spec = StatusSpec::Parse(row.text);
    ASSERT_EQ(spec.has_value(), row.ok) << "\"" << row.text << "\"";
    if (!spec) continue;
    EXPECT_EQ(spec->ToString(), row.normalized) << row.text;
    EXPECT_EQ(spec->LabelRegex(), row.regex) << row.text;
  }
}

TEST(StatusSpecTest, MatchesCodesAndLabels) {
  struct Row {
    const char* spec;
    long status;
    bool matches;
  };
  const std::vector<Row> rows = {
      {"502", 502, true},  {"502", 503, false}, {"5xx", 500, true}, {"5xx", 599, true},
      {"5xx", 499, false}, {"5xx", 600, false}, {"2xx", 204, true}, {"2xx", 0, false},
      {"1xx", 100, true},  {"1xx", 99, false},  {"4xx", 404, true}, {"4xx", 502, false},
  };
  for (const Row& row : rows) {
    StatusSpec spec = *StatusSpec::Parse(row.spec);
    EXPECT_EQ(spec.Matches(row.status), row.matches) << row.spec << " vs " << row.status;
  }
  struct LabelRow {
    const char* spec;
    const char* label;
    bool matches;
  };
  const std::vector<LabelRow> labels = {
      {"502", "502", true},  {"502", "5xx", false},  {"5xx", "5xx", true}, {"5xx", "502", true},
      {"5xx", "4xx", false}, {"5xx", "none", false}, {"4xx", "404", true}, {"503", "502", false},
  };
  for (const LabelRow& row : labels) {
    StatusSpec spec = *StatusSpec::Parse(row.spec);
    EXPECT_EQ(spec.MatchesLabel(row.label), row.matches) << row.spec << " vs " << row.label;
  }
}

TEST(ReasonForHttpStatusTest, Table) {
  const std::vector<std::pair<long, Reason>> rows = {
      {502, Reason::kHttp502},          {503, Reason::kHttp503},
      {504, Reason::kHttp504},          {500, Reason::kHttp5xx},
      {501, Reason::kHttp5xx},          {599, Reason::kHttp5xx},
      {400, Reason::kHttp4xx},          {404, Reason::kHttp4xx},
      {499, Reason::kHttp4xx},          {100, Reason::kUnexpectedStatus},
      {200, Reason::kUnexpectedStatus}, {204, Reason::kUnexpectedStatus},
      {301, Reason::kUnexpectedStatus}, {399, Reason::kUnexpectedStatus},
      {0, Reason::kUnexpectedStatus},   {600, Reason::kUnexpectedStatus},
      {-1, Reason::kUnexpectedStatus},
  };
  for (const auto& [status, want] : rows) {
    EXPECT_EQ(ReasonName(ReasonForHttpStatus(status)), ReasonName(want)) << "status " << status;
  }
}

TEST(StatusCodeLabelTest, GatewayCodesExactOthersByClass) {
  const std::vector<std::pair<long, std::string>> rows = {
      {502, "502"}, {503, "503"}, {504, "504"},  {500, "5xx"}, {505, "5xx"},   {599, "5xx"},
      {404, "4xx"}, {400, "4xx"}, {301, "3xx"},  {200, "2xx"}, {204, "2xx"},   {100, "1xx"},
      {0, "none"},  {99, "none"}, {600, "none"}, {-1, "none"}, {1000, "none"},
  };
  for (const auto& [status, want] : rows) {
    EXPECT_EQ(StatusCodeLabel(status, CodeLabelScheme::kGatewayExact), want) << "status " << status;
  }
}

TEST(StatusCodeLabelTest, ServerErrorsExactOthersByClass) {
  constexpr CodeLabelScheme kServer = CodeLabelScheme::kServerErrorsExact;
  EXPECT_EQ(StatusCodeLabel(200, kServer), "2xx");
  EXPECT_EQ(StatusCodeLabel(204, kServer), "2xx");
  EXPECT_EQ(StatusCodeLabel(301, kServer), "3xx");
  EXPECT_EQ(StatusCodeLabel(499, kServer), "4xx");
  EXPECT_EQ(StatusCodeLabel(500, kServer), "500");
  EXPECT_EQ(StatusCodeLabel(502, kServer), "502");
  EXPECT_EQ(StatusCodeLabel(599, kServer), "599");
  EXPECT_EQ(StatusCodeLabel(0, kServer), "none");
  EXPECT_EQ(StatusCodeLabel(600, kServer), "none");
  EXPECT_EQ(StatusCodeLabel(99, kServer), "none");
}

TEST(StatusCodeLabelTest, WhichCodesEachSchemeKeepsExact) {
  EXPECT_TRUE(LabelsExactly(502, CodeLabelScheme::kGatewayExact));
  EXPECT_TRUE(LabelsExactly(504, CodeLabelScheme::kGatewayExact));
  EXPECT_FALSE(LabelsExactly(500, CodeLabelScheme::kGatewayExact));
  EXPECT_FALSE(LabelsExactly(404, CodeLabelScheme::kGatewayExact));
  EXPECT_TRUE(LabelsExactly(500, CodeLabelScheme::kServerErrorsExact));
  EXPECT_TRUE(LabelsExactly(599, CodeLabelScheme::kServerErrorsExact));
  EXPECT_FALSE(LabelsExactly(499, CodeLabelScheme::kServerErrorsExact));
  EXPECT_FALSE(LabelsExactly(600, CodeLabelScheme::kServerErrorsExact));
  // Every gateway code is one an alert may name, and has its own series from the first run.
  for (const char* code : kGatewayCodes) {
    EXPECT_EQ(StatusCodeLabel(std::stol(code), CodeLabelScheme::kGatewayExact), code);
    EXPECT_TRUE(StatusSpec::Parse(code).has_value());
  }
}

}  // namespace
}  // namespace gatewatch
