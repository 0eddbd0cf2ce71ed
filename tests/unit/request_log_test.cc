// The per-probe log join: the new access-log fields (rid=, cid=), the error line's time and
// connection serial, the RequestLogIndex that joins them, and the agent's attacher that puts the
// joined lines into the history entry and the diagnosis of exactly the failed run.
#include "checks/api/request_log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "agent/base/utf8.h"
#include "agent/diagnosis_sink.h"
#include "agent/request_log_attach.h"
#include "checks/nginx_log_parse.h"
#include "checks/proxy_log_check.h"
#include "exporters/history.h"
#include "tests/testlib/check_spec.h"
#include "tests/testlib/fake_clock.h"

namespace gatewatch {
namespace {

const std::string kLine =
    "127.0.0.1 - - [07/Dec/2026:04:44:34 +0000] \"GET / HTTP/1.1\" 502 157 \"-\" \"curl/7.88.1\" "
    "rt=0.002 ua=\"127.0.0.1:8081\" us=\"502\" urt=\"0.001\"";

struct FieldCase {
  const char* name;
  const char* format;
  std::string line;
  bool ok;
  int status;
  const char* rid;
  uint64_t cid;
  const char* time_local;
};

TEST(RequestLogFieldsTest, AccessLinesGiveTheRequestIdConnectionAndTime) {
  const FieldCase cases[] = {
      {"upstream with rid and cid", "upstream", kLine + " rid=gw-00000001000000aa cid=17", true,
       502, "gw-00000001000000aa", 17, "07/Dec/2026:04:44:34 +0000"},
      {"upstream without a request id", "upstream", kLine + " rid=- cid=3", true, 502, "-", 3,
       "07/Dec/2026:04:44:34 +0000"},
      // Lines written before the format gained rid= and cid= are still read.
      {"upstream line of the old format", "upstream", kLine, true, 502, "", 0,
       "07/Dec/2026:04:44:34 +0000"},
      {"upstream cid not a number", "upstream", kLine + " rid=gw-1 cid=x9", true, 502, "gw-1", 0,
       "07/Dec/2026:04:44:34 +0000"},
      {"upstream cid over 64 bits", "upstream", kLine + " rid=gw-1 cid=99999999999999999999999",
       true, 502, "gw-1", 0, "07/Dec/2026:04:44:34 +0000"},
      {"combined has none", "combined",
       "127.0.0.1 - - [07/Dec/2026:04:44:34 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"", true, 200,
       "", 0, "07/Dec/2026:04:44:34 +0000"},
      {"custom format with $request_id", "$status $request_id $connection [$time_local]",
       "504 gw-ab 42 [07/Dec/2026:04:44:34 +0000]", true, 504, "gw-ab", 42,
       "07/Dec/2026:04:44:34 +0000"},
      {"json", "json",
       R"({"status":502,"http_x_request_id":"gw-cd","connection":9,)"
       R"("time_local":"07/Dec/2026:04:44:34 +0000"})",
       true, 502, "gw-cd", 9, "07/Dec/2026:04:44:34 +0000"},
  };
  for (const FieldCase& c : cases) {
    SCOPED_TRACE(c.name);
    std::string error;
    auto f = AccessLogFormat::Compile(c.format, &error);
    ASSERT_NE(f, nullptr) << error;
    AccessRecord r;
    ASSERT_EQ(f->Parse(c.line, &r), c.ok);
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(r.request_id, c.rid);
    EXPECT_EQ(r.connection, c.cid);
    EXPECT_EQ(r.time_local, c.time_local);
  }
}

TEST(RequestLogFieldsTest, TimesOfBothLogsAgree) {
  std::optional<int64_t> access = ParseTimeLocal("07/Dec/2026:04:44:34 +0000");
  std::optional<int64_t> error = ParseErrorLineTime("2026/12/07 04:44:34 [error] 1#1: *5 x");
  ASSERT_TRUE(access && error);
  EXPECT_EQ(*access, *error);
  EXPECT_EQ(*ParseTimeLocal("01/Jan/1970:00:00:10 +0000"), 10);
  EXPECT_EQ(*ParseTimeLocal("01/Mar/2024:00:00:00 +0100") - *ParseTimeLocal("28/Feb/2024:00:00:00 "
                                                                            "+0100"),
            2 * 86400);  // a leap year
  for (const char* bad :
       {"", "07/Dek/2026:04:44:34 +0000", "7/Dec/2026:04:44:34 +0000", "07/Dec/2026:24:44:34 +0000",
        "07/Dec/1969:04:44:34 +0000", "07/Dec/2026 04:44:34 +0000", "07/ecD/2026:04:44:34 +0000"}) {
    EXPECT_FALSE(ParseTimeLocal(bad)) << bad;
  }
  for (const char* bad : {"", "2026/13/07 04:44:34 [error]", "2026-12-07 04:44:34 [error]",
                          "20x6/12/07 04:44:34 [error]"}) {
    EXPECT_FALSE(ParseErrorLineTime(bad)) << bad;
  }
}

TEST(RequestLogFieldsTest, ErrorLinesGiveTheirConnectionAndEvidence) {
  struct Case {
    std::string line;
    uint64_t cid;
    std::string evidence;
  } cases[] = {
      {"2026/12/07 04:44:34 [error] 12#12: *5 connect() failed (111: Connection refused) while "
       "connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", "
       "upstream: \"http://127.0.0.1:8081/\", host: \"127.0.0.1:8080\"",
       5,
       "connect() failed (111: Connection refused) while connecting to upstream, upstream: "
       "\"http://127.0.0.1:8081/\""},
      {"2026/12/07 04:44:34 [error] 12#12: *123456 upstream timed out (110: Connection timed out) "
       "while reading response header from upstream, client: 10.0.0.1, server: shop",
       123456,
       "upstream timed out (110: Connection timed out) while reading response header from "
       "upstream"},
      // No serial: the proxy's own lines (worker_connections before a connection exists).
      {"2026/12/07 04:44:34 [alert] 12#12: 1024 worker_connections are not enough", 0,
       "1024 worker_connections are not enough"},
      {"2026/12/07 04:44:34 [error] 12#12: *x5 connect() failed", 0, "*x5 connect() failed"},
      // A request line with a fake upstream field stays out: it is the client's text.
      {"2026/12/07 04:44:34 [error] 1#1: *7 no live upstreams while connecting to upstream, "
       "client: 1.2.3.4, request: \"GET /, upstream: \\\"evil\\\" HTTP/1.1\", upstream: "
       "\"http://shop/\"",
       7, "no live upstreams while connecting to upstream, upstream: \"http://shop/\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    EXPECT_EQ(ErrorLineConnection(c.line), c.cid);
    EXPECT_EQ(ErrorLineEvidence(c.line, 512), c.evidence);
  }
  std::string hostile = "2026/12/07 04:44:34 [error] 1#1: *8 upstream sent \xff\xfe" +
                        std::string(5000, 'A') + ", client: x";
  std::string e = ErrorLineEvidence(hostile, 512);
  EXPECT_LE(e.size(), 512u);
  EXPECT_TRUE(IsValidUtf8(e));
}

TEST(RequestLogIndexTest, OnlyProbeIdsTakeASlot) {
  EXPECT_TRUE(IsProbeRequestId("gw-0123456789abcdef"));
  EXPECT_FALSE(IsProbeRequestId("gw-"));
  EXPECT_FALSE(IsProbeRequestId("-"));
  EXPECT_FALSE(IsProbeRequestId("abc-gw-1"));
  EXPECT_FALSE(IsProbeRequestId("gw-a b"));
  EXPECT_FALSE(IsProbeRequestId("gw-\xff"));
  EXPECT_FALSE(IsProbeRequestId("gw-" + std::string(62, 'a')));
  std::string a = NewProbeRequestId(), b = NewProbeRequestId();
  EXPECT_TRUE(IsProbeRequestId(a)) << a;
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 3u + 16u);
}

// One event of a join table: an access line (id set) or an error line (id empty).
struct Event {
  std::string id;  // access line of this id; "" for an error line
  uint64_t cid;
  int64_t at_s;  // the line's time; -1 unknown
  double rt;     // access line: request time
  std::string text;
  int failed = 1;  // access line: failed upstream attempts (-1 unknown)
};

struct JoinCase {
  const char* name;
  std::vector<Event> events;
  std::map<std::string, std::vector<std::string>> want;  // id -> joined error texts
};

TEST(RequestLogIndexTest, JoinsErrorLinesToTheRequestOfTheirConnectionAndTime) {
  const JoinCase cases[] = {
      {"error read before its access line",
       {{"", 5, 100, 0, "refused"}, {"gw-a", 5, 100, 0.001, "A"}},
       {{"gw-a", {"refused"}}}},
      {"error read after its access line (the access log is read first)",
       {{"gw-a", 5, 100, 0.001, "A"}, {"", 5, 100, 0, "refused"}},
       {{"gw-a", {"refused"}}}},
      {"other connections' errors do not join",
       {{"", 6, 100, 0, "other"}, {"gw-a", 5, 100, 0.001, "A"}, {"", 7, 100, 0, "other2"}},
       {{"gw-a", {}}}},
      {"a retry: two errors of one request, in order",
       {{"", 5, 100, 0, "refused 1"}, {"", 5, 101, 0, "refused 2"}, {"gw-a", 5, 101, 1.2, "A", 2}},
       {{"gw-a", {"refused 1", "refused 2"}}}},
      {"keepalive, one second: each failed request takes its own, in order",
       {{"gw-a", 5, 100, 0.001, "A"},
        {"gw-b", 5, 100, 0.001, "B"},
        {"", 5, 100, 0, "e1"},
        {"", 5, 100, 0, "e2"},
        {"", 5, 100, 0, "e3"},
        {"gw-c", 5, 100, 0.001, "C"}},
       {{"gw-a", {"e1"}}, {"gw-b", {"e2"}}, {"gw-c", {"e3"}}}},
      {"keepalive, one second: a request without a failed attempt takes none",
       {{"gw-ok", 5, 100, 0.001, "OK", 0}, {"", 5, 100, 0, "e1"}, {"gw-b", 5, 100, 0.001, "B"}},
       {{"gw-ok", {}}, {"gw-b", {"e1"}}}},
      {"unknown attempts (no upstream fields): up to the cap",
       {{"", 5, 100, 0, "e1"}, {"", 5, 100, 0, "e2"}, {"gw-a", 5, 100, 0.001, "A", -1}},
       {{"gw-a", {"e1", "e2"}}}},
      {"keepalive: the later request's error is not the earlier one's",
       {{"gw-a", 5, 100, 0.001, "A"}, {"", 5, 110, 0, "timeout"}, {"gw-b", 5, 110, 0.01, "B"}},
       {{"gw-a", {}}, {"gw-b", {"timeout"}}}},
      {"keepalive: an error before the earlier request's access line stays with it",
       {{"", 5, 100, 0, "refused"}, {"gw-a", 5, 100, 0.001, "A"}, {"gw-b", 5, 110, 0.01, "B"}},
       {{"gw-a", {"refused"}}, {"gw-b", {}}}},
      {"a long request: an error at its start joins",
       {{"", 5, 100, 0, "timed out"}, {"gw-a", 5, 160, 60.0, "A"}},
       {{"gw-a", {"timed out"}}}},
      {"an error long before the request does not join",
       {{"", 5, 50, 0, "old"}, {"gw-a", 5, 100, 0.5, "A"}},
       {{"gw-a", {}}}},
      {"unknown connection never joins",
       {{"gw-a", 0, 100, 0.001, "A"}, {"", 0, 100, 0, "x"}},
       {{"gw-a", {}}}},
      {"unknown times join on the connection",
       {{"gw-a", 5, -1, -1, "A"}, {"", 5, -1, 0, "refused"}},
       {{"gw-a", {"refused"}}}},
      {"other traffic's ids are not kept",
       {{"client-1", 5, 100, 0.001, "C"}, {"", 5, 100, 0, "refused"}, {"gw-a", 5, 100, 0, "A"}},
       {{"client-1", {}}, {"gw-a", {"refused"}}}},
  };
  for (const JoinCase& c : cases) {
    SCOPED_TRACE(c.name);
    RequestLogIndex index;
    for (const Event& e : c.events) {
      if (e.id.empty()) {
        index.AddError(e.cid, e.at_s, e.text);
      } else {
        index.AddAccess(e.id, e.cid, e.at_s, e.rt, e.failed, e.text);
      }
    }
    for (const auto& [id, errors] : c.want) {
      const RequestLogRecord* r = index.Find(id);
      if (!IsProbeRequestId(id)) {
        EXPECT_EQ(r, nullptr) << id;
        continue;
      }
      ASSERT_NE(r, nullptr) << id;
      EXPECT_EQ(r->errors, errors) << id;
    }
  }
}

TEST(RequestLogIndexTest, StaysBoundedWhateverTheLogsHold) {
  RequestLogIndex index;
  const std::string hostile = "\xc3\x28 \x01\x7f" + std::string(10000, 'x');
  for (int i = 0; i < 2000; ++i) {
    index.AddError(static_cast<uint64_t>(100000 + i), 100, hostile);  // no access line ever
    index.AddAccess("gw-" + std::to_string(i), 7, 100, 0.5, -1, hostile);
    for (int k = 0; k < 10; ++k) index.AddError(7, 100, hostile);
  }
  EXPECT_LE(index.size(), RequestLogIndex::kMaxRecords);
  EXPECT_LE(index.pending(), RequestLogIndex::kMaxPending);
  EXPECT_EQ(index.Find("gw-0"), nullptr);  // the oldest went first
  const RequestLogRecord* r = index.Find("gw-1999");
  ASSERT_NE(r, nullptr);
  EXPECT_LE(r->access.size(), RequestLogIndex::kMaxLineBytes);
  EXPECT_TRUE(IsValidUtf8(r->access));
  EXPECT_LE(r->errors.size(), RequestLogIndex::kMaxErrors);
  for (const auto& e : r->errors) {
    EXPECT_LE(e.size(), RequestLogIndex::kMaxLineBytes);
    EXPECT_TRUE(IsValidUtf8(e));
  }
  std::string text = r->Text(1000);
  EXPECT_LE(text.size(), 1000u);
  EXPECT_TRUE(IsValidUtf8(text));
}

// The proxy_log check fills the index from the lines it reads: the probe's access line with the
// error line of its connection, nothing of other traffic, and its counting is unchanged.
TEST(RequestLogIndexTest, ProxyLogMonitorFillsItFromTheLogs) {
  auto cfg = std::make_shared<ProxyLogConfig>();
  cfg->format = "upstream";
  ProxyLogMonitor monitor(cfg);
  RequestLogIndex index;
  monitor.set_request_log(&index);
  const std::string probe = kLine + " rid=gw-00000000000000a1 cid=12";
  monitor.OnAccessLine(kLine + " rid=- cid=13");                    // another client
  monitor.OnAccessLine(kLine + " rid=gw-00000000000000a2 cid=14");  // another probe
  monitor.OnAccessLine(probe);
  monitor.OnErrorLine(
      "2026/12/07 04:44:34 [error] 7#7: *13 connect() failed (111: Connection refused) while "
      "connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", "
      "upstream: \"http://127.0.0.1:8081/\", host: \"shop\"");
  monitor.OnErrorLine(
      "2026/12/07 04:44:34 [error] 7#7: *12 connect() failed (111: Connection refused) while "
      "connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", "
      "upstream: \"http://127.0.0.1:8081/\", host: \"shop\"");
  EXPECT_EQ(index.size(), 2u);
  const RequestLogRecord* r = index.Find("gw-00000000000000a1");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->access, probe);
  EXPECT_EQ(r->errors, std::vector<std::string>{"connect() failed (111: Connection refused) while "
                                                "connecting to upstream, upstream: "
                                                "\"http://127.0.0.1:8081/\""});
  ASSERT_NE(index.Find("gw-00000000000000a2"), nullptr);
  EXPECT_TRUE(index.Find("gw-00000000000000a2")->errors.empty());  // *13 was another client's
}

// What leaves the process (history, diagnosis, the status page) never carries the probe's query
// values or its basic-auth user name, as the probe's own report never does (RedactUrl).
TEST(RequestLogIndexTest, TheProbesLinesLoseTheirSecrets) {
  auto cfg = std::make_shared<ProxyLogConfig>();
  cfg->format = "upstream";
  ProxyLogMonitor monitor(cfg);
  RequestLogIndex index;
  monitor.set_request_log(&index);
  monitor.OnAccessLine(
      "127.0.0.1 - alice [07/Dec/2026:04:44:34 +0000] \"GET /health?token=s3cret&v=2 HTTP/1.1\" "
      "502 157 \"-\" \"gatewatch\" rt=0.001 ua=\"127.0.0.1:8081\" us=\"502\" urt=\"0.001\" "
      "rid=gw-00000000000000b1 cid=21");
  monitor.OnErrorLine(
      "2026/12/07 04:44:34 [error] 7#7: *21 connect() failed (111: Connection refused) while "
      "connecting to upstream, client: 127.0.0.1, server: , request: \"GET /health?token=s3cret "
      "HTTP/1.1\", upstream: \"http://127.0.0.1:8081/health?token=s3cret\", host: \"shop\"");
  const RequestLogRecord* r = index.Find("gw-00000000000000b1");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->access.find("s3cret"), std::string::npos) << r->access;
  EXPECT_EQ(r->access.find("alice"), std::string::npos) << r->access;
  EXPECT_NE(r->access.find("/health?token=<redacted>&v=<redacted> HTTP/1.1"), std::string::npos)
      << r->access;
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_EQ(r->errors[0],
            "connect() failed (111: Connection refused) while connecting to upstream, upstream: "
            "\"http://127.0.0.1:8081/health?token=<redacted>\"");
}

