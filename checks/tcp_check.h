// The "tcp" check type: connect to host:port (optionally TLS with SNI, verification, certificate
// expiry and a client certificate), optionally send bytes and wait for an RE2 match on what comes
// back (a Redis PING, an SMTP banner), with a cap on the bytes read. I/O through StreamSession.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "agent/base/config_node.h"
#include "checks/api/check_type.h"
#include "checks/http_expect.h"
#include "checks/stream_session.h"

namespace gatewatch {

struct TcpCheckConfig {
  StreamTarget target;
  std::string send;                     // written after connecting; "" = nothing
  std::unique_ptr<LinearRegex> expect;  // searched in the received bytes; null = no read
  uint64_t max_bytes = 4096;            // bytes read at most while waiting for the match
};

inline constexpr uint64_t kTcpMaxBytesLimit = 1u << 20;

// Reads the tcp keys of a check entry (address, tls, server_name, insecure, ca_file, cert_file,
// key_file, send, expect, max_bytes). Throws ConfigError naming the exact path.
std::shared_ptr<const TcpCheckConfig> ParseTcpCheckConfig(const ConfigNode& node);

CheckType TcpCheckType();

struct TcpMetrics {
  MetricDesc phase_seconds{"tcp_phase_seconds",
                           MetricKind::kGauge,
                           "Time spent in each phase of the last tcp run (resolve, connect, tls, "
                           "exchange).",
                           {"phase"}};
  MetricDesc received_bytes{"tcp_received_bytes",
                            MetricKind::kGauge,
                            "Bytes received in the last tcp run while waiting for `expect`.",
                            {}};
};
const TcpMetrics& TcpCheckMetrics();

}  // namespace gatewatch
