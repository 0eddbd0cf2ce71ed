// The proxy_log check's logic without files: lines fed to its monitor, a fake clock for the
// window. What a user relies on: bounded labels, the response attributed to the upstream that
// answered, exactly the observations alerts read, no flapping on a single 502, config errors with
// their path.
#include "checks/proxy_log_check.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "agent/config.h"
#include "agent/io/event_loop.h"
#include "tests/testlib/fake_clock.h"
#include "tests/testlib/nginx_log_lines.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch {
namespace {

using std::chrono::seconds;
using testing::ObservedSum;
using testing::RefusedErrorLine;
using testing::UpstreamLogLine;

const Observation* Find(const Result& r, std::string_view name,
                        const std::vector<std::string>& labels) {
  for (const auto& o : r.observations) {
    if (o.desc->name == name && o.label_values == labels) return &o;
  }
  return nullptr;
}

ProxyLogConfig Cfg() {
  ProxyLogConfig c;
  c.access_log = "/nonexistent/access.log";
  c.format = "upstream";
  return c;
}

TEST(ProxyLogMonitorTest, CountsEachResponseOnceAtTheUpstreamThatAnswered) {
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(Cfg()));
  m.OnAccessLine(UpstreamLogLine(200, "10.0.0.1:80", "200", "0.004"));
  // Retried on the next server after a refused connect: the client got a 200 from 10.0.0.2.
  m.OnAccessLine(UpstreamLogLine(200, "10.0.0.1:80, 10.0.0.2:80", "502, 200", "0.000, 0.020"));
  m.OnAccessLine(UpstreamLogLine(502, "10.0.0.1:80", "502", "0.000"));
  m.OnAccessLine(UpstreamLogLine(404, "-", "-", "-"));
  m.OnAccessLine("garbage");
  FileTailer::PollStats stats;
  Result r = m.Finish(TimePoint(seconds(100)), &stats, nullptr);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "2xx"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.2:80", "2xx"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "502"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"none", "4xx"}), 1);
  // Alert codes exist at 0 from an upstream's first line.
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.2:80", "504"}), 0);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "parsed"}), 4);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "skipped"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "too_long"}), 0);
  // Every attempt's time, under its own upstream, in one pre-bucketed observation per series.
  const Observation* u1 = Find(r, "proxy_upstream_response_seconds", {"10.0.0.1:80"});
  ASSERT_NE(u1, nullptr);
  double count = 0;
  for (double b : u1->bucket_counts) count += b;
  EXPECT_EQ(count, 3);
  EXPECT_DOUBLE_EQ(u1->value, 0.004);
  const Observation* req = Find(r, "proxy_request_duration_seconds", {});
  ASSERT_NE(req, nullptr);
  EXPECT_DOUBLE_EQ(req->value, 0.04);
  EXPECT_TRUE(r.success) << r.detail;

  // The next run reports only what is new.
  Result next = m.Finish(TimePoint(seconds(105)), &stats, nullptr);
  EXPECT_EQ(ObservedSum(next, "proxy_responses_total", {"10.0.0.1:80", "2xx"}), -1);
  EXPECT_EQ(ObservedSum(next, "proxy_log_lines_total", {"access", "parsed"}), 0);
}

TEST(ProxyLogMonitorTest, UpstreamLabelsFoldIntoOtherPastTheCap) {
  ProxyLogConfig c = Cfg();
  c.max_upstreams = 2;
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(c));
  for (int i = 1; i <= 5; ++i) {
    m.OnAccessLine(UpstreamLogLine(200, "10.0.0." + std::to_string(i) + ":80", "200", "0.001"));
  }
  m.OnAccessLine(UpstreamLogLine(200, "-", "-", "-"));
  Result r = m.Finish(TimePoint(seconds(1)), nullptr, nullptr);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "2xx"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.2:80", "2xx"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"other", "2xx"}), 3);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"none", "2xx"}), 1);
  std::set<std::string> upstreams;
  for (const auto& o : r.observations) {
    if (o.desc->name == "proxy_responses_total") upstreams.insert(o.label_values[0]);
  }
  EXPECT_EQ(upstreams, (std::set<std::string>{"10.0.0.1:80", "10.0.0.2:80", "other", "none"}));
}

