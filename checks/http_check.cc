#include "checks/http_check.h"

#include <ares.h>
#include <curl/curl.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "agent/curl_multi.h"
#include "agent/dns_resolver.h"
#include "agent/logging.h"
#include "agent/version.h"
#include "checks/http_reasons.h"

namespace gatewatch {

namespace {

constexpr int64_t kDefaultMaxRedirects = 10;
constexpr int64_t kMaxMaxRedirects = 50;
constexpr uint64_t kDefaultBodyLimit = 64 * 1024;
// The body limit is also the memory a body assertion may hold per run.
constexpr uint64_t kMaxBodyLimit = 64 * 1024 * 1024;

// ----- Metrics ---------------------------------------------------------------------------------

struct HttpMetrics {
  MetricDesc status_code{"http_status_code",
                         MetricKind::kGauge,
                         "Final HTTP status code of the last run, 0 if there was no response.",
                         {}};
  MetricDesc responses{"http_responses_total",
                       MetricKind::kCounter,
                       "Runs by final response: code is 502, 503 or 504 exactly, else the class "
                       "(1xx..5xx), or none when no response arrived.",
                       {"code"}};
  MetricDesc phase_seconds{"http_phase_seconds",
                           MetricKind::kGauge,
                           "Time spent in each phase of the last run (resolve, connect, tls, "
                           "processing, transfer).",
                           {"phase"}};
  MetricDesc cert_expiry{"tls_cert_expiry_timestamp_seconds",
                         MetricKind::kGauge,
                         "Expiry of the leaf certificate the server presented (Unix seconds).",
                         {}};
  MetricDesc redirects{
      "http_redirects", MetricKind::kGauge, "Redirects followed in the last run.", {}};
  MetricDesc content_length{
      "http_content_length_bytes", MetricKind::kGauge, "Body bytes received in the last run.", {}};
};

// Leaked on purpose: Observations point at these descriptors until the process exits.
const HttpMetrics& Metrics() {
  static const HttpMetrics* metrics = new HttpMetrics();
  return *metrics;
}

// ----- Small helpers ---------------------------------------------------------------------------

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// RFC 9110 token characters, the only ones allowed in a field name.
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) continue;
    if (std::strchr("!#$%&'*+-.^_`|~", c) == nullptr || c == '\0') return false;
  }
  return true;
}

// A field value must not smuggle in another header line.
bool IsSafeValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string FormatMs(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", std::chrono::duration<double, std::milli>(d).count());
  return buf;
}

