// The "cdn_origin" check: the same URL fetched through the CDN edge (normal resolution on the
// agent's c-ares) and straight from the origin, concurrently on the loop, each through one
// HttpTransfer; the two answers give a verdict (checks/cdn_verdict.h): ok, edge_fault,
// origin_fault, both_down or content_mismatch. The check's reason on failure is the verdict.
//
// Config (errors name their exact path, e.g. `checks[3].origin: ...`):
//   url: https://www.example.com/health   required; fetched through the edge
//   origin: 10.0.0.5:443                  required; the same request, connected to ip:port or
//                                         host:port (CURLOPT_CONNECT_TO: URL, Host and SNI kept);
//                                         or an http(s) URL of its own (then its own Host/SNI)
//   compare: [status, body_hash]          default; any of status, etag, last_modified,
//                                         content_length, body_hash
//   method, headers, host, follow_redirects, max_redirects, insecure, ca_file, body_limit:
//                                         as for the http check, for both sides
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "checks/api/check_type.h"
#include "checks/cdn_verdict.h"
#include "checks/http_transfer.h"

namespace gatewatch {

// Registered by checks/check_types.cc.
CheckType CdnOriginCheckType();

// One cdn_origin check's settings, validated at load. Immutable, shared by every run.
struct CdnOriginConfig {
  std::shared_ptr<const HttpRequest> edge;
  std::shared_ptr<const HttpRequest> origin;  // the edge request, or one for the origin URL
  // With `origin: host:port`: where the origin connection goes. Empty with an origin URL.
  std::string origin_connect_host;  // numeric or a name (resolved on the loop)
  long origin_connect_port = 0;
  std::string origin_label;  // for details and reports: "10.0.0.5:443" or the redacted URL
  std::vector<CompareField> compare;
};

// Reads the check's own keys from `node`; throws ConfigError naming the exact path.
std::shared_ptr<const CdnOriginConfig> ParseCdnOriginConfig(const ConfigNode& node);

}  // namespace gatewatch
