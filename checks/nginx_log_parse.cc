#include "checks/nginx_log_parse.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "agent/base/utf8.h"

namespace gatewatch {

namespace {

enum class Field {
  kSkip,
  kStatus,
  kRequestTime,
  kUpstreamAddr,
  kUpstreamStatus,
  kUpstreamTime,
  kRequestId,
  kConnection,
  kTimeLocal,
};

Field FieldFor(std::string_view var) {
  if (var == "status") return Field::kStatus;
  if (var == "request_time") return Field::kRequestTime;
  if (var == "upstream_addr") return Field::kUpstreamAddr;
  if (var == "upstream_status") return Field::kUpstreamStatus;
  if (var == "upstream_response_time") return Field::kUpstreamTime;
  if (var == "http_x_request_id" || var == "request_id") return Field::kRequestId;
  if (var == "connection") return Field::kConnection;
  if (var == "time_local") return Field::kTimeLocal;
  return Field::kSkip;
}

bool IsListField(Field f) {
  return f == Field::kUpstreamAddr || f == Field::kUpstreamStatus || f == Field::kUpstreamTime;
}

bool IsVarChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

bool ParseInt(std::string_view s, int* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// Larger times are no real duration (over 31 years): a line carrying one is refused like NaN.
constexpr double kMaxSeconds = 1e9;

// "-" and anything that is not a number give -1.
double ParseSeconds(std::string_view s) {
  double v = -1;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !(v >= 0 && v <= kMaxSeconds)) return -1;
  return v;
}

// A time nginx never writes: nan, inf, a number beyond double's range ("1e999") or above
// kMaxSeconds. A line with one is refused (counted as skipped), so such a value can never reach a
// histogram's sum, where one NaN or Inf would stay forever.
bool IsBadSeconds(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) return true;
  return ec == std::errc() && !(std::isfinite(v) && v <= kMaxSeconds);
}

bool HasBadSeconds(std::string_view list);  // IsBadSeconds on each item of a list, below

bool Assign(Field f, std::string_view value, AccessRecord* out) {
  switch (f) {
    case Field::kSkip:
      return true;
    case Field::kStatus:
      return ParseInt(value, &out->status) && out->status >= 100 && out->status <= 599;
    case Field::kRequestTime:
      if (IsBadSeconds(value)) return false;
      out->request_time = ParseSeconds(value);
      return true;
    case Field::kUpstreamAddr:
      out->upstream_addr = value;
      return true;
    case Field::kUpstreamStatus:
      out->upstream_status = value;
      return true;
    case Field::kUpstreamTime:
      if (HasBadSeconds(value)) return false;
      out->upstream_time = value;
      return true;
    case Field::kRequestId:
      out->request_id = value;
      return true;
    case Field::kConnection: {
      // A value that is no serial only loses the join, never the line.
      uint64_t c = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), c);
      out->connection = ec == std::errc() && end == value.data() + value.size() ? c : 0;
      return true;
    }
    case Field::kTimeLocal:
      out->time_local = value;
      return true;
  }
  return true;
}

// Where the value of a list variable ends: a delimiter found right after "," or inside " : " is
// part of the list ("10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80"), not its end.
size_t FindEnd(std::string_view line, size_t start, std::string_view literal, bool list) {
  size_t from = start;
  while (true) {
    size_t p = line.find(literal, from);
    if (p == std::string_view::npos || !list) return p;
    if (p > start && line[p - 1] == ',') {
      from = p + 1;
    } else if (line.substr(p, 3) == " : ") {
      from = p + 3;
    } else {
      return p;
    }
  }
}

// The slice of one list: next item up to ", " or " : ".
std::string_view NextItem(std::string_view* list) {
  size_t p = list->find_first_of(",:");
  // A ':' inside an address ("127.0.0.1:80", "unix:/x", "[::1]:80") is not a separator: only
  // " : " (with spaces) separates groups.
  while (p != std::string_view::npos && (*list)[p] == ':' &&
         !(p > 0 && (*list)[p - 1] == ' ' && p + 1 < list->size() && (*list)[p + 1] == ' ')) {
    p = list->find_first_of(",:", p + 1);
  }
  std::string_view item;
  if (p == std::string_view::npos) {
    item = *list;
    *list = {};
  } else {
    item = list->substr(0, p);
    list->remove_prefix(p + 1);
  }
  return Trim(item);
}

bool HasBadSeconds(std::string_view list) {
  while (!list.empty()) {
    if (IsBadSeconds(NextItem(&list))) return true;
  }
  return false;
}

