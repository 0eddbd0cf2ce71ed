#include "tests/testlib/fake_http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace gatewatch::testing {
namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  UniqueFd fd;
  std::string request;
  bool answered = false;           // request complete and the first response bytes sent
  std::string pending;             // bytes still to send
  Clock::time_point next_trickle;  // kTrickle: next byte; kSlow: when to answer
};

}  // namespace

FakeHttpServer::FakeHttpServer(Behaviour behaviour, int status, const char* address, int port)
    : FakeHttpServer(behaviour, status, address, port, std::string()) {}

FakeHttpServer::FakeHttpServer(std::string raw_response)
    : FakeHttpServer(Behaviour::kRaw, 200, "127.0.0.1", 0, std::move(raw_response)) {}

FakeHttpServer::FakeHttpServer(Behaviour behaviour, int status, const char* address, int port,
                               std::string raw)
    : behaviour_(behaviour), status_(status), raw_(std::move(raw)) {
  listener_ = BindInet(SOCK_STREAM, address, port, &port_);
  if (!listener_.valid() || listen(listener_.get(), 128) != 0) {
    throw std::runtime_error("FakeHttpServer: cannot listen");
  }
  wake_.reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  thread_ = std::thread([this] { Serve(); });
}

FakeHttpServer::~FakeHttpServer() { Stop(); }

std::vector<std::string> FakeHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(requests_mu_);
  return requests_;
}

namespace {

// True once the request head and its Content-Length body have arrived.
bool RequestComplete(const std::string& request) {
  size_t head_end = request.find("\r\n\r\n");
  if (head_end == std::string::npos) return false;
  size_t length = 0;
  for (const char* name : {"Content-Length:", "content-length:"}) {
    size_t at = request.find(name);
    if (at != std::string::npos && at < head_end) length = std::stoul(request.substr(at + 15));
  }
  return request.size() >= head_end + 4 + length;
}

}  // namespace

void FakeHttpServer::Stop() {
  if (stop_.exchange(true)) return;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_.get(), &one, sizeof one);
  thread_.join();
  listener_.reset();
  reserved_ = std::make_unique<RefusingPort>(port_);
}

void FakeHttpServer::Serve() {
  std::vector<Conn> conns;
  std::string endless_chunk(16384, 'x');
  while (!stop_) {
    std::vector<pollfd> fds = {{wake_.get(), POLLIN, 0}, {listener_.get(), POLLIN, 0}};
    for (auto& c : conns) {
      short events = POLLIN;
      if (!c.pending.empty() || (c.answered && behaviour_ == Behaviour::kEndless))
        events |= POLLOUT;
      fds.push_back({c.fd.get(), events, 0});
    }
    poll(fds.data(), fds.size(), 20);
    if (stop_) break;
    if (fds[1].revents & POLLIN) {
      int fd;
      while ((fd = accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        accepted_++;
        Conn c;
        c.fd.reset(fd);
        conns.push_back(std::move(c));
      }
    }
    auto now = Clock::now();
    for (size_t i = 0; i < conns.size(); ++i) {
      Conn& c = conns[i];
      short revents = i + 2 < fds.size() && fds[i + 2].fd == c.fd.get() ? fds[i + 2].revents : 0;
      bool close_it = false;
      if (revents & POLLIN) {
        char buf[4096];
        ssize_t n = read(c.fd.get(), buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
          close_it = true;
        } else if (n > 0 && !c.answered) {
          c.request.append(buf, n);
        }
      }
      bool complete = behaviour_ == Behaviour::kRecord
                          ? RequestComplete(c.request)
                          : c.request.find("\r\n\r\n") != std::string::npos;
      if (!close_it && !c.answered && complete) {
        c.answered = true;
        switch (behaviour_) {
          case Behaviour::kOk:
            c.pending = "HTTP/1.1 " + std::to_string(status_) +
                        " Status\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: "
                        "close\r\n\r\n";
            if (c.request.rfind("HEAD ", 0) != 0) c.pending += "ok\n";
            break;
          case Behaviour::kRecord: {
            std::lock_guard<std::mutex> lock(requests_mu_);
            requests_.push_back(c.request);
            c.pending = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            break;
          }
          case Behaviour::kHang:
            break;
          case Behaviour::kSlow:
            c.next_trickle = now + std::chrono::seconds(3);
            break;
          case Behaviour::kTrickle:
            c.pending = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n";
            c.next_trickle = now;
            break;
          case Behaviour::kEndless:
            c.pending = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
            break;
          case Behaviour::kGarbage:
            c.pending = "garbage\r\n\r\nnot http at all\r\n";
            break;
          case Behaviour::kRaw:
            c.pending = raw_;
            break;
          case Behaviour::kCloseImmediately:
            close_it = true;
            break;
          case Behaviour::kReset: {
            linger l{1, 0};
            setsockopt(c.fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
            close_it = true;
            break;
          }
        }
      }
      if (!close_it && c.answered && behaviour_ == Behaviour::kTrickle && c.pending.empty() &&
          now >= c.next_trickle) {
        c.pending = "x";
        c.next_trickle = now + std::chrono::milliseconds(100);
      }
      if (!close_it && c.answered && behaviour_ == Behaviour::kSlow &&
          c.next_trickle != Clock::time_point() && now >= c.next_trickle) {
        c.next_trickle = Clock::time_point();
        c.pending = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
      }
      if (!close_it && c.answered && behaviour_ == Behaviour::kEndless && c.pending.empty()) {
        c.pending = endless_chunk;
      }
      if (!close_it && !c.pending.empty()) {
        ssize_t n = send(c.fd.get(), c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
        if (n > 0) {
          c.pending.erase(0, n);
        } else if (n < 0 && errno != EAGAIN) {
          close_it = true;
        }
        bool done_after_send = behaviour_ == Behaviour::kOk || behaviour_ == Behaviour::kGarbage ||
                               behaviour_ == Behaviour::kRecord || behaviour_ == Behaviour::kRaw ||
                               behaviour_ == Behaviour::kSlow;
        if (c.pending.empty() && done_after_send) close_it = true;
      }
      if (close_it) {
        conns.erase(conns.begin() + static_cast<long>(i));
        --i;
        // fds no longer line up with conns after an erase: handle the rest next round.
        break;
      }
    }
  }
  conns.clear();
}

}  // namespace gatewatch::testing
