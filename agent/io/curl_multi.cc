#include "agent/io/curl_multi.h"

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "agent/base/logging.h"

namespace gatewatch {

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlMulti::CurlMulti(EventLoop& loop) : loop_(loop), multi_(curl_multi_init()) {
  CurlGlobalInit();
  if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
  Check(curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETFUNCTION, &CurlMulti::OnSocket),
        "curl_multi_setopt");
  Check(curl_multi_setopt(multi_.get(), CURLMOPT_SOCKETDATA, this), "curl_multi_setopt");
  Check(curl_multi_setopt(multi_.get(), CURLMOPT_TIMERFUNCTION, &CurlMulti::OnTimer),
        "curl_multi_setopt");
  Check(curl_multi_setopt(multi_.get(), CURLMOPT_TIMERDATA, this), "curl_multi_setopt");
  // Checks open a fresh connection every run; a large cache would only hold dead sockets.
  Check(curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, 16L), "curl_multi_setopt");
}

CurlMulti::~CurlMulti() {
  for (auto& [easy, cb] : transfers_) {
    Check(curl_multi_remove_handle(multi_.get(), easy), "curl_multi_remove_handle");
  }
  transfers_.clear();
  for (CURL* easy : kept_) {
    Check(curl_multi_remove_handle(multi_.get(), easy), "curl_multi_remove_handle");
  }
  kept_.clear();
  for (auto& [easy, f] : failed_) {
    loop_.CancelTimer(f.timer);
    if (f.in_multi) Check(curl_multi_remove_handle(multi_.get(), easy), "curl_multi_remove_handle");
  }
  failed_.clear();
  if (timer_ != 0) loop_.CancelTimer(timer_);
  multi_.reset();  // before the maps go: curl_multi_cleanup may still call OnSocket
}

bool CurlMulti::Check(CURLMcode code, const char* call) {
  if (code == CURLM_OK) return true;
  errors_.fetch_add(1, std::memory_order_relaxed);
  unsigned bit = static_cast<unsigned>(code) < 63 ? static_cast<unsigned>(code) : 62;
  if ((logged_codes_ & (uint64_t{1} << bit)) == 0) {
    logged_codes_ |= uint64_t{1} << bit;
    Log(LogLevel::kError, "curl multi call failed (logged once per code)",
        {{"call", call}, {"code", std::to_string(code)}, {"error", curl_multi_strerror(code)}});
  }
  return false;
}

void CurlMulti::CountException(const char* where, const char* what) noexcept {
  errors_.fetch_add(1, std::memory_order_relaxed);
  if ((logged_codes_ & (uint64_t{1} << 63)) != 0) return;
  logged_codes_ |= uint64_t{1} << 63;
  try {
    Log(LogLevel::kError, "curl callback failed (logged once)",
        {{"callback", where}, {"error", what}});
  } catch (...) {  // a log line that cannot be built is not worth terminating for
  }
}

void CurlMulti::FailLater(CURL* easy, DoneCallback cb, CURLcode code, bool in_multi) {
  // Report through the normal path, on the loop and never re-entrantly (removing a handle inside
  // curl's own callback is not allowed either); Remove() cancels it.
  TimerId timer = loop_.AddTimer(loop_.clock().Now(), [this, easy, code, cb = std::move(cb)] {
    auto it = failed_.find(easy);
    bool remove = it != failed_.end() && it->second.in_multi;
    if (it != failed_.end()) failed_.erase(it);
    connect_only_.erase(easy);
    if (remove) Check(curl_multi_remove_handle(multi_.get(), easy), "curl_multi_remove_handle");
    cb(code);
  });
  failed_[easy] = Failed{timer, in_multi};
}

void CurlMulti::Add(CURL* easy, DoneCallback on_done) {
  if (!Check(curl_multi_add_handle(multi_.get(), easy), "curl_multi_add_handle")) {
    FailLater(easy, std::move(on_done), CURLE_FAILED_INIT, /*in_multi=*/false);
    return;
  }
  // curl_multi_add_handle schedules a 0 ms timeout through OnTimer; the transfer starts then.
  transfers_[easy] = std::move(on_done);
}

void CurlMulti::AddConnectOnly(CURL* easy, DoneCallback on_done) {
  connect_only_.insert(easy);
  Add(easy, std::move(on_done));
}

