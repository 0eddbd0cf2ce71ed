// gatewatch's own reasons under the names of the Proxy-Status error registry (RFC 9209, section
// 2.3), so that tools which read that vocabulary can read the status API too. The reverse of the
// mapping in checks/proxy_status.h (what another proxy's error type means as a Reason).
// Pure: table-tested in tests/unit/proxy_status_test.cc; the table is in docs/reasons.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "checks/api/reason.h"

namespace gatewatch {

struct ProxyStatusError {
  std::string_view error;  // an RFC 9209 error type, e.g. "connection_timeout"
  std::string_view rcode;  // the DNS rcode parameter of dns_error ("NXDOMAIN"), else empty
};

// The RFC 9209 error type of a failure reason; nullopt for `none` and for reasons with no
// equivalent there (a status the next hop returned, body or header assertions, resources, CDN
// verdicts, DNS consistency): those are not a failure to get a response.
std::optional<ProxyStatusError> ProxyStatusErrorFor(Reason reason);

// One Proxy-Status member (RFC 9209 syntax, RFC 8941 serialisation) as gatewatch would send it
// for a failed run: `gatewatch; error=connection_refused; details="..."`, with rcode for
// dns_error. `details` is reduced to printable ASCII (what an sf-string may hold), quotes and
// backslashes escaped, at most 200 characters. nullopt when ProxyStatusErrorFor(reason) is.
std::optional<std::string> ProxyStatusMember(Reason reason, std::string_view details);

}  // namespace gatewatch