// SAX handler for one json line: keeps only the known keys of the top-level object.
class JsonLine final : public nlohmann::json_sax<nlohmann::json> {
 public:
  JsonLine(std::string* addr, std::string* status, std::string* time, std::string* rid,
           std::string* time_local, AccessRecord* out)
      : addr_(addr), status_(status), time_(time), rid_(rid), time_local_(time_local), out_(out) {}

  bool ok() const { return !failed_ && has_status_; }

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t v) override { return Value(std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Value(std::to_string(v)); }
  bool number_float(number_float_t, const string_t& s) override { return Value(s); }
  bool string(string_t& s) override { return Value(s); }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return Enter(); }
  bool end_object() override { return Leave(); }
  bool start_array(std::size_t) override {
    if (depth_ == 0) failed_ = true;  // a line must be an object
    return Enter();
  }
  bool end_array() override { return Leave(); }
  bool key(string_t& k) override {
    field_ = depth_ == 1 ? FieldFor(k) : Field::kSkip;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    failed_ = true;
    return false;
  }

 private:
  bool Enter() {
    field_ = Field::kSkip;
    if (++depth_ > AccessLogFormat::kMaxJsonDepth) {
      failed_ = true;
      return false;
    }
    return true;
  }
  bool Leave() {
    --depth_;
    return true;
  }
  bool Value(const std::string& v) {
    if (depth_ == 0) {
      failed_ = true;
      return false;
    }
    if (depth_ != 1) return true;
    switch (field_) {
      case Field::kUpstreamAddr:
        *addr_ = v;
        out_->upstream_addr = *addr_;
        break;
      case Field::kUpstreamStatus:
        *status_ = v;
        out_->upstream_status = *status_;
        break;
      case Field::kUpstreamTime:
        if (HasBadSeconds(v)) {
          failed_ = true;
          return false;
        }
        *time_ = v;
        out_->upstream_time = *time_;
        break;
      case Field::kRequestId:
        *rid_ = v;
        out_->request_id = *rid_;
        break;
      case Field::kTimeLocal:
        *time_local_ = v;
        out_->time_local = *time_local_;
        break;
      case Field::kStatus:
        if (!Assign(Field::kStatus, v, out_)) {
          failed_ = true;
          return false;
        }
        has_status_ = true;
        break;
      default:
        if (!Assign(field_, v, out_)) {
          failed_ = true;
          return false;
        }
    }
    field_ = Field::kSkip;
    return true;
  }

  std::string *addr_, *status_, *time_, *rid_, *time_local_;
  AccessRecord* out_;
  Field field_ = Field::kSkip;
  int depth_ = 0;
  bool failed_ = false;
  bool has_status_ = false;
};

constexpr char kCombined[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\"";

}  // namespace