TEST(ProxyLogMonitorTest, UpstreamLabelsAreNeverRecycledSoCountersStayMonotonic) {
  ProxyLogConfig c = Cfg();
  c.max_upstreams = 1;
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(c));
  m.OnAccessLine(UpstreamLogLine(200, "10.0.0.1:80", "200", "0.001"));
  Result r = m.Finish(TimePoint(seconds(1)), nullptr, nullptr);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "2xx"}), 1);
  // 10.0.0.1 is gone for a day: its slot (and its exported series) stays, the newcomer is other.
  for (int i = 2; i < 1000; ++i) r = m.Finish(TimePoint(seconds(i * 100)), nullptr, nullptr);
  m.OnAccessLine(UpstreamLogLine(200, "10.0.0.2:80", "200", "0.001"));
  r = m.Finish(TimePoint(seconds(100'000)), nullptr, nullptr);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"other", "2xx"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.2:80", "2xx"}), -1);
  m.OnAccessLine(UpstreamLogLine(200, "10.0.0.1:80", "200", "0.001"));
  r = m.Finish(TimePoint(seconds(100'001)), nullptr, nullptr);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "2xx"}), 1);
}

TEST(ProxyLogMonitorTest, CombinedFormatCountsUnderUnknownUpstream) {
  ProxyLogConfig c = Cfg();
  c.format = "combined";
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(c));
  m.OnAccessLine(
      "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET / HTTP/1.1\" 503 10 \"-\" \"curl/7.88.1\"");
  Result r = m.Finish(TimePoint(seconds(1)), nullptr, nullptr);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"unknown", "503"}), 1);
}

TEST(ProxyLogMonitorTest, FailsOnlyWhenTheWindowsFiveHundredsCrossTheRatio) {
  ProxyLogConfig c = Cfg();
  c.error_log = "/nonexistent/error.log";
  c.max_5xx_ratio = 0.1;
  c.min_requests = 20;
  c.window = seconds(60);
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(c));
  FileTailer::PollStats ok;

  // One 502 among few requests: no flap.
  m.OnAccessLine(UpstreamLogLine(502, "10.0.0.1:80", "502", "0.000"));
  m.OnErrorLine(RefusedErrorLine("10.0.0.1:80"));
  Result r = m.Finish(TimePoint(seconds(0)), &ok, &ok);
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(ObservedSum(r, "proxy_upstream_errors_total", {"10.0.0.1:80", "connection_refused"}),
            1);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"error", "parsed"}), 1);

  // 30 of 60 in the window: fails with the reason nginx gave, naming the upstream.
  for (int i = 0; i < 29; ++i) {
    m.OnAccessLine(UpstreamLogLine(502, "10.0.0.1:80", "502", "0.000"));
    m.OnErrorLine(RefusedErrorLine("10.0.0.1:80"));
  }
  for (int i = 0; i < 30; ++i) m.OnAccessLine(UpstreamLogLine(200, "10.0.0.2:80", "200", "0.001"));
  r = m.Finish(TimePoint(seconds(10)), &ok, &ok);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::kConnectionRefused);
  EXPECT_EQ(r.detail,
            "30 of 60 responses in the last 1m were 5xx (50.0%, above 10.0%); the proxy logged "
            "connection_refused 30 times, mostly at 10.0.0.1:80");

  // The window moves on: healthy again without a single new 200 needed.
  for (int i = 0; i < 20; ++i) m.OnAccessLine(UpstreamLogLine(200, "10.0.0.2:80", "200", "0.001"));
  r = m.Finish(TimePoint(seconds(75)), &ok, &ok);
  EXPECT_TRUE(r.success) << r.detail;

  // Without error-log reasons, the dominant code names the failure.
  for (int i = 0; i < 20; ++i) m.OnAccessLine(UpstreamLogLine(504, "10.0.0.3:80", "504", "1.000"));
  r = m.Finish(TimePoint(seconds(80)), &ok, &ok);
  EXPECT_EQ(r.reason, Reason::kHttp504) << r.detail;
}