int64_t WholeMs(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::string FormatUtc(int64_t unix_seconds) {
  time_t t = static_cast<time_t>(unix_seconds);
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buf;
}

std::string HostPort(const std::string& ip, long port) {
  if (ip.find(':') != std::string::npos) return "[" + ip + "]:" + std::to_string(port);
  return ip + ":" + std::to_string(port);
}

std::string QuoteForDetail(std::string_view s) {
  constexpr size_t kMax = 80;  // details stay one readable line
  std::string out = "\"";
  for (char c : s.substr(0, kMax)) {
    out += (c == '\r' || c == '\n' || c == '\0') ? ' ' : c;
  }
  if (s.size() > kMax) out += "...";
  out += '"';
  return out;
}

// ----- Config ----------------------------------------------------------------------------------

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

std::unique_ptr<PosixRegex> CompileAt(const ConfigNode& node) {
  std::string error;
  auto re = PosixRegex::Compile(node.AsString(), &error);
  if (re == nullptr) node.Fail("invalid regular expression: " + error);
  return re;
}

void ParseExpect(const ConfigNode& expect, HttpCheckConfig& cfg) {
  if (!expect.IsDefined()) {
    cfg.expect_status.Add("2xx");
    return;
  }
  expect.ExpectMap();

  ConfigNode status = expect.Child("status");
  constexpr char kStatusForm[] = "must be a status code 100-599 or a class \"1xx\"..\"5xx\"";
  if (!status.IsDefined()) {
    cfg.expect_status.Add("2xx");
  } else if (status.IsSequence()) {
    if (status.size() == 0) status.Fail("must not be empty");
    for (size_t i = 0; i < status.size(); ++i) {
      ConfigNode item = status.At(i);
      if (!cfg.expect_status.Add(item.AsString())) item.Fail(kStatusForm);
    }
  } else if (!cfg.expect_status.Add(status.AsString())) {
    status.Fail(kStatusForm);
  }

  if (ConfigNode re = expect.Child("body_regex"); re.IsDefined()) cfg.body_regex = CompileAt(re);
  if (ConfigNode re = expect.Child("body_not_regex"); re.IsDefined()) {
    cfg.body_not_regex = CompileAt(re);
  }
  if (cfg.head && cfg.keeps_body()) {
    expect.Child(cfg.body_regex ? "body_regex" : "body_not_regex")
        .Fail("method HEAD receives no body to match");
  }

  if (ConfigNode headers = expect.Child("headers"); headers.IsDefined()) {
    if (!headers.IsMap()) headers.Fail("must be a map");
    for (const std::string& name : headers.Keys()) {
      ConfigNode value = headers.Child(name);
      if (!IsToken(name)) value.Fail("is not a valid header name");
      cfg.expect_headers.push_back({name, CompileAt(value)});
    }
  }
  expect.RejectUnknownKeys();
}

void ParseRequestHeaders(const ConfigNode& node, HttpCheckConfig& cfg) {
  ConfigNode headers = node.Child("headers");
  bool has_host_header = false;
  if (headers.IsDefined()) {
    if (!headers.IsMap()) headers.Fail("must be a map");
    for (const std::string& name : headers.Keys()) {
      ConfigNode value = headers.Child(name);
      if (!IsToken(name)) value.Fail("is not a valid header name");
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

// ----- The check -------------------------------------------------------------------------------

// What a run learned from curl, read once at the end (or at Abort).
struct TransferInfo {
  long status = 0;
  CurlTimesUs times;
  long redirects = 0;
  long os_errno = 0;
  std::string primary_ip;
  long primary_port = 0;
  // TCP established. curl 7.88 leaves CONNECT_TIME_T at 0 until TLS is done too, but records the
  // peer address as soon as TCP connects, so a stalled handshake still counts as connected.
  bool connected = false;
  bool https = false;  // of the last request (a redirect may change scheme)
  std::optional<int64_t> cert_expiry;
  std::string effective_url;  // redacted
};

TransferInfo ReadTransferInfo(CURL* easy, bool configured_https) {
  TransferInfo info;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &info.status);
  curl_off_t t = 0;
  auto micros = [&](CURLINFO what) {
    t = 0;
    curl_easy_getinfo(easy, what, &t);
    return static_cast<int64_t>(t);
  };
  info.times.namelookup = micros(CURLINFO_NAMELOOKUP_TIME_T);
  info.times.connect = micros(CURLINFO_CONNECT_TIME_T);
  info.times.appconnect = micros(CURLINFO_APPCONNECT_TIME_T);
  info.times.pretransfer = micros(CURLINFO_PRETRANSFER_TIME_T);
  info.times.starttransfer = micros(CURLINFO_STARTTRANSFER_TIME_T);
  info.times.total = micros(CURLINFO_TOTAL_TIME_T);
  curl_easy_getinfo(easy, CURLINFO_REDIRECT_COUNT, &info.redirects);
  curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &info.os_errno);
  char* ip = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != nullptr) {
    info.primary_ip = ip;
  }
  curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &info.primary_port);
  info.connected = info.times.connect > 0 || !info.primary_ip.empty();
  char* scheme = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_SCHEME, &scheme) == CURLE_OK && scheme != nullptr) {
    info.https = EqualsIgnoreCase(scheme, "https");
  } else {
    info.https = configured_https;
  }
  char* url = nullptr;
  if (curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url) == CURLE_OK && url != nullptr) {
    info.effective_url = RedactUrl(url);
  }
  if (info.https) {
    curl_certinfo* certs = nullptr;
    if (curl_easy_getinfo(easy, CURLINFO_CERTINFO, &certs) == CURLE_OK && certs != nullptr &&
        certs->num_of_certs > 0) {
      // certinfo[0] is the leaf: curl lists the chain in the order the server sent it.
      constexpr std::string_view kExpire = "Expire date:";
      for (curl_slist* field = certs->certinfo[0]; field != nullptr; field = field->next) {
        std::string_view line(field->data);
        if (line.substr(0, kExpire.size()) == kExpire) {
          info.cert_expiry = ParseCertTime(line.substr(kExpire.size()));
        }
      }
    }
  }
  return info;
}

