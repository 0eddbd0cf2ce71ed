// The agent's HTTP endpoint, on civetweb (prometheus-cpp's Exposer cannot serve anything but
// /metrics): /metrics, /-/healthy, /-/ready, /-/reload, /api/v1/status and a landing page.
//
// Handlers run on civetweb's worker threads; each handler given here must be thread-safe.
// The web server never touches targets: it only renders what the exporter holds.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

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

  // `listen_address` in Prometheus style: ":9142", "127.0.0.1:0", "[::1]:9142".
  WebServer(std::string listen_address, Handlers handlers);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Binds and starts serving. Returns false with *error set if the address cannot be used.
  bool Start(std::string* error);
  // Stops accepting and waits for the worker threads. Idempotent.
  void Stop();
  // The bound port (useful with port 0).
  int port() const { return port_; }

  // ":9142" -> "9142"; other forms pass through. Exposed for tests.
  static std::string ToCivetPorts(const std::string& listen_address);

 private:
  class Handler;
  std::string listen_address_;
  Handlers handlers_;
  std::unique_ptr<CivetServer> server_;
  std::unique_ptr<Handler> handler_;
  int port_ = 0;
};

}  // namespace gatewatch
