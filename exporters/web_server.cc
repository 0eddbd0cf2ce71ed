#include "exporters/web_server.h"

#include <CivetServer.h>
#include <malloc.h>

#include <cstring>
#include <vector>

#include "agent/base/logging.h"
#include "agent/base/version.h"
#include "exporters/status_json.h"

namespace gatewatch {
namespace {

void Send(mg_connection* conn, int status, const char* content_type, const std::string& body,
          const char* extra_headers = "") {
  mg_printf(
      conn,
      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
      "%sConnection: close\r\n\r\n",
      status, mg_get_response_code_text(conn, status), content_type, body.size(), extra_headers);
  mg_write(conn, body.data(), body.size());
}

constexpr char kText[] = "text/plain; charset=utf-8";

std::string LandingPage() {
  return std::string(R"(<!DOCTYPE html>
<html><head><title>gatewatch</title></head>
<body>
<h1>gatewatch</h1>
<p>Watches a reverse proxy and everything behind it, and says why it fails. Version )") +
         kVersion + " (" + kRevision + R"().</p>
<ul>
<li><a href="/metrics">/metrics</a>: Prometheus metrics</li>
<li><a href="/api/v1/status">/api/v1/status</a>: last result of every check, with its reason</li>
<li><a href="/-/healthy">/-/healthy</a>: liveness (the event loop turns)</li>
<li><a href="/-/ready">/-/ready</a>: readiness (a config is loaded)</li>
<li>POST /-/reload: re-read the config file</li>
</ul>
</body></html>
)";
}

}  // namespace

class WebServer::Handler final : public CivetHandler {
 public:
  explicit Handler(const Handlers& h) : h_(h) {}

  // Every handler runs inside Guarded(): an exception must not reach civetweb's thread (that is
  // std::terminate, the whole agent): the request is answered 500 and the error logged.
  bool handleGet(CivetServer*, mg_connection* conn) override {
    return Guarded(conn, [&] { return Get(conn); });
  }
  bool handlePost(CivetServer*, mg_connection* conn) override {
    return Guarded(conn, [&] { return Reload(conn); });
  }
  bool handlePut(CivetServer*, mg_connection* conn) override {
    return Guarded(conn, [&] { return Reload(conn); });
  }

 private:
  template <typename F>
  bool Guarded(mg_connection* conn, F&& handle) {
    std::string what;
    try {
      return handle();
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
      what = "unknown exception";
    }
    const mg_request_info* info = mg_get_request_info(conn);
    Log(LogLevel::kError, "web handler failed",
        {{"path", info != nullptr && info->local_uri != nullptr ? info->local_uri : ""},
         {"error", what}});
    try {
      Send(conn, 500, kText, "Internal error\n");
    } catch (...) {  // nothing more to do for this connection
    }
    return true;
  }

  bool Get(mg_connection* conn) {
    std::string uri = mg_get_request_info(conn)->local_uri;
    if (uri == "/metrics") {
      Send(conn, 200, "text/plain; version=0.0.4; charset=utf-8", h_.metrics());
      // A scrape allocates about a hundred bytes per sample (prometheus-cpp's Collect() copies
      // every series, then the text) and frees it all at once: give those pages back now, or
      // the web threads' free heap would sit in the RSS until the next scrape.
      malloc_trim(0);
    } else if (uri == "/-/healthy") {
      bool ok = h_.healthy();
      Send(conn, ok ? 200 : 503, kText, ok ? "Healthy\n" : "Unhealthy: event loop stalled\n");
    } else if (uri == "/-/ready") {
      bool ok = h_.ready();
      Send(conn, ok ? 200 : 503, kText, ok ? "Ready\n" : "Not ready\n");
    } else if (uri == "/api/v1/status") {
      Send(conn, 200, "application/json", DumpJson(h_.status(), 2) + "\n");
    } else if (uri == "/-/reload") {
      Send(conn, 405, kText, "Use POST or PUT to reload the config.\n", "Allow: POST, PUT\r\n");
    } else if (h_.pages) {
      Pages(conn, uri);
    } else if (uri == "/") {
      Send(conn, 200, "text/html; charset=utf-8", LandingPage());
    } else {
      Send(conn, 404, kText, "Not found\n");
    }
    return true;
  }

  // The status page and history API (exporters/history_api.h).
  void Pages(mg_connection* conn, const std::string& uri) {
    const char* query = mg_get_request_info(conn)->query_string;
    auto page = h_.pages(uri, query != nullptr ? query : "");
    if (!page) {
      Send(conn, 404, kText, "Not found\n");
      return;
    }
    Send(conn, page->status, page->content_type.c_str(), page->body);
  }

  bool Reload(mg_connection* conn) {
    std::string uri = mg_get_request_info(conn)->local_uri;
    if (uri != "/-/reload") {
      Send(conn, uri == "/metrics" || uri == "/" ? 405 : 404, kText, "Not found\n");
      return true;
    }
    auto outcome = h_.reload();
    if (outcome.ok) {
      Send(conn, 200, kText, "Config reloaded\n");
    } else {
      Send(conn, 500, kText,
           "Config reload failed, the running config is kept: " + outcome.error + "\n");
    }
    return true;
  }

  const Handlers& h_;
};

WebServer::WebServer(std::string listen_address, Handlers handlers)
    : listen_address_(std::move(listen_address)), handlers_(std::move(handlers)) {}

WebServer::~WebServer() { Stop(); }

std::string WebServer::ToCivetPorts(const std::string& listen_address) {
  if (!listen_address.empty() && listen_address[0] == ':') return listen_address.substr(1);
  return listen_address;
}

bool WebServer::Start(std::string* error) {
  mg_init_library(0);
  std::vector<std::string> options = {
      "listening_ports",
      ToCivetPorts(listen_address_),
      // Few threads: scrapes and probes of /-/healthy are rare and cheap.
      "num_threads",
      "4",
      "request_timeout_ms",
      "10000",
      "enable_directory_listing",
      "no",
      "enable_keep_alive",
      "no",
  };
  try {
    server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    *error = std::string("cannot listen on ") + listen_address_ + ": " + e.what();
    return false;
  }
  if (server_->getContext() == nullptr) {
    *error = "cannot listen on " + listen_address_;
    server_.reset();
    return false;
  }
  handler_ = std::make_unique<Handler>(handlers_);
  server_->addHandler("/", *handler_);
  mg_server_port ports[4];
  int n = mg_get_server_ports(server_->getContext(), 4, ports);
  port_ = n > 0 ? ports[0].port : 0;
  return true;
}

void WebServer::Stop() {
  if (server_ != nullptr) {
    server_->close();
    server_.reset();
  }
  handler_.reset();
}

}  // namespace gatewatch
