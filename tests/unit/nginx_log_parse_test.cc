// Tables of real nginx 1.22 log lines through the pure parsers: every access log format, lists of
// upstreams, and every error.log message gatewatch classifies.
#include "checks/nginx_log_parse.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace gatewatch {
namespace {

struct AccessCase {
  const char* name;
  const char* format;
  std::string line;
  bool ok;
  int status;
  double request_time;
  const char* addr;
  const char* ustatus;
  const char* utime;
};

TEST(AccessLogFormatTest, ParsesEveryFormat) {
  const AccessCase cases[] = {
      {"combined", "combined",
       "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET /shop/cart?id=1 HTTP/1.1\" 200 612 \"-\" "
       "\"curl/7.88.1\"",
       true, 200, -1, "", "", ""},
      {"combined with user and referer", "combined",
       "10.1.2.3 - alice [25/Nov/2026:02:10:01 +0000] \"POST /api HTTP/2.0\" 502 157 "
       "\"https://shop.example/\" \"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0\"",
       true, 502, -1, "", "", ""},
      {"combined escaped quote in request", "combined",
       "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET /a\\x22b HTTP/1.1\" 404 153 \"-\" \"-\"",
       true, 404, -1, "", "", ""},
      {"combined garbage", "combined", "this is not an access log line", false, 0, -1, "", "", ""},
      {"combined status not a number", "combined",
       "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET / HTTP/1.1\" abc 1 \"-\" \"-\"", false, 0,
       -1, "", "", ""},
      {"combined status out of range", "combined",
       "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET / HTTP/1.1\" 999 1 \"-\" \"-\"", false, 0,
       -1, "", "", ""},
      {"upstream ok", "upstream",
       "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET /ok HTTP/1.1\" 200 2 \"-\" "
       "\"curl/7.88.1\" "
       "rt=0.001 ua=\"127.0.0.1:41001\" us=\"200\" urt=\"0.001\"",
       true, 200, 0.001, "127.0.0.1:41001", "200", "0.001"},
      {"upstream refused", "upstream",
       "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET /dead HTTP/1.1\" 502 157 \"-\" "
       "\"curl/7.88.1\" rt=0.000 ua=\"127.0.0.1:41002\" us=\"502\" urt=\"0.000\"",
       true, 502, 0.0, "127.0.0.1:41002", "502", "0.000"},
      {"upstream no upstream involved", "upstream",
       "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET /hello HTTP/1.1\" 200 6 \"-\" \"-\" "
       "rt=0.000 ua=\"-\" us=\"-\" urt=\"-\"",
       true, 200, 0.0, "-", "-", "-"},
      {"upstream list with retry and internal redirect", "upstream",
       "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET / HTTP/1.1\" 404 0 \"-\" \"-\" rt=1.012 "
       "ua=\"10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80\" us=\"502, 200 : 404\" "
       "urt=\"0.001, 1.004 : 0.003\"",
       true, 404, 1.012, "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80", "502, 200 : 404",
       "0.001, 1.004 : 0.003"},
      {"upstream timeout 504", "upstream",
       "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET /slow HTTP/1.1\" 504 167 \"-\" \"-\" "
       "rt=0.301 ua=\"127.0.0.1:41003\" us=\"504\" urt=\"0.301\"",
       true, 504, 0.301, "127.0.0.1:41003", "504", "0.301"},
      {"json", "json",
       R"({"time":"2026-11-25T02:10:01+00:00","status":502,"request_time":0.004,)"
       R"("upstream_addr":"10.0.0.1:80, 10.0.0.2:80","upstream_status":"502, 502",)"
       R"("upstream_response_time":"0.001, 0.003","request":"GET /\"x\" HTTP/1.1"})",
       true, 502, 0.004, "10.0.0.1:80, 10.0.0.2:80", "502, 502", "0.001, 0.003"},
      {"json all strings", "json",
       R"({"status":"200","request_time":"0.010","upstream_addr":"unix:/run/app.sock",)"
       R"("upstream_status":"200","upstream_response_time":"0.009"})",
       true, 200, 0.010, "unix:/run/app.sock", "200", "0.009"},
      {"json nested objects are skipped", "json",
       R"({"status":200,"headers":{"upstream_addr":"nope"},"upstream_addr":"10.0.0.9:80"})", true,
       200, -1, "10.0.0.9:80", "", ""},
      {"json without status", "json", R"({"upstream_addr":"10.0.0.1:80"})", false, 0, -1, "", "",
       ""},
      {"json not an object", "json", R"(["status",200])", false, 0, -1, "", "", ""},
      {"json truncated", "json", R"({"status":200,"upstream_addr":"10.)", false, 0, -1, "", "", ""},
      {"json too deep", "json",
       std::string(R"({"status":200,"x":)") + std::string(20, '[') + std::string(20, ']') + "}",
       false, 0, -1, "", "", ""},
      {"custom format", "$time_iso8601 $status $request_time $upstream_addr $upstream_status",
       "2026-11-25T02:10:01+00:00 502 0.002 10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80 502, 502 : 503",
       true, 502, 0.002, "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80", "502, 502 : 503", ""},
      {"custom format braces and skipped variables",
       "[${time_local}] ${status}|$host|$upstream_addr",
       "[25/Nov/2026:02:10:01 +0000] 200|shop.example|127.0.0.1:8080", true, 200, -1,
       "127.0.0.1:8080", "", ""},
      {"custom format wrong prefix", "[$time_local] $status", "25/Nov/2026 200", false, 0, -1, "",
       "", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string error;
    auto format = AccessLogFormat::Compile(c.format, &error);
    ASSERT_NE(format, nullptr) << error;
    AccessRecord r;
    ASSERT_EQ(format->Parse(c.line, &r), c.ok);
    if (!c.ok) continue;
    EXPECT_EQ(r.status, c.status);
    EXPECT_DOUBLE_EQ(r.request_time, c.request_time);
    EXPECT_EQ(r.upstream_addr, c.addr);
    EXPECT_EQ(r.upstream_status, c.ustatus);
    EXPECT_EQ(r.upstream_time, c.utime);
  }
}

