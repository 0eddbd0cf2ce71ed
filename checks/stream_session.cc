#include "checks/stream_session.h"

#include <ares.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "agent/base/strings.h"
#include "checks/http_reasons.h"
#include "checks/http_transfer.h"

namespace gatewatch {

namespace {

int64_t WholeMs(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Bytes read per curl_easy_recv call; the handler caps what it keeps.
constexpr size_t kReadChunk = 4096;

}  // namespace

StreamSession::StreamSession(CheckServices& services, StreamTarget target, TimePoint deadline,
                             Handler* handler)
    : services_(services), target_(std::move(target)), deadline_(deadline), handler_(handler) {}

StreamSession::~StreamSession() {
  *alive_ = false;
  Close();
}

std::string StreamSession::Where() const {
  if (!info_.address.empty()) return info_.address;
  if (!target_.unix_path.empty()) return "unix:" + target_.unix_path;
  return target_.host + ":" + std::to_string(target_.port);
}

void StreamSession::Begin() {
  if (!target_.unix_path.empty()) {
    info_.address = "unix:" + target_.unix_path;
    StartConnect("");
    return;
  }
  if (DnsResolver::IsIpLiteral(target_.host)) {
    StartConnect(target_.host);
    return;
  }
  resolve_started_ = services_.clock.Now();
  query_ = services_.dns->Resolve(target_.host, AF_UNSPEC, [this](const ResolveResult& r) {
    query_.reset();  // allowed from inside its callback
    info_.resolve = r.elapsed;
    Reason reason = ReasonForResolveStatus(r.status);
    if (reason == Reason::kNone && r.addresses.empty()) reason = Reason::kDnsNodata;
    if (reason != Reason::kNone) {
      std::string why = r.status == ARES_SUCCESS ? "no addresses" : ares_strerror(r.status);
      Fail(reason, "resolving " + target_.host + " failed: " + why);
      return;
    }
    // c-ares sorts getaddrinfo answers by RFC 6724: the first is the one a client would try.
    StartConnect(r.addresses.front().address);
  });
}

void StreamSession::StartConnect(const std::string& address) {
  if (!address.empty()) info_.address = FormatHostPort(address, target_.port);
  easy_.reset(curl_easy_init());
  if (easy_ == nullptr) {
    Fail(Reason::kInternalError, "curl_easy_init failed");
    return;
  }
  CURL* e = easy_.get();
  CURLcode rc = CURLE_OK;
  auto check = [&rc](CURLcode r) {
    if (rc == CURLE_OK) rc = r;
  };
  // The URL only names the host for SNI and certificate checks (https) and the port; curl
  // connects to our own answer through CONNECT_TO and, with CONNECT_ONLY, stops after the
  // connect (and the TLS handshake) without sending a byte.
  std::string name = !target_.server_name.empty() ? target_.server_name : target_.host;
  if (!target_.unix_path.empty()) name = "localhost";
  std::string url_host = name.find(':') != std::string::npos ? "[" + name + "]" : name;
  int port = target_.unix_path.empty() ? target_.port : 80;
  std::string url = std::string(target_.tls ? "https://" : "http://") + url_host + ":" +
                    std::to_string(port) + "/";
  check(curl_easy_setopt(e, CURLOPT_URL, url.c_str()));
  check(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
  check(curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L));
  long remaining_ms =
      std::max<long>(1, static_cast<long>(WholeMs(deadline_ - services_.clock.Now())));
  check(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, remaining_ms));
  check(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, remaining_ms));
  check(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L));
  // A new connection each run. Not FORBID_REUSE: in 7.88 that closes a connect-only connection
  // as soon as the connect is done; removing the handle from the multi closes it instead.
  check(curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L));
  check(curl_easy_setopt(e, CURLOPT_PROXY, ""));
  check(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_));
  if (!target_.unix_path.empty()) {
    check(curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, target_.unix_path.c_str()));
  }
  if (target_.tls) {
    check(curl_easy_setopt(e, CURLOPT_CERTINFO, 1L));
    check(curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, target_.insecure ? 0L : 1L));
    check(curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, target_.insecure ? 0L : 2L));
    if (!target_.ca_file.empty())
      check(curl_easy_setopt(e, CURLOPT_CAINFO, target_.ca_file.c_str()));
    if (!target_.cert_file.empty()) {
      check(curl_easy_setopt(e, CURLOPT_SSLCERT, target_.cert_file.c_str()));
    }
    if (!target_.key_file.empty()) {
      check(curl_easy_setopt(e, CURLOPT_SSLKEY, target_.key_file.c_str()));
    }
  }
  if (!address.empty() && address != name) {
    std::string entry = url_host + ":" + std::to_string(port) + ":" + info_.address;
    connect_to_.reset(curl_slist_append(nullptr, entry.c_str()));
    if (connect_to_ == nullptr) rc = CURLE_OUT_OF_MEMORY;
    check(curl_easy_setopt(e, CURLOPT_CONNECT_TO, connect_to_.get()));
  }
  if (rc != CURLE_OK) {
    Fail(Reason::kInternalError, std::string("curl setup failed: ") + curl_easy_strerror(rc));
    return;
  }
  in_multi_ = true;
  services_.curl->AddConnectOnly(e, [this](CURLcode code) { OnConnectDone(code); });
}

