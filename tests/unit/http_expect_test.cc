// The http check's expectations: parsing `expect:` and the pure evaluation of one transfer's
// outcome against it (status, headers, body, transport failures), with the exact details; the
// status set and the RE2 regex they are built from.
#include "checks/http_expect.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace gatewatch {
namespace {

HttpExpectations ExpectOf(const std::string& yaml, bool head = false) {
  HttpExpectations e;
  YAML::Node root = YAML::Load("{expect: " + yaml + "}");
  ConfigNode node(root, "checks[0]");
  ParseHttpExpect(node.Child("expect"), head, e);
  return e;
}

std::string ParseError(const std::string& yaml, bool head = false) {
  try {
    ExpectOf(yaml, head);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

struct Response {
  CURLcode code = CURLE_OK;
  long status = 200;
  std::vector<std::string> header_lines = {};
  std::string body = "";
  bool body_too_large = false;
  std::string effective_url = "";
  long os_errno = 0;
  bool connected = true;
};

HttpOutcome OutcomeOf(const Response& r) {
  HttpOutcome o;
  o.code = r.code;
  o.started = true;
  o.info.status = r.status;
  o.info.times.total = 12'000;  // us
  o.info.effective_url = r.effective_url;
  o.info.os_errno = r.os_errno;
  o.info.connected = r.connected;
  o.address = "127.0.0.1:8080";
  o.headers.OnLine("HTTP/1.1 200 OK\r\n");
  for (const std::string& line : r.header_lines) o.headers.OnLine(line);
  o.body = r.body;
  o.body_bytes = r.body.size();
  o.body_too_large = r.body_too_large;
  return o;
}

TEST(StatusExpectationTest, ParsesCodesAndClasses) {
  StatusExpectation s;
  EXPECT_TRUE(s.empty());
  EXPECT_TRUE(s.Add("204"));
  EXPECT_TRUE(s.Add("5XX"));
  EXPECT_FALSE(s.Add("6xx"));
  EXPECT_FALSE(s.Add("0xx"));
  EXPECT_FALSE(s.Add("099"));
  EXPECT_FALSE(s.Add("2000"));
  EXPECT_FALSE(s.Add("20x"));
  EXPECT_FALSE(s.Add(""));
  EXPECT_EQ(s.ToString(), "204, 5XX");
  EXPECT_TRUE(s.Matches(204));
  EXPECT_TRUE(s.Matches(502));
  EXPECT_FALSE(s.Matches(200));
  EXPECT_FALSE(s.Matches(0));
  EXPECT_FALSE(s.Matches(600));
}

TEST(LinearRegexTest, SearchIsUnanchoredAndLengthBounded) {
  std::string error;
  auto re = LinearRegex::Compile("\"status\": *\"ok\"", &error);
  ASSERT_NE(re, nullptr) << error;
  EXPECT_TRUE(re->Search("{\"status\": \"ok\"}"));
  EXPECT_FALSE(re->Search("{\"status\": \"down\"}"));
  // Bytes after a NUL are still searched, and nothing past the view's end is read.
  std::string with_nul("x\0{\"status\":\"ok\"}", 17);
  EXPECT_TRUE(re->Search(with_nul));
  EXPECT_FALSE(re->Search(std::string_view(with_nul).substr(0, 10)));
  std::string big(1 << 20, 'a');
  big += "\"status\": \"ok\"";
  EXPECT_TRUE(re->Search(big));
  EXPECT_FALSE(re->Search(std::string_view()));
  EXPECT_EQ(LinearRegex::Compile("(", &error), nullptr);
  EXPECT_FALSE(error.empty());
}

// What a configured pattern means, as users wrote them for glibc's POSIX ERE: unanchored search,
// anchors, classes, alternation, bytes that are not UTF-8 matched byte for byte.
TEST(LinearRegexTest, PatternSemantics) {
  struct Row {
    const char* pattern;
    std::string text;
    bool match;
  };
  const std::vector<Row> rows = {
      {"ok", "all ok here", true},
      {"^ok$", "ok", true},
      {"^ok$", "ok\n", false},
      {"^ok", "not ok", false},
      {"ok$", "ok then", false},
      {"[[:digit:]]{3}", "code 502", true},
      {"[[:digit:]]{3}", "code 50", false},
      {"a|b", "xbx", true},
      {"(ab)+c", "ababc", true},
      {"HEALTHY", "healthy", false},  // case-sensitive unless (?i)
      {"(?i)HEALTHY", "healthy", true},
      {"a.c",
       "a\xff"
       "c",
       true},  // `.` is one byte, even an invalid UTF-8 one
      {"\xff", "\xff", true},
      {"\xc3\xa9", "caf\xc3\xa9", true},  // a UTF-8 literal matches its bytes
      {"a.b", std::string("a\0b", 3), true},
      {"a.b", "a\nb", false},  // `.` does not match a newline, as in glibc
      {"application/json", "application/json; charset=utf-8", true},
  };
  for (const Row& row : rows) {
    std::string error;
    auto re = LinearRegex::Compile(row.pattern, &error);
    ASSERT_NE(re, nullptr) << row.pattern << ": " << error;
    EXPECT_EQ(re->Search(row.text), row.match) << row.pattern << " on " << row.text;
  }
}

// `([a-z]+ )*end` over a 1 MiB body without "end" took glibc regexec more than 20 s on the loop
// thread; RE2 answers (no match) in linear time. The assertion is the result, not a time.
TEST(LinearRegexTest, PathologicalPatternOverOneMebibyteAnswers) {
  std::string error;
  auto re = LinearRegex::Compile("([a-z]+ )*end", &error);
  ASSERT_NE(re, nullptr) << error;
  std::string body;
  while (body.size() < (1u << 20)) body += "abcdefg ";
  EXPECT_FALSE(re->Search(body));
  EXPECT_TRUE(re->Search(body + "end"));
  auto nested = LinearRegex::Compile("(x+x+)+y", &error);
  ASSERT_NE(nested, nullptr) << error;
  EXPECT_FALSE(nested->Search(std::string(1 << 20, 'x')));
}

// Past kMaxRegexInput bytes nothing is searched: the cap that bounds the work per expectation.
TEST(LinearRegexTest, SearchesOnlyTheFirstMaxRegexInputBytes) {
  std::string error;
  auto re = LinearRegex::Compile("needle", &error);
  ASSERT_NE(re, nullptr) << error;
  std::string text(kMaxRegexInput - 6, 'a');
  EXPECT_TRUE(re->Search(text + "needle"));
  EXPECT_FALSE(re->Search(text + "aneedle"));
}

TEST(LinearRegexTest, BackreferencesAreRejectedWithTheReason) {
  std::string error;
  EXPECT_EQ(LinearRegex::Compile("(a)\\1", &error), nullptr);
  EXPECT_NE(error.find("RE2 has no backreferences"), std::string::npos) << error;
  EXPECT_EQ(LinearRegex::Compile("(?=a)", &error), nullptr);
  EXPECT_EQ(error.find("backreferences"), std::string::npos) << error;
}

TEST(HttpExpectTest, EvaluatesStatusHeadersAndBody) {
  HttpRequest request;
  request.redacted_url = "http://h/healthz";
  request.body_limit = 100;
  struct Row {
    const char* name;
    const char* expect;  // YAML of the expect block ("~": absent)
    Response response;
    Reason reason;
    std::string detail;
  };
  const std::vector<Row> rows = {
      {"default 2xx accepts 204",
       "~",
       {.status = 204},
       Reason::kNone,
       "HTTP 204 from http://h/healthz (127.0.0.1:8080) in 12 ms"},
      {"final url after a redirect",
       "~",
       {.effective_url = "http://h/final"},
       Reason::kNone,
       "HTTP 200 from http://h/final (127.0.0.1:8080) in 12 ms"},
      {"502 is named",
       "~",
       {.status = 502},
       Reason::kHttp502,
       "HTTP 502 from http://h/healthz (127.0.0.1:8080), expected 2xx"},
      {"503 is named",
       "{status: [200]}",
       {.status = 503},
       Reason::kHttp503,
       "HTTP 503 from http://h/healthz (127.0.0.1:8080), expected 200"},
      {"other 5xx",
       "~",
       {.status = 500},
       Reason::kHttp5xx,
       "HTTP 500 from http://h/healthz (127.0.0.1:8080), expected 2xx"},
      {"4xx",
       "~",
       {.status = 404},
       Reason::kHttp4xx,
       "HTTP 404 from http://h/healthz (127.0.0.1:8080), expected 2xx"},
      {"a redirect not followed",
       "{status: [200, 204]}",
       {.status = 301},
       Reason::kUnexpectedStatus,
       "HTTP 301 from http://h/healthz (127.0.0.1:8080), expected 200, 204"},
      {"an expected 5xx passes",
       "{status: 5xx}",
       {.status = 503},
       Reason::kNone,
       "HTTP 503 from http://h/healthz (127.0.0.1:8080) in 12 ms"},
      {"header present and matching",
       "{headers: {content-type: json}}",
       {.header_lines = {"Content-Type: application/json\r\n"}},
       Reason::kNone,
       "HTTP 200 from http://h/healthz (127.0.0.1:8080) in 12 ms"},
      {"any value of a repeated header may match",
       "{headers: {X-A: '^b$'}}",
       {.header_lines = {"X-A: a\r\n", "X-A: b\r\n"}},
       Reason::kNone,
       "HTTP 200 from http://h/healthz (127.0.0.1:8080) in 12 ms"},
      {"header missing",
       "{headers: {X-Probe: ok}}",
       {},
       Reason::kHeaderMismatch,
       "HTTP 200 from http://h/healthz without header X-Probe"},
      {"header not matching",
       "{headers: {Content-Type: json}}",
       {.header_lines = {"Content-Type: text/html\r\n"}},
       Reason::kHeaderMismatch,
       "HTTP 200 from http://h/healthz: header Content-Type \"text/html\" does not match "
       "\"json\""},
      {"status before headers",
       "{headers: {X-Probe: ok}}",
       {.status = 502},
       Reason::kHttp502,
       "HTTP 502 from http://h/healthz (127.0.0.1:8080), expected 2xx"},
      {"body matches",
       "{body_regex: 'ok'}",
       {.body = "status: ok"},
       Reason::kNone,
       "HTTP 200 from http://h/healthz (127.0.0.1:8080) in 12 ms"},
      {"body does not match",
       "{body_regex: '^ok$'}",
       {.body = "not ok"},
       Reason::kBodyMismatch,
       "HTTP 200 from http://h/healthz: body does not match body_regex \"^ok$\""},
      {"body matches the forbidden",
       "{body_not_regex: error}",
       {.body = "an error"},
       Reason::kBodyMismatch,
       "HTTP 200 from http://h/healthz: body matches body_not_regex \"error\""},
      {"headers before body",
       "{headers: {X-A: a}, body_regex: zzz}",
       {.body = "x"},
       Reason::kHeaderMismatch,
       "HTTP 200 from http://h/healthz without header X-A"},
      {"body too large",
       "~",
       {.code = CURLE_WRITE_ERROR, .body_too_large = true},
       Reason::kBodyTooLarge,
       "HTTP 200 from http://h/healthz: body exceeds body_limit of 100 bytes"},
      {"a too-large 502 page is a 502",
       "~",
       {.code = CURLE_WRITE_ERROR, .status = 502, .body_too_large = true},
       Reason::kHttp502,
       "HTTP 502 from http://h/healthz (127.0.0.1:8080), expected 2xx"},
      {"refused connect",
       "~",
       {.code = CURLE_COULDNT_CONNECT, .status = 0, .os_errno = 111, .connected = false},
       Reason::kConnectionRefused,
       "connect() to 127.0.0.1:8080 refused"},
  };
  for (const Row& row : rows) {
    HttpExpectations e = ExpectOf(row.expect);
    Result r = EvaluateHttpOutcome(e, request, OutcomeOf(row.response));
    EXPECT_EQ(r.reason, row.reason) << row.name << ": " << r.detail;
    EXPECT_EQ(r.detail, row.detail) << row.name;
    EXPECT_TRUE(r.observations.empty()) << row.name;
  }
}

TEST(HttpExpectTest, ParseErrorsNameTheExactPath) {
  struct Row {
    const char* expect;
    bool head;
    std::string error;
  };
  const std::vector<Row> rows = {
      {"[200]", false, "checks[0].expect: must be a map"},
      {"{status: []}", false, "checks[0].expect.status: must not be empty"},
      {"{status: [200, 6xx]}", false,
       "checks[0].expect.status[1]: must be a status code 100-599 or a class \"1xx\"..\"5xx\""},
      {"{body_regex: '('}", false, "checks[0].expect.body_regex: invalid regular expression"},
      {"{body_regex: '(a)\\1'}", false,
       "checks[0].expect.body_regex: invalid regular expression: invalid escape sequence: \\1 "
       "(RE2 has no backreferences)"},
      {"{headers: {ETag: '(w)/\\1'}}", false,
       "checks[0].expect.headers.ETag: invalid regular expression: invalid escape sequence: \\1 "
       "(RE2 has no backreferences)"},
      {"{body_not_regex: x}", true,
       "checks[0].expect.body_not_regex: method HEAD receives no body to match"},
      {"{headers: {'a b': x}}", false, "checks[0].expect.headers.a b: is not a valid header name"},
      {"{headers: [x]}", false, "checks[0].expect.headers: must be a map"},
      {"{stat: 200}", false, "checks[0].expect.stat: unknown key"},
  };
  for (const Row& row : rows) {
    std::string error = ParseError(row.expect, row.head);
    EXPECT_EQ(error.rfind(row.error, 0), 0u) << row.expect << " gave: " << error;
  }
}

TEST(HttpExpectTest, DefaultsAndKeepsBody) {
  EXPECT_EQ(ExpectOf("~").expect_status.ToString(), "2xx");
  EXPECT_EQ(ExpectOf("{}").expect_status.ToString(), "2xx");
  EXPECT_EQ(ExpectOf("{status: 204}").expect_status.ToString(), "204");
  EXPECT_FALSE(ExpectOf("{headers: {X: y}}").keeps_body());
  EXPECT_TRUE(ExpectOf("{body_not_regex: x}").keeps_body());
}

}  // namespace
}  // namespace gatewatch