std::string ReportValue(const RunEvidence& e, const std::string& key) {
  for (const auto& [k, v] : e.report) {
    if (k == key) return v;
  }
  return "";
}

// The agent side: lines that arrive after the failed run (the proxy_log check reads them on its
// own schedule) land in that run's history entry and its diagnosis evidence, and nowhere else.
TEST(RequestLogAttacherTest, AttachesLateLinesToExactlyTheFailedRun) {
  FakeClock clock;
  RequestLogIndex index;
  HistoryStore history(clock);
  DiagnosisSink diagnosis(clock);
  RequestLogAttacher attacher(clock, index, history, diagnosis, std::chrono::seconds(60));
  CheckSpec probe = testing::Spec("probe"), nginx = testing::Spec("nginx", "proxy_log");
  std::vector<const CheckSpec*> specs = {&probe, &nginx};
  history.OnConfig(specs);
  attacher.OnConfig(specs);
  diagnosis.Configure(
      {{"shop", {{"probe", ServiceRole::kProbe}, {"nginx", ServiceRole::kProxyLog}}, {}, false}},
      {});
  auto run = [&](const CheckSpec& spec, Result r) {
    history.OnResult(spec, r);
    diagnosis.OnResult(spec, r);
    attacher.OnResult(spec, r);
  };
  Result failed = Result::Failure(Reason::kHttp502, "HTTP 502");
  failed.report = {{"status", "502"}, {"request_id", "gw-00000000000000f1"}};
  Result other = Result::Failure(Reason::kHttp502, "HTTP 502");
  other.report = {{"status", "502"}, {"request_id", "gw-00000000000000f2"}};
  run(probe, failed);
  clock.Advance(std::chrono::seconds(5));
  run(probe, other);

  // The proxy_log run reads the access line first, then the error line.
  index.AddAccess("gw-00000000000000f1", 5, 100, 0.001, 1,
                  "\"GET / HTTP/1.1\" 502 ua=\"127.0.0.1:8081\"");
  run(nginx, Result::Success());
  index.AddError(5, 100, "connect() failed (111: Connection refused)");
  clock.Advance(std::chrono::seconds(1));
  run(nginx, Result::Success());

  auto h = history.Snapshot("probe");
  ASSERT_TRUE(h);
  ASSERT_EQ(h->failures.size(), 2u);
  EXPECT_EQ(ReportValue(*h->failures[0].evidence, "nginx_log"),
            "\"GET / HTTP/1.1\" 502 ua=\"127.0.0.1:8081\"; error: connect() failed (111: "
            "Connection refused)");
  EXPECT_EQ(ReportValue(*h->failures[1].evidence, "nginx_log"), "");  // not its lines
  // Right after request_id, where a person reads it.
  EXPECT_EQ(h->failures[0].evidence->report[2].first, "nginx_log");

  diagnosis.Evaluate();
  std::string json = diagnosis.Json("");
  EXPECT_NE(json.find("nginx log for gw-00000000000000f1: \\\"GET / HTTP/1.1\\\" 502"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("Connection refused"), std::string::npos) << json;
  EXPECT_EQ(json.find("nginx log for gw-00000000000000f2"), std::string::npos) << json;

  // Past the window the run is given up: memory stays bounded.
  clock.Advance(std::chrono::seconds(120));
  run(nginx, Result::Success());
  EXPECT_EQ(attacher.pending(), 0u);
}

}  // namespace
}  // namespace gatewatch