void StreamSession::ReadInfo() {
  CURL* e = easy_.get();
  curl_off_t t = 0;
  auto micros = [&](CURLINFO what) {
    t = 0;
    curl_easy_getinfo(e, what, &t);
    return std::chrono::microseconds(t);
  };
  auto connect = micros(CURLINFO_CONNECT_TIME_T);
  auto app = micros(CURLINFO_APPCONNECT_TIME_T);
  auto lookup = micros(CURLINFO_NAMELOOKUP_TIME_T);
  info_.connect = connect > lookup ? connect - lookup : Duration{};
  info_.tls = app > connect ? app - connect : Duration{};
  char* ip = nullptr;
  long port = 0;
  if (target_.unix_path.empty() && curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK &&
      ip != nullptr && ip[0] != '\0' &&
      curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &port) == CURLE_OK) {
    info_.address = FormatHostPort(ip, port);
  }
  if (target_.tls) {
    curl_certinfo* certs = nullptr;
    if (curl_easy_getinfo(e, CURLINFO_CERTINFO, &certs) == CURLE_OK && certs != nullptr &&
        certs->num_of_certs > 0) {
      constexpr std::string_view kExpire = "Expire date:";
      for (curl_slist* field = certs->certinfo[0]; field != nullptr; field = field->next) {
        std::string_view line(field->data);
        if (line.substr(0, kExpire.size()) == kExpire) {
          info_.cert_expiry = ParseCertTime(line.substr(kExpire.size()));
        }
      }
    }
  }
}

