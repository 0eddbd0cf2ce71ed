// FastCGI 1.0 framing, written once: the request a web server sends to a responder (php-fpm) and
// an incremental decoder of its reply records, plus the CGI response head (`Status:`) inside
// FCGI_STDOUT. Pure (no I/O), bounded for hostile replies, table-tested in
// tests/unit/fastcgi_protocol_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gatewatch {

namespace fcgi {
inline constexpr uint8_t kVersion1 = 1;
enum RecordType : uint8_t {
  kBeginRequest = 1,
  kAbortRequest = 2,
  kEndRequest = 3,
  kParams = 4,
  kStdin = 5,
  kStdout = 6,
  kStderr = 7,
  kData = 8,
  kGetValues = 9,
  kGetValuesResult = 10,
  kUnknownType = 11,
};
enum ProtocolStatus : uint8_t {
  kRequestComplete = 0,
  kCantMpxConn = 1,
  kOverloaded = 2,
  kUnknownRole = 3,
};
inline constexpr size_t kHeaderSize = 8;
}  // namespace fcgi

// One record: header, content, no padding (padding is optional for a sender).
std::string EncodeFcgiRecord(uint8_t type, uint16_t request_id, std::string_view content);

// One name-value pair as FCGI_PARAMS content (lengths of 1 byte below 128, else 4 bytes).
void AppendFcgiParam(std::string& out, std::string_view name, std::string_view value);

// A whole responder request with id 1: BEGIN_REQUEST (keep-conn off), the params (split into
// records of at most 65535 bytes), an empty PARAMS, `body` as STDIN records and an empty STDIN.
std::string EncodeFcgiRequest(const std::vector<std::pair<std::string, std::string>>& params,
                              std::string_view body = {});

// Decodes reply records as bytes arrive. Keeps at most `max_stdout` bytes of FCGI_STDOUT and
// `max_stderr` of FCGI_STDERR (counting the rest), so a hostile or endless reply costs bounded
// memory; anything that is not FastCGI 1.0 for request 1 is an error, after which Feed() does
// nothing.
class FcgiReplyDecoder {
 public:
  FcgiReplyDecoder(size_t max_stdout, size_t max_stderr)
      : max_stdout_(max_stdout), max_stderr_(max_stderr) {}

  // Consumes `bytes`. Returns false once an error was found (see error()).
  bool Feed(std::string_view bytes);

  bool ended() const { return ended_; }  // FCGI_END_REQUEST seen
  uint32_t app_status() const { return app_status_; }
  uint8_t protocol_status() const { return protocol_status_; }
  const std::string& error() const { return error_; }
  const std::string& stdout_data() const { return stdout_; }
  const std::string& stderr_data() const { return stderr_; }
  uint64_t stdout_bytes() const { return stdout_bytes_; }  // all received, kept or not
  uint64_t stderr_bytes() const { return stderr_bytes_; }
  bool stdout_truncated() const { return stdout_bytes_ > stdout_.size(); }
  // Whether any byte arrived at all (an empty reply is told apart from a malformed one).
  bool got_bytes() const { return got_bytes_; }

 private:
  void Fail(std::string why);

  const size_t max_stdout_, max_stderr_;
  std::string pending_;  // an incomplete record (at most 8 + 65535 + 255 bytes)
  std::string stdout_, stderr_;
  uint64_t stdout_bytes_ = 0, stderr_bytes_ = 0;
  bool ended_ = false;
  bool got_bytes_ = false;
  uint32_t app_status_ = 0;
  uint8_t protocol_status_ = 0;
  std::string error_;
};

// The CGI response in FCGI_STDOUT: header lines up to a blank line (CRLF or LF), then the body.
struct CgiResponse {
  int status = 200;  // from `Status: 503 ...`; 302 with a Location and no Status; else 200
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};
// nullopt if the head never ends (within the bytes given) or `Status:` is not a 3-digit code in
// 100..599; *error says which.
std::optional<CgiResponse> ParseCgiResponse(std::string_view stdout_data, std::string* error);

}  // namespace gatewatch