class HttpRun final : public CheckRun {
 public:
  HttpRun(std::shared_ptr<const HttpCheckConfig> cfg, const RunContext& ctx, DoneCallback done)
      : cfg_(std::move(cfg)),
        services_(ctx.services),
        started_(ctx.started),
        deadline_(ctx.deadline),
        done_(std::move(done)) {}

  ~HttpRun() override {
    // Destroying a run aborts it silently: no callback may reach a dead run.
    if (stage_ == Stage::kTransferring) services_.curl.Remove(easy_.get());
    dns_query_.reset();
  }

  HttpRun(const HttpRun&) = delete;
  HttpRun& operator=(const HttpRun&) = delete;

  // May call `done` before returning (nothing to resolve and curl could not be set up).
  void Begin() {
    if (DnsResolver::IsIpLiteral(cfg_->host)) {
      address_ = cfg_->host;
      StartTransfer();
      return;
    }
    stage_ = Stage::kResolving;
    resolve_started_ = services_.clock.Now();
    dns_query_ = services_.dns.Resolve(cfg_->host, AF_UNSPEC,
                                       [this](const ResolveResult& r) { OnResolved(r); });
  }

  Result Abort() override {
    Result result;
    switch (stage_) {
      case Stage::kResolving: {
        dns_query_.reset();
        stage_ = Stage::kDone;
        resolve_time_ = services_.clock.Now() - resolve_started_;
        result = Result::Failure(Reason::kDnsTimeout,
                                 "resolving " + cfg_->host + " timed out after " +
                                     std::to_string(WholeMs(*resolve_time_)) + " ms");
        TransferInfo none;
        none.https = cfg_->https;
        Describe(none, result);
        break;
      }
      case Stage::kTransferring: {
        // Read before removing: the milestones show how far the transfer got.
        TransferInfo info = ReadTransferInfo(easy_.get(), cfg_->https);
        services_.curl.Remove(easy_.get());
        stage_ = Stage::kDone;
        // curl's total only advances when it last ran the transfer: the run lasted until now.
        info.times.total = std::max<int64_t>(info.times.total,
                                             std::chrono::duration_cast<std::chrono::microseconds>(
                                                 services_.clock.Now() - curl_started_)
                                                 .count());
        std::string where = Address(info);
        std::string after = std::to_string(WholeMs(services_.clock.Now() - started_)) + " ms";
        if (!info.connected) {
          result = Result::Failure(Reason::kConnectTimeout,
                                   "connect() to " + where + " timed out after " + after);
        } else if (info.https && info.times.appconnect == 0) {
          result = Result::Failure(
              Reason::kTimeout, "TLS handshake with " + where + " did not finish within " + after);
        } else if (info.status == 0) {
          result =
              Result::Failure(Reason::kTimeout, "no response from " + where + " within " + after);
        } else {
          result = Result::Failure(Reason::kTimeout,
                                   "HTTP " + std::to_string(info.status) + " from " + where +
                                       " but the body did not end within " + after);
        }
        Describe(info, result);
        break;
      }
      case Stage::kIdle:
      case Stage::kDone:
        // Abort is only called on a run in flight; anything else is a scheduler bug.
        result = Result::Failure(Reason::kInternalError, "http run aborted while not running");
        break;
    }
    return result;
  }

 private:
  enum class Stage { kIdle, kResolving, kTransferring, kDone };

  void OnResolved(const ResolveResult& r) {
    dns_query_.reset();  // allowed from inside its callback
    resolve_time_ = r.elapsed;
    Reason reason = ReasonForResolveStatus(r.status);
    if (reason == Reason::kNone && r.addresses.empty()) reason = Reason::kDnsNodata;
    if (reason != Reason::kNone) {
      std::string why = r.status == ARES_SUCCESS ? "no addresses" : ares_strerror(r.status);
      Finish(Result::Failure(reason, "resolving " + cfg_->host + " failed: " + why), nullptr);
      return;
    }
    // c-ares sorts getaddrinfo answers by RFC 6724, so the first is the one a client would try.
    address_ = r.addresses.front().address;
    StartTransfer();
  }