const char kRecommendedLogFormatV1[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" rt=$request_time ua=\"$upstream_addr\" "
    "us=\"$upstream_status\" urt=\"$upstream_response_time\"";

const char kRecommendedLogFormat[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
    "\"$http_referer\" \"$http_user_agent\" rt=$request_time ua=\"$upstream_addr\" "
    "us=\"$upstream_status\" urt=\"$upstream_response_time\" rid=$http_x_request_id "
    "cid=$connection";

struct AccessLogFormat::Segment {
  Field field = Field::kSkip;  // the variable; kSkip with an empty name for the leading text
  bool is_variable = false;
  std::string literal;  // text after the variable (or the leading text)
};

AccessLogFormat::~AccessLogFormat() = default;

std::unique_ptr<AccessLogFormat> AccessLogFormat::Compile(std::string_view spec,
                                                          std::string* error) {
  std::unique_ptr<AccessLogFormat> f(new AccessLogFormat());
  if (spec == "json") {
    f->json_ = true;
    f->has_upstream_ = true;
    return f;
  }
  if (spec == "combined") spec = kCombined;
  if (spec == "upstream") {
    f->fallback_ = Compile(kRecommendedLogFormatV1, error);
    spec = kRecommendedLogFormat;
  }

  Segment leading;
  std::vector<Segment> segs;
  Segment* current = &leading;
  bool has_status = false;
  std::string previous_var;
  for (size_t i = 0; i < spec.size();) {
    if (spec[i] != '$') {
      current->literal += spec[i++];
      continue;
    }
    size_t start = i + 1;
    std::string_view name;
    if (start < spec.size() && spec[start] == '{') {
      size_t close = spec.find('}', start);
      if (close == std::string_view::npos) {
        *error = "unterminated ${ at offset " + std::to_string(i);
        return nullptr;
      }
      name = spec.substr(start + 1, close - start - 1);
      i = close + 1;
    } else {
      size_t end = start;
      while (end < spec.size() && IsVarChar(spec[end])) ++end;
      name = spec.substr(start, end - start);
      i = end;
    }
    if (name.empty()) {
      *error = "a $ without a variable name at offset " + std::to_string(start - 1);
      return nullptr;
    }
    if (current != &leading && current->literal.empty()) {
      *error = "$" + previous_var + " and $" + std::string(name) +
               " have no text between them: their values cannot be told apart";
      return nullptr;
    }
    Segment s;
    s.is_variable = true;
    s.field = FieldFor(name);
    if (s.field == Field::kStatus) has_status = true;
    if (s.field == Field::kUpstreamAddr) f->has_upstream_ = true;
    segs.push_back(std::move(s));
    current = &segs.back();
    previous_var = std::string(name);
  }
  if (!has_status) {
    *error = "the format has no $status";
    return nullptr;
  }
  f->segments_.push_back(std::move(leading));
  for (auto& s : segs) f->segments_.push_back(std::move(s));
  return f;
}

bool AccessLogFormat::Parse(std::string_view line, AccessRecord* out) {
  *out = AccessRecord{};
  if (json_) return ParseJson(line, out);
  if (ParseText(line, out)) return true;
  if (fallback_ == nullptr) return false;
  *out = AccessRecord{};
  return fallback_->ParseText(line, out);
}

bool AccessLogFormat::ParseText(std::string_view line, AccessRecord* out) const {
  const std::string& prefix = segments_.front().literal;
  if (line.substr(0, prefix.size()) != prefix) return false;
  size_t pos = prefix.size();
  for (size_t i = 1; i < segments_.size(); ++i) {
    const Segment& s = segments_[i];
    std::string_view value;
    if (s.literal.empty()) {  // the last variable takes the rest of the line
      value = line.substr(pos);
      pos = line.size();
    } else {
      size_t end = FindEnd(line, pos, s.literal, IsListField(s.field));
      if (end == std::string_view::npos) return false;
      value = line.substr(pos, end - pos);
      pos = end + s.literal.size();
    }
    if (!Assign(s.field, value, out)) return false;
  }
  return true;
}

bool AccessLogFormat::ParseJson(std::string_view line, AccessRecord* out) {
  JsonLine handler(&scratch_addr_, &scratch_status_, &scratch_time_, &scratch_rid_,
                   &scratch_time_local_, out);
  bool parsed = nlohmann::json::sax_parse(line.begin(), line.end(), &handler,
                                          nlohmann::json::input_format_t::json, true);
  return parsed && handler.ok();
}

void SplitUpstreams(const AccessRecord& r, std::vector<UpstreamAttempt>* out) {
  out->clear();
  std::string_view addrs = r.upstream_addr, statuses = r.upstream_status, times = r.upstream_time;
  while (!addrs.empty()) {
    UpstreamAttempt a;
    a.addr = NextItem(&addrs);
    std::string_view status = NextItem(&statuses);
    std::string_view time = NextItem(&times);
    if (a.addr.empty() || a.addr == "-") continue;
    if (!ParseInt(status, &a.status) || a.status < 100 || a.status > 599) a.status = 0;
    a.response_time = ParseSeconds(time);
    out->push_back(a);
  }
}

namespace {

bool IsDigits(std::string_view s, size_t max) {
  return !s.empty() && s.size() <= max && s.find_first_not_of("0123456789") == s.npos;
}

// nginx running out of its own resources (the messages of nginx 1.22's ngx_get_connection,
// ngx_event_accept, ngx_event_connect_peer and ngx_http_upstream), or nullopt.
std::optional<Reason> ProxyExhaustion(std::string_view message) {
  auto has = [&](std::string_view s) { return message.find(s) != std::string_view::npos; };
  if (has("worker_connections are not enough")) return Reason::kWorkerConnectionsExhausted;
  // EMFILE (per process: worker_rlimit_nofile) and ENFILE (the whole system).
  if (has("(24: ") || has("(23: ")) return Reason::kFdExhausted;
  if (has("(99: ")) return Reason::kEphemeralPortsExhausted;
  // EAGAIN from connect(): a unix socket's listen queue is full (php-fpm's listen.backlog);
  // EAGAIN elsewhere (a read that would block) is no failure nginx logs at error.
  if (has("(11: ") && (has("connect() ") || has("while connecting to upstream"))) {
    return Reason::kListenQueueFull;
  }
  if (has("upstream buffer is too small") || has("upstream sent too big header")) {
    return Reason::kProxyBufferTooSmall;
  }
  return std::nullopt;
}

}  // namespace

bool PlausibleUpstreamName(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  if (name.substr(0, 5) == "unix:") {
    std::string_view path = name.substr(5);
    if (path.empty() || path.front() != '/') return false;
    for (unsigned char c : path) {
      if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\') return false;
    }
    return true;
  }
  if (name.front() == '[') {
    size_t close = name.find(']');
    if (close == name.npos || close < 3 || close > 46) return false;
    std::string_view ip = name.substr(1, close - 1);
    if (ip.find_first_not_of("0123456789abcdefABCDEF:.") != ip.npos) return false;
    std::string_view rest = name.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && IsDigits(rest.substr(1), 5));
  }
  std::string_view host = name;
  if (size_t colon = name.find(':'); colon != name.npos) {
    host = name.substr(0, colon);
    if (!IsDigits(name.substr(colon + 1), 5)) return false;
  }
  if (host.empty() || host.size() > 253) return false;
  bool alnum = false;
  for (char c : host) {
    bool a = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!a && c != '.' && c != '-' && c != '_') return false;
    alnum = alnum || a;
  }
  return alnum;
}

