#include "agent/io/curl_multi.h"

#include <mutex>
#include <stdexcept>
#include <vector>

namespace gatewatch {

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlMulti::CurlMulti(EventLoop& loop) : loop_(loop), multi_(curl_multi_init()) {
  CurlGlobalInit();
  if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, &CurlMulti::OnSocket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, &CurlMulti::OnTimer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
  // Checks open a fresh connection every run; a large cache would only hold dead sockets.
  curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, 16L);
}

CurlMulti::~CurlMulti() {
  for (auto& [easy, cb] : transfers_) curl_multi_remove_handle(multi_, easy);
  transfers_.clear();
  for (auto& [easy, timer] : failed_) loop_.CancelTimer(timer);
  if (timer_ != 0) loop_.CancelTimer(timer_);
  curl_multi_cleanup(multi_);
}

void CurlMulti::Add(CURL* easy, DoneCallback on_done) {
  if (curl_multi_add_handle(multi_, easy) != CURLM_OK) {
    // Report through the normal path, on the loop and never re-entrantly; Remove() cancels it.
    failed_[easy] = loop_.AddTimer(loop_.clock().Now(), [this, easy, cb = std::move(on_done)] {
      failed_.erase(easy);
      cb(CURLE_FAILED_INIT);
    });
    return;
  }
  // curl_multi_add_handle schedules a 0 ms timeout through OnTimer; the transfer starts then.
  transfers_[easy] = std::move(on_done);
}

void CurlMulti::Remove(CURL* easy) {
  if (transfers_.erase(easy) > 0) curl_multi_remove_handle(multi_, easy);
  if (auto it = failed_.find(easy); it != failed_.end()) {
    loop_.CancelTimer(it->second);
    failed_.erase(it);
  }
}

int CurlMulti::OnSocket(CURL*, curl_socket_t s, int what, void* userp, void*) {
  auto* self = static_cast<CurlMulti*>(userp);
  if (what == CURL_POLL_REMOVE) {
    self->loop_.Unwatch(s);
    return 0;
  }
  uint32_t events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EventLoop::kReadable;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EventLoop::kWritable;
  self->loop_.Watch(s, events, [self, s](uint32_t ev) { self->OnSocketEvent(s, ev); });
  return 0;
}

int CurlMulti::OnTimer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<CurlMulti*>(userp);
  if (self->timer_ != 0) {
    self->loop_.CancelTimer(self->timer_);
    self->timer_ = 0;
  }
  if (timeout_ms >= 0) {
    self->timer_ = self->loop_.AddTimerAfter(std::chrono::milliseconds(timeout_ms), [self] {
      self->timer_ = 0;
      self->OnTimeout();
    });
  }
  return 0;
}

void CurlMulti::OnSocketEvent(curl_socket_t s, uint32_t events) {
  int flags = 0;
  if (events & EventLoop::kReadable) flags |= CURL_CSELECT_IN;
  if (events & EventLoop::kWritable) flags |= CURL_CSELECT_OUT;
  if (events & EventLoop::kError) flags |= CURL_CSELECT_ERR;
  int running = 0;
  curl_multi_socket_action(multi_, s, flags, &running);
  CollectDone();
}

void CurlMulti::OnTimeout() {
  int running = 0;
  curl_multi_socket_action(multi_, CURL_SOCKET_TIMEOUT, 0, &running);
  CollectDone();
}

void CurlMulti::CollectDone() {
  // Gather first: a completion callback may add or remove other transfers.
  std::vector<std::pair<CURL*, CURLcode>> finished;
  int pending = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &pending)) {
    if (msg->msg == CURLMSG_DONE) finished.emplace_back(msg->easy_handle, msg->data.result);
  }
  for (auto [easy, code] : finished) {
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) continue;  // removed by an earlier callback in this batch
    DoneCallback cb = std::move(it->second);
    transfers_.erase(it);
    curl_multi_remove_handle(multi_, easy);
    cb(code);
  }
}

}  // namespace gatewatch