  void StartTransfer() {
    easy_.reset(curl_easy_init());
    if (easy_ == nullptr) {
      Finish(Result::Failure(Reason::kInternalError, "curl_easy_init failed"), nullptr);
      return;
    }
    CURLcode rc = Configure(easy_.get());
    if (rc != CURLE_OK) {
      Finish(Result::Failure(Reason::kInternalError,
                             std::string("curl option refused: ") + curl_easy_strerror(rc)),
             nullptr);
      return;
    }
    stage_ = Stage::kTransferring;
    curl_started_ = services_.clock.Now();
    // CurlMulti reports a failed Add through a loop timer that Remove() cannot cancel: the weak
    // token keeps that late callback away from a run destroyed in between.
    std::weak_ptr<char> alive = alive_;
    services_.curl.Add(easy_.get(), [this, alive](CURLcode code) {
      if (alive.expired()) return;
      OnTransferDone(code);
    });
  }

  CURLcode Configure(CURL* e) {
    CURLcode rc = CURLE_OK;
    auto check = [&rc](CURLcode r) {
      if (rc == CURLE_OK) rc = r;
    };
    const HttpCheckConfig& c = *cfg_;
    // curl copies string options, so a local is enough.
    const std::string user_agent = std::string("gatewatch/") + kVersion;
    check(curl_easy_setopt(e, CURLOPT_URL, c.url.c_str()));
    check(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
    check(curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
    check(curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, c.follow_redirects ? 1L : 0L));
    check(curl_easy_setopt(e, CURLOPT_MAXREDIRS, c.max_redirects));
    // 0 would mean "no timeout" to curl: a run already at its deadline still gets 1 ms.
    long remaining_ms =
        std::max<long>(1, static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                deadline_ - services_.clock.Now())
                                                .count()));
    check(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, remaining_ms));
    check(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, remaining_ms));
    check(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L));
    // Each run measures a new connection: no reuse across runs or checks.
    check(curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L));
    check(curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L));
    // The check measures the path to the target: a proxy from the environment (http_proxy)
    // would silently measure something else.
    check(curl_easy_setopt(e, CURLOPT_PROXY, ""));
    check(curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent.c_str()));
    check(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpRun::OnBody));
    check(curl_easy_setopt(e, CURLOPT_WRITEDATA, this));
    check(curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HttpRun::OnHeader));
    check(curl_easy_setopt(e, CURLOPT_HEADERDATA, this));
    check(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_));
    if (c.head) check(curl_easy_setopt(e, CURLOPT_NOBODY, 1L));
    if (c.https) check(curl_easy_setopt(e, CURLOPT_CERTINFO, 1L));
    check(curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c.insecure ? 0L : 1L));
    check(curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c.insecure ? 0L : 2L));
    if (!c.ca_file.empty()) check(curl_easy_setopt(e, CURLOPT_CAINFO, c.ca_file.c_str()));
    for (const std::string& h : c.request_headers) {
      curl_slist* next = curl_slist_append(headers_.get(), h.c_str());
      if (next == nullptr) return CURLE_OUT_OF_MEMORY;
      headers_.release();
      headers_.reset(next);
    }
    if (headers_ != nullptr) check(curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_.get()));
    if (address_ != cfg_->host) {
      // Our c-ares answer, pinned for this host:port only: the URL, Host header, SNI and
      // certificate name checks stay those of the configured host.
      std::string pin = cfg_->host + ":" + std::to_string(c.port) + ":" +
                        (address_.find(':') != std::string::npos ? "[" + address_ + "]" : address_);
      curl_slist* next = curl_slist_append(nullptr, pin.c_str());
      if (next == nullptr) return CURLE_OUT_OF_MEMORY;
      resolve_.reset(next);
      check(curl_easy_setopt(e, CURLOPT_RESOLVE, resolve_.get()));
    }
    return rc;
  }

  // Counts every body byte; keeps them only for a body assertion; refuses bytes past the limit
  // (a short count makes curl fail with CURLE_WRITE_ERROR). MAXFILESIZE would not stop a body
  // without Content-Length in curl 7.88.
  static size_t OnBody(char* data, size_t size, size_t nmemb, void* userp) {
    auto* self = static_cast<HttpRun*>(userp);
    size_t n = size * nmemb;
    self->body_bytes_ += n;
    if (self->body_bytes_ > self->cfg_->body_limit) {
      self->body_too_large_ = true;
      return 0;
    }
    if (self->cfg_->keeps_body()) self->body_.append(data, n);
    return n;
  }

  static size_t OnHeader(char* data, size_t size, size_t nitems, void* userp) {
    auto* self = static_cast<HttpRun*>(userp);
    self->response_headers_.OnLine(std::string_view(data, size * nitems));
    return size * nitems;
  }

  void OnTransferDone(CURLcode code) {
    stage_ = Stage::kDone;  // CurlMulti already removed the handle
    TransferInfo info = ReadTransferInfo(easy_.get(), cfg_->https);
    Result result = Evaluate(code, info);
    Finish(std::move(result), &info);
  }

  Result Evaluate(CURLcode code, const TransferInfo& info) {
    const HttpCheckConfig& c = *cfg_;
    std::string where = Address(info);
    std::string status_text = "HTTP " + std::to_string(info.status);
    std::string from = info.effective_url.empty() ? c.redacted_url : info.effective_url;
    bool status_ok = c.expect_status.Matches(info.status);
    auto bad_status = [&] {
      return Result::Failure(ReasonForStatus(info.status), status_text + " from " + from + " (" +
                                                               where + "), expected " +
                                                               c.expect_status.ToString());
    };

    if (code != CURLE_OK) {
      if (body_too_large_) {
        // A 502 page that is also too long is still a 502: the status is the better cause.
        if (info.status != 0 && !status_ok) return bad_status();
        return Result::Failure(Reason::kBodyTooLarge, status_text + " from " + from +
                                                          ": body exceeds body_limit of " +
                                                          std::to_string(c.body_limit) + " bytes");
      }
      Reason reason = ReasonForCurlError(code, info.os_errno, info.connected, info.https);
      return Result::Failure(reason, DescribeCurlError(code, reason, info, where));
    }

    if (!status_ok) return bad_status();
    for (const HeaderExpectation& want : c.expect_headers) {
      auto values = response_headers_.Values(want.name);
      if (values.empty()) {
        return Result::Failure(Reason::kHeaderMismatch,
                               status_text + " from " + from + " without header " + want.name);
      }
      bool any = std::any_of(values.begin(), values.end(),
                             [&](std::string_view v) { return want.value->Search(v); });
      if (!any) {
        return Result::Failure(Reason::kHeaderMismatch,
                               status_text + " from " + from + ": header " + want.name + " " +
                                   QuoteForDetail(values.front()) + " does not match " +
                                   QuoteForDetail(want.value->pattern()));
      }
    }
    if (c.body_regex != nullptr && !c.body_regex->Search(body_)) {
      return Result::Failure(Reason::kBodyMismatch, status_text + " from " + from +
                                                        ": body does not match body_regex " +
                                                        QuoteForDetail(c.body_regex->pattern()));
    }
    if (c.body_not_regex != nullptr && c.body_not_regex->Search(body_)) {
      return Result::Failure(Reason::kBodyMismatch,
                             status_text + " from " + from + ": body matches body_not_regex " +
                                 QuoteForDetail(c.body_not_regex->pattern()));
    }
    Result ok = Result::Success();
    ok.detail = status_text + " from " + from + " (" + where + ") in " +
                std::to_string(info.times.total / 1000) + " ms";
    return ok;
  }

  std::string DescribeCurlError(CURLcode code, Reason reason, const TransferInfo& info,
                                const std::string& where) const {
    std::string curl_says = error_[0] != '\0' ? ScrubCredentials(error_) : curl_easy_strerror(code);
    switch (reason) {
      case Reason::kConnectionRefused:
        return "connect() to " + where + " refused";
      case Reason::kHostUnreachable:
        return "connect() to " + where + " failed: " +
               (info.os_errno != 0 ? std::strerror(static_cast<int>(info.os_errno)) : curl_says);
      case Reason::kConnectTimeout:
        return "connect() to " + where + " timed out: " + curl_says;
      default:
        return curl_says + " (" + where + ")";
    }
  }

  // The address actually used: curl's view after redirects, else the one we chose.
  std::string Address(const TransferInfo& info) const {
    if (!info.primary_ip.empty()) return HostPort(info.primary_ip, info.primary_port);
    if (!address_.empty()) return HostPort(address_, cfg_->port);
    return cfg_->host + ":" + std::to_string(cfg_->port);
  }

  // Observations and report facts, the same set for every outcome so series stay stable.
  void Describe(const TransferInfo& info, Result& result) const {
    const HttpMetrics& m = Metrics();
    bool curl_ran = curl_started_ != TimePoint();
    HttpPhases phases =
        ComputePhases(curl_ran ? info.times : CurlTimesUs{}, info.https, resolve_time_);
    auto& obs = result.observations;
    obs.push_back({&m.status_code, {}, static_cast<double>(info.status)});
    std::string code = ResponseCodeLabel(info.status);
    obs.push_back({&m.responses, {code}, 1});
    // The codes alerts are written against exist from the first run (at 0), so that the first
    // 502 is an increase Prometheus can see rather than a new series starting at 1.
    for (const char* zero : {"502", "503", "504"}) {
      if (code != zero) obs.push_back({&m.responses, {zero}, 0});
    }
    std::vector<std::pair<const char*, Duration>> named = {{"resolve", phases.resolve},
                                                           {"connect", phases.connect}};
    if (info.https) named.emplace_back("tls", phases.tls);
    named.emplace_back("processing", phases.processing);
    named.emplace_back("transfer", phases.transfer);
    for (const auto& [name, d] : named) {
      obs.push_back({&m.phase_seconds, {name}, ToSeconds(d)});
    }
    if (info.cert_expiry) {
      obs.push_back({&m.cert_expiry, {}, static_cast<double>(*info.cert_expiry)});
    }
    obs.push_back({&m.redirects, {}, static_cast<double>(info.redirects)});
    obs.push_back({&m.content_length, {}, static_cast<double>(body_bytes_)});

    auto& report = result.report;
    report.emplace_back("url", cfg_->redacted_url);
    if (!info.effective_url.empty() && info.effective_url != cfg_->redacted_url) {
      report.emplace_back("final_url", info.effective_url);
    }
    report.emplace_back("address", curl_ran || !address_.empty() ? Address(info) : "-");
    report.emplace_back("status", info.status != 0 ? std::to_string(info.status) : "-");
    for (const auto& [name, d] : named) report.emplace_back(std::string(name) + "_ms", FormatMs(d));
    report.emplace_back("redirects", std::to_string(info.redirects));
    report.emplace_back("body_bytes", std::to_string(body_bytes_));
    if (info.cert_expiry) {
      int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                        services_.clock.WallNow().time_since_epoch())
                        .count();
      int64_t days = (*info.cert_expiry - now) / 86400;
      report.emplace_back("tls_cert_expiry",
                          FormatUtc(*info.cert_expiry) + " (" + std::to_string(days) + " days)");
    }
    report.emplace_back("reason", std::string(ReasonName(result.reason)));
  }

  // Reports and hands the result over. `this` may be destroyed inside done_: nothing after it.
  void Finish(Result result, const TransferInfo* info) {
    stage_ = Stage::kDone;
    if (info != nullptr) {
      Describe(*info, result);
    } else {
      TransferInfo none;
      none.https = cfg_->https;
      Describe(none, result);
    }
    DoneCallback done = std::move(done_);
    done(std::move(result));
  }

  const std::shared_ptr<const HttpCheckConfig> cfg_;
  CheckServices& services_;
  const TimePoint started_;
  const TimePoint deadline_;
  DoneCallback done_;
  Stage stage_ = Stage::kIdle;

  std::unique_ptr<DnsQuery> dns_query_;
  TimePoint resolve_started_{};
  std::optional<Duration> resolve_time_;
  std::string address_;  // numeric address we connect to

  // The lists must outlive the easy handle's use of them: declared before it, destroyed after.
  CurlSlistPtr headers_;
  CurlSlistPtr resolve_;
  CurlEasyPtr easy_;
  TimePoint curl_started_{};
  char error_[CURL_ERROR_SIZE] = {};
  std::shared_ptr<char> alive_ = std::make_shared<char>(0);

  uint64_t body_bytes_ = 0;
  bool body_too_large_ = false;
  std::string body_;
  ResponseHeaders response_headers_;
};

