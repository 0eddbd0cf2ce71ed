// The error vocabulary of the hop in front: what a proxy or CDN between gatewatch and the
// upstream says about why it failed, turned into gatewatch's Reasons.
//
//   Proxy-Status   RFC 9209, e.g. `ExampleCDN; error=connection_refused; next-hop="10.0.0.5:443"`,
//                  a list with one member per proxy, the one nearest the origin first
//   Cloudflare     520-526, when the response carries Cloudflare's marks (CF-Ray, Server:
//   cloudflare) Cache-Status   RFC 9211 fwd-status: the status a cache's next hop returned
//
// Pure functions, no I/O: table-tested in tests/unit/proxy_status_test.cc with real header
// values. Parsing is lenient (a malformed list member is skipped, the rest still count) and
// bounded (at most kMaxSfMembers members of kMaxSfParams parameters each).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "checks/api/reason.h"
#include "checks/http_transfer.h"

namespace gatewatch {

inline constexpr size_t kMaxSfMembers = 32;
inline constexpr size_t kMaxSfParams = 32;

// One member of an RFC 8941 List: the item and its parameters. Values are kept as text: tokens
// and integers as written, strings unescaped, booleans "?1"/"?0" (a bare key is "?1"), byte
// sequences with their colons, an inner list as written between its parentheses.
struct SfMember {
  std::string item;
  std::vector<std::pair<std::string, std::string>> params;  // keys lower-cased, in order
  // The value of parameter `key` (lower-case), or nullptr.
  const std::string* Param(std::string_view key) const;
};

// The members of a List field value; a member that does not parse is skipped up to the next
// comma outside a string.
std::vector<SfMember> ParseSfList(std::string_view value);

// One Proxy-Status member: an intermediary and what it says about the response.
struct ProxyStatusEntry {
  std::string proxy;         // the intermediary's name (token or string)
  std::string error;         // error type ("" when the member reports no error)
  std::string details;       // details parameter
  std::string next_hop;      // next-hop parameter
  std::string rcode;         // rcode parameter (dns_error)
  long received_status = 0;  // received-status parameter, 0 if absent or not 100..599
};

// Every member of a Proxy-Status value, in list order (nearest the origin first).
std::vector<ProxyStatusEntry> ParseProxyStatus(std::string_view value);
// Every Proxy-Status member of a response (several field lines form one list).
std::vector<ProxyStatusEntry> ProxyStatusOf(const ResponseHeaders& headers);

// The Reason a Proxy-Status error type stands for (rcode refines dns_error); nullopt for an
// error that names no failure of the next hop (http_request_error, http_request_denied,
// connection_limit_reached, proxy_internal_response, proxy_internal_error, unknown types): the
// status the proxy sent then stays the reason.
std::optional<Reason> ReasonForProxyError(std::string_view error, std::string_view rcode);

// Whether a response came from Cloudflare's edge: a CF-Ray header or `Server: cloudflare`.
bool LooksLikeCloudflare(const ResponseHeaders& headers);
// Cloudflare's own 52x codes: 520 empty_reply, 521 connection_refused, 522 connect_timeout,
// 523 host_unreachable, 524 timeout, 525 tls_handshake, 526 tls_certificate; nullopt otherwise.
std::optional<Reason> ReasonForCloudflareStatus(long status);

// Who in front said why a response failed.
struct HopAttribution {
  Reason reason = Reason::kNone;
  std::string hop;     // the intermediary's name ("cloudflare" for a 52x)
  std::string source;  // "Proxy-Status" or "Cloudflare 521"
  std::string said;    // one printable line: "connection_refused (next-hop ...): details"
};

// The reason the hop in front gives for a failed response with `status`, if it gives one that
// maps: the first Proxy-Status member with a mapped error (nearest the origin: the root cause),
// on a 4xx or 5xx; else Cloudflare's 52x on a Cloudflare response; else nullopt (the status
// keeps its own reason).
std::optional<HopAttribution> AttributeHopFailure(long status, const ResponseHeaders& headers);

// One report line for the Proxy-Status members ("ExampleCDN error=connection_refused; nginx
// received-status=502"), "" when there are none.
std::string DescribeProxyStatus(const std::vector<ProxyStatusEntry>& entries);

// RFC 9211 fwd-status: the status the next hop of the cache nearest the origin that forwarded
// the request returned (the first Cache-Status member with a fwd-status in 100..599); nullopt
// when no member says.
std::optional<long> CacheForwardStatus(const ResponseHeaders& headers);

}  // namespace gatewatch
