#include "checks/keepalive_probe.h"

#include <charconv>

#include "agent/base/strings.h"
#include "agent/base/units.h"

namespace gatewatch {

namespace {

// A response bigger than this is not kept to find its end: the measurement gives up. A health
// path answers in a few bytes; the cap also bounds the rescan of what arrived, on every chunk.
constexpr size_t kMaxResponseBytes = 64 * 1024;

bool ContainsTokenIgnoreCase(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = TrimBlanks(value.substr(0, comma));
    if (EqualsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// Where a chunked body starting at `pos` ends (after the last chunk and the trailers), or npos
// while incomplete; `invalid` for a bad chunk size.
size_t ChunkedEnd(std::string_view bytes, size_t pos, bool* invalid) {
  while (true) {
    size_t eol = bytes.find("\r\n", pos);
    if (eol == std::string_view::npos) return std::string_view::npos;
    std::string_view line = bytes.substr(pos, eol - pos);
    line = line.substr(0, line.find(';'));  // chunk extensions
    line = TrimBlanks(line);
    unsigned long long size = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), size, 16);
    if (line.empty() || ec != std::errc() || ptr != line.data() + line.size() ||
        size > kMaxResponseBytes) {
      *invalid = true;
      return std::string_view::npos;
    }
    pos = eol + 2;
    if (size == 0) {
      // Trailers, then an empty line.
      while (true) {
        size_t end = bytes.find("\r\n", pos);
        if (end == std::string_view::npos) return std::string_view::npos;
        if (end == pos) return end + 2;
        pos = end + 2;
      }
    }
    if (bytes.size() < pos + size + 2) return std::string_view::npos;
    pos += size + 2;
  }
}

}  // namespace

HttpResponseEnd FindHttpResponseEnd(std::string_view bytes) {
  HttpResponseEnd r;
  size_t start = 0;
  while (true) {
    size_t head_end = bytes.find("\r\n\r\n", start);
    if (head_end == std::string_view::npos) {
      if (bytes.size() - start >= 5 && bytes.substr(start, 5) != "HTTP/") {
        r.state = HttpResponseEnd::State::kInvalid;
      }
      return r;
    }
    std::string_view head = bytes.substr(start, head_end - start);
    size_t body = head_end + 4;
    size_t eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    if (status_line.size() < 12 || status_line.substr(0, 5) != "HTTP/" || status_line[8] != ' ') {
      r.state = HttpResponseEnd::State::kInvalid;
      return r;
    }
    bool http10 = status_line.substr(5, 3) == "1.0";
    int status = 0;
    auto [sp, sec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
    if (sec != std::errc() || status < 100 || status > 999) {
      r.state = HttpResponseEnd::State::kInvalid;
      return r;
    }
    if (status >= 100 && status < 200) {  // interim: the real response follows
      start = body;
      continue;
    }
    r.status = status;
    bool chunked = false, close = false, keep_alive_header = false;
    std::optional<unsigned long long> length;
    std::string_view rest = eol == std::string_view::npos ? "" : head.substr(eol + 2);
    while (!rest.empty()) {
      size_t next = rest.find("\r\n");
      std::string_view line = rest.substr(0, next);
      rest = next == std::string_view::npos ? "" : rest.substr(next + 2);
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = TrimBlanks(line.substr(0, colon));
      std::string_view value = TrimBlanks(line.substr(colon + 1));
      if (EqualsIgnoreCase(name, "content-length")) {
        unsigned long long n = 0;
        auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || p != value.data() + value.size()) {
          r.state = HttpResponseEnd::State::kInvalid;
          return r;
        }
        length = n;
      } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
        chunked = ContainsTokenIgnoreCase(value, "chunked");
      } else if (EqualsIgnoreCase(name, "connection")) {
        close = close || ContainsTokenIgnoreCase(value, "close");
        keep_alive_header = keep_alive_header || ContainsTokenIgnoreCase(value, "keep-alive");
      }
    }
    r.keep_alive = !close && (!http10 || keep_alive_header);
    if (status == 204 || status == 304) {
      r.state = HttpResponseEnd::State::kComplete;
      r.length = body;
      return r;
    }
    if (chunked) {
      bool invalid = false;
      size_t end = ChunkedEnd(bytes, body, &invalid);
      if (invalid) r.state = HttpResponseEnd::State::kInvalid;
      if (end != std::string_view::npos) {
        r.state = HttpResponseEnd::State::kComplete;
        r.length = end;
      }
      return r;
    }
    if (!length) {  // delimited by the close: the connection cannot be reused
      r.keep_alive = false;
      r.state = HttpResponseEnd::State::kComplete;
      r.length = bytes.size();
      return r;
    }
    if (*length > kMaxResponseBytes) {
      r.state = HttpResponseEnd::State::kInvalid;
      return r;
    }
    if (bytes.size() - body >= *length) {
      r.state = HttpResponseEnd::State::kComplete;
      r.length = body + static_cast<size_t>(*length);
    }
    return r;
  }
}

IdleCloseProbe::IdleCloseProbe(CheckServices& services, StreamTarget target, std::string request,
                               Duration wait, Duration io_timeout, Done done)
    : services_(services),
      target_(std::move(target)),
      request_(std::move(request)),
      wait_(wait),
      io_timeout_(io_timeout),
      done_(std::move(done)) {}

IdleCloseProbe::~IdleCloseProbe() {
  if (timer_ != 0) services_.loop->CancelTimer(timer_);
}

