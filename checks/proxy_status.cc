#include "checks/proxy_status.h"

#include <cctype>
#include <charconv>

#include "agent/base/strings.h"

namespace gatewatch {

namespace {

// A cursor over one field value, parsing RFC 8941 pieces. Every Parse* returns false on bytes it
// cannot read; the caller then skips the member.
class SfCursor {
 public:
  explicit SfCursor(std::string_view s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  void SkipBlanks() {
    while (!done() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool Eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }

  // Skips to just past the next comma outside a string (or the end): the lenient recovery.
  void SkipMember() { SkipPastUnquoted(','); }

  bool ParseBareItem(std::string& out) {
    char c = peek();
    if (c == '"') return ParseString(out);
    if (c == '?') {
      if (i_ + 1 < s_.size() && (s_[i_ + 1] == '0' || s_[i_ + 1] == '1')) {
        out.assign(s_.substr(i_, 2));
        i_ += 2;
        return true;
      }
      return false;
    }
    if (c == ':') {  // byte sequence, kept as written
      size_t end = s_.find(':', i_ + 1);
      if (end == std::string_view::npos) return false;
      out.assign(s_.substr(i_, end + 1 - i_));
      i_ = end + 1;
      return true;
    }
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      size_t start = i_++;
      while (!done() && (std::isdigit(static_cast<unsigned char>(peek())) || peek() == '.')) ++i_;
      out.assign(s_.substr(start, i_ - start));
      return out != "-";
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '*') {
      size_t start = i_++;
      while (!done() && IsTokenChar(peek())) ++i_;
      out.assign(s_.substr(start, i_ - start));
      return true;
    }
    return false;
  }

  // Parameters: *( ";" OWS key [ "=" bare-item ] ). Keys are lower-cased (lenient: RFC 8941
  // allows only lower case, some senders capitalise).
  bool ParseParams(std::vector<std::pair<std::string, std::string>>& params) {
    while (true) {
      SkipBlanks();
      if (!Eat(';')) return true;
      SkipBlanks();
      size_t start = i_;
      while (!done() && IsKeyChar(peek())) ++i_;
      if (i_ == start) return false;
      std::string key(s_.substr(start, i_ - start));
      for (char& k : key) k = static_cast<char>(std::tolower(static_cast<unsigned char>(k)));
      std::string value = "?1";
      if (Eat('=')) {
        if (!ParseBareItem(value)) return false;
      }
      if (params.size() < kMaxSfParams) params.emplace_back(std::move(key), std::move(value));
    }
  }

  // An inner list, kept as written between its parentheses.
  bool ParseInnerList(std::string& out) {
    size_t start = ++i_;
    if (!SkipPastUnquoted(')')) return false;
    out.assign(s_.substr(start, i_ - 1 - start));
    return true;
  }

 private:
  // Moves just past the next `stop` outside a quoted string; false (at the end) if there is none.
  bool SkipPastUnquoted(char stop) {
    bool quoted = false;
    for (; !done(); ++i_) {
      char c = s_[i_];
      if (quoted && c == '\\') {
        ++i_;
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == stop && !quoted) {
        ++i_;
        return true;
      }
    }
    return false;
  }

  static bool IsTokenChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~:/").find(c) != std::string_view::npos;
  }
  static bool IsKeyChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ||
           c == '*';
  }
  bool ParseString(std::string& out) {
    ++i_;  // the opening quote
    out.clear();
    for (; !done(); ++i_) {
      char c = s_[i_];
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        out += s_[i_];
      } else if (c == '"') {
        ++i_;
        return true;
      } else {
        out += c;
      }
    }
    return false;  // unterminated
  }

  std::string_view s_;
  size_t i_ = 0;
};

long StatusParam(const std::string* value) {
  if (value == nullptr) return 0;
  long n = 0;
  auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
  if (ec != std::errc() || end != value->data() + value->size() || n < 100 || n > 599) return 0;
  return n;
}

std::string JoinedField(const ResponseHeaders& headers, std::string_view name) {
  std::string joined;
  for (std::string_view v : headers.Values(name)) {
    if (!joined.empty()) joined += ", ";
    joined += v;
  }
  return joined;
}

}  // namespace

