#include "checks/http_transfer.h"

#include <strings.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "agent/base/fnv.h"
#include "agent/base/logging.h"
#include "agent/base/version.h"
#include "checks/http_reasons.h"
#include "checks/http_request.h"

namespace gatewatch {

namespace {

int64_t WholeMs(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

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
  curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &info.http_version);
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

}  // namespace

// ----- HttpTransfer ------------------------------------------------------------------------------

HttpTransfer::HttpTransfer(std::shared_ptr<const HttpRequest> request, CurlMulti& curl,
                           const Clock& clock, Target target, DoneCallback on_done)
    : request_(std::move(request)),
      curl_(curl),
      clock_(clock),
      target_(std::move(target)),
      on_done_(std::move(on_done)) {
  out_.info.https = request_->https;
}

HttpTransfer::~HttpTransfer() {
  // Destroying a transfer aborts it silently: no callback may reach a dead transfer.
  if (stage_ == Stage::kRunning) curl_.Remove(easy_.get());
}

void HttpTransfer::Start() {
  easy_.reset(curl_easy_init());
  if (easy_ == nullptr) {
    Fail("curl_easy_init failed");
    return;
  }
  hop_url_ = request_->url;
  Launch();
}

// Configures the easy handle for hop_url_ and hands it to curl (the first hop and every redirect).
void HttpTransfer::Launch() {
  CURLcode rc = Configure(easy_.get());
  if (rc != CURLE_OK) {
    Fail(std::string("curl option refused: ") + curl_easy_strerror(rc));
    return;
  }
  stage_ = Stage::kRunning;
  if (hops_ == 0) curl_started_ = clock_.Now();
  hash_ = kFnv1a64Offset;
  // Remove() (destructor, Abort) cancels a running transfer and also the loop timer that reports
  // a failed Add, so this callback never outlives the transfer; the weak token is only a second
  // guard, should a later CurlMulti change break that contract.
  std::weak_ptr<char> alive = alive_;
  curl_.Add(easy_.get(), [this, alive](CURLcode code) {
    if (alive.expired()) return;
    OnDone(code);
  });
}

void HttpTransfer::AddEarlierHops(TransferInfo& info) const {
  if (hops_ == 0) return;
  // As curl reports a followed redirect: each milestone summed over the hops (one not reached
  // in the last hop stays 0, "not reached").
  auto add = [](int64_t& now, int64_t earlier) {
    if (now > 0) now += earlier;
  };
  add(info.times.namelookup, earlier_times_.namelookup);
  add(info.times.connect, earlier_times_.connect);
  add(info.times.appconnect, earlier_times_.appconnect);
  add(info.times.pretransfer, earlier_times_.pretransfer);
  add(info.times.starttransfer, earlier_times_.starttransfer);
  info.times.total += earlier_times_.total;
  info.redirects = hops_;
}

HttpOutcome HttpTransfer::Abort() {
  if (stage_ != Stage::kRunning) {
    HttpOutcome none;
    none.info.https = request_->https;
    none.address = Address(none.info);
    return none;
  }
  // Read before removing: the milestones show how far the transfer got.
  out_.info = ReadTransferInfo(easy_.get(), request_->https);
  AddEarlierHops(out_.info);
  curl_.Remove(easy_.get());
  stage_ = Stage::kDone;
  // curl's total only advances when it last ran the transfer: it lasted until now.
  out_.info.times.total = std::max<int64_t>(
      out_.info.times.total,
      std::chrono::duration_cast<std::chrono::microseconds>(clock_.Now() - curl_started_).count());
  out_.started = true;
  out_.aborted = true;
  out_.code = CURLE_OPERATION_TIMEDOUT;
  out_.address = Address(out_.info);
  if (error_[0] != '\0') out_.error = ScrubCredentials(error_);
  return std::move(out_);
}

void HttpTransfer::Fail(std::string setup_error) {
  stage_ = Stage::kDone;
  out_.code = CURLE_FAILED_INIT;
  out_.setup_error = std::move(setup_error);
  out_.address = Address(out_.info);
  DoneCallback done = std::move(on_done_);
  done(std::move(out_));  // may destroy `this`: nothing after it
}

void HttpTransfer::OnDone(CURLcode code) {
  stage_ = Stage::kDone;  // CurlMulti already removed the handle
  if (code == CURLE_OK && request_->follow_redirects && FollowRedirect()) return;
  if (code == CURLE_OK && !out_.redirect_refused.empty()) {
    code = CURLE_ABORTED_BY_CALLBACK;  // we stopped it; DescribeTransportFailure names why
  } else if (code == CURLE_OK && out_.code != CURLE_OK) {
    code = out_.code;  // FollowRedirect: too many redirects, or a non-http(s) Location
  }
  out_.code = code;
  out_.started = true;
  out_.info = ReadTransferInfo(easy_.get(), request_->https);
  AddEarlierHops(out_.info);
  out_.address = Address(out_.info);
  if (error_[0] != '\0') out_.error = ScrubCredentials(error_);
  if (target_.hash_body && code == CURLE_OK) out_.body_hash = hash_;
  DoneCallback done = std::move(on_done_);
  done(std::move(out_));  // may destroy `this`: nothing after it
}

bool HttpTransfer::FollowRedirect() {
  long status = 0;
  curl_easy_getinfo(easy_.get(), CURLINFO_RESPONSE_CODE, &status);
  char* location = nullptr;
  // curl fills REDIRECT_URL (absolute, resolved against the hop's URL) for a 3xx with Location.
  if (status < 300 || status > 399 || status == 304 ||
      curl_easy_getinfo(easy_.get(), CURLINFO_REDIRECT_URL, &location) != CURLE_OK ||
      location == nullptr) {
    return false;
  }
  if (hops_ >= request_->max_redirects) {
    out_.code = CURLE_TOO_MANY_REDIRECTS;
    std::snprintf(error_, sizeof error_, "Maximum (%ld) redirects followed",
                  request_->max_redirects);
    return false;
  }
  RedirectStep step = DecideRedirect(*request_, hop_url_, location);
  switch (step.action) {
    case RedirectStep::Action::kRefuse:
      out_.redirect_refused = std::move(step.detail);
      return false;
    case RedirectStep::Action::kUnsupported:
      out_.code = CURLE_UNSUPPORTED_PROTOCOL;
      std::snprintf(error_, sizeof error_, "%s", step.detail.c_str());
      return false;
    case RedirectStep::Action::kFollowWithoutHeaders:
      send_headers_ = false;  // for good: a later hop back home does not get them either
      break;
    case RedirectStep::Action::kFollow:
      break;
  }
  // For good, like curl -L: a later 307 repeats the GET.
  if (RedirectBecomesGet(status, EffectiveMethod(*request_))) as_get_ = true;
  // The finished hop's milestones count toward the totals; its body and headers do not.
  TransferInfo hop = ReadTransferInfo(easy_.get(), request_->https);
  earlier_times_.namelookup += hop.times.namelookup;
  earlier_times_.connect += hop.times.connect;
  earlier_times_.appconnect += hop.times.appconnect;
  earlier_times_.pretransfer += hop.times.pretransfer;
  earlier_times_.starttransfer += hop.times.starttransfer;
  earlier_times_.total += hop.times.total;
  ++hops_;
  hop_url_ = std::move(step.url);
  out_.body.clear();
  out_.body_bytes = 0;
  error_[0] = '\0';
  // The same handle again (never a new one): CurlMulti keys transfers by handle, and a fresh
  // allocation could reuse the address of another transfer finishing in the same batch.
  curl_easy_reset(easy_.get());
  Launch();
  return true;
}

std::string HttpTransfer::Address(const TransferInfo& info) const {
  if (!info.primary_ip.empty()) return FormatHostPort(info.primary_ip, info.primary_port);
  if (!target_.connect_to.empty()) return target_.connect_to;
  if (!target_.pinned_address.empty()) {
    return FormatHostPort(target_.pinned_address, request_->port);
  }
  return request_->host + ":" + std::to_string(request_->port);
}

namespace {

// Method, body, client certificate and HTTP version (docs/configuration.md, `type: http`).
template <typename Check>
void ConfigureRequestOptions(CURL* e, const HttpRequest& c, bool as_get, Check& check) {
  if (as_get) {
    check(curl_easy_setopt(e, CURLOPT_HTTPGET, 1L));
  } else if (c.body) {
    // The request is immutable and outlives the transfer: curl may point at its bytes.
    check(
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(c.body->size())));
    check(curl_easy_setopt(e, CURLOPT_POSTFIELDS, c.body->data()));
  }
  if (!c.method.empty() && !as_get) {
    check(curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c.method.c_str()));
  }
  if (!c.cert_file.empty()) check(curl_easy_setopt(e, CURLOPT_SSLCERT, c.cert_file.c_str()));
  if (!c.key_file.empty()) check(curl_easy_setopt(e, CURLOPT_SSLKEY, c.key_file.c_str()));
  if (c.http_version != CURL_HTTP_VERSION_NONE) {
    check(curl_easy_setopt(e, CURLOPT_HTTP_VERSION, c.http_version));
  }
}

}  // namespace

