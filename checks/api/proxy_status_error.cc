#include "checks/api/proxy_status_error.h"

namespace gatewatch {

std::optional<ProxyStatusError> ProxyStatusErrorFor(Reason reason) {
  switch (reason) {
    case Reason::kConnectionRefused:
      return ProxyStatusError{"connection_refused", ""};
    case Reason::kNoLiveUpstreams:
      return ProxyStatusError{"destination_unavailable", ""};
    case Reason::kConnectTimeout:
      return ProxyStatusError{"connection_timeout", ""};
    case Reason::kTimeout:
    case Reason::kUpstreamTimeout:
      return ProxyStatusError{"http_response_timeout", ""};
    case Reason::kConnectionReset:
      return ProxyStatusError{"connection_terminated", ""};
    case Reason::kEmptyReply:
      return ProxyStatusError{"http_response_incomplete", ""};
    case Reason::kHostUnreachable:
      return ProxyStatusError{"destination_ip_unroutable", ""};
    case Reason::kDnsNxdomain:
      return ProxyStatusError{"dns_error", "NXDOMAIN"};
    case Reason::kDnsNodata:
      return ProxyStatusError{"dns_error", "NOERROR"};  // an empty NOERROR answer
    case Reason::kDnsServfail:
      return ProxyStatusError{"dns_error", "SERVFAIL"};
    case Reason::kDnsRefused:
      return ProxyStatusError{"dns_error", "REFUSED"};
    case Reason::kDnsTimeout:
      return ProxyStatusError{"dns_timeout", ""};
    case Reason::kDnsMalformed:
    case Reason::kDnsError:
      return ProxyStatusError{"dns_error", ""};
    case Reason::kTlsHandshake:
      return ProxyStatusError{"tls_protocol_error", ""};
    case Reason::kTlsCertificate:
      return ProxyStatusError{"tls_certificate_error", ""};
    case Reason::kProtocolError:
      return ProxyStatusError{"http_protocol_error", ""};
    case Reason::kInvalidHeader:
      return ProxyStatusError{"http_response_header_section_size", ""};
    case Reason::kBodyTooLarge:
      return ProxyStatusError{"http_response_body_size", ""};
    default:
      // Success, a status the next hop sent (http_502 ... unexpected_status: a proxy relays it
      // with received-status, not an error), assertions, verdicts, resources, the agent itself.
      return std::nullopt;
  }
}

std::optional<std::string> ProxyStatusMember(Reason reason, std::string_view details) {
  std::optional<ProxyStatusError> e = ProxyStatusErrorFor(reason);
  if (!e) return std::nullopt;
  std::string out = "gatewatch; error=";
  out += e->error;
  if (!e->rcode.empty()) {
    out += "; rcode=\"";
    out += e->rcode;
    out += '"';
  }
  if (!details.empty()) {
    constexpr size_t kMaxDetails = 200;
    out += "; details=\"";
    size_t n = 0;
    for (char c : details) {
      if (n++ == kMaxDetails) break;
      // sf-string: printable ASCII only (%x20-7E), with " and \ escaped.
      if (c == '"' || c == '\\') out += '\\';
      out += (c >= 0x20 && c <= 0x7e) ? c : '?';
    }
    out += '"';
  }
  return out;
}

}  // namespace gatewatch
