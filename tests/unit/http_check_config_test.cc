// The http check's config (every error names its exact path) and the pure helpers it is built
// from: final-response headers, phase arithmetic, certificate dates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <time.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/logging.h"
#include "checks/http_check.h"
#include "checks/http_request.h"
#include "tests/testlib/config_error.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch {
namespace {

using std::chrono::microseconds;

std::string ErrorText(const std::string& yaml) {
  return testing::CheckConfigErrorOf(HttpCheckType(), yaml);
}

std::shared_ptr<const HttpCheckConfig> Parse(const std::string& yaml) {
  ConfigNode node(YAML::Load(yaml), "checks[0]");
  return ParseHttpCheckConfig(node);
}

// ----- Errors, with their exact text -----------------------------------------------------------

TEST(HttpCheckConfigTest, UrlIsRequired) {
  EXPECT_EQ(ErrorText("method: GET"), "checks[0].url: is required");
}

TEST(HttpCheckConfigTest, UrlMustBeHttpOrHttps) {
  EXPECT_EQ(ErrorText("url: ftp://example.com/file"),
            "checks[0].url: must be an http or https URL");
  EXPECT_EQ(ErrorText("url: file:///etc/passwd"), "checks[0].url: must be an http or https URL");
  EXPECT_EQ(ErrorText("url: example.com/healthz"), "checks[0].url: must be an http or https URL");
  EXPECT_EQ(ErrorText("url: 'http://'"), "checks[0].url: must be an http or https URL");
}

TEST(HttpCheckConfigTest, MethodIsAnHttpToken) {
  const std::string form =
      "checks[0].method: must be an HTTP method (GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, "
      "...)";
  EXPECT_EQ(ErrorText("{url: 'http://127.0.0.1/', method: 'GE T'}"), form);
  EXPECT_EQ(ErrorText("{url: 'http://127.0.0.1/', method: ''}"), form);
  EXPECT_EQ(ErrorText("{url: 'http://127.0.0.1/', method: CONNECT}"),
            "checks[0].method: CONNECT opens a tunnel, it asks nothing of the target");
  for (const char* m : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PURGE"}) {
    EXPECT_EQ(ErrorText(std::string("{url: 'http://h/', method: ") + m + "}"), "(no error)") << m;
    EXPECT_EQ(Parse(std::string("{url: 'http://h/', method: ") + m + "}")->method, m);
  }
  EXPECT_EQ(Parse("{url: 'http://h/', method: GET}")->method, "");
  // POST, PUT and PATCH always carry a body (Content-Length: 0 when none is configured).
  EXPECT_EQ(Parse("{url: 'http://h/', method: POST}")->body, std::optional<std::string>(""));
  EXPECT_EQ(Parse("{url: 'http://h/', method: DELETE}")->body, std::nullopt);
}

TEST(HttpCheckConfigTest, RequestBodyInlineOrFromAFileCapped) {
  testing::TempDir dir;
  std::string file = dir.path() + "/body.json";
  std::ofstream(file) << "{\"ping\": 1}";
  std::string big = dir.path() + "/big.bin";
  std::ofstream(big) << std::string(1024 * 1024 + 1, 'x');
  EXPECT_EQ(Parse("{url: 'http://h/', method: POST, body: 'a=1&b=2'}")->body,
            std::optional<std::string>("a=1&b=2"));
  auto from_file = Parse("{url: 'http://h/', method: PUT, body_file: '" + file + "'}");
  EXPECT_EQ(from_file->body, std::optional<std::string>("{\"ping\": 1}"));
  // curl's `Expect: 100-continue` pause is switched off for bodies.
  EXPECT_THAT(from_file->request_headers, ::testing::Contains("Expect:"));
  EXPECT_THAT(Parse("{url: 'http://h/', method: POST, body: x, headers: {Expect: 100-continue}}")
                  ->request_headers,
              ::testing::ElementsAre("Expect: 100-continue"));
  EXPECT_EQ(ErrorText("{url: 'http://h/', body: a, body_file: '" + file + "'}"),
            "checks[0].body_file: conflicts with body; set only one");
  EXPECT_EQ(ErrorText("{url: 'http://h/', body_file: /nonexistent/body}"),
            "checks[0].body_file: cannot read /nonexistent/body: No such file or directory");
  EXPECT_EQ(ErrorText("{url: 'http://h/', body_file: '" + big + "'}"),
            "checks[0].body_file: " + big + " is more than the 1MiB limit");
  EXPECT_EQ(ErrorText("{url: 'http://h/', body: '" + std::string(1024 * 1024 + 1, 'x') + "'}"),
            "checks[0].body: is 1048577 bytes, more than the 1MiB limit");
  EXPECT_EQ(ErrorText("{url: 'http://h/', body_file: /dev/zero}"),
            "checks[0].body_file: /dev/zero is not a regular file");
  EXPECT_EQ(ErrorText("{url: 'http://h/', method: HEAD, body: a}"),
            "checks[0].body: method HEAD sends no body");
}

// The per-probe log join's header (docs/diagnosis.md): on by default, renamed, off with "", and
// a configured header of that name (the user's own id) wins.
TEST(HttpCheckConfigTest, RequestIdHeader) {
  EXPECT_EQ(Parse("{url: 'http://h/'}")->request_id_header, "X-Request-ID");
  EXPECT_EQ(Parse("{url: 'http://h/', request_id_header: X-Trace}")->request_id_header, "X-Trace");
  EXPECT_EQ(Parse("{url: 'http://h/', request_id_header: ''}")->request_id_header, "");
  EXPECT_EQ(Parse("{url: 'http://h/', headers: {x-request-id: mine}}")->request_id_header, "");
  EXPECT_EQ(ErrorText("{url: 'http://h/', request_id_header: 'X Id'}"),
            "checks[0].request_id_header: must be a header name or \"\"");
}

TEST(HttpCheckConfigTest, ClientCertificateAndHttpVersion) {
  EXPECT_EQ(ErrorText("{url: 'https://h/', cert_file: /nonexistent/client.pem}"),
            "checks[0].cert_file: cannot read /nonexistent/client.pem: No such file or directory");
  EXPECT_EQ(ErrorText("{url: 'https://h/', key_file: /dev/null}"),
            "checks[0].key_file: needs cert_file, the certificate it belongs to");
  EXPECT_EQ(ErrorText("{url: 'https://h/', cert_file: /dev/null, key_file: /nonexistent/k.pem}"),
            "checks[0].key_file: cannot read /nonexistent/k.pem: No such file or directory");
  auto cfg = Parse("{url: 'https://h/', cert_file: /dev/null, key_file: /dev/null}");
  EXPECT_EQ(cfg->cert_file, "/dev/null");
  EXPECT_EQ(cfg->key_file, "/dev/null");

  EXPECT_EQ(Parse("{url: 'http://h/'}")->http_version, CURL_HTTP_VERSION_NONE);
  EXPECT_EQ(Parse("{url: 'http://h/', http_version: 1.1}")->http_version, CURL_HTTP_VERSION_1_1);
  EXPECT_EQ(Parse("{url: 'http://h/', http_version: 2}")->http_version, CURL_HTTP_VERSION_2_0);
  EXPECT_EQ(Parse("{url: 'http://h/', http_version: 2-prior-knowledge}")->http_version,
            CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
  for (const char* bad : {"3", "1.0", "h2", "'2.0'"}) {
    EXPECT_EQ(ErrorText(std::string("{url: 'http://h/', http_version: ") + bad + "}"),
              "checks[0].http_version: must be \"1.1\", \"2\" or \"2-prior-knowledge\"")
        << bad;
  }
}

TEST(HttpCheckConfigTest, StatusCodesAndClasses) {
  const std::string form = "must be a status code 100-599 or a class \"1xx\"..\"5xx\"";
  EXPECT_EQ(ErrorText("{url: 'http://h/', expect: {status: [200, '6xx']}}"),
            "checks[0].expect.status[1]: " + form);
  EXPECT_EQ(ErrorText("{url: 'http://h/', expect: {status: 99}}"),
            "checks[0].expect.status: " + form);
  EXPECT_EQ(ErrorText("{url: 'http://h/', expect: {status: [600]}}"),
            "checks[0].expect.status[0]: " + form);
  EXPECT_EQ(ErrorText("{url: 'http://h/', expect: {status: ['2x']}}"),
            "checks[0].expect.status[0]: " + form);
  EXPECT_EQ(ErrorText("{url: 'http://h/', expect: {status: []}}"),
            "checks[0].expect.status: must not be empty");
}

TEST(HttpCheckConfigTest, RegexesCompileAtLoad) {
  EXPECT_EQ(ErrorText("{url: 'http://h/', expect: {body_regex: 'ok('}}"),
            "checks[0].expect.body_regex: invalid regular expression: missing ): ok(");
  EXPECT_EQ(ErrorText("{url: 'http://h/', expect: {body_not_regex: 'a**'}}"),
            "checks[0].expect.body_not_regex: invalid regular expression: bad repetition "
            "operator: **");
  EXPECT_EQ(ErrorText("{url: 'http://h/', expect: {headers: {Content-Type: '[json'}}}"),
            "checks[0].expect.headers.Content-Type: invalid regular expression: missing ]: [json");
}

TEST(HttpCheckConfigTest, HeadHasNoBodyToMatch) {
  EXPECT_EQ(ErrorText("{url: 'http://h/', method: HEAD, expect: {body_regex: ok}}"),
            "checks[0].expect.body_regex: method HEAD receives no body to match");
}

TEST(HttpCheckConfigTest, MaxRedirectsRange) {
  EXPECT_EQ(ErrorText("{url: 'http://h/', max_redirects: 51}"),
            "checks[0].max_redirects: must be an integer between 0 and 50 (got \"51\")");
  EXPECT_EQ(ErrorText("{url: 'http://h/', max_redirects: -1}"),
            "checks[0].max_redirects: must be an integer between 0 and 50 (got \"-1\")");
  EXPECT_EQ("(no error)", ErrorText("{url: 'http://h/', max_redirects: 0}"));
  EXPECT_EQ("(no error)", ErrorText("{url: 'http://h/', max_redirects: 50}"));
}

TEST(HttpCheckConfigTest, BodyLimit) {
  EXPECT_EQ(ErrorText("{url: 'http://h/', body_limit: lots}"),
            "checks[0].body_limit: must be a size like 65536, 64KiB or 1MiB (got \"lots\")");
  EXPECT_EQ(ErrorText("{url: 'http://h/', body_limit: 1GiB}"),
            "checks[0].body_limit: must be at most 64MiB");
  EXPECT_EQ(Parse("{url: 'http://h/', body_limit: 1MiB}")->body_limit, 1024u * 1024u);
  EXPECT_EQ(Parse("{url: 'http://h/', body_limit: 64MiB}")->body_limit, 64u * 1024u * 1024u);
}

TEST(HttpCheckConfigTest, UnknownKeyInsideExpect) {
  EXPECT_EQ(ErrorText("{url: 'http://h/', expect: {status: [200], bdy_regex: ok}}"),
            "checks[0].expect.bdy_regex: unknown key (did you mean \"body_regex\"?)");
  EXPECT_EQ(ErrorText("{url: 'http://h/', expect: {sla: 1}}"), "checks[0].expect.sla: unknown key");
}

TEST(HttpCheckConfigTest, UnknownCheckLevelKeyIsLeftToTheCaller) {
  // Every key the factory knows was marked as read, so the caller's hint can name it.
  EXPECT_EQ(ErrorText("{url: 'http://h/', folow_redirects: false}"),
            "checks[0].folow_redirects: unknown key (did you mean \"follow_redirects\"?)");
}

TEST(HttpCheckConfigTest, ExpectMustBeAMap) {
  EXPECT_EQ(ErrorText("{url: 'http://h/', expect: 200}"), "checks[0].expect: must be a map");
}

TEST(HttpCheckConfigTest, RequestHeaders) {
  EXPECT_EQ(ErrorText("{url: 'http://h/', headers: {'X(1)': v}}"),
            "checks[0].headers.X(1): is not a valid header name");
  EXPECT_EQ(ErrorText("{url: 'http://h/', headers: {X-A: \"a\\r\\nX-Evil: 1\"}}"),
            "checks[0].headers.X-A: must not contain line breaks");
  EXPECT_EQ(ErrorText("{url: 'http://h/', headers: [a, b]}"), "checks[0].headers: must be a map");
  EXPECT_EQ(ErrorText("{url: 'http://h/', headers: {Host: a}, host: b}"),
            "checks[0].host: conflicts with headers.Host; set only one");
  EXPECT_EQ(ErrorText("{url: 'http://h/', host: 'a b'}"),
            "checks[0].host: must be a host name, optionally with :port");
}

TEST(HttpCheckConfigTest, CaFileMustBeReadable) {
  EXPECT_EQ(ErrorText("{url: 'https://h/', ca_file: /nonexistent/ca.pem}"),
            "checks[0].ca_file: cannot read /nonexistent/ca.pem: No such file or directory");
}

// ----- Valid configs ---------------------------------------------------------------------------

TEST(HttpCheckConfigTest, Defaults) {
  auto cfg = Parse("url: http://127.0.0.1:8080/healthz");
  EXPECT_EQ(cfg->url, "http://127.0.0.1:8080/healthz");
  EXPECT_FALSE(cfg->https);
  EXPECT_EQ(cfg->host, "127.0.0.1");
  EXPECT_EQ(cfg->port, 8080);
  EXPECT_FALSE(cfg->head);
  EXPECT_TRUE(cfg->request_headers.empty());
  EXPECT_EQ(cfg->expect_status.ToString(), "2xx");
  EXPECT_TRUE(cfg->expect_status.Matches(200));
  EXPECT_TRUE(cfg->expect_status.Matches(299));
  EXPECT_FALSE(cfg->expect_status.Matches(301));
  EXPECT_FALSE(cfg->expect_status.Matches(502));
  EXPECT_TRUE(cfg->follow_redirects);
  EXPECT_EQ(cfg->max_redirects, 10);
  EXPECT_FALSE(cfg->insecure);
  EXPECT_TRUE(cfg->ca_file.empty());
  EXPECT_EQ(cfg->body_limit, 64u * 1024u);
  EXPECT_FALSE(cfg->keeps_body());
  EXPECT_EQ(Parse("url: https://example.com")->port, 443);
}

TEST(HttpCheckConfigTest, EveryKeyIsReadAndKnown) {
  const std::string yaml = R"(
url: https://user:secret@[::1]:8443/healthz?x=1
method: HEAD
headers: {X-Probe: gatewatch, X-Empty: ""}
host: api.internal
expect:
  status: [200, "3xx", 404]
  headers: {content-type: "^application/json"}
follow_redirects: false
max_redirects: 0
insecure: true
ca_file: /dev/null
body_limit: 10KB
)";
  EXPECT_EQ("(no error)", ErrorText(yaml));
  auto cfg = Parse(yaml);
  EXPECT_TRUE(cfg->https);
  EXPECT_EQ(cfg->host, "::1");
  EXPECT_EQ(cfg->port, 8443);
  EXPECT_EQ(cfg->redacted_url, "https://[::1]:8443/healthz?x=<redacted>");  // values never shown
  EXPECT_TRUE(cfg->head);
  EXPECT_THAT(cfg->request_headers,
              ::testing::ElementsAre("X-Probe: gatewatch", "X-Empty;", "Host: api.internal"));
  EXPECT_EQ(cfg->expect_status.ToString(), "200, 3xx, 404");
  EXPECT_TRUE(cfg->expect_status.Matches(200));
  EXPECT_TRUE(cfg->expect_status.Matches(302));
  EXPECT_TRUE(cfg->expect_status.Matches(404));
  EXPECT_FALSE(cfg->expect_status.Matches(201));
  ASSERT_EQ(cfg->expect_headers.size(), 1u);
  EXPECT_EQ(cfg->expect_headers[0].name, "content-type");
  EXPECT_FALSE(cfg->follow_redirects);
  EXPECT_EQ(cfg->max_redirects, 0);
  EXPECT_TRUE(cfg->insecure);
  EXPECT_EQ(cfg->ca_file, "/dev/null");
  EXPECT_EQ(cfg->body_limit, 10000u);
}

TEST(HttpCheckConfigTest, BodyAssertionsKeepTheBody) {
  auto cfg = Parse("{url: 'http://h/', expect: {body_regex: 'ok', body_not_regex: 'error'}}");
  EXPECT_TRUE(cfg->keeps_body());
  EXPECT_TRUE(cfg->body_regex->Search("status: ok"));
  EXPECT_TRUE(cfg->body_not_regex->Search("an error"));
  EXPECT_EQ(cfg->expect_status.ToString(), "2xx");  // expect present, status defaulted
}

TEST(HttpCheckTypeTest, NameAndMetrics) {
  CheckType type = HttpCheckType();
  EXPECT_EQ(type.name, "http");
  std::vector<std::string> names;
  for (const MetricDesc* m : type.metrics) names.emplace_back(m->name);
  EXPECT_THAT(names, ::testing::UnorderedElementsAre(
                         "http_status_code", "http_responses_total", "http_phase_seconds",
                         "tls_cert_expiry_timestamp_seconds", "http_redirects", "http_version",
                         "http_content_length_bytes", "http_backend_up", "http_backends"));
  // The same descriptors on every call: observations point at them.
  EXPECT_EQ(HttpCheckType().metrics, type.metrics);
}

// ----- Pure helpers ----------------------------------------------------------------------------

TEST(ResponseHeadersTest, KeepsOnlyTheFinalResponse) {
  ResponseHeaders h;
  for (const char* line :
       {"HTTP/1.1 301 Moved\r\n", "Location: /x\r\n", "Content-Type: text/html\r\n", "\r\n",
        "HTTP/1.1 100 Continue\r\n", "\r\n", "HTTP/2 200\r\n", "content-type: application/json\r\n",
        "Set-Cookie: a=1\r\n", "set-cookie: b=2\r\n", "X-Folded: first\r\n", "  second\r\n",
        "\r\n"}) {
    h.OnLine(line);
  }
  EXPECT_THAT(h.Values("Content-Type"), ::testing::ElementsAre("application/json"));
  EXPECT_TRUE(h.Values("Location").empty());
  EXPECT_THAT(h.Values("SET-COOKIE"), ::testing::ElementsAre("a=1", "b=2"));
  EXPECT_THAT(h.Values("x-folded"), ::testing::ElementsAre("first second"));
  EXPECT_FALSE(h.truncated());
}

TEST(ResponseHeadersTest, StoredBytesAreCapped) {
  ResponseHeaders h;
  h.OnLine("HTTP/1.1 200 OK\r\n");
  std::string line = "X-Big: " + std::string(1000, 'a') + "\r\n";
  for (int i = 0; i < 100; ++i) h.OnLine(line);
  EXPECT_TRUE(h.truncated());
  EXPECT_LE(h.size() * line.size(), ResponseHeaders::kMaxStoredBytes);
  EXPECT_GT(h.size(), 50u);
  h.OnLine("HTTP/1.1 200 OK\r\n");  // a new response starts over
  EXPECT_FALSE(h.truncated());
  EXPECT_EQ(h.size(), 0u);
}

TEST(ComputePhasesTest, CompleteHttpsTransfer) {
  CurlTimesUs t{.namelookup = 100,
                .connect = 1100,
                .appconnect = 5100,
                .pretransfer = 5200,
                .starttransfer = 25200,
                .total = 26200};
  HttpPhases p = ComputePhases(t, true, std::nullopt);
  EXPECT_EQ(p.resolve, microseconds(100));
  EXPECT_EQ(p.connect, microseconds(1000));
  EXPECT_EQ(p.tls, microseconds(4000));
  EXPECT_EQ(p.processing, microseconds(20000));
  EXPECT_EQ(p.transfer, microseconds(1000));
}

TEST(ComputePhasesTest, OwnResolveReplacesCurlsCacheLookup) {
  CurlTimesUs t{.namelookup = 5,
                .connect = 305,
                .appconnect = 0,
                .pretransfer = 310,
                .starttransfer = 810,
                .total = 820};
  HttpPhases p = ComputePhases(t, false, microseconds(7000));
  EXPECT_EQ(p.resolve, microseconds(7000));
  EXPECT_EQ(p.connect, microseconds(300));
  EXPECT_EQ(p.tls, microseconds(0));
  EXPECT_EQ(p.processing, microseconds(500));
  EXPECT_EQ(p.transfer, microseconds(10));
}

TEST(ComputePhasesTest, FailedConnectGetsTheTimeSpentInIt) {
  CurlTimesUs t{.namelookup = 10, .total = 3010};  // refused after 3 ms
  HttpPhases p = ComputePhases(t, true, std::nullopt);
  EXPECT_EQ(p.connect, microseconds(3000));
  EXPECT_EQ(p.tls, microseconds(0));
  EXPECT_EQ(p.processing, microseconds(0));
  EXPECT_EQ(p.transfer, microseconds(0));
}

TEST(ComputePhasesTest, TimeoutWaitingForTheResponseIsProcessing) {
  CurlTimesUs t{.namelookup = 10, .connect = 110, .pretransfer = 120, .total = 2000120};
  HttpPhases p = ComputePhases(t, false, std::nullopt);
  EXPECT_EQ(p.connect, microseconds(100));
  EXPECT_EQ(p.processing, microseconds(2000000));
  EXPECT_EQ(p.transfer, microseconds(0));
}

TEST(ComputePhasesTest, NothingRanIsAllZero) {
  HttpPhases p = ComputePhases(CurlTimesUs{}, true, microseconds(42));
  EXPECT_EQ(p.resolve, microseconds(42));
  EXPECT_EQ(p.connect + p.tls + p.processing + p.transfer, Duration::zero());
}

TEST(ParseCertTimeTest, OpenSslFormat) {
  tm parts{};
  parts.tm_year = 2026 - 1900;
  parts.tm_mon = 11;
  parts.tm_mday = 24;
  parts.tm_hour = 13;
  parts.tm_sec = 3;
  EXPECT_EQ(ParseCertTime("Dec 24 13:00:03 2026 GMT"), static_cast<int64_t>(timegm(&parts)));
  EXPECT_EQ(ParseCertTime("Jan  1 00:00:00 2030 GMT"), 1893456000);  // day padded with a space
  EXPECT_EQ(ParseCertTime(" Jan  1 00:00:00 2030 GMT\r\n"), 1893456000);
  EXPECT_EQ(ParseCertTime("2030-01-01"), std::nullopt);
  EXPECT_EQ(ParseCertTime("Jan  1 00:00:00 2030 PST"), std::nullopt);
  EXPECT_EQ(ParseCertTime(""), std::nullopt);
}

TEST(ScrubCredentialsTest, RemovesUserinfoFromUrlsInText) {
  EXPECT_EQ(ScrubCredentials("Failed to GET https://user:secret@h.example/x (after 3 ms)"),
            "Failed to GET https://h.example/x (after 3 ms)");
  EXPECT_EQ(ScrubCredentials("'http://a:b@c/' and http://d:e@f"), "'http://c/' and http://f");
  EXPECT_EQ(ScrubCredentials("no urls here"), "no urls here");
  EXPECT_EQ(ScrubCredentials("Recv failure: Connection reset by peer"),
            "Recv failure: Connection reset by peer");
}

TEST(ScrubCredentialsTest, RedactsQueryValuesInText) {
  EXPECT_EQ(ScrubCredentials("Failed to GET https://h/x?token=s3cret&v=2 (after 3 ms)"),
            "Failed to GET https://h/x?token=<redacted>&v=<redacted> (after 3 ms)");
}

TEST(RedactQueryValuesTest, RedactsEveryQueryInFreeText) {
  EXPECT_EQ(RedactQueryValues("\"GET /x?token=abc&v=2 HTTP/1.1\" 502"),
            "\"GET /x?token=<redacted>&v=<redacted> HTTP/1.1\" 502");
  EXPECT_EQ(RedactQueryValues("upstream: \"http://h/a?sig=1\", ref \"/b?k\""),
            "upstream: \"http://h/a?sig=<redacted>\", ref \"/b?<redacted>\"");
  EXPECT_EQ(RedactQueryValues("no query here"), "no query here");
  EXPECT_EQ(RedactQueryValues("ends with ?"), "ends with ?");
}

// RedactUrl: the one helper every URL passes before it leaves the process.
TEST(RedactUrlTest, DropsUserinfoAndQueryValuesKeepingKeys) {
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"https://h.example/healthz", "https://h.example/healthz"},
      {"https://user:secret@h.example/x", "https://h.example/x"},
      {"https://h/x?token=s3cret", "https://h/x?token=<redacted>"},
      {"https://h/x?token=s3cret&v=2", "https://h/x?token=<redacted>&v=<redacted>"},
      {"https://h/x?X-Amz-Signature=abc&X-Amz-Expires=60",
       "https://h/x?X-Amz-Signature=<redacted>&X-Amz-Expires=<redacted>"},
      {"https://h/x?bare-secret", "https://h/x?<redacted>"},
      {"https://h/x?empty=&a=b", "https://h/x?empty=&a=<redacted>"},
      {"https://h/x?", "https://h/x?"},
      {"https://h?k=v", "https://h?k=<redacted>"},
      {"https://h/x#access_token=abc", "https://h/x#access_token=<redacted>"},
      {"https://u:p@h/x?a=1#b=2", "https://h/x?a=<redacted>#b=<redacted>"},
      {"http://h/a@b?c=d", "http://h/a@b?c=<redacted>"},  // '@' in the path is no userinfo
      {"not a url?token=x", "not a url?token=x"},
  };
  for (const auto& [in, out] : rows) EXPECT_EQ(RedactUrl(in), out) << in;
  for (const auto& [in, out] : rows) {
    if (in.find("://") != std::string::npos) {
      EXPECT_EQ(out.find("s3cret"), std::string::npos) << in;
      EXPECT_EQ(RedactUrl(out), out) << "redacting twice changes nothing: " << in;
    }
  }
}