TEST(ProxyLogMonitorTest, TheDominantReasonIsSummedOverUpstreams) {
  ProxyLogConfig c = Cfg();
  c.error_log = "/nonexistent/error.log";
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(c));
  const std::string timeout =
      "2026/11/25 02:10:01 [error] 7#7: *3 upstream timed out (110: Connection timed out) while "
      "reading response header from upstream, client: 127.0.0.1, server: , request: \"GET / "
      "HTTP/1.1\", upstream: \"http://10.0.0.9:80/\", host: \"127.0.0.1\"";
  for (int i = 0; i < 15; ++i) m.OnErrorLine(timeout);
  for (int i = 0; i < 30; ++i) {
    m.OnErrorLine(RefusedErrorLine("10.0.0." + std::to_string(1 + i % 3) + ":80"));
    m.OnAccessLine(UpstreamLogLine(502, "10.0.0.1:80", "502", "0.000"));
  }
  FileTailer::PollStats ok;
  Result r = m.Finish(TimePoint(seconds(1)), &ok, &ok);
  EXPECT_EQ(r.reason, Reason::kConnectionRefused) << r.detail;
}

// The proxy's own exhaustion fails the run with its reason (cause resources) although the access
// log shows no 5xx share: refused clients never reach it.
TEST(ProxyLogMonitorTest, ProxyExhaustionFailsTheRunWhateverThe5xxShare) {
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(Cfg()));
  for (int i = 0; i < 50; ++i) m.OnAccessLine(UpstreamLogLine(200, "10.0.0.1:80", "200", "0.004"));
  for (int i = 0; i < 3; ++i) {
    m.OnErrorLine("2026/11/25 02:10:01 [alert] 7#7: 8 worker_connections are not enough");
  }
  m.OnErrorLine("2026/11/25 02:10:01 [crit] 7#7: accept4() failed (24: Too many open files)");
  FileTailer::PollStats ok;
  Result r = m.Finish(TimePoint(seconds(1)), &ok, &ok);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::kWorkerConnectionsExhausted) << r.detail;
  EXPECT_EQ(CauseName(ReasonCause(r.reason)), "resources");
  EXPECT_EQ(r.detail,
            "the proxy logged worker_connections_exhausted 3 times in the last 1m (its own limits, "
            "not an upstream's)");
  EXPECT_EQ(ObservedSum(r, "proxy_upstream_errors_total", {"none", "worker_connections_exhausted"}),
            3);
  EXPECT_EQ(ObservedSum(r, "proxy_upstream_errors_total", {"none", "fd_exhausted"}), 1);
  // Once the window has passed, the run succeeds again.
  r = m.Finish(TimePoint(seconds(200)), &ok, &ok);
  EXPECT_TRUE(r.success) << r.detail;
}

// Over syslog (a real unix datagram socket and event loop): each datagram's line is routed to the
// access or error log parser by its shape, and what is not RFC 3164, too long or hostile is
// counted, never a crash, never a label.
TEST(ProxyLogMonitorTest, SyslogDatagramsFeedTheSameParsersAndLossesAreCounted) {
  testing::TempDir dir;
  FakeClock clock;  // the receivers' grace period passes without sleeping
  EventLoop loop(clock);
  TailRegistry tails;  // outlives the monitor, as the agent's does
  ProxyLogConfig c;
  c.format = "upstream";
  c.max_line = 1024;
  c.syslog_listen = "unix://" + dir.path() + "/gw.sock";
  auto m = std::make_unique<ProxyLogMonitor>(std::make_shared<ProxyLogConfig>(c));
  Result r = m->Run(TimePoint(seconds(1)), tails, &loop);  // binds
  ASSERT_TRUE(r.success) << r.detail;
  UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::string path = dir.path() + "/gw.sock";
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  auto send = [&](const std::string& d) {
    ASSERT_EQ(sendto(fd.get(), d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a),
              static_cast<ssize_t>(d.size()));
  };
  const std::string head = "<190>Nov 25 02:10:01 web1 nginx: ";
  send(head + UpstreamLogLine(200, "10.0.0.1:80", "200", "0.004"));
  send(head + UpstreamLogLine(502, "10.0.0.1:80", "502", "0.000"));
  send("<187>Nov 25 02:10:01 web1 nginx: " + RefusedErrorLine("10.0.0.1:80"));
  send("<189>Nov 25 02:10:01 web1 nginx: 2026/11/25 02:10:01 [notice] 1#1: reopening logs");
  send(head + UpstreamLogLine(200, "10.0.0.\xff:80\"", "200", "0.004"));  // hostile upstream
  send("not syslog at all \xff\xfe");
  send(head + std::string(2000, 'x'));  // over max_line + 1 KiB of header room
  r = m->Run(TimePoint(seconds(2)), tails, &loop);
  EXPECT_EQ(ObservedSum(r, "proxy_syslog_messages_total", {"accepted"}), 5);
  EXPECT_EQ(ObservedSum(r, "proxy_syslog_messages_total", {"malformed"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_syslog_messages_total", {"too_long"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_syslog_messages_total", {"dropped"}), 0);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "parsed"}), 3);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"error", "parsed"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"error", "skipped"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "502"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"other", "2xx"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_upstream_errors_total", {"10.0.0.1:80", "connection_refused"}),
            1);
  // A rebuilt check's state takes over the socket: what arrives in between is not lost.
  m.reset();
  send(head + UpstreamLogLine(200, "10.0.0.1:80", "200", "0.004"));
  m = std::make_unique<ProxyLogMonitor>(std::make_shared<ProxyLogConfig>(c));
  r = m->Run(TimePoint(seconds(3)), tails, &loop);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "2xx"}), 1);
  // The address held by another process (here: a regular file at the path) fails the run as
  // log_unreadable, retried every run.
  m.reset();
  clock.Advance(seconds(11));  // the least grace is 10s: nobody took it over
  loop.RunOnce(Duration::zero());
  ASSERT_FALSE(std::filesystem::exists(path));
  std::ofstream(path) << "not a socket";
  m = std::make_unique<ProxyLogMonitor>(std::make_shared<ProxyLogConfig>(c));
  r = m->Run(TimePoint(seconds(40)), tails, &loop);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, Reason::kLogUnreadable);
  EXPECT_NE(r.detail.find("not a socket"), std::string::npos) << r.detail;
}

