// The one bounded taxonomy of failure reasons. Every failed run of every check carries exactly one
// of these, and each maps to one real cause of a 502/504 (the `Cause`). The set is fixed at compile
// time so that the `reason` label of every metric stays bounded.
//
// docs/reasons.md documents each one; tests/unit/reason_test.cc keeps the two in step.
#pragma once

#include <optional>
#include <string_view>

namespace gatewatch {

// What a reason points to, in the words an on-call engineer would use.
enum class Cause {
  kNone,              // success
  kUpstreamDown,      // nothing listens: process crashed, stopped, wrong port
  kOverloaded,        // accepts but too slow or drops connections: CPU, memory, queue, GC
  kDns,               // name does not resolve, resolves wrong, or resolvers disagree
  kNetwork,           // no route, firewall drop
  kMisconfiguration,  // TLS, protocol, redirects, wrong content: a config or deploy mistake
  kCdnPath,           // edge vs origin: who is at fault
  kResources,         // host, container or proxy limits crossed
  kAgent,             // gatewatch itself could not run the check
};

// X(enumerator, name, cause)
#define GATEWATCH_REASONS(X)                                                 \
  X(kNone, "none", kNone)                                                    \
  X(kConnectionRefused, "connection_refused", kUpstreamDown)                 \
  X(kNoLiveUpstreams, "no_live_upstreams", kUpstreamDown)                    \
  X(kConnectTimeout, "connect_timeout", kOverloaded)                         \
  X(kTimeout, "timeout", kOverloaded)                                        \
  X(kUpstreamTimeout, "upstream_timeout", kOverloaded)                       \
  X(kConnectionReset, "connection_reset", kOverloaded)                       \
  X(kEmptyReply, "empty_reply", kOverloaded)                                 \
  X(kPoolSaturated, "pool_saturated", kOverloaded)                           \
  X(kHostUnreachable, "host_unreachable", kNetwork)                          \
  X(kDnsNxdomain, "dns_nxdomain", kDns)                                      \
  X(kDnsNodata, "dns_nodata", kDns)                                          \
  X(kDnsServfail, "dns_servfail", kDns)                                      \
  X(kDnsRefused, "dns_refused", kDns)                                        \
  X(kDnsTimeout, "dns_timeout", kDns)                                        \
  X(kDnsMalformed, "dns_malformed", kDns)                                    \
  X(kDnsNotPropagated, "dns_not_propagated", kDns)                           \
  X(kDnsInconsistent, "dns_inconsistent", kDns)                              \
  X(kDnsError, "dns_error", kDns)                                            \
  X(kTlsHandshake, "tls_handshake", kMisconfiguration)                       \
  X(kTlsCertificate, "tls_certificate", kMisconfiguration)                   \
  X(kProtocolError, "protocol_error", kMisconfiguration)                     \
  X(kInvalidHeader, "invalid_header", kMisconfiguration)                     \
  X(kRedirectLimit, "redirect_limit", kMisconfiguration)                     \
  X(kRedirectRefused, "redirect_refused", kMisconfiguration)                 \
  X(kHttp502, "http_502", kUpstreamDown)                                     \
  X(kHttp503, "http_503", kOverloaded)                                       \
  X(kHttp504, "http_504", kOverloaded)                                       \
  X(kHttp5xx, "http_5xx", kMisconfiguration)                                 \
  X(kHttp4xx, "http_4xx", kMisconfiguration)                                 \
  X(kUnexpectedStatus, "unexpected_status", kMisconfiguration)               \
  X(kBodyMismatch, "body_mismatch", kMisconfiguration)                       \
  X(kHeaderMismatch, "header_mismatch", kMisconfiguration)                   \
  X(kBodyTooLarge, "body_too_large", kMisconfiguration)                      \
  X(kLogUnreadable, "log_unreadable", kMisconfiguration)                     \
  X(kNginxConfigInvalid, "nginx_config_invalid", kMisconfiguration)          \
  X(kKeepaliveMismatch, "keepalive_mismatch", kMisconfiguration)             \
  X(kEdgeFault, "edge_fault", kCdnPath)                                      \
  X(kOriginFault, "origin_fault", kCdnPath)                                  \
  X(kBothDown, "both_down", kCdnPath)                                        \
  X(kContentMismatch, "content_mismatch", kCdnPath)                          \
  X(kCpuSaturated, "cpu_saturated", kResources)                              \
  X(kMemoryExhausted, "memory_exhausted", kResources)                        \
  X(kDiskFull, "disk_full", kResources)                                      \
  X(kInodesExhausted, "inodes_exhausted", kResources)                        \
  X(kOomKilled, "oom_killed", kResources)                                    \
  X(kCpuThrottled, "cpu_throttled", kResources)                              \
  X(kWorkerConnectionsExhausted, "worker_connections_exhausted", kResources) \
  X(kFdExhausted, "fd_exhausted", kResources)                                \
  X(kEphemeralPortsExhausted, "ephemeral_ports_exhausted", kResources)       \
  X(kListenQueueFull, "listen_queue_full", kResources)                       \
  X(kProxyBufferTooSmall, "proxy_buffer_too_small", kResources)              \
  X(kConnectionsDropped, "connections_dropped", kResources)                  \
  X(kOther, "other", kAgent)                                                 \
  X(kInternalError, "internal_error", kAgent)

enum class Reason {
#define GATEWATCH_REASON_ENUM(e, name, cause) e,
  GATEWATCH_REASONS(GATEWATCH_REASON_ENUM)
#undef GATEWATCH_REASON_ENUM
};

inline constexpr int kReasonCount = 0
#define GATEWATCH_REASON_COUNT(e, name, cause) +1
    GATEWATCH_REASONS(GATEWATCH_REASON_COUNT)
#undef GATEWATCH_REASON_COUNT
    ;

std::string_view ReasonName(Reason r);
Cause ReasonCause(Reason r);
std::string_view CauseName(Cause c);
std::optional<Reason> ParseReason(std::string_view name);

}  // namespace gatewatch
