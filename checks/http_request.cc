#include "checks/http_request.h"

#include <curl/curl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>

#include "agent/base/logging.h"
#include "agent/base/strings.h"

namespace gatewatch {

namespace {

constexpr int64_t kDefaultMaxRedirects = 10;
constexpr int64_t kMaxMaxRedirects = 50;
constexpr uint64_t kDefaultBodyLimit = 64 * 1024;
// The body limit is also the memory a body assertion may hold per run.
constexpr uint64_t kMaxBodyLimit = 64 * 1024 * 1024;
// A request body is held in memory for the check's lifetime and sent every run.
constexpr size_t kMaxRequestBody = 1024 * 1024;

// A field value must not smuggle in another header line.
bool IsSafeValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

struct ParsedUrl {
  std::string scheme;
  std::string host;
  long port = 0;
};

// Uses curl's own parser, so the check and the transfer agree on what the URL means.
std::optional<ParsedUrl> ParseUrl(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
  if (u == nullptr) return std::nullopt;
  // NON_SUPPORT_SCHEME: parse any scheme, so "ftp://" fails on our scheme check below, not on
  // whatever this libcurl build happens to support.
  if (curl_url_set(u.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    return std::nullopt;
  }
  auto get = [&](CURLUPart part, unsigned flags) -> std::optional<std::string> {
    char* value = nullptr;
    if (curl_url_get(u.get(), part, &value, flags) != CURLUE_OK || value == nullptr) {
      return std::nullopt;
    }
    std::string s(value);
    curl_free(value);
    return s;
  };
  auto scheme = get(CURLUPART_SCHEME, 0);
  auto host = get(CURLUPART_HOST, 0);
  auto port = get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!scheme || !host || host->empty() || !port) return std::nullopt;
  ParsedUrl out;
  out.scheme = *scheme;
  out.host = *host;
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  out.port = std::strtol(port->c_str(), nullptr, 10);
  return out;
}

void ParseRequestHeaders(const ConfigNode& node, HttpRequest& cfg) {
  ConfigNode headers = node.Child("headers");
  bool has_host_header = false;
  if (headers.IsDefined()) {
    if (!headers.IsMap()) headers.Fail("must be a map");
    for (const std::string& name : headers.Keys()) {
      ConfigNode value = headers.Child(name);
      if (!IsHttpToken(name)) value.Fail("is not a valid header name");
      std::string v = value.AsString();
      if (!IsSafeValue(v)) value.Fail("must not contain line breaks");
      // "Name;" is curl's way to send a header with an empty value ("Name:" would remove it).
      cfg.request_headers.push_back(v.empty() ? name + ";" : name + ": " + v);
      if (EqualsIgnoreCase(name, "Host")) has_host_header = true;
    }
  }
  if (ConfigNode host = node.Child("host"); host.IsDefined()) {
    std::string h = host.AsString();
    if (h.empty() || !IsSafeValue(h) || h.find_first_of(" \t") != std::string::npos) {
      host.Fail("must be a host name, optionally with :port");
    }
    if (has_host_header) host.Fail("conflicts with headers.Host; set only one");
    cfg.request_headers.push_back("Host: " + h);
  }
}

std::string ReadableFile(const ConfigNode& node) {
  std::string path = node.AsString();
  // Caught at load, not as a failure on every run.
  if (path.empty()) node.Fail("must be a file path");
  if (access(path.c_str(), R_OK) != 0)
    node.Fail("cannot read " + path + ": " + std::strerror(errno));
  return path;
}

void ParseMethodAndBody(const ConfigNode& node, HttpRequest& cfg) {
  if (ConfigNode method = node.Child("method"); method.IsDefined()) {
    std::string m = method.AsString();
    if (m == "HEAD") {
      cfg.head = true;
    } else if (m == "CONNECT") {
      method.Fail("CONNECT opens a tunnel, it asks nothing of the target");
    } else if (!IsHttpToken(m)) {
      method.Fail("must be an HTTP method (GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH, ...)");
    } else if (m != "GET") {
      cfg.method = m;
    }
  }
  ConfigNode body = node.Child("body");
  ConfigNode body_file = node.Child("body_file");
  if (body.IsDefined() && body_file.IsDefined())
    body_file.Fail("conflicts with body; set only one");
  if (body.IsDefined()) {
    cfg.body = body.AsString();
    if (cfg.body->size() > kMaxRequestBody) {
      body.Fail("is " + std::to_string(cfg.body->size()) + " bytes, more than the 1MiB limit");
    }
  } else if (body_file.IsDefined()) {
    std::string path = ReadableFile(body_file);
    // Only a regular file: a FIFO or /dev/stdin would block the config load.
    struct stat st {};
    if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      body_file.Fail(path + " is not a regular file");
    }
    std::ifstream in(path, std::ios::binary);
    std::string data;
    char buf[64 * 1024];
    while (in && data.size() <= kMaxRequestBody) {
      in.read(buf, sizeof buf);
      data.append(buf, static_cast<size_t>(in.gcount()));
    }
    if (in.bad()) body_file.Fail("cannot read " + path);
    if (data.size() > kMaxRequestBody) body_file.Fail(path + " is more than the 1MiB limit");
    cfg.body = std::move(data);
  }
  ConfigNode given = body.IsDefined() ? body : body_file;
  if (cfg.head && cfg.body) given.Fail("method HEAD sends no body");
  // POST, PUT and PATCH without a body still say so (Content-Length: 0): servers answer 411
  // to a bodiless one.
  if (!cfg.body && (cfg.method == "POST" || cfg.method == "PUT" || cfg.method == "PATCH")) {
    cfg.body = "";
  }
}

void ParseClientCertificate(const ConfigNode& node, HttpRequest& cfg) {
  if (ConfigNode cert = node.Child("cert_file"); cert.IsDefined())
    cfg.cert_file = ReadableFile(cert);
  if (ConfigNode key = node.Child("key_file"); key.IsDefined()) {
    if (cfg.cert_file.empty()) key.Fail("needs cert_file, the certificate it belongs to");
    cfg.key_file = ReadableFile(key);
  }
}

// `url` without user:password@ (curl's parser, so it agrees with what curl would send).
std::string StripUserinfo(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
  if (u == nullptr || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return RedactUrl(url);
  }
  curl_url_set(u.get(), CURLUPART_USER, nullptr, 0);
  curl_url_set(u.get(), CURLUPART_PASSWORD, nullptr, 0);
  char* out = nullptr;
  if (curl_url_get(u.get(), CURLUPART_URL, &out, 0) != CURLUE_OK || out == nullptr) {
    return RedactUrl(url);
  }
  std::string s(out);
  curl_free(out);
  return s;
}

}  // namespace

