// libcurl's multi interface driven by the EventLoop (the hiperfifo pattern): curl tells us which
// sockets to watch and when to wake it, the loop calls curl_multi_socket_action, and finished
// transfers are handed back through their completion callbacks.
//
// Thread-safety: loop thread only.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "agent/io/event_loop.h"

namespace gatewatch {

struct CurlEasyDeleter {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

struct CurlMultiDeleter {
  void operator()(CURLM* multi) const { curl_multi_cleanup(multi); }
};
using CurlMultiPtr = std::unique_ptr<CURLM, CurlMultiDeleter>;

// Calls curl_global_init once per process, before any thread is started.
void CurlGlobalInit();

class CurlMulti {
 public:
  using DoneCallback = std::function<void(CURLcode)>;

  explicit CurlMulti(EventLoop& loop);
  ~CurlMulti();  // removes (aborts) every transfer still running, without calling callbacks
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  // Starts `easy`. The caller keeps ownership of the handle and must keep it alive until either
  // `on_done` runs or Remove(easy) is called. `on_done` runs on the loop, after the handle was
  // removed from the multi handle, and may destroy the easy handle.
  void Add(CURL* easy, DoneCallback on_done);
  // The same for a CURLOPT_CONNECT_ONLY handle whose connection the caller goes on to use with
  // curl_easy_send/recv: on_done runs with the handle still added, because libcurl 7.88 closes a
  // connect-only connection when its handle leaves the multi handle. The caller then owns it until
  // it calls Remove(easy), which closes the connection (and must come before the handle is
  // destroyed). curl no longer watches the socket after on_done: the caller watches it
  // (CURLINFO_ACTIVESOCKET) and unwatches it before Remove.
  void AddConnectOnly(CURL* easy, DoneCallback on_done);
  // Aborts a running transfer; its callback is not called. No-op if not running. Closes the
  // connection of a finished AddConnectOnly handle.
  // A transfer whose socket cannot be watched (epoll_ctl refused it, out of memory) fails with
  // CURLE_COULDNT_CONNECT through `on_done`, from a loop timer.
  void Remove(CURL* easy);

  size_t running() const { return transfers_.size(); }
  // CURLMcode failures and exceptions caught at curl's callbacks since construction
  // (gatewatch_curl_multi_errors_total). Each failure is logged once per code. Safe to read from
  // any thread (a scrape).
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

 private:
  struct SocketContext;
  // The C callbacks: noexcept, they catch everything at the boundary and report it as a value.
  static int OnSocket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp) noexcept;
  static int OnTimer(CURLM* multi, long timeout_ms, void* userp) noexcept;
  // Counts and logs (once per code) a failed curl_multi_* call; returns true if `code` is OK.
  bool Check(CURLMcode code, const char* call);
  void CountException(const char* where, const char* what) noexcept;
  // Fails `easy` with `code` from a loop timer (never inside curl), unless Remove()d first;
  // `in_multi`: remove it from multi_ first.
  void FailLater(CURL* easy, DoneCallback cb, CURLcode code, bool in_multi);
  void OnSocketEvent(curl_socket_t s, uint32_t events);
  void OnTimeout();
  void CollectDone();

  EventLoop& loop_;
  CurlMultiPtr multi_;
  TimerId timer_ = 0;
  std::atomic<uint64_t> errors_{0};
  uint64_t logged_codes_ = 0;  // bit i: CURLMcode i was logged already (bit 63: exceptions)
  std::unordered_map<CURL*, DoneCallback> transfers_;
  std::unordered_set<CURL*> connect_only_;  // AddConnectOnly handles, added until Remove()
  std::unordered_set<CURL*> kept_;          // connect-only handles done but still added
  struct Failed {
    TimerId timer = 0;
    bool in_multi = false;  // still added to multi_ (its socket could not be watched)
  };
  std::unordered_map<CURL*, Failed> failed_;  // failures waiting to be reported
};

}  // namespace gatewatch
