// The "nginx" check: reads nginx's own configuration every run (so a reload that adds or removes
// servers is followed on the next run) and probes every upstream server the way nginx talks to
// it: nginx's proxy_connect_timeout and proxy_read_timeout, its resolver for names it resolves at
// request time, its SNI and verification settings, and the Host it sends. A server slower than
// proxy_read_timeout fails with upstream_timeout ("nginx would answer 504") even when a plain
// http check with a longer timeout passes it. A name is probed at every address it resolves to.
// For groups with `keepalive`, each server's idle close is measured across runs (the state keeps
// one IdleCloseProbe per server) and one sooner than nginx's keepalive_timeout is
// keepalive_mismatch. Optionally reads stub_status (`status_url`).
//
// Config (errors name their exact path):
//   config_file: /etc/nginx/nginx.conf    nginx's main file; includes followed (relative to its
//   dir) config_command: [nginx, -T]           or: a command whose output is read as `nginx -T`
//   prints
//                                         it (at most 8 MiB, ended at the run's deadline)
//   status_url: http://127.0.0.1/status   stub_status page (optional; alone is fine)
//   max_dropped: 0                        dropped connections (accepts - handled) allowed per run
//   health_path: /                        path probed on every server (default "/")
//   health_paths: {app: /healthz}         per upstream group
//   expect: {status: ["2xx"]}             what a healthy answer is (as the http check's expect)
//   max_servers: 64                       servers probed per run (1..1024); the rest counted
//
// The parser is checks/nginx_conf.h (pure); the plan of what to probe, BuildNginxProbes, and the
// stub_status parser are pure too (tests/unit/nginx_check_test.cc).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "checks/api/check_type.h"
#include "checks/nginx_conf.h"

namespace gatewatch {

CheckType NginxCheckType();

// One upstream server as gatewatch probes it.
struct NginxProbe {
  std::string group;   // upstream name (label), or "host:port" of a proxy_pass without a block
  std::string server;  // address as written in the config (label)
  bool backup = false;
  std::string url;           // what curl requests: scheme://name:port/path
  std::string connect_host;  // the server's host (name or address) to resolve and connect to
  std::string address;       // a name's resolved address probed ("" before the lookup)
  long connect_port = 0;     // 0: connect_host is the URL's host; else connect there instead
  std::string host_header;   // nginx's default Host ($proxy_host); "" keeps the URL's
  bool insecure = true;      // proxy_ssl_verify off (nginx's default)
  std::string resolver;      // "ip:port,..." nginx's resolver when nginx resolves at request
                             // time (a proxy_pass with variables); "" the system's
  long long connect_timeout_ms = 60000;
  long long read_timeout_ms = 60000;
  std::string timeouts_from;  // "file:line" of the *_pass whose settings apply
  int port = 0;               // the server's port
  bool tls = false;           // https to the server
  std::string server_name;    // SNI nginx sends ("" none)
  std::string path;           // the health path
  // The group's `keepalive` (idle connections nginx caches per worker; 0: none) and its
  // keepalive_timeout: with keepalive, the server's idle close is measured against it.
  int keepalive = 0;
  long long keepalive_timeout_ms = 60000;
  std::string keepalive_from;  // "file:line" of the upstream block
};

struct NginxProbePlan {
  std::vector<NginxProbe> probes;
  size_t servers = 0;                // every server of every group found, probed or not
  size_t not_probed = 0;             // beyond max_servers
  std::vector<std::string> skipped;  // "group server: why" (down, unix socket, fastcgi, unused)
  // "group: why" for groups with `keepalive` whose servers' idle close is not measured: nginx
  // does not reuse their connections (proxy_http_version 1.0 sends Connection: close).
  std::vector<std::string> keepalive_unused;
};

struct NginxProbeOptions {
  std::string health_path = "/";
  std::map<std::string, std::string> health_paths;  // by group
  size_t max_servers = 64;
};

NginxProbePlan BuildNginxProbes(const NginxTopology& topology, const NginxProbeOptions& options);

// A name is probed at each address it resolves to, as nginx uses them all: at most this many.
inline constexpr size_t kMaxAddressesPerName = 8;

// The probes of a server given by name, one per resolved address (duplicates dropped, at most
// kMaxAddressesPerName). One address keeps the server's label; several make one label each,
// "name:port@address", so a bad address among good ones is named.
std::vector<NginxProbe> ProbesPerAddress(const NginxProbe& probe,
                                         const std::vector<std::string>& addresses);

struct StubStatus {
  double active = 0, accepts = 0, handled = 0, requests = 0, reading = 0, writing = 0, waiting = 0;
};
// nginx's stub_status page ("Active connections: 1 \nserver accepts handled requests\n 5 5 7 \n
// Reading: 0 Writing: 1 Waiting: 0 \n"); nullopt for anything else.
std::optional<StubStatus> ParseStubStatus(std::string_view text);

// What the counters grew by since the `last` run's page: nothing on the first run (the baseline),
// everything after an nginx restart (counters went back). `dropped` is accepted - handled.
struct StubStatusIncrements {
  double accepted = 0, handled = 0, requests = 0, dropped = 0;
};
StubStatusIncrements IncrementsSince(const std::optional<StubStatus>& last, const StubStatus& now);

}  // namespace gatewatch