void IdleCloseProbe::Begin() {
  TimePoint deadline = services_.clock.Now() + io_timeout_;
  session_ = std::make_unique<StreamSession>(services_, target_, deadline, this);
  // Bounds the connect and the first response together.
  timer_ = services_.loop->AddTimer(deadline, [this] {
    timer_ = 0;
    IdleCloseResult r;
    r.detail = session_->info().connected
                   ? "no complete response within " + FormatFixed(ToSeconds(io_timeout_), 1) + " s"
                   : "could not connect to " + session_->Where() + " within " +
                         FormatFixed(ToSeconds(io_timeout_), 1) + " s";
    Finish(std::move(r));
  });
  session_->Begin();
}

void IdleCloseProbe::OnConnected() {
  session_->Send(request_);
  session_->Read();
}

double IdleCloseProbe::IdleSeconds() const {
  return ToSeconds(services_.clock.Now() - idle_since_);
}

void IdleCloseProbe::OnData(std::string_view chunk, bool eof) {
  if (phase_ == Phase::kIdle) {
    IdleCloseResult r;
    if (eof) {
      r.outcome = IdleCloseResult::Outcome::kClosed;
      r.idle_seconds = IdleSeconds();
      r.detail = "closed the idle connection after " + FormatFixed(r.idle_seconds, 1) + " s";
    } else {
      r.detail = "sent bytes on an idle connection";
    }
    return Finish(std::move(r));
  }
  if (received_.size() + chunk.size() > kMaxResponseBytes) {
    IdleCloseResult r;
    r.detail = "response larger than 64 KiB";
    return Finish(std::move(r));
  }
  received_.append(chunk);
  HttpResponseEnd end = FindHttpResponseEnd(received_);
  if (end.state == HttpResponseEnd::State::kInvalid) {
    IdleCloseResult r;
    r.detail = "not an HTTP response: " + QuoteForDetail(received_, 40);
    return Finish(std::move(r));
  }
  bool complete = end.state == HttpResponseEnd::State::kComplete &&
                  (end.keep_alive || eof);  // a close-delimited body ends at EOF
  if (!complete) {
    if (eof) {
      IdleCloseResult r;
      if (phase_ == Phase::kReuse && received_.empty()) {
        // Closed as the reused connection was written to: closed while idle, nginx's 502.
        r.outcome = IdleCloseResult::Outcome::kClosed;
        r.idle_seconds = ToSeconds(wait_);
        r.detail = "closed the idle connection when it was reused after " +
                   FormatFixed(r.idle_seconds, 1) + " s";
      } else {
        r.detail = "closed before a complete response";
      }
      return Finish(std::move(r));
    }
    return;
  }
  if (phase_ == Phase::kReuse) {
    IdleCloseResult r;
    r.outcome = IdleCloseResult::Outcome::kKeptOpen;
    r.idle_seconds = ToSeconds(wait_);
    r.detail =
        "kept the idle connection " + FormatFixed(r.idle_seconds, 1) + " s and answered on it";
    return Finish(std::move(r));
  }
  if (!end.keep_alive) {
    IdleCloseResult r;
    r.outcome = IdleCloseResult::Outcome::kNoKeepalive;
    r.detail = "answers with Connection: close (nginx does not keep its connections)";
    return Finish(std::move(r));
  }
  if (eof) {  // closed right after a response that said keep-alive
    IdleCloseResult r;
    r.outcome = IdleCloseResult::Outcome::kClosed;
    r.detail = "closed the connection right after the response (0.0 s idle)";
    return Finish(std::move(r));
  }
  if (end.length != received_.size()) {
    IdleCloseResult r;
    r.detail = "sent more than one response";
    return Finish(std::move(r));
  }
  // The first response is whole: the connection is idle from now on, still read to see a close.
  phase_ = Phase::kIdle;
  received_.clear();
  idle_since_ = services_.clock.Now();
  if (timer_ != 0) services_.loop->CancelTimer(timer_);
  timer_ = services_.loop->AddTimer(idle_since_ + wait_, [this] {
    timer_ = 0;
    OnIdleOver();
  });
}

void IdleCloseProbe::OnIdleOver() {
  phase_ = Phase::kReuse;
  session_->Send(request_);
  timer_ = services_.loop->AddTimerAfter(io_timeout_, [this] {
    timer_ = 0;
    IdleCloseResult r;
    r.detail = "no response on the reused connection within " +
               FormatFixed(ToSeconds(io_timeout_), 1) + " s";
    Finish(std::move(r));
  });
}

void IdleCloseProbe::OnFailed(Reason reason, std::string detail) {
  IdleCloseResult r;
  if (phase_ == Phase::kIdle || (phase_ == Phase::kReuse && received_.empty())) {
    // A reset while idle (or on reuse) is a close as nginx meets it.
    r.outcome = IdleCloseResult::Outcome::kClosed;
    r.idle_seconds = phase_ == Phase::kIdle ? IdleSeconds() : ToSeconds(wait_);
    r.detail = "closed the idle connection (" + std::string(ReasonName(reason)) + ") after " +
               FormatFixed(r.idle_seconds, 1) + " s";
  } else {
    r.detail = std::string(ReasonName(reason)) + ": " + detail;
  }
  Finish(std::move(r));
}

void IdleCloseProbe::Finish(IdleCloseResult result) {
  if (finished_) return;
  finished_ = true;
  if (timer_ != 0) services_.loop->CancelTimer(timer_);
  timer_ = 0;
  session_.reset();  // allowed from inside its callbacks
  if (done_) {
    Done done = std::move(done_);
    done_ = nullptr;
    done(result);
  }
}

}  // namespace gatewatch