// What a redirect may carry, by where it goes (configured URL http://api.example:8080/ or its
// https twin): same origin keeps everything; another scheme, host or port drops the configured
// headers and credentials, or is refused; https to http is refused unless allowed.
TEST(DecideRedirectTest, SameOriginFollowsOtherOriginsDropOrRefuse) {
  using Action = RedirectStep::Action;
  HttpRequest http;
  ASSERT_TRUE(SetRequestUrl("http://api.example:8080/start", http));
  HttpRequest https;
  ASSERT_TRUE(SetRequestUrl("https://api.example/start", https));
  HttpRequest refuse = http;
  refuse.cross_origin_redirects = HttpRequest::CrossOrigin::kRefuse;
  HttpRequest downgrade_ok = https;
  downgrade_ok.allow_https_downgrade = true;
  struct Row {
    const HttpRequest* request;
    std::string from, to;
    Action action;
    std::string url_or_detail;
  };
  const std::vector<Row> rows = {
      {&http, "http://api.example:8080/start", "http://api.example:8080/next", Action::kFollow,
       "http://api.example:8080/next"},
      {&http, "http://api.example:8080/start", "http://API.example:8080/next", Action::kFollow,
       "http://API.example:8080/next"},
      {&http, "http://api.example:8080/start", "http://api.example:9090/next",
       Action::kFollowWithoutHeaders, "http://api.example:9090/next"},
      {&http, "http://api.example:8080/start", "http://other.example:8080/next",
       Action::kFollowWithoutHeaders, "http://other.example:8080/next"},
      {&http, "http://api.example:8080/start", "https://api.example:8080/next",
       Action::kFollowWithoutHeaders, "https://api.example:8080/next"},
      {&http, "http://api.example:8080/start", "http://u:p@other.example/next",
       Action::kFollowWithoutHeaders, "http://other.example/next"},
      {&https, "https://api.example/start", "https://api.example:443/next", Action::kFollow,
       "https://api.example:443/next"},
      {&https, "https://api.example/start", "http://api.example/next", Action::kRefuse,
       "redirect from https://api.example/start to http://api.example/next refused: https never "
       "downgrades to http (allow_https_downgrade: false)"},
      {&downgrade_ok, "https://api.example/start", "http://api.example/next",
       Action::kFollowWithoutHeaders, "http://api.example/next"},
      {&refuse, "http://api.example:8080/start", "http://other.example:8080/x?token=s3cret",
       Action::kRefuse,
       "redirect from http://api.example:8080/start to "
       "http://other.example:8080/x?token=<redacted> "
       "refused: another origin (cross_origin_redirects: refuse)"},
      {&refuse, "http://api.example:8080/start", "http://api.example:8080/x", Action::kFollow,
       "http://api.example:8080/x"},
      {&http, "http://api.example:8080/start", "ftp://api.example/file", Action::kUnsupported,
       "redirect to ftp://api.example/file: only http and https are followed"},
  };
  for (const Row& row : rows) {
    RedirectStep step = DecideRedirect(*row.request, row.from, row.to);
    EXPECT_EQ(step.action, row.action) << row.to;
    bool refused = row.action == Action::kRefuse || row.action == Action::kUnsupported;
    EXPECT_EQ(refused ? step.detail : step.url, row.url_or_detail) << row.to;
  }
}

