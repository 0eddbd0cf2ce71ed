// How long an upstream server keeps an idle keep-alive connection open, measured the way nginx
// uses its upstream `keepalive` cache: one HTTP/1.1 request on a fresh connection, its response
// read whole, then the connection left idle. If the server closes it (FIN or reset) before
// `wait`, that is the idle close time; otherwise the connection is reused at `wait` with a second
// request, and an answer means the server keeps idle connections at least that long.
//
// An upstream that closes idle connections before nginx's keepalive_timeout makes nginx reuse a
// connection the server is closing: random "upstream prematurely closed connection" 502s.
//
// The measurement outlives check runs (nginx's keepalive_timeout defaults to 60 s): the nginx
// check keeps one per server in its CheckState and reports it on a later run.
//
// Thread-safety: loop thread only. Lifetime: the services outlive it. Destroying it closes the
// connection without calling `done`.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "agent/base/clock.h"
#include "checks/api/check.h"
#include "checks/stream_session.h"

namespace gatewatch {

// Where one HTTP response ends in `bytes` (the start of a connection's received bytes).
struct HttpResponseEnd {
  enum class State { kIncomplete, kComplete, kInvalid };
  State state = State::kIncomplete;
  size_t length = 0;        // kComplete: bytes of the response (head and body)
  bool keep_alive = false;  // kComplete: the server lets the connection be reused
  int status = 0;           // once the head is complete
};
// Pure. Understands Content-Length, chunked bodies (trailers included), bodiless statuses (1xx
// is skipped as nginx does not see it, 204, 304) and `Connection: close` / HTTP/1.0 without
// keep-alive. A response delimited by the close itself (no length) is complete only at EOF, so
// it is reported kComplete with keep_alive false once its head is complete.
HttpResponseEnd FindHttpResponseEnd(std::string_view bytes);

struct IdleCloseResult {
  enum class Outcome {
    kKeptOpen,     // still usable when reused at `wait`
    kClosed,       // the server closed the idle connection after `idle_seconds`
    kNoKeepalive,  // the server closes after every response (Connection: close): nothing to reuse
    kFailed,       // no measurement: connect failed, no or a bad response (`detail`)
  };
  Outcome outcome = Outcome::kFailed;
  double idle_seconds = 0;  // kClosed: idle time until the close; kKeptOpen: `wait`
  std::string detail;
};

class IdleCloseProbe final : public StreamSession::Handler {
 public:
  using Done = std::function<void(const IdleCloseResult&)>;

  // `request`: the HTTP/1.1 request bytes sent twice. `io_timeout` bounds the connect and each
  // response. `done` runs once on the loop; it must not destroy the probe.
  IdleCloseProbe(CheckServices& services, StreamTarget target, std::string request, Duration wait,
                 Duration io_timeout, Done done);
  ~IdleCloseProbe() override;
  IdleCloseProbe(const IdleCloseProbe&) = delete;
  IdleCloseProbe& operator=(const IdleCloseProbe&) = delete;

  // May call `done` before returning.
  void Begin();
  bool finished() const { return finished_; }

 private:
  enum class Phase { kFirst, kIdle, kReuse };
  void OnConnected() override;
  void OnData(std::string_view chunk, bool eof) override;
  void OnFailed(Reason reason, std::string detail) override;
  void OnIdleOver();
  void Finish(IdleCloseResult result);
  double IdleSeconds() const;

  CheckServices& services_;
  const StreamTarget target_;
  const std::string request_;
  const Duration wait_;
  const Duration io_timeout_;
  Done done_;
  std::unique_ptr<StreamSession> session_;
  Phase phase_ = Phase::kFirst;
  std::string received_;
  TimePoint idle_since_{};
  TimerId timer_ = 0;
  bool finished_ = false;
};

}  // namespace gatewatch