void CurlMulti::Remove(CURL* easy) {
  connect_only_.erase(easy);
  if (transfers_.erase(easy) > 0 || kept_.erase(easy) > 0) {
    Check(curl_multi_remove_handle(multi_.get(), easy), "curl_multi_remove_handle");
  }
  if (auto it = failed_.find(easy); it != failed_.end()) {
    loop_.CancelTimer(it->second.timer);
    bool in_multi = it->second.in_multi;
    failed_.erase(it);
    if (in_multi) Check(curl_multi_remove_handle(multi_.get(), easy), "curl_multi_remove_handle");
  }
}

int CurlMulti::OnSocket(CURL* easy, curl_socket_t s, int what, void* userp, void*) noexcept {
  auto* self = static_cast<CurlMulti*>(userp);
  if (what == CURL_POLL_REMOVE) {
    self->loop_.Unwatch(s);
    return 0;
  }
  uint32_t events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EventLoop::kReadable;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EventLoop::kWritable;
  Expected<void> watched =
      self->loop_.TryWatch(s, events, [self, s](uint32_t ev) { self->OnSocketEvent(s, ev); });
  if (watched) return 0;
  self->CountException("socket", watched.error().message.c_str());
  // Not -1: in libcurl 7.88 that marks the whole multi handle dead and aborts every transfer.
  // Only this one fails, from a timer, after curl has returned; the loop is then not watching
  // its socket, so curl would otherwise wait for it until the transfer's timeout.
  try {
    auto it = self->transfers_.find(easy);
    if (it == self->transfers_.end()) return 0;
    DoneCallback cb = std::move(it->second);
    self->transfers_.erase(it);
    self->FailLater(easy, std::move(cb), CURLE_COULDNT_CONNECT, /*in_multi=*/true);
  } catch (const std::exception& e) {
    self->CountException("socket", e.what());
    return -1;  // cannot even schedule the failure: let curl abort rather than hang
  }
  return 0;
}

int CurlMulti::OnTimer(CURLM*, long timeout_ms, void* userp) noexcept {
  auto* self = static_cast<CurlMulti*>(userp);
  if (self->timer_ != 0) {
    self->loop_.CancelTimer(self->timer_);
    self->timer_ = 0;
  }
  if (timeout_ms < 0) return 0;
  try {
    self->timer_ = self->loop_.AddTimerAfter(std::chrono::milliseconds(timeout_ms), [self] {
      self->timer_ = 0;
      self->OnTimeout();
    });
  } catch (const std::exception& e) {
    self->CountException("timer", e.what());
    return -1;  // curl fails the call that wanted the timer
  }
  return 0;
}

void CurlMulti::OnSocketEvent(curl_socket_t s, uint32_t events) {
  int flags = 0;
  if (events & EventLoop::kReadable) flags |= CURL_CSELECT_IN;
  if (events & EventLoop::kWritable) flags |= CURL_CSELECT_OUT;
  if (events & EventLoop::kError) flags |= CURL_CSELECT_ERR;
  int running = 0;
  Check(curl_multi_socket_action(multi_.get(), s, flags, &running), "curl_multi_socket_action");
  CollectDone();
}

void CurlMulti::OnTimeout() {
  int running = 0;
  Check(curl_multi_socket_action(multi_.get(), CURL_SOCKET_TIMEOUT, 0, &running),
        "curl_multi_socket_action");
  CollectDone();
}

void CurlMulti::CollectDone() {
  // Gather first: a completion callback may add or remove other transfers.
  std::vector<std::pair<CURL*, CURLcode>> finished;
  int pending = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &pending)) {
    if (msg->msg == CURLMSG_DONE) finished.emplace_back(msg->easy_handle, msg->data.result);
  }
  for (auto [easy, code] : finished) {
    auto it = transfers_.find(easy);
    if (it == transfers_.end()) continue;  // removed by an earlier callback in this batch
    DoneCallback cb = std::move(it->second);
    transfers_.erase(it);
    if (connect_only_.erase(easy) > 0 && code == CURLE_OK) {
      kept_.insert(easy);  // Remove() takes it out and closes the connection
    } else {
      Check(curl_multi_remove_handle(multi_.get(), easy), "curl_multi_remove_handle");
    }
    cb(code);
  }
}

}  // namespace gatewatch