TEST(AccessLogFormatTest, RefusesAmbiguousFormats) {
  struct Case {
    const char* format;
    const char* error;
  } cases[] = {
      {"$status$request_time",
       "$status and $request_time have no text between them: their values cannot be told apart"},
      {"$remote_addr $body_bytes_sent", "the format has no $status"},
      {"${status", "unterminated ${ at offset 0"},
      {"x $ $status", "a $ without a variable name at offset 2"},
  };
  for (const auto& c : cases) {
    std::string error;
    EXPECT_EQ(AccessLogFormat::Compile(c.format, &error), nullptr) << c.format;
    EXPECT_EQ(error, c.error);
  }
  std::string error;
  auto combined = AccessLogFormat::Compile("combined", &error);
  EXPECT_FALSE(combined->has_upstream());
  EXPECT_TRUE(AccessLogFormat::Compile("upstream", &error)->has_upstream());
  EXPECT_TRUE(AccessLogFormat::Compile("json", &error)->has_upstream());
}

TEST(AccessLogFormatTest, DeployedNginxSnippetIsTheUpstreamFormat) {
  std::ifstream in(std::string(GATEWATCH_SOURCE_DIR) + "/deploy/nginx/gatewatch-log-format.conf");
  std::stringstream text;
  text << in.rdbuf();
  std::string conf = text.str();
  size_t at = conf.find("\nlog_format gatewatch ");
  ASSERT_NE(at, std::string::npos);
  // nginx concatenates the quoted pieces up to the ';'.
  std::string format;
  for (size_t i = at; i < conf.size() && conf[i] != ';';) {
    size_t open = conf.find('\'', i);
    if (open == std::string::npos || conf.find(';', i) < open) break;
    size_t close = conf.find('\'', open + 1);
    format += conf.substr(open + 1, close - open - 1);
    i = close + 1;
  }
  EXPECT_EQ(format, kRecommendedLogFormat);
}