TEST(ProxyLogMonitorTest, UnreadableLogFailsAsMisconfigurationAndStillCounts) {
  ProxyLogConfig c = Cfg();
  TailRegistry tails;  // outlives the monitor, as the agent's does
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(c));
  Result r = m.Run(TimePoint(seconds(1)), tails);
  EXPECT_FALSE(r.success);
  // A wrong path is the operator's mistake, not a gatewatch bug (internal_error).
  EXPECT_EQ(r.reason, Reason::kLogUnreadable);
  EXPECT_EQ(CauseName(ReasonCause(r.reason)), "misconfiguration");
  EXPECT_EQ(r.detail,
            "access_log: open /nonexistent/access.log: No such file or directory (retrying every "
            "run)");
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "parsed"}), 0);
}

// A fresh log file; "first time" is per TailRegistry (one per agent), which each test makes.
std::string FreshLog(const std::string& name, int lines) {
  static int n = 0;
  std::string path =
      (std::filesystem::temp_directory_path() /
       ("gw_proxy_log_" + std::to_string(getpid()) + "_" + std::to_string(++n) + "_" + name))
          .string();
  std::ofstream out(path, std::ios::trunc);
  for (int i = 0; i < lines; ++i)
    out << UpstreamLogLine(502, "10.0.0.1:80", "502", "0.000") << "\n";
  return path;
}

TEST(ProxyLogMonitorTest, StartAtBeginningReadsHistoryOnlyOnceAcrossAReload) {
  ProxyLogConfig c = Cfg();
  c.access_log = FreshLog("access.log", 30);
  c.start_at_end = false;
  auto cfg = std::make_shared<ProxyLogConfig>(c);
  TailRegistry tails;  // the agent's
  {
    // Built (say, to validate a config) but never run: the one read from the start is not used up.
    ProxyLogMonitor validated(cfg);
  }
  auto first = std::make_unique<ProxyLogMonitor>(cfg);
  Result r = first->Run(TimePoint(seconds(1)), tails);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "502"}), 30);
  EXPECT_FALSE(r.success);  // 30 of 30 are 5xx

  // A reload that changed the check builds a new monitor: the exporter keeps its counters, so the
  // history must not count again (nor fill the new window with old 502s).
  first.reset();
  ProxyLogMonitor rebuilt(cfg);
  r = rebuilt.Run(TimePoint(seconds(2)), tails);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "502"}), -1);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "parsed"}), 0);
  EXPECT_TRUE(r.success) << r.detail;
  {
    std::ofstream out(c.access_log, std::ios::app);
    out << UpstreamLogLine(200, "10.0.0.1:80", "200", "0.001") << "\n";
  }
  r = rebuilt.Run(TimePoint(seconds(3)), tails);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "2xx"}), 1);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "parsed"}), 1);

  // Another agent (its own registry, e.g. a `gatewatch probe`) has never tailed it: from the start.
  TailRegistry other;
  ProxyLogMonitor elsewhere(cfg);
  r = elsewhere.Run(TimePoint(seconds(4)), other);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "502"}), 30);
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "2xx"}), 1);
  std::filesystem::remove(c.access_log);
}

