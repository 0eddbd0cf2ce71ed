// One byte-stream connection on the loop for checks that speak their own protocol over TCP, TLS or
// a unix socket (tcp, fastcgi): resolve on the loop's c-ares (DNS reasons, measured), connect
// through a libcurl CONNECT_ONLY handle on the shared CurlMulti (connect and TLS timing, SNI,
// verification, client certificate, the same refused/timeout/reset/TLS reasons as http), then
// exchange bytes with curl_easy_send/recv on the socket curl connected, watched by the EventLoop.
//
// Thread-safety: loop thread only. Lifetime: the services outlive it. Destroying it cancels
// everything in flight and closes the connection without calling the handler.
#pragma once

#include <curl/curl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/base/clock.h"
#include "agent/io/curl_multi.h"
#include "agent/io/dns_resolver.h"
#include "checks/api/check.h"
#include "checks/api/reason.h"

namespace gatewatch {

struct StreamTarget {
  std::string host;       // name or IP literal (ignored with unix_path)
  int port = 0;           // 1-65535 (ignored with unix_path)
  std::string unix_path;  // non-empty: connect to this unix socket instead
  bool tls = false;
  std::string server_name;  // SNI and certificate name; "" = host
  bool insecure = false;    // no certificate verification
  std::string ca_file, cert_file, key_file;
};

// Timing and TLS facts of a session so far.
struct StreamInfo {
  std::optional<Duration> resolve;     // c-ares lookup (nullopt for an IP literal or a unix socket)
  Duration connect{};                  // TCP (or unix) connect
  Duration tls{};                      // TLS handshake, 0 without TLS
  bool connected = false;              // connected (and TLS done): the exchange may begin
  std::string address;                 // "ip:port" connected to, or "unix:/path"
  std::optional<int64_t> cert_expiry;  // leaf certificate notAfter, unix seconds
};

class StreamSession {
 public:
  // Each callback runs on the loop and may destroy the session (the caller's run finishing):
  // the session touches nothing of itself after calling one.
  class Handler {
   public:
    virtual ~Handler() = default;
    // Connected (and TLS done). The handler may Send() and/or Read() now.
    virtual void OnConnected() = 0;
    // Bytes received after Read(); `eof`: the peer closed (chunk then empty).
    virtual void OnData(std::string_view chunk, bool eof) = 0;
    // All bytes given to Send() so far are written.
    virtual void OnSent() {}
    // The lookup, connect, TLS or the exchange failed (reset, closed while sending).
    virtual void OnFailed(Reason reason, std::string detail) = 0;
  };

  StreamSession(CheckServices& services, StreamTarget target, TimePoint deadline, Handler* handler);
  ~StreamSession();
  StreamSession(const StreamSession&) = delete;
  StreamSession& operator=(const StreamSession&) = delete;

  // Starts the lookup or the connect. May call the handler (a setup failure) before returning.
  void Begin();
  // Queues bytes to write; OnSent() when all are written.
  void Send(std::string bytes);
  // Starts delivering received bytes to OnData().
  void Read();
  // Stops all I/O (the deadline) and says how far the session got: dns_timeout while resolving,
  // connect_timeout before TCP was up, timeout during the TLS handshake. Returns kNone once
  // connected: then the handler's exchange decides. Silent: the handler is not called.
  std::pair<Reason, std::string> Abort(Duration elapsed);

  const StreamInfo& info() const { return info_; }
  std::string Where() const;  // address (or host:port before one is known), for details

 private:
  void StartConnect(const std::string& address);
  void OnConnectDone(CURLcode code);
  void UpdateWatch();
  void OnSocket(uint32_t events);
  void ReadInfo();
  void Fail(Reason reason, std::string detail);
  void Close();

  CheckServices& services_;
  const StreamTarget target_;
  const TimePoint deadline_;
  Handler* const handler_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  StreamInfo info_;
  TimePoint resolve_started_{};
  std::unique_ptr<DnsQuery> query_;
  CurlEasyPtr easy_;
  CurlSlistPtr connect_to_;
  bool in_multi_ = false;
  int fd_ = -1;  // watched socket once connected
  std::string out_;
  size_t out_pos_ = 0;
  bool reading_ = false;
  char error_[CURL_ERROR_SIZE] = {};
};

}  // namespace gatewatch