TEST(HttpCheckConfigTest, RedirectPolicyKeys) {
  auto defaults = Parse("url: http://h/");
  EXPECT_EQ(defaults->cross_origin_redirects, HttpRequest::CrossOrigin::kDropHeaders);
  EXPECT_FALSE(defaults->allow_https_downgrade);
  auto set =
      Parse("{url: 'http://h/', cross_origin_redirects: refuse, allow_https_downgrade: true}");
  EXPECT_EQ(set->cross_origin_redirects, HttpRequest::CrossOrigin::kRefuse);
  EXPECT_TRUE(set->allow_https_downgrade);
  EXPECT_EQ(ErrorText("{url: 'http://h/', cross_origin_redirects: drop}"),
            "checks[0].cross_origin_redirects: must be drop_headers or refuse");
}

}  // namespace
}  // namespace gatewatch

namespace gatewatch {
namespace {

// Browsers and curl -L: a POST that meets 301/302 is repeated as a GET, any method but HEAD that
// meets 303 too; 307 and 308 keep the method (and the body).
TEST(HttpRedirectMethodTest, PostBecomesGetOn301302303Only) {
  struct Case {
    long status;
    const char* method;
    bool becomes_get;
  } cases[] = {
      {301, "POST", true},   {302, "POST", true},  {303, "POST", true},    {307, "POST", false},
      {308, "POST", false},  {301, "PUT", false},  {302, "DELETE", false}, {303, "PUT", true},
      {303, "DELETE", true}, {303, "HEAD", false}, {303, "GET", false},    {302, "GET", false},
      {300, "POST", false},  {304, "POST", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(RedirectBecomesGet(c.status, c.method), c.becomes_get) << c.status << " " << c.method;
  }
  HttpRequest r;
  EXPECT_EQ(EffectiveMethod(r), "GET");
  r.body = "x";
  EXPECT_EQ(EffectiveMethod(r), "POST");
  r.method = "PUT";
  EXPECT_EQ(EffectiveMethod(r), "PUT");
  r.head = true;
  EXPECT_EQ(EffectiveMethod(r), "HEAD");
}

}  // namespace
}  // namespace gatewatch