std::optional<UpstreamError> ClassifyErrorLine(std::string_view line) {
  // "2026/11/25 02:00:00 [error] 12#12: *5 <message>, client: ..., upstream: "...", host: ..."
  size_t open = line.find(" [");
  if (open == std::string_view::npos || open > 32) return std::nullopt;
  size_t close = line.find(']', open);
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view level = line.substr(open + 2, close - open - 2);
  if (level != "error" && level != "crit" && level != "alert" && level != "emerg") {
    return std::nullopt;
  }
  std::string_view message = line.substr(close + 1);
  // The request line is the client's text: never classify on it.
  if (size_t client = message.find(", client: "); client != std::string_view::npos) {
    message = message.substr(0, client);
  }
  auto has = [&](std::string_view s) { return message.find(s) != std::string_view::npos; };

  std::string_view upstream;
  constexpr std::string_view kUpstreamField = ", upstream: \"";
  if (size_t at = line.find(kUpstreamField); at != std::string_view::npos) {
    upstream = line.substr(at + kUpstreamField.size());
    upstream = upstream.substr(0, upstream.find('"'));
    if (size_t scheme = upstream.find("://"); scheme != std::string_view::npos) {
      upstream.remove_prefix(scheme + 3);
    }
    // The URI after the address; unix sockets keep their path up to the ':' nginx adds.
    if (upstream.substr(0, 5) == "unix:") {
      upstream = upstream.substr(0, upstream.find(':', 5));
    } else {
      upstream = upstream.substr(0, upstream.find('/'));
    }
  }

  UpstreamError e;
  // The proxy's own limits first: they are errno texts any failing call may carry, and some come
  // with no upstream at all (accept() of a client), counted under "none".
  if (std::optional<Reason> own = ProxyExhaustion(message)) {
    e.reason = *own;
    e.upstream = upstream.empty() ? std::string_view("none") : upstream;
    return e;
  }
  if (size_t at = message.find(" could not be resolved"); at != std::string_view::npos) {
    e.reason = Reason::kDnsError;
    if (upstream.empty()) {
      std::string_view before = message.substr(0, at);
      upstream = before.substr(before.rfind(' ') + 1);
    }
  } else if (!has("upstream") && upstream.empty()) {
    return std::nullopt;  // not about an upstream: static files, config, signals
  } else if (has("no live upstreams")) {
    e.reason = Reason::kNoLiveUpstreams;
  } else if (has("upstream timed out") || has("(110: ")) {
    e.reason = Reason::kUpstreamTimeout;
  } else if (has("upstream SSL certificate")) {
    e.reason = Reason::kTlsCertificate;
  } else if (has("SSL_do_handshake() failed") || has("while SSL handshaking to upstream")) {
    e.reason = Reason::kTlsHandshake;
  } else if (has("(111: ") || (has("connect() to unix:") && has("(2: "))) {
    e.reason = Reason::kConnectionRefused;
  } else if (has("(113: ") || has("(101: ")) {
    e.reason = Reason::kHostUnreachable;
  } else if (has("(104: ") || has("prematurely closed") || has("(32: ")) {
    e.reason = Reason::kConnectionReset;
  } else if (has("upstream sent invalid header") || has("upstream sent duplicate header")) {
    e.reason = Reason::kInvalidHeader;
  } else if (has("upstream sent")) {
    // No valid HTTP status line, broken chunking, more data than Content-Length said.
    e.reason = Reason::kProtocolError;
  } else {
    e.reason = Reason::kOther;
  }
  e.upstream = upstream.empty() ? std::string_view("unknown") : upstream;
  return e;
}