class HttpCheck final : public Check {
 public:
  HttpCheck(CheckSpec spec, std::shared_ptr<const HttpCheckConfig> cfg)
      : Check(std::move(spec)), cfg_(std::move(cfg)) {}

  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    auto run = std::make_unique<HttpRun>(cfg_, ctx, std::move(done));
    run->Begin();
    return run;
  }

 private:
  std::shared_ptr<const HttpCheckConfig> cfg_;
};

}  // namespace

// ----- Public pure helpers ---------------------------------------------------------------------

std::unique_ptr<PosixRegex> PosixRegex::Compile(const std::string& pattern, std::string* error) {
  std::unique_ptr<PosixRegex> re(new PosixRegex(pattern));
  int rc = regcomp(&re->re_, pattern.c_str(), REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    char buf[256];
    regerror(rc, &re->re_, buf, sizeof buf);
    if (error != nullptr) *error = buf;
    return nullptr;  // compiled_ stays false: a failed regcomp leaves nothing to regfree
  }
  re->compiled_ = true;
  return re;
}

PosixRegex::~PosixRegex() {
  if (compiled_) regfree(&re_);
}

bool PosixRegex::Search(std::string_view text) const {
  regmatch_t range[1];
  range[0].rm_so = 0;
  range[0].rm_eo = static_cast<regoff_t>(text.size());
  // REG_STARTEND bounds the search by the range instead of a NUL terminator.
  const char* data = text.data() != nullptr ? text.data() : "";
  return regexec(&re_, data, 1, range, REG_STARTEND) == 0;
}