bool IsHttpToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    if (std::strchr("!#$%&'*+-.^_`|~", c) == nullptr || c == '\0') return false;
  }
  return true;
}

bool SetRequestUrl(const std::string& url, HttpRequest& request) {
  auto parsed = ParseUrl(url);
  if (!parsed || (parsed->scheme != "http" && parsed->scheme != "https")) return false;
  request.url = url;
  request.redacted_url = RedactUrl(url);
  request.https = parsed->scheme == "https";
  request.host = parsed->host;
  request.port = parsed->port;
  return true;
}

std::string EffectiveMethod(const HttpRequest& request) {
  if (request.head) return "HEAD";
  if (!request.method.empty()) return request.method;
  return request.body ? "POST" : "GET";
}

bool RedirectBecomesGet(long status, std::string_view method) {
  if (status == 303) return method != "HEAD" && method != "GET";
  if (status == 301 || status == 302) return method == "POST";
  return false;
}

RedirectStep DecideRedirect(const HttpRequest& request, const std::string& from,
                            const std::string& to) {
  RedirectStep step;
  auto next = ParseUrl(to);
  if (!next || (next->scheme != "http" && next->scheme != "https")) {
    step.action = RedirectStep::Action::kUnsupported;
    step.detail = "redirect to " + RedactUrl(to) + ": only http and https are followed";
    return step;
  }
  auto previous = ParseUrl(from);
  if (previous && previous->scheme == "https" && next->scheme == "http" &&
      !request.allow_https_downgrade) {
    step.action = RedirectStep::Action::kRefuse;
    step.detail = "redirect from " + RedactUrl(from) + " to " + RedactUrl(to) +
                  " refused: https never downgrades to http (allow_https_downgrade: false)";
    return step;
  }
  bool same_origin = next->scheme == (request.https ? "https" : "http") &&
                     EqualsIgnoreCase(next->host, request.host) && next->port == request.port;
  step.url = to;
  if (same_origin) return step;
  if (request.cross_origin_redirects == HttpRequest::CrossOrigin::kRefuse) {
    step.action = RedirectStep::Action::kRefuse;
    step.detail = "redirect from " + RedactUrl(from) + " to " + RedactUrl(to) +
                  " refused: another origin (cross_origin_redirects: refuse)";
    return step;
  }
  step.action = RedirectStep::Action::kFollowWithoutHeaders;
  // Credentials in a Location URL, or carried over by curl's relative resolution, stay home.
  step.url = StripUserinfo(to);
  return step;
}

