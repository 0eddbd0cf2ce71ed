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
#include "checks/fpm_status.h"
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
  // status_path: the request goes to php-fpm's pm.status_path (query `json`), whose figures are
  // exported and judged against `fpm`.
  bool pool_status = false;
  FpmThresholds fpm;
};

// Reads the fastcgi keys (address, path or status_path, script_filename, method, query, params,
// body, expect, max_bytes, max_listen_queue, fail_on_max_children_reached). Throws ConfigError
// naming the exact path.
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
  // php-fpm's pool figures, from status_path's JSON (absent without status_path).
  MetricDesc pool_active{"fastcgi_pool_active_processes",
                         MetricKind::kGauge,
                         "php-fpm children serving a request (including the status request), "
                         "at the last run.",
                         {}};
  MetricDesc pool_idle{"fastcgi_pool_idle_processes",
                       MetricKind::kGauge,
                       "php-fpm children waiting for a request, at the last run.",
                       {}};
  MetricDesc pool_total{"fastcgi_pool_total_processes",
                        MetricKind::kGauge,
                        "php-fpm children of the pool, at the last run.",
                        {}};
  MetricDesc pool_listen_queue{"fastcgi_pool_listen_queue",
                               MetricKind::kGauge,
                               "Connections waiting in the pool's listen backlog, at the last run.",
                               {}};
  MetricDesc pool_max_listen_queue{"fastcgi_pool_max_listen_queue",
                                   MetricKind::kGauge,
                                   "Most connections ever waiting in the pool's listen backlog "
                                   "since php-fpm started.",
                                   {}};
  MetricDesc pool_listen_queue_length{"fastcgi_pool_listen_queue_length",
                                      MetricKind::kGauge,
                                      "Size of the pool's listen backlog (0 where php-fpm cannot "
                                      "read it, e.g. unix sockets).",
                                      {}};
  MetricDesc pool_max_children_reached{"fastcgi_pool_max_children_reached",
                                       MetricKind::kGauge,
                                       "Times the pool reached pm.max_children since php-fpm "
                                       "started (php-fpm's counter).",
                                       {}};
  MetricDesc pool_slow_requests{"fastcgi_pool_slow_requests",
                                MetricKind::kGauge,
                                "Requests slower than request_slowlog_timeout since php-fpm "
                                "started (php-fpm's counter).",
                                {}};
};
const FastcgiMetrics& FastcgiCheckMetrics();

}  // namespace gatewatch