bool StatusExpectation::Add(std::string_view item) {
  if (item.size() != 3) return false;
  if ((item[1] == 'x' || item[1] == 'X') && (item[2] == 'x' || item[2] == 'X')) {
    if (item[0] < '1' || item[0] > '5') return false;
    classes_ |= 1u << (item[0] - '0');
  } else {
    long code = 0;
    for (char c : item) {
      if (c < '0' || c > '9') return false;
      code = code * 10 + (c - '0');
    }
    if (code < 100 || code > 599) return false;
    codes_.push_back(code);
  }
  if (!text_.empty()) text_ += ", ";
  text_ += std::string(item);
  return true;
}

bool StatusExpectation::Matches(long status) const {
  if (status < 100 || status > 599) return false;
  if (classes_ & (1u << (status / 100))) return true;
  return std::find(codes_.begin(), codes_.end(), status) != codes_.end();
}

void ResponseHeaders::OnLine(std::string_view line) {
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after a 1xx or a redirect): only the final one's headers count.
    fields_.clear();
    stored_bytes_ = 0;
    truncated_ = false;
    return;
  }
  std::string_view content = Trim(line);
  if (content.empty()) return;  // the blank line that ends a header block
  if (stored_bytes_ + line.size() > kMaxStoredBytes) {
    truncated_ = true;
    return;
  }
  stored_bytes_ += line.size();
  if ((line.front() == ' ' || line.front() == '\t') && !fields_.empty()) {
    // Obsolete line folding: the line continues the previous value.
    fields_.back().second += " ";
    fields_.back().second += content;
    return;
  }
  size_t colon = content.find(':');
  if (colon == std::string_view::npos) return;
  fields_.emplace_back(std::string(Trim(content.substr(0, colon))),
                       std::string(Trim(content.substr(colon + 1))));
}