CURLcode HttpTransfer::Configure(CURL* e) {
  CURLcode rc = CURLE_OK;
  auto check = [&rc](CURLcode r) {
    if (rc == CURLE_OK) rc = r;
  };
  const HttpRequest& c = *request_;
  // curl copies string options, so a local is enough.
  const std::string user_agent = std::string("gatewatch/") + kVersion;
  check(curl_easy_setopt(e, CURLOPT_URL, hop_url_.c_str()));
  check(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
  // Redirects are followed by FollowRedirect(), which decides what the next hop may carry.
  check(curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L));
  // 0 would mean "no timeout" to curl: a transfer already at its deadline still gets 1 ms.
  long remaining_ms =
      std::max<long>(1, static_cast<long>(WholeMs(target_.deadline - clock_.Now())));
  check(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, remaining_ms));
  long connect_ms = remaining_ms;
  if (request_->connect_timeout_ms > 0)
    connect_ms = std::min(connect_ms, request_->connect_timeout_ms);
  check(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms));
  check(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L));
  // Each run measures a new connection: no reuse across runs or checks.
  check(curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L));
  check(curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L));
  // A check measures the path to the target: a proxy from the environment (http_proxy) would
  // silently measure something else.
  check(curl_easy_setopt(e, CURLOPT_PROXY, ""));
  check(curl_easy_setopt(e, CURLOPT_USERAGENT, user_agent.c_str()));
  check(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &HttpTransfer::OnBody));
  check(curl_easy_setopt(e, CURLOPT_WRITEDATA, this));
  check(curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &HttpTransfer::OnHeader));
  check(curl_easy_setopt(e, CURLOPT_HEADERDATA, this));
  check(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_));
  if (c.head) check(curl_easy_setopt(e, CURLOPT_NOBODY, 1L));
  if (c.https) check(curl_easy_setopt(e, CURLOPT_CERTINFO, 1L));
  check(curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c.insecure ? 0L : 1L));
  check(curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c.insecure ? 0L : 2L));
  if (!c.ca_file.empty()) check(curl_easy_setopt(e, CURLOPT_CAINFO, c.ca_file.c_str()));
  ConfigureRequestOptions(e, c, as_get_, check);
  if (headers_ == nullptr) {
    std::vector<std::string> lines = c.request_headers;
    if (!target_.extra_header.empty()) lines.push_back(target_.extra_header);
    for (const std::string& h : lines) {
      curl_slist* next = curl_slist_append(headers_.get(), h.c_str());
      if (next == nullptr) return CURLE_OUT_OF_MEMORY;
      headers_.release();
      headers_.reset(next);
    }
  }
  if (headers_ != nullptr && send_headers_) {
    check(curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_.get()));
  }
  const std::string url_host = c.host.find(':') != std::string::npos ? "[" + c.host + "]" : c.host;
  // Where the connection goes instead of the URL's host:port, if anywhere. Only that changes:
  // URL, Host, SNI and certificate names stay. Scoped to the URL's host:port, so a redirect
  // elsewhere is not sent to this address.
  std::string to;
  if (!target_.connect_to.empty()) {
    to = target_.connect_to;
  } else if (!target_.pinned_address.empty() && target_.pinned_address != c.host) {
    // Our c-ares answer, pinned through CONNECT_TO and not CURLOPT_RESOLVE: a RESOLVE entry goes
    // into the multi handle's shared DNS cache for good, and a later run of any check for the
    // same host:port without a pin would connect there instead of resolving.
    to = FormatHostPort(target_.pinned_address, c.port);
  }
  if (!to.empty() && connect_to_ == nullptr) {
    std::string entry = url_host + ":" + std::to_string(c.port) + ":" + to;
    curl_slist* next = curl_slist_append(nullptr, entry.c_str());
    if (next == nullptr) return CURLE_OUT_OF_MEMORY;
    connect_to_.reset(next);
  }
  if (connect_to_ != nullptr) check(curl_easy_setopt(e, CURLOPT_CONNECT_TO, connect_to_.get()));
  return rc;
}

