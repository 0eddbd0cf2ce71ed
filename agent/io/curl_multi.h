// libcurl's multi interface driven by the EventLoop (the hiperfifo pattern): curl tells us which
// sockets to watch and when to wake it, the loop calls curl_multi_socket_action, and finished
// transfers are handed back through their completion callbacks.
//
// Thread-safety: loop thread only.
#pragma once

#include <curl/curl.h>

#include <functional>
#include <memory>
#include <unordered_map>

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
  // Aborts a running transfer; its callback is not called. No-op if not running.
  void Remove(CURL* easy);

  size_t running() const { return transfers_.size(); }

 private:
  struct SocketContext;
  static int OnSocket(CURL* easy, curl_socket_t s, int what, void* userp, void* socketp);
  static int OnTimer(CURLM* multi, long timeout_ms, void* userp);
  void OnSocketEvent(curl_socket_t s, uint32_t events);
  void OnTimeout();
  void CollectDone();

  EventLoop& loop_;
  CURLM* multi_;
  TimerId timer_ = 0;
  std::unordered_map<CURL*, DoneCallback> transfers_;
  std::unordered_map<CURL*, TimerId> failed_;  // Add() failures waiting to be reported
};

}  // namespace gatewatch