namespace {

// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t at, size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

std::optional<int64_t> Seconds(int y, int mon, int d, int h, int mi, int sec) {
  if (y < 1970 || mon < 1 || mon > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
    return std::nullopt;
  }
  return DaysFromCivil(y, static_cast<unsigned>(mon), static_cast<unsigned>(d)) * 86400 + h * 3600 +
         mi * 60 + sec;
}

}  // namespace

std::optional<int64_t> ParseTimeLocal(std::string_view s) {
  // "07/Dec/2026:04:44:34 +0000"
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  int d = 0, y = 0, h = 0, mi = 0, sec = 0;
  if (s.size() < 20 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' ||
      !Digits(s, 0, 2, &d) || !Digits(s, 7, 4, &y) || !Digits(s, 12, 2, &h) ||
      !Digits(s, 15, 2, &mi) || !Digits(s, 18, 2, &sec)) {
    return std::nullopt;
  }
  size_t m = kMonths.find(s.substr(3, 3));
  if (m == std::string_view::npos || m % 3 != 0) return std::nullopt;
  return Seconds(y, static_cast<int>(m / 3) + 1, d, h, mi, sec);
}

std::optional<int64_t> ParseErrorLineTime(std::string_view line) {
  // "2026/12/07 04:44:34 [error] ..."
  int y = 0, mon = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (line.size() < 19 || line[4] != '/' || line[7] != '/' || line[10] != ' ' || line[13] != ':' ||
      line[16] != ':' || !Digits(line, 0, 4, &y) || !Digits(line, 5, 2, &mon) ||
      !Digits(line, 8, 2, &d) || !Digits(line, 11, 2, &h) || !Digits(line, 14, 2, &mi) ||
      !Digits(line, 17, 2, &sec)) {
    return std::nullopt;
  }
  return Seconds(y, mon, d, h, mi, sec);
}

namespace {

// Where the message of an error line starts (after "*N "), and the serial; npos without one.
size_t ConnectionField(std::string_view line, uint64_t* serial) {
  // "2026/12/07 04:44:34 [error] 12#12: *5 message": the first ": *" within the prefix.
  size_t at = line.find("#");
  if (at == std::string_view::npos || at > 64) return std::string_view::npos;
  at = line.find(": *", at);
  if (at == std::string_view::npos || at > 96) return std::string_view::npos;
  size_t digits = at + 3, end = digits;
  while (end < line.size() && end - digits < 20 && line[end] >= '0' && line[end] <= '9') ++end;
  if (end == digits || end >= line.size() || line[end] != ' ') return std::string_view::npos;
  auto [p, ec] = std::from_chars(line.data() + digits, line.data() + end, *serial);
  if (ec != std::errc() || p != line.data() + end) return std::string_view::npos;
  return end + 1;
}

}  // namespace

uint64_t ErrorLineConnection(std::string_view line) {
  uint64_t serial = 0;
  return ConnectionField(line, &serial) == std::string_view::npos ? 0 : serial;
}

std::string ErrorLineEvidence(std::string_view line, size_t max_bytes) {
  uint64_t serial = 0;
  size_t start = ConnectionField(line, &serial);
  std::string_view message = line;
  if (start != std::string_view::npos) {
    message = line.substr(start);
  } else if (size_t close = line.find("] "); close != std::string_view::npos && close < 40) {
    message = line.substr(close + 2);
    // "12#12: " (pid#tid) says nothing of the failure.
    if (size_t colon = message.find(": "); colon != std::string_view::npos && colon < 24 &&
                                           message.substr(0, colon).find('#') != message.npos) {
      message.remove_prefix(colon + 2);
    }
  }
  std::string_view upstream;
  // The client's fields (its address, request line, Host) say nothing of the failure.
  if (size_t client = message.find(", client: "); client != std::string_view::npos) {
    std::string_view rest = message.substr(client);
    constexpr std::string_view kUpstream = ", upstream: \"";
    // The last one: nginx writes it after the request line, which is the client's text.
    if (size_t u = rest.rfind(kUpstream); u != std::string_view::npos) {
      upstream = rest.substr(u + 2);
      size_t close = upstream.find('"', kUpstream.size() - 2);
      upstream =
          close == std::string_view::npos ? std::string_view() : upstream.substr(0, close + 1);
    }
    message = message.substr(0, client);
  }
  std::string out;
  AppendSanitizedUtf8(out, message, max_bytes);
  if (!upstream.empty() && out.size() + 2 < max_bytes) {
    out += ", ";
    AppendSanitizedUtf8(out, upstream, max_bytes - out.size());
  }
  return out;
}

}  // namespace gatewatch
