#include "agent/io/datagram_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>

#include "agent/io/event_loop.h"

namespace gatewatch {

namespace {

// What the kernel may buffer between wake-ups (capped by net.core.rmem_max): bursts of a busy
// proxy arrive faster than one loop iteration.
constexpr int kReceiveBuffer = 4 * 1024 * 1024;

}  // namespace

Expected<DatagramAddress> ParseDatagramAddress(std::string_view listen) {
  DatagramAddress a;
  if (listen.substr(0, 7) == "unix://") {
    a.unix_socket = true;
    a.path = std::string(listen.substr(7));
    if (a.path.empty() || a.path.front() != '/') {
      return Error{"unix:// needs an absolute path (unix:///run/gatewatch/nginx.sock)", EINVAL};
    }
    if (a.path.size() >= sizeof(sockaddr_un{}.sun_path)) {
      return Error{"the socket path is longer than 107 bytes", EINVAL};
    }
    if (a.path.find('\0') != std::string::npos) return Error{"the path holds a NUL byte", EINVAL};
    return a;
  }
  if (listen.substr(0, 6) != "udp://") {
    return Error{"must be udp://ADDRESS:PORT or unix:///PATH", EINVAL};
  }
  std::string_view hostport = listen.substr(6);
  size_t colon = hostport.rfind(':');
  if (colon == std::string_view::npos) return Error{"udp:// needs ADDRESS:PORT", EINVAL};
  std::string_view host = hostport.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  a.host = std::string(host);
  in6_addr v6;
  in_addr v4;
  if (inet_pton(AF_INET, a.host.c_str(), &v4) != 1 &&
      inet_pton(AF_INET6, a.host.c_str(), &v6) != 1) {
    return Error{"'" + a.host + "' is not an IP address", EINVAL};
  }
  std::string_view port = hostport.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos) {
    return Error{"the port must be a number 1..65535", EINVAL};
  }
  a.port = std::stoi(std::string(port));
  if (a.port < 1 || a.port > 65535) return Error{"the port must be a number 1..65535", EINVAL};
  return a;
}

Expected<std::unique_ptr<DatagramReceiver>> DatagramReceiver::Open(EventLoop& loop,
                                                                   const Options& options) {
  auto address = ParseDatagramAddress(options.listen);
  if (!address) return address.error();
  const DatagramAddress& a = *address;
  std::string what = "bind " + options.listen;
  UniqueFd fd;
  std::string unlink_path;
  if (a.unix_socket) {
    fd.reset(socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return ErrnoError("socket " + options.listen);
    struct stat st {};
    if (lstat(a.path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode))
        return Error{what + ": the path exists and is not a socket", EEXIST};
      ::unlink(a.path.c_str());  // a stale socket of an earlier run
    }
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, a.path.c_str(), a.path.size() + 1);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) return ErrnoError(what);
    unlink_path = a.path;
    // nginx's workers run as another user (nobody, www-data) and must be able to send.
    ::chmod(a.path.c_str(), 0666);
  } else {
    sockaddr_storage ss{};
    socklen_t len;
    if (a.host.find(':') != std::string::npos) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = htons(static_cast<uint16_t>(a.port));
      inet_pton(AF_INET6, a.host.c_str(), &sin6->sin6_addr);
      len = sizeof *sin6;
    } else {
      auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
      sin->sin_family = AF_INET;
      sin->sin_port = htons(static_cast<uint16_t>(a.port));
      inet_pton(AF_INET, a.host.c_str(), &sin->sin_addr);
      len = sizeof *sin;
    }
    fd.reset(socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return ErrnoError("socket " + options.listen);
    if (bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) return ErrnoError(what);
  }
  int size = kReceiveBuffer;
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);  // best effort
  int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);  // best effort
  std::unique_ptr<DatagramReceiver> r(
      new DatagramReceiver(loop, options, std::move(fd), std::move(unlink_path)));
  DatagramReceiver* raw = r.get();
  if (auto watched = loop.TryWatch(raw->fd_.get(), EventLoop::kReadable,
                                   [raw](uint32_t) { raw->ReadPending(); });
      !watched) {
    return watched.error();
  }
  return r;
}