TEST(SplitUpstreamsTest, AlignsAddressesStatusesAndTimes) {
  struct Case {
    const char* addr;
    const char* status;
    const char* time;
    std::vector<std::tuple<std::string, int, double>> want;
  } cases[] = {
      {"127.0.0.1:80", "200", "0.010", {{"127.0.0.1:80", 200, 0.010}}},
      {"-", "-", "-", {}},
      {"", "", "", {}},
      {"10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80",
       "502, 200 : 404",
       "0.001, 1.004 : 0.003",
       {{"10.0.0.1:80", 502, 0.001}, {"10.0.0.2:80", 200, 1.004}, {"10.0.0.3:80", 404, 0.003}}},
      {"[::1]:8080, unix:/run/app.sock",
       "502, 200",
       "0.000, -",
       {{"[::1]:8080", 502, 0.0}, {"unix:/run/app.sock", 200, -1}}},
      // A server nginx never got a status from, and lists cut short.
      {"10.0.0.1:80, 10.0.0.2:80",
       "-, 504",
       "0.000",
       {{"10.0.0.1:80", 0, 0.0}, {"10.0.0.2:80", 504, -1}}},
      {"backend", "502", "0.000", {{"backend", 502, 0.0}}},
  };
  std::vector<UpstreamAttempt> out;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.addr);
    AccessRecord r;
    r.upstream_addr = c.addr;
    r.upstream_status = c.status;
    r.upstream_time = c.time;
    SplitUpstreams(r, &out);
    ASSERT_EQ(out.size(), c.want.size());
    for (size_t i = 0; i < out.size(); ++i) {
      EXPECT_EQ(out[i].addr, std::get<0>(c.want[i]));
      EXPECT_EQ(out[i].status, std::get<1>(c.want[i]));
      EXPECT_DOUBLE_EQ(out[i].response_time, std::get<2>(c.want[i]));
    }
  }
}

