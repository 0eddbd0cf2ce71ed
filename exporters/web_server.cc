#include "exporters/web_server.h"

#include <CivetServer.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "agent/base/config_node.h"
#include "agent/base/fd.h"
#include "agent/base/logging.h"
#include "agent/base/version.h"
#include "exporters/basic_auth.h"
#include "exporters/civetweb_tls.h"
#include "exporters/status_json.h"

namespace gatewatch {
namespace {

void Send(mg_connection* conn, int status, const char* content_type, const std::string& body,
          const std::string& extra_headers = "") {
  mg_printf(
      conn,
      "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
      "%sConnection: close\r\n\r\n",
      status, mg_get_response_code_text(conn, status), content_type, body.size(),
      extra_headers.c_str());
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

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

struct WebServer::Live {
  WebConfig config;
  std::unique_ptr<BasicAuthenticator> auth;  // null: no users, no auth
  std::string headers;                       // "Name: value\r\n" for every response

  explicit Live(WebConfig c) : config(std::move(c)) {
    if (config.auth_enabled()) auth = std::make_unique<BasicAuthenticator>(config.users);
    for (const auto& [name, value] : config.headers) headers += name + ": " + value + "\r\n";
  }
};

class WebServer::Handler final : public CivetHandler {
 public:
  explicit Handler(WebServer& server) : server_(server), h_(server.handlers_) {}

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
  // Other methods: still behind auth, then refused (civetweb's default answer has no headers).
  bool handleHead(CivetServer* s, mg_connection* conn) override {
    return Guarded(conn, [&] { return Refuse(s, conn); });
  }
  bool handleDelete(CivetServer* s, mg_connection* conn) override {
    return Guarded(conn, [&] { return Refuse(s, conn); });
  }
  bool handleOptions(CivetServer* s, mg_connection* conn) override {
    return Guarded(conn, [&] { return Refuse(s, conn); });
  }
  bool handlePatch(CivetServer* s, mg_connection* conn) override {
    return Guarded(conn, [&] { return Refuse(s, conn); });
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
    if (server_.options_.probe_only) return Probe(conn, uri);
    auto live = server_.live();
    if (!Authorized(conn, *live)) return true;
    const std::string& hdr = live->headers;
    if (uri == "/metrics") {
      Send(conn, 200, "text/plain; version=0.0.4; charset=utf-8", h_.metrics(), hdr);
      // A scrape allocates about a hundred bytes per sample (prometheus-cpp's Collect() copies
      // every series, then the text) and frees it all at once: give those pages back now, or
      // the web threads' free heap would sit in the RSS until the next scrape.
      malloc_trim(0);
    } else if (uri == "/-/healthy") {
      bool ok = h_.healthy();
      Send(conn, ok ? 200 : 503, kText, ok ? "Healthy\n" : "Unhealthy: event loop stalled\n", hdr);
    } else if (uri == "/-/ready") {
      bool ok = h_.ready();
      Send(conn, ok ? 200 : 503, kText, ok ? "Ready\n" : "Not ready\n", hdr);
    } else if (uri == "/api/v1/status") {
      Send(conn, 200, "application/json", DumpJson(h_.status(), 2) + "\n", hdr);
    } else if (uri == "/-/reload") {
      Send(conn, 405, kText, "Use POST or PUT to reload the config.\n",
           hdr + "Allow: POST, PUT\r\n");
    } else if (h_.pages) {
      Pages(conn, uri, hdr);
    } else if (uri == "/") {
      Send(conn, 200, "text/html; charset=utf-8", LandingPage(), hdr);
    } else {
      Send(conn, 404, kText, "Not found\n", hdr);
    }
    return true;
  }

  bool Probe(mg_connection* conn, const std::string& uri) {
    if (uri == "/-/healthy") {
      bool ok = h_.healthy();
      Send(conn, ok ? 200 : 503, kText, ok ? "Healthy\n" : "Unhealthy: event loop stalled\n");
    } else if (uri == "/-/ready") {
      bool ok = h_.ready();
      Send(conn, ok ? 200 : 503, kText, ok ? "Ready\n" : "Not ready\n");
    } else {
      Send(conn, 404, kText, "Not found: this listener serves /-/healthy and /-/ready only\n");
    }
    return true;
  }

  // The status page and history API (exporters/history_api.h).
  void Pages(mg_connection* conn, const std::string& uri, const std::string& hdr) {
    const char* query = mg_get_request_info(conn)->query_string;
    auto page = h_.pages(uri, query != nullptr ? query : "");
    if (!page) {
      Send(conn, 404, kText, "Not found\n", hdr);
      return;
    }
    Send(conn, page->status, page->content_type.c_str(), page->body, hdr);
  }

  // False (after answering 401) when users are configured and the request does not name one
  // with the right password.
  bool Authorized(mg_connection* conn, const Live& live) {
    if (live.auth == nullptr) return true;
    if (live.auth->Check(mg_get_header(conn, "Authorization"))) return true;
    ++server_.auth_failures_;
    Send(conn, 401, kText, "Unauthorized\n",
         live.headers + "WWW-Authenticate: Basic realm=\"gatewatch\", charset=\"UTF-8\"\r\n");
    return false;
  }

  bool Refuse(CivetServer*, mg_connection* conn) {
    if (server_.options_.probe_only) {
      Send(conn, 405, kText, "Method not allowed\n", "Allow: GET\r\n");
      return true;
    }
    auto live = server_.live();
    if (!Authorized(conn, *live)) return true;
    Send(conn, 405, kText, "Method not allowed\n", live->headers + "Allow: GET, POST, PUT\r\n");
    return true;
  }

  bool Reload(mg_connection* conn) {
    std::string uri = mg_get_request_info(conn)->local_uri;
    if (server_.options_.probe_only) {
      Send(conn, 405, kText, "Method not allowed\n", "Allow: GET\r\n");
      return true;
    }
    auto live = server_.live();
    if (!Authorized(conn, *live)) return true;
    const std::string& hdr = live->headers;
    if (uri != "/-/reload") {
      Send(conn, uri == "/metrics" || uri == "/" ? 405 : 404, kText, "Not found\n", hdr);
      return true;
    }
    if (!server_.options_.enable_lifecycle) {
      // Prometheus's answer, word for word: scripts written against it keep working.
      Send(conn, 403, kText, "Lifecycle API is not enabled.\n", hdr);
      return true;
    }
    switch (server_.reload_gate_.TryBegin(std::chrono::steady_clock::now())) {
      case ReloadGate::Decision::kBusy:
        Send(conn, 429, kText, "A reload is already in progress.\n", hdr + "Retry-After: 1\r\n");
        return true;
      case ReloadGate::Decision::kTooSoon:
        Send(conn, 429, kText, "At most one reload a second.\n", hdr + "Retry-After: 1\r\n");
        return true;
      case ReloadGate::Decision::kRun:
        break;
    }
    // End the gate however the reload ends (an exception goes on to Guarded's 500).
    struct GateEnd {
      ReloadGate& gate;
      ~GateEnd() { gate.End(); }
    } gate_end{server_.reload_gate_};
    auto outcome = h_.reload();
    if (outcome.ok) {
      Send(conn, 200, kText, "Config reloaded\n", hdr);
    } else {
      Send(conn, 500, kText,
           "Config reload failed, the running config is kept: " + outcome.error + "\n", hdr);
    }
    return true;
  }

  WebServer& server_;
  const Handlers& h_;
};

WebServer::WebServer(std::string listen_address, Handlers handlers)
    : WebServer(std::move(listen_address), std::move(handlers), Options{}) {}

WebServer::WebServer(std::string listen_address, Handlers handlers, Options options)
    : listen_address_(std::move(listen_address)),
      handlers_(std::move(handlers)),
      options_(std::move(options)),
      live_(std::make_shared<const Live>(WebConfig{})) {}

std::shared_ptr<const WebServer::Live> WebServer::live() const {
  std::lock_guard lock(live_mu_);
  return live_;
}

bool WebServer::ReloadWebConfig(std::string* error, bool* tls_changed) {
  *tls_changed = false;
  if (options_.web_config_file.empty()) return true;
  try {
    WebConfig config = LoadWebConfigFile(options_.web_config_file);
    *tls_changed = config.tls != started_tls_;
    auto live = std::make_shared<const Live>(std::move(config));
    std::lock_guard lock(live_mu_);
    live_ = std::move(live);
    return true;
  } catch (const ConfigError& e) {
    *error = e.what();
    return false;
  }
}

WebServer::~WebServer() { Stop(); }

std::string WebServer::ToCivetPorts(const std::string& listen_address) {
  if (!listen_address.empty() && listen_address[0] == ':') return listen_address.substr(1);
  return listen_address;
}

bool WebServer::Start(std::string* error) {
  std::optional<TlsServerConfig> tls;
  if (!options_.web_config_file.empty() && !options_.probe_only) {
    try {
      WebConfig config = LoadWebConfigFile(options_.web_config_file);
      tls = config.tls;
      live_ = std::make_shared<const Live>(std::move(config));
    } catch (const ConfigError& e) {
      *error = "--web.config.file " + options_.web_config_file + ": " + e.what();
      return false;
    }
  }
  mg_init_library(tls ? MG_FEATURES_TLS : 0);
  if (tls && !RepairCivetwebTls(error)) {
    *error = "cannot serve TLS: " + *error;
    return false;
  }
  std::string civet_ports = ToCivetPorts(listen_address_);
  std::vector<std::string> options = {
      "num_threads",
      std::to_string(options_.num_threads),
      "request_timeout_ms",
      std::to_string(options_.request_timeout_ms),
      "enable_directory_listing",
      "no",
      "enable_keep_alive",
      "no",
  };
  // civetweb wants the certificate and its key in one PEM file: an anonymous in-memory file
  // (memfd) holds the pair while civetweb loads it, so the key is never copied to disk.
  UniqueFd pem;
  if (tls) {
    pem = UniqueFd(memfd_create("gatewatch-tls", MFD_CLOEXEC));
    std::string pair = ReadAll(tls->cert_file) + "\n" + ReadAll(tls->key_file);
    if (!pem.valid() ||
        ::write(pem.get(), pair.data(), pair.size()) != static_cast<ssize_t>(pair.size())) {
      *error = std::string("cannot stage the TLS certificate: ") + std::strerror(errno);
      return false;
    }
    civet_ports += "s";
    options.insert(options.end(), {"ssl_certificate", "/proc/self/fd/" + std::to_string(pem.get()),
                                   // 2: TLS 1.0+, 3: TLS 1.1+, 4: TLS 1.2+, 5: TLS 1.3 only.
                                   "ssl_protocol_version", std::to_string(tls->min_version - 8),
                                   // Client certificates are checked against client_ca_file only,
                                   // never the system's CAs.
                                   "ssl_default_verify_paths", "no"});
    if (tls->client_auth != ClientAuth::kNone) {
      options.insert(options.end(),
                     {"ssl_verify_peer",
                      tls->client_auth == ClientAuth::kRequireAndVerify ? "yes" : "optional",
                      "ssl_ca_file", tls->client_ca_file});
    }
    if (!tls->cipher_suites.empty()) {
      std::string list;
      for (const auto& c : tls->cipher_suites) list += (list.empty() ? "" : ":") + c;
      options.insert(options.end(), {"ssl_cipher_list", list});
    }
  }
  options.insert(options.begin(), {"listening_ports", civet_ports});
  try {
    server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    *error = std::string("cannot listen on ") + listen_address_ +
             (tls ? " (or cannot load tls_server_config's certificate, key or CA)" : "") + ": " +
             e.what();
    return false;
  }
  if (server_->getContext() == nullptr) {
    *error = "cannot listen on " + listen_address_;
    server_.reset();
    return false;
  }
  tls_ = tls.has_value();
  started_tls_ = tls;
  handler_ = std::make_unique<Handler>(*this);
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
