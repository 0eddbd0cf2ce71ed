// Reading and validating the request part of a check that sends HTTP (the "http" check,
// "cdn_origin"): url, method, body/body_file, headers, host, follow_redirects, max_redirects,
// cross_origin_redirects, allow_https_downgrade, insecure, ca_file, cert_file, key_file,
// http_version, body_limit, into the HttpRequest that checks/http_transfer.h sends. Config errors
// name their exact path (ConfigError); unknown keys are left to the caller.
#pragma once

#include <string>
#include <string_view>

#include "agent/base/config_node.h"
#include "checks/http_transfer.h"

namespace gatewatch {

// RFC 9110 token characters, the only ones allowed in a header field name.
bool IsHttpToken(std::string_view s);

// Sets url, redacted_url, https, host and port of `request` from an http(s) URL, parsed by curl's
// own parser. Returns false (and leaves `request` alone) for anything else.
bool SetRequestUrl(const std::string& url, HttpRequest& request);

// What to do with a redirect from `from` (the URL just requested) to `to` (curl's
// CURLINFO_REDIRECT_URL, absolute). Pure; table-tested in tests/unit/http_check_config_test.cc.
struct RedirectStep {
  enum class Action {
    kFollow,                // same origin as the configured URL: send everything again
    kFollowWithoutHeaders,  // another origin: no configured headers, no URL credentials
    kRefuse,                // `detail` says why (Reason::kRedirectRefused)
    kUnsupported,           // not an http(s) URL (Reason::kProtocolError, as curl would say)
  };
  Action action = Action::kFollow;
  std::string url;     // the URL to request next (credentials stripped when leaving the origin)
  std::string detail;  // for kRefuse / kUnsupported, with redacted URLs
};
// The method the request sends: "HEAD", the configured method, "POST" for a body without one,
// else "GET".
std::string EffectiveMethod(const HttpRequest& request);
// Whether following a redirect with `status` turns the request into a GET without a body, as
// browsers and curl -L do (CURLOPT_POSTREDIR unset): 303 for every method but HEAD (RFC 9110
// 15.4.4), 301 and 302 for POST (the practice RFC 9110 15.4.2/15.4.3 allows). 307 and 308 keep
// the method and the body.
bool RedirectBecomesGet(long status, std::string_view method);

RedirectStep DecideRedirect(const HttpRequest& request, const std::string& from,
                            const std::string& to);

// Reads the request keys from a check entry `node` into `request`. Throws ConfigError naming the
// exact path; leaves unknown keys to the caller.
void ParseHttpRequest(const ConfigNode& node, HttpRequest& request);

}  // namespace gatewatch