void ParseHttpRequest(const ConfigNode& node, HttpRequest& request) {
  HttpRequest* cfg = &request;

  ConfigNode url = node.Required("url");
  if (!SetRequestUrl(url.AsString(), request)) url.Fail("must be an http or https URL");

  ParseMethodAndBody(node, *cfg);
  ParseRequestHeaders(node, *cfg);
  // curl sends `Expect: 100-continue` before a larger body and waits up to a second for the
  // answer: a probe measures the request, not that pause.
  if (cfg->body && std::none_of(cfg->request_headers.begin(), cfg->request_headers.end(),
                                [](const std::string& h) {
                                  return h.size() >= 7 &&
                                         EqualsIgnoreCase(h.substr(0, 7), "Expect:");
                                })) {
    cfg->request_headers.push_back("Expect:");
  }

  cfg->follow_redirects = node.BoolOr("follow_redirects", true);
  cfg->max_redirects =
      static_cast<long>(node.IntOr("max_redirects", kDefaultMaxRedirects, 0, kMaxMaxRedirects));
  if (ConfigNode policy = node.Child("cross_origin_redirects"); policy.IsDefined()) {
    std::string p = policy.AsString();
    if (p == "drop_headers") {
      cfg->cross_origin_redirects = HttpRequest::CrossOrigin::kDropHeaders;
    } else if (p == "refuse") {
      cfg->cross_origin_redirects = HttpRequest::CrossOrigin::kRefuse;
    } else {
      policy.Fail("must be drop_headers or refuse");
    }
  }
  cfg->allow_https_downgrade = node.BoolOr("allow_https_downgrade", false);
  cfg->insecure = node.BoolOr("insecure", false);

  if (ConfigNode ca = node.Child("ca_file"); ca.IsDefined()) {
    cfg->ca_file = ca.AsString();
    // Caught at load, not as a tls_certificate failure on every run.
    if (access(cfg->ca_file.c_str(), R_OK) != 0) {
      ca.Fail("cannot read " + cfg->ca_file + ": " + std::strerror(errno));
    }
  }

  ParseClientCertificate(node, *cfg);
  if (ConfigNode version = node.Child("http_version"); version.IsDefined()) {
    std::string v = version.AsString();
    if (v == "1.1") {
      cfg->http_version = CURL_HTTP_VERSION_1_1;
    } else if (v == "2") {
      // HTTP/2 over TLS by ALPN, and on http:// an Upgrade: h2c the server may decline.
      cfg->http_version = CURL_HTTP_VERSION_2_0;
    } else if (v == "2-prior-knowledge") {
      cfg->http_version = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
    } else {
      version.Fail("must be \"1.1\", \"2\" or \"2-prior-knowledge\"");
    }
  }

  if (ConfigNode limit = node.Child("body_limit"); limit.IsDefined()) {
    cfg->body_limit = limit.AsBytes();
    if (cfg->body_limit > kMaxBodyLimit) limit.Fail("must be at most 64MiB");
  } else {
    cfg->body_limit = kDefaultBodyLimit;
  }
}

}  // namespace gatewatch
