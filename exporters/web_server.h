// The agent's HTTP endpoint, on civetweb (prometheus-cpp's Exposer cannot serve anything but
// /metrics): /metrics, /-/healthy, /-/ready, /-/reload, /api/v1/status and a landing page.
//
// Handlers run on civetweb's worker threads; each handler given here must be thread-safe.
// The web server never touches targets: it only renders what the exporter holds.
//
// With a web config file (exporters/web_config.h) every path needs basic auth if users are set,
// and the listener speaks TLS if tls_server_config is set. Users and headers are swapped live by
// ReloadWebConfig(); TLS settings are read by civetweb at Start() only, so a changed TLS section
// is reported and applies at the next restart.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "exporters/reload_gate.h"
#include "exporters/web_config.h"
#include "exporters/web_response.h"

class CivetServer;

namespace gatewatch {

class WebServer {
 public:
  struct ReloadOutcome {
    bool ok;
    std::string error;
  };
  struct Handlers {
    std::function<std::string()> metrics;
    std::function<bool()> healthy;  // the loop still turns
    std::function<bool()> ready;    // a config is loaded; never target health
    std::function<ReloadOutcome()> reload;
    std::function<nlohmann::json()> status;
    // Optional: the status page and history API (exporters/history_api.h). Asked for "/" and
    // every GET path not served above, with the decoded path and the raw query; nullopt is 404.
    std::function<std::optional<WebResponse>(const std::string& path, const std::string& query)>
        pages;
  };

  struct Options {
    std::string web_config_file;    // empty: plain HTTP, no auth
    bool enable_lifecycle = false;  // POST /-/reload; without it 403, as Prometheus answers
    // Serve only /-/healthy and /-/ready, plain and without auth: the kubelet's listener
    // (--web.probe-address), so probes never wait behind scrapes or slow clients.
    bool probe_only = false;
    // Workers: each connection holds one until its request is read and answered, so enough of
    // them that a few slow clients leave room for scrapes (see docs/deployment.md).
    int num_threads = 16;
    // Reading a request and writing its answer, each socket operation; a client that opens a
    // connection and sends nothing (or half a header) frees its worker after this.
    int request_timeout_ms = 5000;
  };

  // `listen_address` in Prometheus style: ":9142", "127.0.0.1:0", "[::1]:9142".
  WebServer(std::string listen_address, Handlers handlers);
  WebServer(std::string listen_address, Handlers handlers, Options options);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Reads the web config file (if any), binds and starts serving. Returns false with *error set
  // if the file is invalid (the error names the key) or the address cannot be used.
  bool Start(std::string* error);
  // Re-reads the web config file: new users and headers apply to the next request. On error
  // the running one is kept and false returned with *error. *tls_changed tells that the TLS
  // section differs from the one being served (it applies at the next start). Any thread.
  bool ReloadWebConfig(std::string* error, bool* tls_changed);
  // Requests refused for missing or wrong credentials since start.
  uint64_t auth_failures() const { return auth_failures_.load(); }
  bool tls() const { return tls_; }
  // Stops accepting and waits for the worker threads. Idempotent.
  void Stop();
  // The bound port (useful with port 0).
  int port() const { return port_; }

  // ":9142" -> "9142"; other forms pass through. Exposed for tests.
  static std::string ToCivetPorts(const std::string& listen_address);

 private:
  class Handler;
  struct Live;  // the web config in force: users (with their cache) and headers
  std::shared_ptr<const Live> live() const;

  std::string listen_address_;
  Handlers handlers_;
  Options options_;
  mutable std::mutex live_mu_;
  std::shared_ptr<const Live> live_;  // guarded by live_mu_
  std::atomic<uint64_t> auth_failures_{0};
  ReloadGate reload_gate_{std::chrono::seconds(1)};
  bool tls_ = false;
  std::optional<TlsServerConfig> started_tls_;  // what civetweb was started with
  std::unique_ptr<CivetServer> server_;
  std::unique_ptr<Handler> handler_;
  int port_ = 0;
};

}  // namespace gatewatch