DatagramReceiver::DatagramReceiver(EventLoop& loop, Options options, UniqueFd fd,
                                   std::string unlink_path)
    : loop_(loop),
      options_(std::move(options)),
      fd_(std::move(fd)),
      unlink_path_(std::move(unlink_path)) {
  // One byte more than the longest accepted datagram; MSG_TRUNC reports the real length.
  buffer_.resize(options_.max_datagram + 1);
}

DatagramReceiver::~DatagramReceiver() {
  loop_.Unwatch(fd_.get());
  fd_.reset();
  if (!unlink_path_.empty()) ::unlink(unlink_path_.c_str());
}

void DatagramReceiver::ReadPending() {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint32_t))];
  for (int i = 0; i < kMaxPerWake; ++i) {
    iovec iov{buffer_.data(), buffer_.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: nothing more; any other error is the next datagram's, retried later
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        uint32_t drops;
        std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
        counters_.dropped += static_cast<uint32_t>(drops - kernel_drops_);
        kernel_drops_ = drops;
      }
    }
    size_t len = static_cast<size_t>(n);
    if (len > options_.max_datagram) {
      ++counters_.too_long;
    } else if (queue_.size() + len > options_.max_queue_bytes) {
      ++counters_.dropped;
    } else {
      queue_.append(buffer_.data(), len);
      lengths_.push_back(static_cast<uint32_t>(len));
      ++counters_.received;
    }
  }
}

size_t DatagramReceiver::Drain(const std::function<void(std::string_view)>& on_message) {
  size_t at = 0;
  for (uint32_t len : lengths_) {
    on_message(std::string_view(queue_).substr(at, len));
    at += len;
  }
  size_t n = lengths_.size();
  queue_.clear();
  lengths_.clear();
  // A burst's memory is not kept for good.
  if (queue_.capacity() > 1024 * 1024) std::string().swap(queue_);
  if (lengths_.capacity() > 64 * 1024) std::vector<uint32_t>().swap(lengths_);
  return n;
}

DatagramReceiver::Counters DatagramReceiver::TakeNewCounts() {
  Counters d{counters_.received - reported_.received, counters_.too_long - reported_.too_long,
             counters_.dropped - reported_.dropped};
  reported_ = counters_;
  return d;
}

DatagramReceivers::~DatagramReceivers() {
  for (auto& [listen, e] : entries_) {
    if (e.timer != 0) e.loop->CancelTimer(e.timer);
  }
}

Expected<std::shared_ptr<DatagramReceiver>> DatagramReceivers::Acquire(EventLoop& loop,
                                                                       const Options& options) {
  auto it = entries_.find(options.listen);
  if (it != entries_.end()) {
    if (it->second.timer != 0) loop.CancelTimer(it->second.timer);
    it->second.timer = 0;
    return it->second.receiver;
  }
  auto opened = DatagramReceiver::Open(loop, options);
  if (!opened) return opened.error();
  std::shared_ptr<DatagramReceiver> r = std::move(*opened);
  entries_[options.listen] = Entry{r, &loop, 0};
  return r;
}

void DatagramReceivers::Release(std::shared_ptr<DatagramReceiver> receiver, Duration grace) {
  if (receiver == nullptr) return;
  auto it = entries_.find(receiver->listen());
  receiver.reset();
  if (it == entries_.end() || it->second.receiver.use_count() > 1 || it->second.timer != 0) return;
  std::string listen = it->first;
  it->second.timer = it->second.loop->AddTimerAfter(grace, [this, listen] {
    auto at = entries_.find(listen);
    if (at == entries_.end()) return;
    at->second.timer = 0;
    if (at->second.receiver.use_count() == 1) entries_.erase(at);
  });
}

}  // namespace gatewatch