// Counts every body byte; keeps or hashes them on request; refuses bytes past the limit (a short
// count makes curl fail with CURLE_WRITE_ERROR). MAXFILESIZE would not stop a body without
// Content-Length in curl 7.88.
size_t HttpTransfer::OnBody(char* data, size_t size, size_t nmemb, void* userp) {
  auto* self = static_cast<HttpTransfer*>(userp);
  size_t n = size * nmemb;
  HttpOutcome& out = self->out_;
  out.body_bytes += n;
  if (out.body_prefix.size() < HttpOutcome::kEvidenceBytes) {
    out.body_prefix.append(data, std::min(n, HttpOutcome::kEvidenceBytes - out.body_prefix.size()));
  }
  if (out.body_bytes > self->request_->body_limit) {
    out.body_too_large = true;
    return 0;
  }
  if (self->target_.keep_body) out.body.append(data, n);
  // FNV-1a 64: enough to tell two bodies apart, no crypto library needed.
  if (self->target_.hash_body) self->hash_ = Fnv1a64(std::string_view(data, n), self->hash_);
  return n;
}

size_t HttpTransfer::OnHeader(char* data, size_t size, size_t nitems, void* userp) {
  auto* self = static_cast<HttpTransfer*>(userp);
  std::string_view line(data, size * nitems);
  self->out_.headers.OnLine(line);
  std::string& head = self->out_.head_prefix;
  if (line.substr(0, 5) == "HTTP/") head.clear();  // only the final response's head is evidence
  if (head.size() < HttpOutcome::kEvidenceBytes) {
    head.append(line.substr(0, HttpOutcome::kEvidenceBytes - head.size()));
  }
  return size * nitems;
}