TEST(ProxyLogCheckTest, StateIsTheChecksNotTheCheckObject) {
  ProxyLogConfig c = Cfg();
  c.access_log = FreshLog("state.log", 0);
  Config config = ParseConfig(
      "checks:\n  - {name: edge, type: proxy_log, interval: 10s, timeout: 1s, access_log: '" +
          c.access_log + "', format: upstream}\n",
      "test.yml");
  const Check& check = *config.checks.at(0).check;
  TailRegistry tails;  // outlives the states, as the agent's does: they leave positions in it
  std::unique_ptr<CheckState> a = check.NewState(), b = check.NewState();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(a.get(), b.get());
  auto* monitor_a = dynamic_cast<ProxyLogMonitor*>(a.get());
  auto* monitor_b = dynamic_cast<ProxyLogMonitor*>(b.get());
  ASSERT_NE(monitor_a, nullptr);
  ASSERT_NE(monitor_b, nullptr);
  monitor_a->Run(TimePoint(seconds(1)), tails);  // opens at the end
  monitor_b->Run(TimePoint(seconds(1)), tails);
  {
    std::ofstream out(c.access_log, std::ios::app);
    out << UpstreamLogLine(200, "10.0.0.1:80", "200", "0.001") << "\n";
  }
  // Each state has its own offset: both see the new line once, the first one again never.
  EXPECT_EQ(ObservedSum(monitor_a->Run(TimePoint(seconds(2)), tails), "proxy_log_lines_total",
                        {"access", "parsed"}),
            1);
  EXPECT_EQ(ObservedSum(monitor_b->Run(TimePoint(seconds(2)), tails), "proxy_log_lines_total",
                        {"access", "parsed"}),
            1);
  EXPECT_EQ(ObservedSum(monitor_a->Run(TimePoint(seconds(3)), tails), "proxy_log_lines_total",
                        {"access", "parsed"}),
            0);
  std::filesystem::remove(c.access_log);
}

void Append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app);
  out << text;
}

double Parsed(const Result& r) {
  return ObservedSum(r, "proxy_log_lines_total", {"access", "parsed"});
}

// A reload that changes any key rebuilds the check and its state: the new state carries on at the
// old one's position (offset and the half line written so far), so the lines written around the
// reload are each counted once (they were lost: 300 written, 200 counted).
TEST(ProxyLogMonitorTest, ARebuiltCheckCarriesOnWhereTheOldOneStopped) {
  std::string path = FreshLog("rebuilt.log", 5);  // history: not read (start_at: end)
  auto config = [&](const std::string& extra) {
    return ParseConfig(
        "checks:\n  - {name: edge, type: proxy_log, interval: 10s, timeout: 1s, "
        "format: upstream, access_log: '" +
            path + "'" + extra + "}\n",
        "test.yml");
  };
  TailRegistry tails;
  Config v1 = config("");
  std::unique_ptr<CheckState> state = v1.checks.at(0).check->NewState();
  auto* monitor = static_cast<ProxyLogMonitor*>(state.get());
  EXPECT_EQ(Parsed(monitor->Run(TimePoint(seconds(10)), tails)), 0);
  std::string lines;
  for (int i = 0; i < 100; ++i) lines += UpstreamLogLine(200, "10.0.0.1:80", "200", "0.001") + "\n";
  Append(path, lines);
  EXPECT_EQ(Parsed(monitor->Run(TimePoint(seconds(20)), tails)), 100);

  // Written while the reload happens, the last line only half.
  std::string during;
  for (int i = 0; i < 300; ++i)
    during += UpstreamLogLine(200, "10.0.0.1:80", "200", "0.001") + "\n";
  std::string half = UpstreamLogLine(502, "10.0.0.1:80", "502", "0.000");
  Append(path, during + half.substr(0, 40));
  Config v2 = config(", min_requests: 5");  // another key: another fingerprint, a new state
  ASSERT_NE(v1.checks[0].fingerprint, v2.checks[0].fingerprint);
  state = v2.checks.at(0).check->NewState();  // the old state goes, as in Scheduler::SetChecks
  monitor = static_cast<ProxyLogMonitor*>(state.get());
  Append(path, half.substr(40) + "\n");
  Result r = monitor->Run(TimePoint(seconds(25)), tails);
  EXPECT_EQ(Parsed(r), 301);
  EXPECT_EQ(ObservedSum(r, "proxy_log_lines_total", {"access", "skipped"}), 0)
      << "the half line is whole";
  EXPECT_EQ(ObservedSum(r, "proxy_responses_total", {"10.0.0.1:80", "502"}), 1);
  EXPECT_EQ(Parsed(monitor->Run(TimePoint(seconds(30)), tails)), 0);

  // A check on the path removed long ago (beyond two intervals) does not resume: it starts at
  // the end, as a new check does.
  state.reset();
  Append(path, lines);
  std::unique_ptr<CheckState> later = v2.checks.at(0).check->NewState();
  EXPECT_EQ(Parsed(static_cast<ProxyLogMonitor*>(later.get())->Run(TimePoint(seconds(60)), tails)),
            0);
  std::filesystem::remove(path);
}

