// The "http" check: one request through the loop's CurlMulti (after resolving the host on the
// loop's DnsResolver), turned into a Result whose Reason says why it failed: a 502 from the
// proxy, a refused or timed-out connect, a TLS problem, a body or header assertion.
//
// Config (the check's own keys; errors name their exact path, e.g. `checks[0].url: ...`):
//   url: http://127.0.0.1:8080/healthz   required; http or https; userinfo is sent as basic auth
//                                         but never logged or reported
//   method: GET                           any method but CONNECT (HEAD sends no body and reads
//                                         none)
//   body: '...' | body_file: /path        request body, at most 1MiB (the file read at load)
//   headers: {X-Probe: gatewatch}         extra request headers
//   host: api.internal                    Host header override (SNI and certificate checks still
//                                         use the URL host)
//   expect:
//     status: [200, "2xx"]                codes 100-599 and classes "1xx".."5xx"; default ["2xx"]
//     body_regex: "ok"                    RE2 regex that must match in the body (first 8 MiB)
//     body_not_regex: "error"             RE2 regex that must not match
//     headers: {Content-Type: "json"}     name case-insensitive; the regex must match some value
//   follow_redirects: true                default true
//   max_redirects: 10                     0..50, default 10
//   insecure: false                       true disables certificate verification
//   ca_file: /path/ca.pem                 CA bundle for verification
//   cert_file, key_file                   client certificate and key for mutual TLS
//   http_version: "2"                     "1.1", "2" or "2-prior-knowledge"; default curl's
//   body_limit: 64KiB                     0..64MiB; a longer body fails with body_too_large
//   resolver: 10.0.0.53:53                ask this DNS server (ip[:port]) instead of the system's
//                                         resolv.conf (split horizon); Host and SNI unchanged
//   fanout: true                          resolve every A/AAAA and probe each address every run
//                                         (at most 32, the rest counted): one dead backend behind
//                                         a name fails the run, gatewatch_http_backend_up says
//                                         which
//   fanout_policy: all                    all | any | quorum: when a fan-out run fails
//   request_id_header: X-Request-ID       every run sends this header with a new id
//                                         (gw-<16 hex>, reported as `request_id`), so a failed
//                                         run gets nginx's own log lines for it
//                                         (docs/proxy-log.md);
//                                         "" sends none; not sent by fan-out runs
//
// The pieces: request keys in checks/http_request.h, expectations and their evaluation in
// checks/http_expect.h, resolve -> transfer in checks/http_run.h, metrics and report lines in
// checks/http_report.h, the fan-out run in checks/http_fanout.h; header collection, phase
// arithmetic and certificate dates in checks/http_transfer.h. This unit is the wiring.
#pragma once

#include <memory>
#include <string>

#include "checks/api/check_type.h"
#include "checks/http_expect.h"
#include "checks/http_fanout.h"
#include "checks/http_request.h"
#include "checks/http_run.h"
#include "checks/http_transfer.h"

namespace gatewatch {

// The "http" check type: name, factory and every metric it reports. Registered by
// checks/check_types.cc.
CheckType HttpCheckType();

// One http check's settings, validated at load. Immutable and shared by every run of the check.
// The request part is what checks/http_transfer.h sends; the rest are the expectations.
struct HttpCheckConfig : HttpRequest, HttpExpectations {
  std::string resolver;  // "ip:port" (DnsResolver::ParseServer form); empty: the system resolver
  bool fanout = false;
  FanoutPolicy fanout_policy = FanoutPolicy::kAll;
  std::string request_id_header = "X-Request-ID";  // empty: no request id
};

// The HttpRun target of one run of the check: the URL host on the check's resolver (the
// system's, or a cached per-server channel for `resolver:`), the body kept when an expectation
// reads it.
HttpRun::Target HttpCheckTarget(const HttpCheckConfig& cfg, CheckServices& services,
                                TimePoint deadline);

// Reads the check's own keys from `node` (a check entry, e.g. path `checks[0]`). Throws
// ConfigError naming the exact path. Rejects unknown keys inside `expect`; the check-level unknown
// keys are left to the caller, as CheckFactory's contract says.
std::shared_ptr<const HttpCheckConfig> ParseHttpCheckConfig(const ConfigNode& node);

}  // namespace gatewatch
