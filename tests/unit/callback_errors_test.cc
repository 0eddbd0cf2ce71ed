// Failures inside libcurl's and c-ares' callbacks (the loop cannot watch a socket) and failed
// CURLMcode calls: values and counters, never exceptions through C code. The watch failures are
// injected with EventLoop::FailWatchesForTest, the one thing a test cannot provoke otherwise
// (curl's and c-ares' sockets are always pollable).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <system_error>

#include "agent/io/curl_multi.h"
#include "agent/io/dns_resolver.h"
#include "agent/io/event_loop.h"
#include "tests/testlib/loopback.h"

namespace gatewatch {
namespace {

using testing::BindLoopback;
using testing::RunUntil;

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(EventLoopErrorsTest, EpollRefusingAnFdIsAValueFromTryWatchAndAnExceptionFromWatch) {
  SystemClock clock;
  EventLoop loop(clock);
  char path[] = "/tmp/gatewatch_watch_XXXXXX";
  UniqueFd file(mkstemp(path));
  ASSERT_TRUE(file.valid());
  unlink(path);
  // epoll does not poll regular files: EPERM.
  Expected<void> r = loop.TryWatch(file.get(), EventLoop::kReadable, [](uint32_t) {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EPERM);
  EXPECT_NE(r.error().message.find("epoll_ctl add"), std::string::npos) << r.error().message;
  EXPECT_THROW(loop.Watch(file.get(), EventLoop::kReadable, [](uint32_t) {}), std::system_error);

  // Nothing was left behind: a pipe watched afterwards works, a failed fd is no watcher.
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  bool fired = false;
  ASSERT_TRUE(loop.TryWatch(rd.get(), EventLoop::kReadable, [&](uint32_t) { fired = true; }));
  ASSERT_EQ(write(wr.get(), "x", 1), 1);
  RunUntil(loop, fired, seconds(2));
  EXPECT_TRUE(fired);

  loop.FailWatchesForTest(EBADF);
  Expected<void> injected = loop.TryWatch(wr.get(), EventLoop::kWritable, [](uint32_t) {});
  ASSERT_FALSE(injected);
  EXPECT_EQ(injected.error().code, EBADF);
}

TEST(CurlMultiErrorsTest, UnwatchableSocketFailsOnlyThatTransferAsAResult) {
  SystemClock clock;
  EventLoop loop(clock);
  CurlMulti curl(loop);
  int port = 0;
  UniqueFd listener = BindLoopback(SOCK_STREAM, &port);  // accepts into the backlog, never answers
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";

  loop.FailWatchesForTest(EPERM);
  CurlEasyPtr easy(curl_easy_init());
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, 5000L);
  bool done = false;
  CURLcode code = CURLE_OK;
  TimePoint start = clock.Now();
  curl.Add(easy.get(), [&](CURLcode c) {
    code = c;
    done = true;
  });
  RunUntil(loop, done);
  ASSERT_TRUE(done);
  EXPECT_EQ(code, CURLE_COULDNT_CONNECT);
  EXPECT_LT(clock.Now() - start, seconds(2)) << "waited for the transfer timeout instead";
  EXPECT_GE(curl.errors(), 1u);
  EXPECT_EQ(curl.running(), 0u);

  // The multi handle is still healthy: the next transfer runs (and times out against the silent
  // listener, as it should, rather than being aborted).
  loop.FailWatchesForTest(0);
  uint64_t errors = curl.errors();
  CurlEasyPtr next(curl_easy_init());
  curl_easy_setopt(next.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(next.get(), CURLOPT_TIMEOUT_MS, 200L);
  bool next_done = false;
  CURLcode next_code = CURLE_OK;
  curl.Add(next.get(), [&](CURLcode c) {
    next_code = c;
    next_done = true;
  });
  RunUntil(loop, next_done);
  ASSERT_TRUE(next_done);
  EXPECT_EQ(next_code, CURLE_OPERATION_TIMEDOUT);
  EXPECT_EQ(curl.errors(), errors);
}

TEST(CurlMultiErrorsTest, TransferRemovedBeforeItsFailureIsReportedNeverCallsBack) {
  SystemClock clock;
  EventLoop loop(clock);
  CurlMulti curl(loop);
  int port = 0;
  UniqueFd listener = BindLoopback(SOCK_STREAM, &port);
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  loop.FailWatchesForTest(EPERM);
  CurlEasyPtr easy(curl_easy_init());
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  bool called = false;
  curl.Add(easy.get(), [&](CURLcode) { called = true; });
  // Until curl connects (the 0 ms timer) and the watch fails; the failure is then only queued.
  TimePoint end = clock.Now() + seconds(2);
  while (curl.errors() == 0 && clock.Now() < end) loop.RunOnce(milliseconds(0));
  ASSERT_GE(curl.errors(), 1u);
  curl.Remove(easy.get());
  bool done = false;
  loop.AddTimerAfter(milliseconds(100), [&] { done = true; });
  RunUntil(loop, done);
  EXPECT_FALSE(called);
}

TEST(CurlMultiErrorsTest, FailedAddHandleIsCountedAndReported) {
  SystemClock clock;
  EventLoop loop(clock);
  CurlMulti curl(loop);
  int port = 0;
  UniqueFd listener = BindLoopback(SOCK_STREAM, &port);
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  CurlEasyPtr easy(curl_easy_init());
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  curl.Add(easy.get(), [](CURLcode) {});
  EXPECT_EQ(curl.errors(), 0u);
  // The same handle again: CURLM_ADDED_ALREADY.
  bool done = false;
  CURLcode code = CURLE_OK;
  curl.Add(easy.get(), [&](CURLcode c) {
    code = c;
    done = true;
  });
  EXPECT_EQ(curl.errors(), 1u);
  RunUntil(loop, done, seconds(2));
  EXPECT_TRUE(done);
  EXPECT_EQ(code, CURLE_FAILED_INIT);
  curl.Remove(easy.get());
}

TEST(DnsResolverErrorsTest, UnwatchableSocketFailsTheQueryInsteadOfWaitingForTheTimeout) {
  SystemClock clock;
  EventLoop loop(clock);
  int port = 0;
  UniqueFd silent = BindLoopback(SOCK_DGRAM, &port);
  DnsResolver::Options opts;
  opts.servers = "127.0.0.1:" + std::to_string(port);
  opts.timeout = seconds(3);
  opts.tries = 1;
  DnsResolver dns(loop, opts);
  ASSERT_TRUE(dns.ok());
  EXPECT_EQ(dns.errors(), 0u);
  loop.FailWatchesForTest(EPERM);
  bool returned = false, done = false;
  int status = ARES_SUCCESS;
  TimePoint start = clock.Now();
  auto q = dns.Resolve("www.example.test", AF_INET, [&](const ResolveResult& r) {
    EXPECT_TRUE(returned) << "callback ran inside Resolve()";
    status = r.status;
    done = true;
  });
  returned = true;
  RunUntil(loop, done);
  ASSERT_TRUE(done);
  EXPECT_EQ(status, ARES_ECANCELLED);
  EXPECT_LT(clock.Now() - start, seconds(2)) << "waited for the query timeout instead";
  EXPECT_GE(dns.errors(), 1u);
}

TEST(DnsResolverErrorsTest, ChannelInitFailuresAreCountedAlsoForPerServerResolvers) {
  SystemClock clock;
  EventLoop loop(clock);
  DnsResolver::Options bad;
  bad.servers = "not-an-address";
  DnsResolver direct(loop, bad);
  EXPECT_FALSE(direct.ok());
  EXPECT_EQ(direct.errors(), 1u);

  DnsResolver root(loop, DnsResolver::Options{});
  ASSERT_TRUE(root.ok());
  EXPECT_EQ(root.errors(), 0u);
  EXPECT_FALSE(root.ForServer(bad).ok());
  EXPECT_EQ(root.errors(), 1u);
  root.ForServer(bad);  // cached: not created, not counted again
  EXPECT_EQ(root.errors(), 1u);
}

}  // namespace
}  // namespace gatewatch