void StreamSession::OnConnectDone(CURLcode code) {
  ReadInfo();
  if (code != CURLE_OK) {
    in_multi_ = false;  // CurlMulti removed a failed connect-only handle already
    long os_errno = 0;
    curl_easy_getinfo(easy_.get(), CURLINFO_OS_ERRNO, &os_errno);
    curl_off_t connect_us = 0;
    curl_easy_getinfo(easy_.get(), CURLINFO_CONNECT_TIME_T, &connect_us);
    bool connected = connect_us > 0;
    Reason reason = ReasonForCurlError(code, os_errno, connected, target_.tls);
    // A unix socket whose file is gone is a stopped server, as a refused port is.
    if (!target_.unix_path.empty() && code == CURLE_COULDNT_CONNECT &&
        (os_errno == ENOENT || os_errno == ECONNREFUSED)) {
      reason = Reason::kConnectionRefused;
    }
    std::string text = error_[0] != '\0' ? error_ : curl_easy_strerror(code);
    Fail(reason, "connect to " + Where() + " failed: " + text);
    return;
  }
  curl_socket_t s = CURL_SOCKET_BAD;
  if (curl_easy_getinfo(easy_.get(), CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
      s == CURL_SOCKET_BAD) {
    Fail(Reason::kInternalError, "connected to " + Where() + " but curl has no socket");
    return;
  }
  fd_ = s;
  info_.connected = true;
  handler_->OnConnected();  // may destroy `this`
}

void StreamSession::Send(std::string bytes) {
  out_.append(bytes);
  UpdateWatch();
}

void StreamSession::Read() {
  reading_ = true;
  UpdateWatch();
}

void StreamSession::UpdateWatch() {
  if (fd_ < 0) return;
  uint32_t events = 0;
  if (out_pos_ < out_.size()) events |= EventLoop::kWritable;
  if (reading_) events |= EventLoop::kReadable;
  if (events == 0) {
    services_.loop->Unwatch(fd_);
    return;
  }
  Expected<void> ok = services_.loop->TryWatch(fd_, events, [this](uint32_t ev) { OnSocket(ev); });
  if (!ok) {
    // From a timer: never call the handler re-entrantly from Send()/Read().
    std::weak_ptr<bool> alive = alive_;
    std::string why = ok.error().message;
    services_.loop->AddTimer(services_.clock.Now(), [this, alive, why] {
      if (alive.expired() || !*alive.lock()) return;
      Fail(Reason::kInternalError, "cannot watch the socket: " + why);
    });
  }
}

void StreamSession::OnSocket(uint32_t events) {
  std::weak_ptr<bool> alive = alive_;
  CURL* e = easy_.get();
  if ((events & (EventLoop::kWritable | EventLoop::kError)) && out_pos_ < out_.size()) {
    while (out_pos_ < out_.size()) {
      size_t n = 0;
      CURLcode rc = curl_easy_send(e, out_.data() + out_pos_, out_.size() - out_pos_, &n);
      if (rc == CURLE_AGAIN) break;
      if (rc != CURLE_OK) {
        Fail(Reason::kConnectionReset,
             "sending to " + Where() + " failed: " + std::string(curl_easy_strerror(rc)));
        return;
      }
      out_pos_ += n;
    }
    if (out_pos_ == out_.size()) {
      UpdateWatch();
      handler_->OnSent();
      if (alive.expired()) return;
    }
  }
  if (reading_ && (events & (EventLoop::kReadable | EventLoop::kError))) {
    // Drain until EAGAIN: with TLS, OpenSSL may hold decrypted bytes the socket no longer
    // signals.
    char buf[kReadChunk];
    for (;;) {
      size_t n = 0;
      CURLcode rc = curl_easy_recv(e, buf, sizeof buf, &n);
      if (rc == CURLE_AGAIN) return;
      if (rc != CURLE_OK) {
        long os_errno = 0;
        curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &os_errno);
        Reason reason = Reason::kConnectionReset;
        if (target_.tls && os_errno == 0 && rc != CURLE_RECV_ERROR) reason = Reason::kTlsHandshake;
        Fail(reason, "reading from " + Where() + " failed: " + std::string(curl_easy_strerror(rc)));
        return;
      }
      if (n == 0) {
        reading_ = false;
        UpdateWatch();
        handler_->OnData({}, true);
        return;
      }
      handler_->OnData(std::string_view(buf, n), false);
      if (alive.expired() || !reading_) return;
    }
  }
}

std::pair<Reason, std::string> StreamSession::Abort(Duration elapsed) {
  std::string after = std::to_string(WholeMs(elapsed)) + " ms";
  std::pair<Reason, std::string> out{Reason::kNone, ""};
  if (query_ != nullptr) {
    query_.reset();
    info_.resolve = services_.clock.Now() - resolve_started_;
    out = {Reason::kDnsTimeout, "resolving " + target_.host + " timed out after " + after};
  } else if (!info_.connected && easy_ != nullptr) {
    ReadInfo();
    curl_off_t connect_us = 0;
    curl_easy_getinfo(easy_.get(), CURLINFO_CONNECT_TIME_T, &connect_us);
    char* ip = nullptr;
    bool tcp_up =
        connect_us > 0 || (curl_easy_getinfo(easy_.get(), CURLINFO_PRIMARY_IP, &ip) == CURLE_OK &&
                           ip != nullptr && ip[0] != '\0');
    if (!tcp_up) {
      out = {Reason::kConnectTimeout, "connect() to " + Where() + " timed out after " + after};
    } else {
      out = {Reason::kTimeout, "TLS handshake with " + Where() + " did not finish within " + after};
    }
  }
  Close();
  return out;
}

void StreamSession::Fail(Reason reason, std::string detail) {
  Close();
  handler_->OnFailed(reason, std::move(detail));  // may destroy `this`
}

void StreamSession::Close() {
  query_.reset();
  if (fd_ >= 0) {
    services_.loop->Unwatch(fd_);
    fd_ = -1;
  }
  if (easy_ != nullptr && in_multi_) {
    services_.curl->Remove(easy_.get());  // closes a connect-only connection
    in_multi_ = false;
  }
  reading_ = false;
}

}  // namespace gatewatch