std::vector<std::string_view> ResponseHeaders::Values(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [n, v] : fields_) {
    if (EqualsIgnoreCase(n, name)) out.emplace_back(v);
  }
  return out;
}

HttpPhases ComputePhases(const CurlTimesUs& t, bool tls, std::optional<Duration> own_resolve) {
  // Milestones in order; an unreached one (0) takes the value of the next reached one, or total.
  std::vector<int64_t> m = {t.namelookup, t.connect};
  if (tls) m.push_back(t.appconnect);
  m.push_back(t.pretransfer);
  m.push_back(t.starttransfer);
  m.push_back(t.total);
  for (size_t i = m.size() - 1; i-- > 0;) {
    if (m[i] <= 0) m[i] = m[i + 1];
  }
  auto span = [&](size_t from, size_t to) {
    return std::chrono::microseconds(std::max<int64_t>(0, m[to] - m[from]));
  };
  HttpPhases p;
  // With our own lookup curl's namelookup is a cache hit; it stays inside `connect` below.
  p.resolve =
      own_resolve ? *own_resolve : Duration(std::chrono::microseconds(std::max<int64_t>(0, m[0])));
  p.connect = span(0, 1);
  size_t i = 1;
  if (tls) {
    p.tls = span(1, 2);
    i = 2;
  }
  // i: connect or appconnect; i+1: pretransfer; i+2: starttransfer; i+3: total.
  p.processing = span(i + 1, i + 2);
  p.transfer = span(i + 2, i + 3);
  if (p.resolve < Duration::zero()) p.resolve = Duration::zero();
  return p;
}