// ----- Shared interpretation
// ----------------------------------------------------------------------

std::pair<Reason, std::string> DescribeTransportFailure(const HttpOutcome& o) {
  if (!o.redirect_refused.empty()) return {Reason::kRedirectRefused, o.redirect_refused};
  const TransferInfo& info = o.info;
  Reason reason = ReasonForCurlError(o.code, info.os_errno, info.connected, info.https);
  const std::string& where = o.address;
  std::string curl_says = !o.error.empty() ? o.error : curl_easy_strerror(o.code);
  if (HitCurlHeaderLimit(o.code, o.error, info.connected)) {
    return {Reason::kInvalidHeader,
            "response headers over libcurl's limit (100 KB per line, "
            "300 KB in all) from " +
                where + ": " + curl_says};
  }
  switch (reason) {
    case Reason::kConnectionRefused:
      return {reason, "connect() to " + where + " refused"};
    case Reason::kHostUnreachable:
      return {reason, "connect() to " + where + " failed: " +
                          (info.os_errno != 0 ? std::strerror(static_cast<int>(info.os_errno))
                                              : curl_says)};
    case Reason::kConnectTimeout:
      return {reason, "connect() to " + where + " timed out: " + curl_says};
    default:
      return {reason, curl_says + " (" + where + ")"};
  }
}

std::pair<Reason, std::string> DescribeAbortedTransfer(const HttpOutcome& o, Duration elapsed) {
  const TransferInfo& info = o.info;
  const std::string& where = o.address;
  std::string after = std::to_string(WholeMs(elapsed)) + " ms";
  if (!info.connected) {
    return {Reason::kConnectTimeout, "connect() to " + where + " timed out after " + after};
  }
  if (info.https && info.times.appconnect == 0) {
    return {Reason::kTimeout, "TLS handshake with " + where + " did not finish within " + after};
  }
  if (info.status == 0) return {Reason::kTimeout, "no response from " + where + " within " + after};
  return {Reason::kTimeout, "HTTP " + std::to_string(info.status) + " from " + where +
                                " but the body did not end within " + after};
}

// ----- Pure helpers ------------------------------------------------------------------------------

void ResponseHeaders::OnLine(std::string_view line) {
  if (line.substr(0, 5) == "HTTP/") {
    // A new response (after a 1xx or a redirect): only the final one's headers count.
    fields_.clear();
    stored_bytes_ = 0;
    truncated_ = false;
    return;
  }
  std::string_view content = TrimBlanks(line);
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
  fields_.emplace_back(std::string(TrimBlanks(content.substr(0, colon))),
                       std::string(TrimBlanks(content.substr(colon + 1))));
}

std::vector<std::string_view> ResponseHeaders::Values(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [n, v] : fields_) {
    if (EqualsIgnoreCase(n, name)) out.emplace_back(v);
  }
  return out;
}

std::string_view ResponseHeaders::First(std::string_view name) const {
  for (const auto& [n, v] : fields_) {
    if (EqualsIgnoreCase(n, name)) return v;
  }
  return {};
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
  std::string s(TrimBlanks(text));
  tm parts{};
  // OpenSSL's ASN1_TIME_print: "Dec 24 13:00:03 2026 GMT" (day padded with a space).
  const char* end = strptime(s.c_str(), "%b %d %H:%M:%S %Y", &parts);
  if (end == nullptr) return std::nullopt;
  std::string_view rest = TrimBlanks(end);
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

}  // namespace gatewatch
