// FastCGI framing: the exact bytes of a request, reply records decoded whole, split at every byte
// and hostile (wrong version, other request ids, oversized output, bytes after the end), and the
// CGI head with its Status line.
#include "checks/fastcgi_protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace gatewatch {
namespace {

std::string Bytes(std::initializer_list<int> v) {
  std::string s;
  for (int b : v) s.push_back(static_cast<char>(b));
  return s;
}

std::string End(uint32_t app_status, uint8_t protocol_status) {
  return EncodeFcgiRecord(
      fcgi::kEndRequest, 1,
      Bytes({static_cast<int>(app_status >> 24), static_cast<int>(app_status >> 16 & 0xff),
             static_cast<int>(app_status >> 8 & 0xff), static_cast<int>(app_status & 0xff),
             protocol_status, 0, 0, 0}));
}

TEST(FastcgiProtocolTest, RecordHeaderIsBigEndianWithoutPadding) {
  EXPECT_EQ(EncodeFcgiRecord(fcgi::kStdin, 1, "abc"), Bytes({1, 5, 0, 1, 0, 3, 0, 0}) + "abc");
  EXPECT_EQ(EncodeFcgiRecord(fcgi::kParams, 0x0102, std::string(300, 'x')).substr(0, 8),
            Bytes({1, 4, 1, 2, 1, 44, 0, 0}));
}

TEST(FastcgiProtocolTest, ParamLengthsUseOneOrFourBytes) {
  struct Case {
    size_t name_len, value_len;
    std::string prefix;
  } cases[] = {
      {1, 0, Bytes({1, 0})},
      {127, 1, Bytes({127, 1})},
      {128, 1, Bytes({0x80, 0, 0, 128, 1})},
      {3, 70000, Bytes({3, 0x80, 0x01, 0x11, 0x70})},
  };
  for (const Case& c : cases) {
    std::string out;
    AppendFcgiParam(out, std::string(c.name_len, 'n'), std::string(c.value_len, 'v'));
    EXPECT_EQ(out.substr(0, c.prefix.size()), c.prefix) << c.name_len << "/" << c.value_len;
    EXPECT_EQ(out.size(), c.prefix.size() + c.name_len + c.value_len);
  }
}

TEST(FastcgiProtocolTest, RequestIsBeginParamsAndStdinEachEnded) {
  std::string req = EncodeFcgiRequest({{"REQUEST_METHOD", "GET"}}, "");
  std::string expected = Bytes({1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0});  // responder
  std::string pair = Bytes({14, 3}) + "REQUEST_METHODGET";
  expected += Bytes({1, 4, 0, 1, 0, static_cast<int>(pair.size()), 0, 0}) + pair;
  expected += Bytes({1, 4, 0, 1, 0, 0, 0, 0});  // end of params
  expected += Bytes({1, 5, 0, 1, 0, 0, 0, 0});  // end of stdin
  EXPECT_EQ(req, expected);
  // Params over one record's 65535 bytes are split.
  std::string big = EncodeFcgiRequest({{"X", std::string(70000, 'a')}}, "body");
  EXPECT_EQ(big.substr(16, 8), Bytes({1, 4, 0, 1, 0xff, 0xff, 0, 0}));
  EXPECT_NE(big.find(Bytes({1, 5, 0, 1, 0, 4, 0, 0}) + "body"), std::string::npos);
}

TEST(FastcgiProtocolTest, DecodesAReplySplitAtEveryByte) {
  std::string reply = EncodeFcgiRecord(fcgi::kStdout, 1, "Status: 503 Busy\r\n\r\nx") +
                      EncodeFcgiRecord(fcgi::kStderr, 1, "warn") +
                      // A sender may pad: 2 content bytes, 6 of padding.
                      Bytes({1, 6, 0, 1, 0, 2, 6, 0}) + "yz" + std::string(6, '\0') + End(0, 0);
  for (size_t split = 0; split <= reply.size(); ++split) {
    FcgiReplyDecoder d(1024, 1024);
    ASSERT_TRUE(d.Feed(reply.substr(0, split))) << split;
    EXPECT_EQ(d.ended(), split == reply.size());
    ASSERT_TRUE(d.Feed(reply.substr(split))) << split << d.error();
    EXPECT_TRUE(d.ended());
    EXPECT_EQ(d.stdout_data(), "Status: 503 Busy\r\n\r\nxyz");
    EXPECT_EQ(d.stderr_data(), "warn");
    EXPECT_EQ(d.protocol_status(), fcgi::kRequestComplete);
  }
  FcgiReplyDecoder overloaded(16, 16);
  ASSERT_TRUE(overloaded.Feed(End(7, fcgi::kOverloaded)));
  EXPECT_EQ(overloaded.app_status(), 7u);
  EXPECT_EQ(overloaded.protocol_status(), fcgi::kOverloaded);
}

TEST(FastcgiProtocolTest, HostileRepliesAreBoundedErrors) {
  struct Case {
    const char* what;
    std::string bytes;
    const char* error;  // "" = no error
  } cases[] = {
      {"HTTP instead of FastCGI", "HTTP/1.1 200 OK\r\n\r\n",
       "not a FastCGI 1 record (version byte 72)"},
      {"another request id", EncodeFcgiRecord(fcgi::kStdout, 2, "x"),
       "record for request 2, not 1"},
      {"a request record type", EncodeFcgiRecord(fcgi::kParams, 1, ""),
       "unexpected record type 4 in a reply"},
      {"short end", EncodeFcgiRecord(fcgi::kEndRequest, 1, "abc"), "FCGI_END_REQUEST of 3 bytes"},
      {"bytes after the end", End(0, 0) + "x", "bytes after FCGI_END_REQUEST"},
      {"a header only", Bytes({1, 6, 0, 1, 0xff, 0xff, 0xff, 0}), ""},
  };
  for (const Case& c : cases) {
    FcgiReplyDecoder d(16, 16);
    d.Feed(c.bytes);
    EXPECT_EQ(d.error(), c.error) << c.what;
    EXPECT_EQ(d.ended(), std::string(c.what) == "bytes after the end") << c.what;
  }
  // Endless output: kept up to the cap, counted in full.
  FcgiReplyDecoder d(10, 4);
  std::string chunk = EncodeFcgiRecord(fcgi::kStdout, 1, std::string(65535, 'o'));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(d.Feed(chunk));
  d.Feed(EncodeFcgiRecord(fcgi::kStderr, 1, "0123456789"));
  EXPECT_EQ(d.stdout_data(), std::string(10, 'o'));
  EXPECT_EQ(d.stdout_bytes(), 6553500u);
  EXPECT_TRUE(d.stdout_truncated());
  EXPECT_EQ(d.stderr_data(), "0123");
}

TEST(FastcgiProtocolTest, CgiHeadGivesTheStatus) {
  struct Case {
    std::string in;
    int status;  // 0: error expected
    std::string body_or_error;
  } cases[] = {
      {"Content-type: text/plain\r\n\r\npong", 200, "pong"},
      {"Status: 503 Service Unavailable\r\nContent-type: text/html\r\n\r\n", 503, ""},
      {"Status: 404\n\nmissing", 404, "missing"},  // php-fpm: "Primary script unknown"
      {"Location: /elsewhere\r\n\r\n", 302, ""},
      {"Status: 301 Moved\r\nLocation: /x\r\n\r\n", 301, ""},
      {"Status: 20 x\r\n\r\n", 0, "invalid CGI Status: \"20 x\""},
      {"Status: 700 x\r\n\r\n", 0, "invalid CGI Status: \"700 x\""},
      {"Status: 2000\r\n\r\n", 0, "invalid CGI Status: \"2000\""},
      {"no colon here\r\n\r\n", 0, "CGI header line without a colon: \"no colon here\""},
      {"Content-type: text/plain\r\n", 0, "the CGI response head does not end (no blank line)"},
      {"", 0, "the CGI response head does not end (no blank line)"},
  };
  for (const Case& c : cases) {
    std::string error;
    auto r = ParseCgiResponse(c.in, &error);
    if (c.status == 0) {
      EXPECT_FALSE(r.has_value()) << c.in;
      EXPECT_EQ(error, c.body_or_error) << c.in;
    } else {
      ASSERT_TRUE(r.has_value()) << c.in << ": " << error;
      EXPECT_EQ(r->status, c.status) << c.in;
      EXPECT_EQ(r->body, c.body_or_error) << c.in;
    }
  }
}

}  // namespace
}  // namespace gatewatch
