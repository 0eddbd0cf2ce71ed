// Where an upstream's HTTP response ends (the keep-alive measurement starts its idle time there)
// and whether the server lets the connection be reused.
#include "checks/keepalive_probe.h"

#include <gtest/gtest.h>

namespace gatewatch {
namespace {

using State = HttpResponseEnd::State;

TEST(HttpResponseEndTest, ContentLength) {
  std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
  HttpResponseEnd e = FindHttpResponseEnd(r);
  EXPECT_EQ(e.state, State::kComplete);
  EXPECT_EQ(e.length, r.size());
  EXPECT_TRUE(e.keep_alive);
  EXPECT_EQ(e.status, 200);
  EXPECT_EQ(FindHttpResponseEnd(r.substr(0, r.size() - 1)).state, State::kIncomplete);
  EXPECT_EQ(FindHttpResponseEnd("HTTP/1.1 200 OK\r\nContent-Le").state, State::kIncomplete);
  EXPECT_EQ(FindHttpResponseEnd("HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n").state,
            State::kInvalid);
  EXPECT_EQ(FindHttpResponseEnd("SSH-2.0-OpenSSH\r\n").state, State::kInvalid);
}

TEST(HttpResponseEndTest, Chunked) {
  std::string r =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nok\n\r\n0\r\nX-T: 1\r\n\r\n";
  HttpResponseEnd e = FindHttpResponseEnd(r);
  EXPECT_EQ(e.state, State::kComplete);
  EXPECT_EQ(e.length, r.size());
  EXPECT_TRUE(e.keep_alive);
  for (size_t cut : {r.size() - 1, r.size() - 10, size_t{50}}) {
    EXPECT_EQ(FindHttpResponseEnd(r.substr(0, cut)).state, State::kIncomplete) << cut;
  }
  EXPECT_EQ(
      FindHttpResponseEnd("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").state,
      State::kInvalid);
}

TEST(HttpResponseEndTest, ConnectionReuse) {
  // Connection: close, HTTP/1.0 without keep-alive, and a close-delimited body: not reusable.
  EXPECT_FALSE(
      FindHttpResponseEnd("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
          .keep_alive);
  EXPECT_FALSE(FindHttpResponseEnd("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keep_alive);
  EXPECT_TRUE(
      FindHttpResponseEnd("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n")
          .keep_alive);
  HttpResponseEnd until_close = FindHttpResponseEnd("HTTP/1.1 200 OK\r\n\r\nbody");
  EXPECT_EQ(until_close.state, State::kComplete);
  EXPECT_FALSE(until_close.keep_alive);
  // Bodiless statuses end with the head; an interim 100 is skipped.
  std::string r = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
  HttpResponseEnd e = FindHttpResponseEnd(r);
  EXPECT_EQ(e.state, State::kComplete);
  EXPECT_EQ(e.status, 204);
  EXPECT_EQ(e.length, r.size());
  EXPECT_TRUE(e.keep_alive);
}

}  // namespace
}  // namespace gatewatch