std::optional<int64_t> ParseCertTime(std::string_view text) {
  std::string s(Trim(text));
  tm parts{};
  // OpenSSL's ASN1_TIME_print: "Dec 24 13:00:03 2026 GMT" (day padded with a space).
  const char* end = strptime(s.c_str(), "%b %d %H:%M:%S %Y", &parts);
  if (end == nullptr) return std::nullopt;
  std::string_view rest = Trim(end);
  if (!rest.empty() && rest != "GMT") return std::nullopt;
  time_t t = timegm(&parts);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  return static_cast<int64_t>(t);
}

std::string ScrubCredentials(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t scheme = text.find("://", pos);
    if (scheme == std::string_view::npos) break;
    // The URL token starts after the last separator before "://" and ends at whitespace/quote.
    size_t start = text.find_last_of(" \t'\"(<", scheme);
    start = (start == std::string_view::npos || start < pos) ? pos : start + 1;
    size_t end = text.find_first_of(" \t'\")>", scheme);
    if (end == std::string_view::npos) end = text.size();
    out.append(text.substr(pos, start - pos));
    out += RedactUrl(text.substr(start, end - start));
    pos = end;
  }
  out.append(text.substr(pos));
  return out;
}

std::shared_ptr<const HttpCheckConfig> ParseHttpCheckConfig(const ConfigNode& node) {
  auto cfg = std::make_shared<HttpCheckConfig>();

  ConfigNode url = node.Required("url");
  cfg->url = url.AsString();
  auto parsed = ParseUrl(cfg->url);
  if (!parsed || (parsed->scheme != "http" && parsed->scheme != "https")) {
    url.Fail("must be an http or https URL");
  }
  cfg->redacted_url = RedactUrl(cfg->url);
  cfg->https = parsed->scheme == "https";
  cfg->host = parsed->host;
  cfg->port = parsed->port;

  if (ConfigNode method = node.Child("method"); method.IsDefined()) {
    std::string m = method.AsString();
    if (m == "HEAD") {
      cfg->head = true;
    } else if (m != "GET") {
      method.Fail("must be GET or HEAD");
    }
  }

  ParseRequestHeaders(node, *cfg);
  ParseExpect(node.Child("expect"), *cfg);

  cfg->follow_redirects = node.BoolOr("follow_redirects", true);
  cfg->max_redirects =
      static_cast<long>(node.IntOr("max_redirects", kDefaultMaxRedirects, 0, kMaxMaxRedirects));
  cfg->insecure = node.BoolOr("insecure", false);

  if (ConfigNode ca = node.Child("ca_file"); ca.IsDefined()) {
    cfg->ca_file = ca.AsString();
    // Caught at load, not as a tls_certificate failure on every run.
    if (access(cfg->ca_file.c_str(), R_OK) != 0) {
      ca.Fail("cannot read " + cfg->ca_file + ": " + std::strerror(errno));
    }
  }

  if (ConfigNode limit = node.Child("body_limit"); limit.IsDefined()) {
    cfg->body_limit = limit.AsBytes();
    if (cfg->body_limit > kMaxBodyLimit) limit.Fail("must be at most 64MiB");
  } else {
    cfg->body_limit = kDefaultBodyLimit;
  }
  return cfg;
}

CheckType HttpCheckType() {
  const HttpMetrics& m = Metrics();
  CheckType type;
  type.name = "http";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return std::make_unique<HttpCheck>(spec, ParseHttpCheckConfig(node));
  };
  type.metrics = {&m.status_code, &m.responses, &m.phase_seconds,
                  &m.cert_expiry, &m.redirects, &m.content_length};
  return type;
}

}  // namespace gatewatch
