// The event loop and the services it drives (c-ares, curl multi), against sockets the test owns
// on 127.0.0.1. Waits are bounded by the loop's own timers, never by sleeping.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "agent/io/curl_multi.h"
#include "agent/io/dns_resolver.h"
#include "agent/io/event_loop.h"
#include "tests/testlib/fake_clock.h"
#include "tests/testlib/loopback.h"

namespace gatewatch {
namespace {

using testing::BindLoopback;
using testing::RunUntil;

using std::chrono::milliseconds;
using std::chrono::seconds;

// /-/healthy compares now with last_iteration(): a loop that has not turned yet must not look
// stalled since the epoch (the agent answered 503 until its first iteration).
TEST(EventLoopTest, ANewLoopCountsAsJustTurned) {
  FakeClock clock;
  EventLoop loop(clock);
  EXPECT_EQ(loop.last_iteration(), clock.Now());
  clock.Advance(seconds(5));
  loop.RunOnce(milliseconds(0));
  EXPECT_EQ(loop.last_iteration(), clock.Now());
}

TEST(EventLoopTest, RunsTimersInOrderAndPostedTasksFromOtherThreads) {
  SystemClock clock;
  EventLoop loop(clock);
  std::vector<int> order;
  loop.AddTimerAfter(milliseconds(20), [&] { order.push_back(2); });
  loop.AddTimerAfter(milliseconds(5), [&] { order.push_back(1); });
  std::thread poster([&] { loop.Post([&] { order.push_back(0); }); });
  poster.join();
  bool done = false;
  loop.AddTimerAfter(milliseconds(30), [&] { done = true; });
  RunUntil(loop, done);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(EventLoopTest, WatchedFdCallbackMayUnwatchItself) {
  SystemClock clock;
  EventLoop loop(clock);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  UniqueFd r(fds[0]), w(fds[1]);
  int calls = 0;
  loop.Watch(r.get(), EventLoop::kReadable, [&](uint32_t events) {
    EXPECT_TRUE(events & EventLoop::kReadable);
    ++calls;
    loop.Unwatch(r.get());
  });
  ASSERT_EQ(write(w.get(), "x", 1), 1);
  loop.RunOnce(milliseconds(100));
  loop.RunOnce(milliseconds(10));
  EXPECT_EQ(calls, 1);
}

TEST(EventLoopTest, StopFromAnotherThreadEndsRunAfterPostedWork) {
  SystemClock clock;
  EventLoop loop(clock);
  bool ran_on_loop = false;
  std::thread stopper([&] {
    loop.Post([&] { ran_on_loop = loop.InLoopThread(); });
    loop.Stop();
  });
  loop.Run();  // returns only because of Stop()
  stopper.join();
  EXPECT_TRUE(ran_on_loop) << "work posted before Stop() must run, on the loop thread";
}

TEST(DnsResolverTest, IpLiteralsNeedNoQuery) {
  EXPECT_TRUE(DnsResolver::IsIpLiteral("127.0.0.1"));
  EXPECT_TRUE(DnsResolver::IsIpLiteral("::1"));
  EXPECT_TRUE(DnsResolver::IsIpLiteral("[::1]"));
  EXPECT_FALSE(DnsResolver::IsIpLiteral("localhost"));
  EXPECT_FALSE(DnsResolver::IsIpLiteral("127.0.0.1.example"));
}

// Every configured DNS server (dns resolvers:, top-level resolvers: lists, http resolver:) goes
// through ParseServer: the c-ares csv form with an explicit port, IP literals only.
TEST(DnsResolverTest, ParseServerNormalizesToCsvForm) {
  const std::pair<std::string, std::optional<std::string>> cases[] = {
      {"10.0.0.2", "10.0.0.2:53"},
      {"10.0.0.2:5301", "10.0.0.2:5301"},
      {"::1", "[::1]:53"},
      {"[::1]", "[::1]:53"},
      {"[2606:4700::1111]:5353", "[2606:4700::1111]:5353"},
      {"[10.0.0.2]:54", "10.0.0.2:54"},
      {"127.0.0.1:0053", "127.0.0.1:53"},
      {"dns.google", std::nullopt},  // a name would need a resolver to find the resolver
      {"dns.google:53", std::nullopt},
      {"127.0.0.1:70000", std::nullopt},
      {"127.0.0.1:", std::nullopt},
      {"[::1]x", std::nullopt},
      {"1.2.3", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& [text, want] : cases) EXPECT_EQ(DnsResolver::ParseServer(text), want) << text;
}

TEST(DnsResolverTest, ResolvesLocalhostFromHostsFileWithoutReentrantCallback) {
  SystemClock clock;
  EventLoop loop(clock);
  DnsResolver dns(loop, {});
  ASSERT_TRUE(dns.ok());
  bool returned = false, done = false;
  ResolveResult result;
  auto q = dns.Resolve("localhost", AF_INET, [&](const ResolveResult& r) {
    EXPECT_TRUE(returned) << "callback ran inside Resolve()";
    result = r;
    done = true;
  });
  returned = true;
  RunUntil(loop, done);
  ASSERT_TRUE(done);
  EXPECT_EQ(result.status, ARES_SUCCESS);
  ASSERT_FALSE(result.addresses.empty());
  EXPECT_EQ(result.addresses[0].address, "127.0.0.1");
}

// Options pointing a resolver at `port`, where a UDP socket the test holds never answers.
DnsResolver::Options SilentServer(int port, Duration timeout, int tries) {
  DnsResolver::Options opts;
  opts.servers = "127.0.0.1:" + std::to_string(port);
  opts.timeout = timeout;
  opts.tries = tries;
  return opts;
}

TEST(DnsResolverTest, SilentServerIsATimeoutNotAHang) {
  SystemClock clock;
  EventLoop loop(clock);
  int port = 0;
  UniqueFd silent = BindLoopback(SOCK_DGRAM, &port);
  DnsResolver dns(loop, SilentServer(port, milliseconds(200), 2));
  ASSERT_TRUE(dns.ok());
  bool done = false;
  int status = -1;
  auto q = dns.Resolve("www.example.test", AF_INET, [&](const ResolveResult& r) {
    status = r.status;
    done = true;
  });
  RunUntil(loop, done);
  ASSERT_TRUE(done);
  EXPECT_EQ(status, ARES_ETIMEOUT);
}

TEST(DnsResolverTest, CancelledQueryNeverCallsBack) {
  SystemClock clock;
  EventLoop loop(clock);
  int port = 0;
  UniqueFd silent = BindLoopback(SOCK_DGRAM, &port);
  DnsResolver dns(loop, SilentServer(port, milliseconds(50), 1));
  bool called = false;
  auto q = dns.Resolve("www.example.test", AF_INET, [&](const ResolveResult&) { called = true; });
  q.reset();
  bool done = false;
  loop.AddTimerAfter(milliseconds(300), [&] { done = true; });
  RunUntil(loop, done);
  EXPECT_FALSE(called);
}

TEST(DnsResolverTest, UnusableServerListFailsEveryQueryAsynchronously) {
  SystemClock clock;
  EventLoop loop(clock);
  DnsResolver::Options opts;
  opts.servers = "not-an-address";
  DnsResolver dns(loop, opts);
  EXPECT_FALSE(dns.ok());
  bool returned = false, done = false;
  int status = ARES_SUCCESS;
  auto q = dns.Resolve("www.example.test", AF_INET, [&](const ResolveResult& r) {
    EXPECT_TRUE(returned) << "callback ran inside Resolve()";
    status = r.status;
    done = true;
  });
  returned = true;
  RunUntil(loop, done);
  EXPECT_TRUE(done);
  EXPECT_NE(status, ARES_SUCCESS);
}

// Checks that ask one server share one cached channel; a server nobody asks any more (a reload
// removed it) is dropped once idle, but never while a query handle still points at it.
TEST(DnsResolverTest, ForServerCachesPerServerAndDropsOnlyIdleOnes) {
  FakeClock clock;
  EventLoop loop(clock);
  DnsResolver dns(loop, {});
  int port = 0;
  UniqueFd silent = BindLoopback(SOCK_DGRAM, &port);
  DnsResolver::Options a = SilentServer(port, milliseconds(50), 1);
  DnsResolver::Options b = a;
  b.no_recurse = true;
  DnsResolver* first = &dns.ForServer(a);
  EXPECT_EQ(&dns.ForServer(a), first);
  EXPECT_NE(&dns.ForServer(b), first);
  EXPECT_EQ(dns.cached_servers(), 2u);

  auto held = dns.ForServer(a).Query("www.example.test", 1, [](int, const unsigned char*, int) {});
  clock.Advance(DnsResolver::kIdleEvict + seconds(61));
  DnsResolver::Options c = a;
  c.tries = 2;
  dns.ForServer(c);  // schedules the sweep: `b` is idle and dropped; `a` has a live handle
  EXPECT_EQ(dns.cached_servers(), 3u);  // never inline: the sweep runs from the loop
  loop.RunOnce(milliseconds(0));
  EXPECT_EQ(dns.cached_servers(), 2u);
  EXPECT_EQ(&dns.ForServer(a), first);
  held.reset();
  clock.Advance(DnsResolver::kIdleEvict + seconds(61));
  dns.ForServer(c);
  loop.RunOnce(milliseconds(0));
  EXPECT_EQ(dns.cached_servers(), 1u);
}

// A query that took longer than kIdleEvict: its callback drops its handle and asks ForServer()
// again (as a DNS check does for its next query). Its own resolver is then idle, but must not be
// destroyed while it is still delivering (an inline sweep did that: use-after-free under ASan).
TEST(DnsResolverTest, ForServerNeverDropsAResolverFromItsOwnCallback) {
  FakeClock clock;
  EventLoop loop(clock);
  DnsResolver dns(loop, {});
  int port = 0;
  UniqueFd server = BindLoopback(SOCK_DGRAM, &port);
  // Answers every question with REFUSED, but only when the test lets it.
  bool answer = false;
  loop.Watch(server.get(), EventLoop::kReadable, [&](uint32_t) {
    if (!answer) return;
    unsigned char buf[512];
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n =
        recvfrom(server.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 12) return;
    buf[2] |= 0x80;                                 // QR: a response
    buf[3] = static_cast<unsigned char>(0x80 | 5);  // RA, RCODE 5 = REFUSED
    sendto(server.get(), buf, n, 0, reinterpret_cast<sockaddr*>(&from), len);
  });
  DnsResolver::Options a = SilentServer(port, seconds(5), 1);
  DnsResolver::Options other = a;
  other.no_recurse = true;
  std::unique_ptr<DnsQuery> q;
  bool done = false;
  int status = -1;
  q = dns.ForServer(a).Query("www.example.test", 1, [&](int st, const unsigned char*, int) {
    status = st;
    q.reset();
    dns.ForServer(other);  // `a` has no handle and was last asked for > kIdleEvict ago
    done = true;
  });
  loop.RunOnce(milliseconds(0));  // the first ForServer()'s sweep: the next is due in a minute
  ASSERT_FALSE(done);
  clock.Advance(DnsResolver::kIdleEvict + seconds(61));  // the loop's clock, not c-ares'
  answer = true;
  RunUntil(loop, done);
  ASSERT_TRUE(done);
  EXPECT_EQ(status, ARES_EREFUSED);  // the answer came from the server, not a timeout
  loop.RunOnce(milliseconds(0));     // the sweep, from the loop: now `a` may go
  EXPECT_EQ(dns.cached_servers(), 1u);
}

TEST(CurlMultiTest, CompletesATransferAndReportsRefusedConnections) {
  SystemClock clock;
  EventLoop loop(clock);
  CurlMulti curl(loop);

  // A listener that accepts and answers one minimal HTTP response, driven by the same loop.
  int port = 0;
  UniqueFd listener = BindLoopback(SOCK_STREAM, &port);
  UniqueFd conn;
  loop.Watch(listener.get(), EventLoop::kReadable, [&](uint32_t) {
    conn.reset(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    const char kReply[] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    ASSERT_GT(write(conn.get(), kReply, sizeof kReply - 1), 0);
    conn.reset();
  });

  CurlEasyPtr ok(curl_easy_init());
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  curl_easy_setopt(ok.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(ok.get(), CURLOPT_TIMEOUT_MS, 5000L);
  bool ok_done = false;
  CURLcode ok_code = CURLE_OK;
  curl.Add(ok.get(), [&](CURLcode code) {
    ok_code = code;
    ok_done = true;
  });
  RunUntil(loop, ok_done);
  ASSERT_TRUE(ok_done);
  EXPECT_EQ(ok_code, CURLE_OK);
  long status = 0;
  curl_easy_getinfo(ok.get(), CURLINFO_RESPONSE_CODE, &status);
  EXPECT_EQ(status, 204);

  loop.Unwatch(listener.get());
  listener.reset();  // now nothing listens on the port
  CurlEasyPtr refused(curl_easy_init());
  curl_easy_setopt(refused.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(refused.get(), CURLOPT_TIMEOUT_MS, 5000L);
  bool refused_done = false;
  CURLcode refused_code = CURLE_OK;
  curl.Add(refused.get(), [&](CURLcode code) {
    refused_code = code;
    refused_done = true;
  });
  RunUntil(loop, refused_done);
  EXPECT_EQ(refused_code, CURLE_COULDNT_CONNECT);
  EXPECT_EQ(curl.running(), 0u);
}

TEST(CurlMultiTest, RemovedTransferNeverCallsBack) {
  SystemClock clock;
  EventLoop loop(clock);
  CurlMulti curl(loop);
  int port = 0;
  UniqueFd listener = BindLoopback(SOCK_STREAM, &port);  // accepts into the backlog, never answers
  CurlEasyPtr easy(curl_easy_init());
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  bool called = false;
  curl.Add(easy.get(), [&](CURLcode) { called = true; });
  loop.RunOnce(milliseconds(50));
  curl.Remove(easy.get());
  bool done = false;
  loop.AddTimerAfter(milliseconds(100), [&] { done = true; });
  RunUntil(loop, done);
  EXPECT_FALSE(called);
  EXPECT_EQ(curl.running(), 0u);
}

}  // namespace
}  // namespace gatewatch