TEST(ClassifyErrorLineTest, EveryUpstreamFailureOfNginx122) {
  const std::string tail =
      ", client: 127.0.0.1, server: , request: \"GET /shop HTTP/1.1\", upstream: "
      "\"http://127.0.0.1:41002/shop\", host: \"127.0.0.1:8080\"";
  const std::string pre = "2026/11/25 02:10:01 [error] 4242#4242: *17 ";
  struct Case {
    std::string line;
    std::optional<Reason> reason;  // nullopt: not an upstream failure
    const char* upstream;
  } cases[] = {
      {pre + "connect() failed (111: Connection refused) while connecting to upstream" + tail,
       Reason::kConnectionRefused, "127.0.0.1:41002"},
      {pre + "connect() failed (111: Unknown error) while connecting to upstream" + tail,
       Reason::kConnectionRefused, "127.0.0.1:41002"},
      {pre +
           "upstream timed out (110: Connection timed out) while reading response header from "
           "upstream" +
           tail,
       Reason::kUpstreamTimeout, "127.0.0.1:41002"},
      {pre + "upstream timed out (110: Connection timed out) while connecting to upstream" + tail,
       Reason::kUpstreamTimeout, "127.0.0.1:41002"},
      {pre + "upstream timed out (110: Unknown error) while reading upstream" + tail,
       Reason::kUpstreamTimeout, "127.0.0.1:41002"},
      {pre +
           "recv() failed (104: Connection reset by peer) while reading response header from "
           "upstream" +
           tail,
       Reason::kConnectionReset, "127.0.0.1:41002"},
      {pre + "readv() failed (104: Connection reset by peer) while reading upstream" + tail,
       Reason::kConnectionReset, "127.0.0.1:41002"},
      {pre + "upstream prematurely closed connection while reading response header from upstream" +
           tail,
       Reason::kConnectionReset, "127.0.0.1:41002"},
      {pre + "writev() failed (32: Broken pipe) while sending request to upstream" + tail,
       Reason::kConnectionReset, "127.0.0.1:41002"},
      {pre + "no live upstreams while connecting to upstream, client: 127.0.0.1, server: , "
             "request: \"GET / HTTP/1.1\", upstream: \"http://backend/\", host: \"127.0.0.1\"",
       Reason::kNoLiveUpstreams, "backend"},
      {pre + "app.internal could not be resolved (3: Host not found), client: 127.0.0.1, server: "
             ", request: \"GET / HTTP/1.1\", host: \"127.0.0.1:8080\"",
       Reason::kDnsError, "app.internal"},
      {pre + "app.internal could not be resolved (110: Operation timed out), client: 127.0.0.1, "
             "server: , request: \"GET / HTTP/1.1\", host: \"127.0.0.1:8080\"",
       Reason::kDnsError, "app.internal"},
      {pre +
           "upstream sent invalid header: \"X-Bad\\x0D...\" while reading response header from "
           "upstream" +
           tail,
       Reason::kInvalidHeader, "127.0.0.1:41002"},
      {pre +
           "upstream sent duplicate header line: \"Transfer-Encoding: chunked\", previous value: "
           "\"Transfer-Encoding: chunked\" while reading response header from upstream" +
           tail,
       Reason::kInvalidHeader, "127.0.0.1:41002"},
      {pre + "upstream sent no valid HTTP/1.0 header while reading response header from upstream" +
           tail,
       Reason::kProtocolError, "127.0.0.1:41002"},
      {pre + "upstream sent invalid chunked response while reading upstream" + tail,
       Reason::kProtocolError, "127.0.0.1:41002"},
      {"2026/11/25 02:10:01 [crit] 4242#4242: *17 SSL_do_handshake() failed (SSL: "
       "error:0A00010B:SSL routines::wrong version number) while SSL handshaking to upstream, "
       "client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", upstream: "
       "\"https://127.0.0.1:41004/\", host: \"127.0.0.1:8080\"",
       Reason::kTlsHandshake, "127.0.0.1:41004"},
      {pre +
           "SSL_do_handshake() failed (SSL: error:0A000410:SSL routines::sslv3 alert handshake "
           "failure:SSL alert number 40) while SSL handshaking to upstream" +
           tail,
       Reason::kTlsHandshake, "127.0.0.1:41002"},
      {pre +
           "upstream SSL certificate verify error: (18:self-signed certificate) while SSL "
           "handshaking to upstream" +
           tail,
       Reason::kTlsCertificate, "127.0.0.1:41002"},
      {pre + "connect() failed (113: No route to host) while connecting to upstream" + tail,
       Reason::kHostUnreachable, "127.0.0.1:41002"},
      {pre + "connect() failed (101: Network is unreachable) while connecting to upstream" + tail,
       Reason::kHostUnreachable, "127.0.0.1:41002"},
      {pre + "connect() to unix:/run/app.sock failed (2: No such file or directory) while "
             "connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", "
             "upstream: \"http://unix:/run/app.sock:/\", host: \"127.0.0.1\"",
       Reason::kConnectionRefused, "unix:/run/app.sock"},
      {pre + "connect() to [::1]:41002 failed (111: Connection refused) while connecting to "
             "upstream, client: ::1, server: , request: \"GET / HTTP/1.1\", upstream: "
             "\"http://[::1]:41002/\", host: \"localhost\"",
       Reason::kConnectionRefused, "[::1]:41002"},
      {pre +
           "upstream sent more data than specified in \"Content-Length\" header while reading "
           "upstream" +
           tail,
       Reason::kProtocolError, "127.0.0.1:41002"},
      {pre + "something nginx 1.26 may say while reading response header from upstream" + tail,
       Reason::kOther, "127.0.0.1:41002"},
      // The proxy's own exhaustion (cause resources), with or without an upstream.
      {"2026/11/25 02:10:01 [alert] 4242#4242: *17 4 worker_connections are not enough while "
       "connecting to upstream" +
           tail,
       Reason::kWorkerConnectionsExhausted, "127.0.0.1:41002"},
      {"2026/11/25 02:10:01 [alert] 4242#4242: 4 worker_connections are not enough",
       Reason::kWorkerConnectionsExhausted, "none"},
      {"2026/11/25 02:10:01 [alert] 4242#4242: *17 socket() failed (24: Too many open files) "
       "while connecting to upstream, client: 10.1.2.3, server: www.example.com, request: \"GET / "
       "HTTP/1.1\", upstream: \"fastcgi://127.0.0.1:9000\", host: \"www.example.com\"",
       Reason::kFdExhausted, "127.0.0.1:9000"},
      {"2026/11/25 02:10:01 [crit] 4242#4242: accept4() failed (24: Too many open files)",
       Reason::kFdExhausted, "none"},
      {"2026/11/25 02:10:01 [crit] 4242#4242: accept4() failed (23: Too many open files in "
       "system)",
       Reason::kFdExhausted, "none"},
      {"2026/11/25 02:10:01 [crit] 4242#4242: *17 open() \"/usr/share/nginx/html/index.html\" "
       "failed (24: Too many open files), client: 127.0.0.1, server: , request: \"GET / "
       "HTTP/1.1\", host: \"127.0.0.1\"",
       Reason::kFdExhausted, "none"},
      {"2026/11/25 02:10:01 [crit] 4242#4242: *17 connect() to 10.0.0.5:8080 failed (99: Cannot "
       "assign requested address) while connecting to upstream, client: 127.0.0.1, server: , "
       "request: \"GET / HTTP/1.1\", upstream: \"http://10.0.0.5:8080/\", host: \"shop\"",
       Reason::kEphemeralPortsExhausted, "10.0.0.5:8080"},
      {pre + "connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily "
             "unavailable) while connecting to upstream, client: 127.0.0.1, server: , request: "
             "\"GET /index.php HTTP/1.1\", upstream: "
             "\"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"127.0.0.1\"",
       Reason::kListenQueueFull, "unix:/run/php/php8.2-fpm.sock"},
      {pre +
           "connect() failed (11: Resource temporarily unavailable) while connecting to upstream" +
           tail,
       Reason::kListenQueueFull, "127.0.0.1:41002"},
      {"2026/11/25 02:10:01 [alert] 4242#4242: *17 upstream buffer is too small to read response "
       "while reading upstream" +
           tail,
       Reason::kProxyBufferTooSmall, "127.0.0.1:41002"},
      {pre + "upstream sent too big header while reading response header from upstream" + tail,
       Reason::kProxyBufferTooSmall, "127.0.0.1:41002"},
      // EAGAIN outside connect() is not a full listen queue; the client's text never counts.
      {pre +
           "recv() failed (11: Resource temporarily unavailable) while reading response header "
           "from upstream" +
           tail,
       Reason::kOther, "127.0.0.1:41002"},
      {pre + "open() \"/srv/x\" failed (2: No such file or directory), client: 127.0.0.1, "
             "server: , request: \"GET /(24: Too many open files) HTTP/1.1\", host: \"x\"",
       std::nullopt, ""},
      // Not upstream failures.
      {"2026/11/25 02:10:01 [warn] 4242#4242: *17 upstream server temporarily disabled while "
       "connecting to upstream" +
           tail,
       std::nullopt, ""},
      {"2026/11/25 02:10:01 [warn] 4242#4242: *17 an upstream response is buffered to a temporary "
       "file /var/cache/nginx/proxy_temp/1/00/0000000001 while reading upstream" +
           tail,
       std::nullopt, ""},
      {pre + "open() \"/usr/share/nginx/html/favicon.ico\" failed (2: No such file or directory), "
             "client: 127.0.0.1, server: , request: \"GET /upstream timed out HTTP/1.1\", host: "
             "\"127.0.0.1\"",
       std::nullopt, ""},
      {"2026/11/25 02:10:01 [notice] 4241#4241: signal 10 (SIGUSR1) received from 99, reopening "
       "logs",
       std::nullopt, ""},
      {"2026/11/25 02:10:01 [notice] 4241#4241: reopening logs", std::nullopt, ""},
      {"not an nginx line at all", std::nullopt, ""},
      {"", std::nullopt, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    auto e = ClassifyErrorLine(c.line);
    ASSERT_EQ(e.has_value(), c.reason.has_value());
    if (!e) continue;
    EXPECT_EQ(ReasonName(e->reason), ReasonName(*c.reason));
    EXPECT_EQ(e->upstream, c.upstream);
  }
}

}  // namespace
}  // namespace gatewatch
