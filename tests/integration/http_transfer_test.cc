// The HttpTransfer contract other check types build on, against in-process servers on 127.0.0.1:
// CONNECT_TO keeps the URL's Host, one outcome exactly once, Abort() says how far it got,
// destroying a transfer (also from its own callback) is silent.
#include "checks/http_transfer.h"

#include <gtest/gtest.h>

#include <optional>

#include "agent/io/curl_multi.h"
#include "agent/io/event_loop.h"
#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/http_client.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Behaviour = FakeHttpServer::Behaviour;

class HttpTransferTest : public ::testing::Test {
 protected:
  std::shared_ptr<HttpRequest> Request(const std::string& url) {
    auto r = std::make_shared<HttpRequest>();
    r->url = url;
    r->redacted_url = url;
    r->host = "www.example.test";
    r->port = 80;
    return r;
  }
  HttpTransfer::Target To(int port) {
    HttpTransfer::Target t;
    t.connect_to = "127.0.0.1:" + std::to_string(port);
    t.hash_body = true;
    t.keep_body = true;
    t.deadline = clock_.Now() + seconds(3);
    return t;
  }
  // Turns the loop until `done` or a bound passes.
  void Drive(const std::function<bool()>& done, Duration limit = seconds(5)) {
    TimePoint end = clock_.Now() + limit;
    while (!done() && clock_.Now() < end) loop_.RunOnce(milliseconds(50));
  }

  SystemClock clock_;
  EventLoop loop_{clock_};
  CurlMulti curl_{loop_};
};

TEST_F(HttpTransferTest, ConnectToKeepsTheUrlsHostAndDeliversOneOutcome) {
  FakeHttpServer server(Behaviour::kRecord);
  int calls = 0;
  std::optional<HttpOutcome> out;
  HttpTransfer t(Request("http://www.example.test/health"), curl_, clock_, To(server.port()),
                 [&](HttpOutcome o) {
                   ++calls;
                   out = std::move(o);
                 });
  t.Start();
  Drive([&] { return out.has_value(); });
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->code, CURLE_OK) << out->error;
  EXPECT_TRUE(out->started);
  EXPECT_EQ(out->info.status, 200);
  EXPECT_EQ(out->address, "127.0.0.1:" + std::to_string(server.port()));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_NE(server.requests()[0].find("Host: www.example.test\r\n"), std::string::npos)
      << server.requests()[0];
  EXPECT_TRUE(out->body_hash.has_value());
  EXPECT_EQ(out->body_bytes, out->body.size());
  loop_.RunOnce(milliseconds(50));
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(t.running());
}

TEST_F(HttpTransferTest, AbortReportsHowFarItGotAndNeverCallsBack) {
  FakeHttpServer hang(Behaviour::kHang);
  bool called = false;
  HttpTransfer t(Request("http://www.example.test/"), curl_, clock_, To(hang.port()),
                 [&](HttpOutcome) { called = true; });
  t.Start();
  Drive([&] { return hang.accepted() > 0; });
  Drive([] { return false; }, milliseconds(200));  // curl sees the connect and sends the request
  HttpOutcome o = t.Abort();
  EXPECT_TRUE(o.started);
  EXPECT_TRUE(o.aborted);
  EXPECT_EQ(o.code, CURLE_OPERATION_TIMEDOUT);
  EXPECT_TRUE(o.info.connected);
  EXPECT_EQ(o.info.status, 0);
  auto [reason, detail] = DescribeAbortedTransfer(o, milliseconds(1500));
  EXPECT_EQ(reason, Reason::kTimeout);
  EXPECT_EQ(detail, "no response from " + o.address + " within 1500 ms");
  Drive([] { return false; }, milliseconds(200));
  EXPECT_FALSE(called);
  EXPECT_FALSE(t.Abort().started);  // nothing left to abort
}

TEST_F(HttpTransferTest, DestroyingATransferIsSilentAndItsCallbackMayDestroyIt) {
  FakeHttpServer hang(Behaviour::kHang);
  FakeHttpServer ok(Behaviour::kOk);
  bool hang_called = false;
  auto silent =
      std::make_unique<HttpTransfer>(Request("http://www.example.test/"), curl_, clock_,
                                     To(hang.port()), [&](HttpOutcome) { hang_called = true; });
  silent->Start();
  std::unique_ptr<HttpTransfer> self_destroying;
  bool done = false;
  self_destroying = std::make_unique<HttpTransfer>(
      Request("http://www.example.test/"), curl_, clock_, To(ok.port()), [&](HttpOutcome o) {
        EXPECT_EQ(o.info.status, 200);
        self_destroying.reset();  // allowed by the contract
        done = true;
      });
  self_destroying->Start();
  Drive([&] { return done && hang.accepted() > 0; });
  EXPECT_TRUE(done);
  silent.reset();
  Drive([] { return false; }, milliseconds(200));
  EXPECT_FALSE(hang_called);
  EXPECT_EQ(curl_.running(), 0u);
}

TEST_F(HttpTransferTest, RefusedConnectIsDescribedAsSuch) {
  RefusingPort refusing;
  std::optional<HttpOutcome> out;
  HttpTransfer t(Request("http://www.example.test/"), curl_, clock_, To(refusing.port()),
                 [&](HttpOutcome o) { out = std::move(o); });
  t.Start();
  Drive([&] { return out.has_value(); });
  ASSERT_TRUE(out.has_value());
  auto [reason, detail] = DescribeTransportFailure(*out);
  EXPECT_EQ(reason, Reason::kConnectionRefused);
  EXPECT_EQ(detail, "connect() to 127.0.0.1:" + std::to_string(refusing.port()) + " refused");
}

// A pinned address (CURLOPT_RESOLVE) is for the run that pinned it: a later transfer of the same
// host:port without a pin, on the same CurlMulti (and possibly the same recycled easy handle),
// resolves the name itself (here: a name that never resolves) instead of reusing the pin.
TEST_F(HttpTransferTest, APinnedAddressNeverOutlivesItsRun) {
  FakeHttpServer server(Behaviour::kRecord);
  const std::string url = "http://pin.gatewatch.invalid:" + std::to_string(server.port()) + "/";
  auto request = Request(url);
  request->host = "pin.gatewatch.invalid";
  request->port = server.port();
  auto run = [&](const std::string& pin) {
    HttpTransfer::Target target;
    target.pinned_address = pin;
    target.deadline = clock_.Now() + seconds(3);
    std::optional<HttpOutcome> out;
    HttpTransfer t(request, curl_, clock_, target, [&](HttpOutcome o) { out = std::move(o); });
    t.Start();
    Drive([&] { return out.has_value(); });
    return out;
  };
  for (int round = 0; round < 2; ++round) {
    auto pinned = run("127.0.0.1");
    ASSERT_TRUE(pinned.has_value());
    EXPECT_EQ(pinned->code, CURLE_OK) << pinned->error;
    EXPECT_EQ(pinned->info.status, 200);
    auto unpinned = run("");
    ASSERT_TRUE(unpinned.has_value());
    EXPECT_EQ(unpinned->code, CURLE_COULDNT_RESOLVE_HOST) << unpinned->error;
    EXPECT_EQ(unpinned->info.status, 0);
  }
  EXPECT_EQ(server.requests().size(), 2u);
}

}  // namespace
}  // namespace gatewatch::testing
