#include "checks/fastcgi_protocol.h"

#include <algorithm>
#include <charconv>

#include "agent/base/strings.h"

namespace gatewatch {

namespace {

constexpr uint16_t kRequestId = 1;
constexpr size_t kMaxContent = 65535;

void AppendLength(std::string& out, size_t n) {
  if (n < 128) {
    out.push_back(static_cast<char>(n));
    return;
  }
  out.push_back(static_cast<char>(0x80 | ((n >> 24) & 0x7f)));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
}

// Content split into records of at most kMaxContent bytes, then the empty record that ends the
// stream.
void AppendStream(std::string& out, uint8_t type, std::string_view content) {
  while (!content.empty()) {
    size_t n = std::min(content.size(), kMaxContent);
    out += EncodeFcgiRecord(type, kRequestId, content.substr(0, n));
    content.remove_prefix(n);
  }
  out += EncodeFcgiRecord(type, kRequestId, {});
}

uint8_t Byte(std::string_view s, size_t i) { return static_cast<uint8_t>(s[i]); }

}  // namespace

std::string EncodeFcgiRecord(uint8_t type, uint16_t request_id, std::string_view content) {
  std::string out;
  out.reserve(fcgi::kHeaderSize + content.size());
  out.push_back(static_cast<char>(fcgi::kVersion1));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(request_id >> 8));
  out.push_back(static_cast<char>(request_id & 0xff));
  out.push_back(static_cast<char>(content.size() >> 8));
  out.push_back(static_cast<char>(content.size() & 0xff));
  out.push_back(0);  // padding length
  out.push_back(0);  // reserved
  out.append(content);
  return out;
}

void AppendFcgiParam(std::string& out, std::string_view name, std::string_view value) {
  AppendLength(out, name.size());
  AppendLength(out, value.size());
  out.append(name);
  out.append(value);
}

std::string EncodeFcgiRequest(const std::vector<std::pair<std::string, std::string>>& params,
                              std::string_view body) {
  // role FCGI_RESPONDER (1), flags 0: the server closes the connection after the reply.
  const char begin[8] = {0, 1, 0, 0, 0, 0, 0, 0};
  std::string out = EncodeFcgiRecord(fcgi::kBeginRequest, kRequestId, std::string_view(begin, 8));
  std::string pairs;
  for (const auto& [name, value] : params) AppendFcgiParam(pairs, name, value);
  AppendStream(out, fcgi::kParams, pairs);
  AppendStream(out, fcgi::kStdin, body);
  return out;
}

void FcgiReplyDecoder::Fail(std::string why) {
  error_ = std::move(why);
  pending_.clear();
}

bool FcgiReplyDecoder::Feed(std::string_view bytes) {
  if (!error_.empty()) return false;
  if (!bytes.empty()) got_bytes_ = true;
  if (ended_) {
    if (!bytes.empty()) Fail("bytes after FCGI_END_REQUEST");
    return error_.empty();
  }
  pending_.append(bytes);
  size_t pos = 0;
  std::string_view p(pending_);
  while (p.size() - pos >= fcgi::kHeaderSize) {
    std::string_view h = p.substr(pos, fcgi::kHeaderSize);
    if (Byte(h, 0) != fcgi::kVersion1) {
      Fail("not a FastCGI 1 record (version byte " + std::to_string(Byte(h, 0)) + ")");
      return false;
    }
    uint8_t type = Byte(h, 1);
    uint16_t id = static_cast<uint16_t>(Byte(h, 2) << 8 | Byte(h, 3));
    size_t length = static_cast<size_t>(Byte(h, 4) << 8 | Byte(h, 5));
    size_t padding = Byte(h, 6);
    if (p.size() - pos < fcgi::kHeaderSize + length + padding) break;
    std::string_view content = p.substr(pos + fcgi::kHeaderSize, length);
    pos += fcgi::kHeaderSize + length + padding;
    if (id != kRequestId) {
      Fail("record for request " + std::to_string(id) + ", not 1");
      return false;
    }
    switch (type) {
      case fcgi::kStdout: {
        stdout_bytes_ += content.size();
        size_t room = max_stdout_ - std::min(max_stdout_, stdout_.size());
        stdout_.append(content.substr(0, room));
        break;
      }
      case fcgi::kStderr: {
        stderr_bytes_ += content.size();
        size_t room = max_stderr_ - std::min(max_stderr_, stderr_.size());
        stderr_.append(content.substr(0, room));
        break;
      }
      case fcgi::kEndRequest:
        if (content.size() < 8) {
          Fail("FCGI_END_REQUEST of " + std::to_string(content.size()) + " bytes");
          return false;
        }
        app_status_ = static_cast<uint32_t>(Byte(content, 0)) << 24 |
                      static_cast<uint32_t>(Byte(content, 1)) << 16 |
                      static_cast<uint32_t>(Byte(content, 2)) << 8 | Byte(content, 3);
        protocol_status_ = Byte(content, 4);
        ended_ = true;
        if (pos != p.size()) {
          Fail("bytes after FCGI_END_REQUEST");
          return false;
        }
        pending_.clear();
        return true;
      default:
        Fail("unexpected record type " + std::to_string(type) + " in a reply");
        return false;
    }
  }
  pending_.erase(0, pos);
  return true;
}

std::optional<CgiResponse> ParseCgiResponse(std::string_view data, std::string* error) {
  CgiResponse r;
  bool location = false;
  bool status_seen = false;
  size_t pos = 0;
  for (;;) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string_view::npos) {
      *error = "the CGI response head does not end (no blank line)";
      return std::nullopt;
    }
    std::string_view line = data.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      *error = "CGI header line without a colon: " + QuoteForDetail(line);
      return std::nullopt;
    }
    std::string name(TrimBlanks(line.substr(0, colon)));
    std::string value(TrimBlanks(line.substr(colon + 1)));
    if (EqualsIgnoreCase(name, "Status")) {
      int code = 0;
      auto [end, ec] =
          std::from_chars(value.data(), value.data() + std::min<size_t>(3, value.size()), code);
      if (ec != std::errc() || end != value.data() + 3 || code < 100 || code > 599 ||
          (value.size() > 3 && value[3] != ' ')) {
        *error = "invalid CGI Status: " + QuoteForDetail(value);
        return std::nullopt;
      }
      r.status = code;
      status_seen = true;
    } else if (EqualsIgnoreCase(name, "Location")) {
      location = true;
    }
    if (r.headers.size() < 100) r.headers.emplace_back(std::move(name), std::move(value));
  }
  if (!status_seen && location) r.status = 302;
  r.body = std::string(data.substr(pos));
  return r;
}

}  // namespace gatewatch
