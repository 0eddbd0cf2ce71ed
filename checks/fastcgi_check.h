// The "fastcgi" check type: one FastCGI responder request (php-fpm's ping.path, pm.status_path or a
// script) over TCP or a unix socket, the way nginx's fastcgi_pass sends it, judged by the CGI
// `Status:` of the reply. Framing in checks/fastcgi_protocol.h, I/O through StreamSession.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/config_node.h"
#include "checks/api/check_type.h"
#include "checks/http_expect.h"
#include "checks/stream_session.h"

namespace gatewatch {

struct FastcgiCheckConfig {
  StreamTarget target;
  std::string path = "/ping";  // SCRIPT_NAME / REQUEST_URI / DOCUMENT_URI
  std::string request;         // the encoded request, built once at load
  StatusExpectation expect_status;
  std::unique_ptr<LinearRegex> body_regex;  // null: any body
  uint64_t max_bytes = 65536;               // FCGI_STDOUT bytes kept
};

// Reads the fastcgi keys (address, path, script_filename, method, query, params, body, expect,
// max_bytes). Throws ConfigError naming the exact path.
std::shared_ptr<const FastcgiCheckConfig> ParseFastcgiCheckConfig(const ConfigNode& node);

CheckType FastcgiCheckType();

struct FastcgiMetrics {
  MetricDesc status_code{"fastcgi_status_code",
                         MetricKind::kGauge,
                         "CGI status of the last fastcgi run's reply, 0 if there was no reply.",
                         {}};
  MetricDesc phase_seconds{"fastcgi_phase_seconds",
                           MetricKind::kGauge,
                           "Time spent in each phase of the last fastcgi run (resolve, connect, "
                           "response: request sent until the reply ended).",
                           {"phase"}};
};
const FastcgiMetrics& FastcgiCheckMetrics();

}  // namespace gatewatch