// The window's totals are running sums over a fixed number of buckets: what entered is counted
// until its bucket is a whole window old, then subtracted; memory does not grow with the number
// of runs, and a 24 h window costs a run what a 1 s one does.
TEST(ProxyLogMonitorTest, WindowTotalsAreRunningSumsOverTimeBuckets) {
  ProxyLogConfig c = Cfg();
  c.window = seconds(60);  // buckets of 1 s
  c.min_requests = 1;
  c.max_5xx_ratio = 0.5;
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(c));
  auto feed = [&](int ok, int bad) {
    for (int i = 0; i < ok; ++i)
      m.OnAccessLine(UpstreamLogLine(200, "10.0.0.1:80", "200", "0.001"));
    for (int i = 0; i < bad; ++i)
      m.OnAccessLine(UpstreamLogLine(502, "10.0.0.1:80", "502", "0.000"));
  };
  auto window = [](const Result& r) {
    for (const auto& [k, v] : r.report) {
      if (k == "window_responses") return std::stod(v);
    }
    return -1.0;
  };
  feed(10, 0);
  EXPECT_EQ(window(m.Finish(TimePoint(seconds(100)), nullptr, nullptr)), 10);
  feed(0, 4);
  Result r = m.Finish(TimePoint(seconds(130)), nullptr, nullptr);
  EXPECT_EQ(window(r), 14);
  EXPECT_TRUE(r.success) << r.detail;
  // At 160 s the bucket of 100 s is exactly one window old: still in. At 161 s it has left.
  EXPECT_EQ(window(m.Finish(TimePoint(seconds(160)), nullptr, nullptr)), 14);
  r = m.Finish(TimePoint(seconds(161)), nullptr, nullptr);
  EXPECT_EQ(window(r), 4);
  EXPECT_FALSE(r.success) << "4 of 4 are 5xx once the 200s left the window";
  EXPECT_EQ(r.reason, Reason::kHttp502);
  // Many runs over many windows: the sums stay exact.
  for (int i = 0; i < 10'000; ++i) {
    feed(1, i % 2);
    m.Finish(TimePoint(seconds(200) + std::chrono::milliseconds(250 * i)), nullptr, nullptr);
  }
  // The last 61 s hold runs 9756..9999 (at 4 per second) -> 244 runs, 122 of them with a 502.
  r = m.Finish(TimePoint(seconds(200) + std::chrono::milliseconds(250 * 9999)), nullptr, nullptr);
  EXPECT_EQ(window(r), 244 + 122);
  // Long after, everything has left.
  r = m.Finish(TimePoint(seconds(100'000)), nullptr, nullptr);
  EXPECT_EQ(window(r), 0);
  EXPECT_TRUE(r.success) << r.detail;
}

TEST(ProxyLogMonitorTest, TimeoutRatioIsTheWindowsSlowestUpstreamOverTheTimeout) {
  ProxyLogConfig c = Cfg();
  c.proxy_read_timeout = seconds(2);
  ProxyLogMonitor m(std::make_shared<ProxyLogConfig>(c));
  m.OnAccessLine(UpstreamLogLine(200, "10.0.0.1:80", "200", "1.500"));
  m.OnAccessLine(UpstreamLogLine(200, "10.0.0.1:80", "200", "0.100"));
  Result r = m.Finish(TimePoint(seconds(1)), nullptr, nullptr);
  EXPECT_DOUBLE_EQ(ObservedSum(r, "proxy_upstream_response_timeout_ratio", {}), 0.75);
  r = m.Finish(TimePoint(seconds(2)), nullptr, nullptr);
  EXPECT_DOUBLE_EQ(ObservedSum(r, "proxy_upstream_response_timeout_ratio", {}),
                   0.75);  // still in window
  r = m.Finish(TimePoint(seconds(100)), nullptr, nullptr);
  EXPECT_DOUBLE_EQ(ObservedSum(r, "proxy_upstream_response_timeout_ratio", {}), 0);
}

std::string ConfigError(const std::string& keys) {
  try {
    ParseConfig("checks:\n  - {name: edge, type: proxy_log, " + keys + "}\n", "t");
  } catch (const gatewatch::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ProxyLogConfigTest, ErrorsNameTheirPath) {
  EXPECT_EQ(ConfigError("interval: 5s, timeout: 1s"),
            "checks[0]: needs access_log, error_log, syslog or several");
  EXPECT_EQ(ConfigError("access_log: /a, format: '$status$request_time'"),
            "checks[0].format: not combined, upstream, json or a usable log_format string: "
            "$status and $request_time have no text between them: their values cannot be told "
            "apart");
  EXPECT_EQ(ConfigError("access_log: /a, start_at: middle"),
            "checks[0].start_at: must be end or beginning");
  EXPECT_EQ(ConfigError("access_log: /a, max_line: 10"),
            "checks[0].max_line: must be between 256B and 1MiB");
  // Parsed on the loop thread: one run must not hold every other check back for long.
  EXPECT_EQ(ConfigError("access_log: /a, read_limit: 2GiB"),
            "checks[0].read_limit: must be between max_line and 1GiB");
  EXPECT_EQ(ConfigError("access_log: /a, read_limit: 16MiB"), "(no error)");
  EXPECT_EQ(ConfigError("access_log: /a, read_budget: 6s"),
            "checks[0].read_budget: must be between 1ms and 5s");
  EXPECT_EQ(ConfigError("access_log: /a, read_budget: 50ms"), "(no error)");
  EXPECT_EQ(ConfigError("syslog: {listen: 'tcp://127.0.0.1:514'}"),
            "checks[0].syslog.listen: must be udp://ADDRESS:PORT or unix:///PATH");
  EXPECT_EQ(ConfigError("syslog: {listen: 'udp://localhost:514'}"),
            "checks[0].syslog.listen: 'localhost' is not an IP address");
  EXPECT_EQ(ConfigError("syslog: {listen: 'udp://127.0.0.1:70000'}"),
            "checks[0].syslog.listen: the port must be a number 1..65535");
  EXPECT_EQ(
      ConfigError("syslog: {listen: 'unix://run/x.sock'}"),
      "checks[0].syslog.listen: unix:// needs an absolute path (unix:///run/gatewatch/nginx.sock)");
  EXPECT_EQ(ConfigError("syslog: {}"),
            "checks[0].syslog: needs listen (udp://127.0.0.1:5514 or unix:///PATH)");
  EXPECT_EQ(ConfigError("syslog: {listen: 'udp://[::1]:5514', queue: 1KiB}"),
            "checks[0].syslog.queue: must be between 64KiB and 1GiB");
  EXPECT_EQ(ConfigError("syslog: {listen: 'udp://[::1]:5514', queue: 1MiB}"), "(no error)");
  EXPECT_EQ(ConfigError("syslog: {listen: 'unix:///run/gw.sock'}"), "(no error)");
  EXPECT_EQ(ConfigError("access_log: /a, window: 0s"),
            "checks[0].window: must be between 1s and 24h");
  EXPECT_EQ(ConfigError("access_log: /a, acess_log: /b").rfind("checks[0].acess_log", 0), 0u)
      << ConfigError("access_log: /a, acess_log: /b");
  EXPECT_EQ(ConfigError("access_log: /a, format: upstream, proxy_read_timeout: 60s, "
                        "max_upstreams: 10, max_5xx_ratio: 0.2, min_requests: 5, window: 30s"),
            "(no error)");
}

}  // namespace
}  // namespace gatewatch