const std::string* SfMember::Param(std::string_view key) const {
  for (const auto& [k, v] : params) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::vector<SfMember> ParseSfList(std::string_view value) {
  std::vector<SfMember> members;
  SfCursor c(value);
  while (members.size() < kMaxSfMembers) {
    c.SkipBlanks();
    if (c.done()) break;
    if (c.peek() == ',') {  // an empty member: lenient, skip it
      c.Eat(',');
      continue;
    }
    SfMember m;
    bool ok = c.peek() == '(' ? c.ParseInnerList(m.item) : c.ParseBareItem(m.item);
    ok = ok && c.ParseParams(m.params);
    if (ok) {
      c.SkipBlanks();
      ok = c.done() || c.Eat(',');
    }
    if (!ok) {
      c.SkipMember();
      continue;
    }
    members.push_back(std::move(m));
  }
  return members;
}

std::vector<ProxyStatusEntry> ParseProxyStatus(std::string_view value) {
  std::vector<ProxyStatusEntry> entries;
  for (SfMember& m : ParseSfList(value)) {
    ProxyStatusEntry e;
    e.proxy = std::move(m.item);
    if (const std::string* v = m.Param("error")) e.error = *v;
    if (const std::string* v = m.Param("details")) e.details = *v;
    if (const std::string* v = m.Param("next-hop")) e.next_hop = *v;
    if (const std::string* v = m.Param("rcode")) e.rcode = *v;
    e.received_status = StatusParam(m.Param("received-status"));
    entries.push_back(std::move(e));
  }
  return entries;
}

std::vector<ProxyStatusEntry> ProxyStatusOf(const ResponseHeaders& headers) {
  return ParseProxyStatus(JoinedField(headers, "Proxy-Status"));
}

std::optional<Reason> ReasonForProxyError(std::string_view error, std::string_view rcode) {
  struct Entry {
    std::string_view error;
    Reason reason;
  };
  // RFC 9209 section 2.3, in its order. Error types that say nothing about the next hop
  // (http_request_error, http_request_denied, connection_limit_reached,
  // proxy_internal_response, proxy_internal_error) are absent on purpose.
  static constexpr Entry kErrors[] = {
      {"dns_timeout", Reason::kDnsTimeout},
      {"dns_error", Reason::kDnsError},  // refined by rcode below
      {"destination_not_found", Reason::kProtocolError},
      {"destination_unavailable", Reason::kNoLiveUpstreams},
      {"destination_ip_prohibited", Reason::kHostUnreachable},
      {"destination_ip_unroutable", Reason::kHostUnreachable},
      {"connection_refused", Reason::kConnectionRefused},
      {"connection_terminated", Reason::kConnectionReset},
      {"connection_timeout", Reason::kConnectTimeout},
      {"connection_read_timeout", Reason::kUpstreamTimeout},
      {"connection_write_timeout", Reason::kUpstreamTimeout},
      {"tls_protocol_error", Reason::kTlsHandshake},
      {"tls_certificate_error", Reason::kTlsCertificate},
      {"tls_alert_received", Reason::kTlsHandshake},
      {"http_response_incomplete", Reason::kConnectionReset},
      {"http_response_header_section_size", Reason::kInvalidHeader},
      {"http_response_header_size", Reason::kInvalidHeader},
      {"http_response_body_size", Reason::kBodyTooLarge},
      {"http_response_trailer_section_size", Reason::kInvalidHeader},
      {"http_response_trailer_size", Reason::kInvalidHeader},
      {"http_response_transfer_coding", Reason::kProtocolError},
      {"http_response_content_coding", Reason::kProtocolError},
      {"http_response_timeout", Reason::kUpstreamTimeout},
      {"http_upgrade_failed", Reason::kProtocolError},
      {"http_protocol_error", Reason::kProtocolError},
      {"proxy_configuration_error", Reason::kProtocolError},
      {"proxy_loop_detected", Reason::kProtocolError},
  };
  for (const Entry& e : kErrors) {
    if (!EqualsIgnoreCase(error, e.error)) continue;
    if (e.reason != Reason::kDnsError) return e.reason;
    if (EqualsIgnoreCase(rcode, "NXDOMAIN")) return Reason::kDnsNxdomain;
    if (EqualsIgnoreCase(rcode, "SERVFAIL")) return Reason::kDnsServfail;
    if (EqualsIgnoreCase(rcode, "REFUSED")) return Reason::kDnsRefused;
    if (EqualsIgnoreCase(rcode, "NOERROR")) return Reason::kDnsNodata;  // no usable record
    if (EqualsIgnoreCase(rcode, "FORMERR")) return Reason::kDnsMalformed;
    return Reason::kDnsError;
  }
  return std::nullopt;
}

bool LooksLikeCloudflare(const ResponseHeaders& headers) {
  return !headers.Values("CF-Ray").empty() ||
         EqualsIgnoreCase(TrimBlanks(headers.First("Server")), "cloudflare");
}

std::optional<Reason> ReasonForCloudflareStatus(long status) {
  switch (status) {
    case 520:  // "Web server returned an unknown error": empty, reset or unreadable reply
      return Reason::kEmptyReply;
    case 521:  // "Web server is down": the origin refused the connection
      return Reason::kConnectionRefused;
    case 522:  // "Connection timed out": no SYN-ACK from the origin
      return Reason::kConnectTimeout;
    case 523:  // "Origin is unreachable": no route to the origin's address
      return Reason::kHostUnreachable;
    case 524:  // "A timeout occurred": connected, no HTTP response within 100 s
      return Reason::kTimeout;
    case 525:  // "SSL handshake failed"
      return Reason::kTlsHandshake;
    case 526:  // "Invalid SSL certificate"
      return Reason::kTlsCertificate;
    default:
      return std::nullopt;
  }
}

std::optional<HopAttribution> AttributeHopFailure(long status, const ResponseHeaders& headers) {
  if (status < 400 || status > 599) return std::nullopt;  // served: not a failure to explain
  for (const ProxyStatusEntry& e : ProxyStatusOf(headers)) {
    if (e.error.empty()) continue;
    std::optional<Reason> reason = ReasonForProxyError(e.error, e.rcode);
    if (!reason) continue;
    HopAttribution a;
    a.reason = *reason;
    a.hop = Printable(e.proxy, 80);
    a.source = "Proxy-Status";
    a.said = Printable(e.error, 80);
    if (!e.rcode.empty()) a.said += " rcode=" + Printable(e.rcode, 20);
    if (!e.next_hop.empty()) a.said += " (next-hop " + Printable(e.next_hop, 80) + ")";
    if (!e.details.empty()) a.said += ": " + QuoteForDetail(e.details, 160);
    return a;
  }
  if (std::optional<Reason> r = ReasonForCloudflareStatus(status);
      r && LooksLikeCloudflare(headers)) {
    HopAttribution a;
    a.reason = *r;
    a.hop = "cloudflare";
    a.source = "Cloudflare " + std::to_string(status);
    a.said = std::string(ReasonName(*r));
    if (std::string_view ray = headers.First("CF-Ray"); !ray.empty()) {
      a.said += " (cf-ray " + Printable(ray, 40) + ")";
    }
    return a;
  }
  return std::nullopt;
}

std::string DescribeProxyStatus(const std::vector<ProxyStatusEntry>& entries) {
  std::string out;
  for (const ProxyStatusEntry& e : entries) {
    if (!out.empty()) out += "; ";
    out += Printable(e.proxy, 80);
    if (!e.error.empty()) out += " error=" + Printable(e.error, 80);
    if (!e.rcode.empty()) out += " rcode=" + Printable(e.rcode, 20);
    if (e.received_status != 0) out += " received-status=" + std::to_string(e.received_status);
    if (!e.next_hop.empty()) out += " next-hop=" + Printable(e.next_hop, 80);
    if (!e.details.empty()) out += " details=" + QuoteForDetail(e.details, 160);
  }
  return out;
}

std::optional<long> CacheForwardStatus(const ResponseHeaders& headers) {
  for (const SfMember& m : ParseSfList(JoinedField(headers, "Cache-Status"))) {
    if (long s = StatusParam(m.Param("fwd-status")); s != 0) return s;
  }
  return std::nullopt;
}

}  // namespace gatewatch
