// Receiving log lines without a shared file: a bound datagram socket (UDP on a local address, or
// a unix datagram socket) that the event loop watches, and a bounded queue of what arrived, which
// the owner (a proxy_log check's state) drains at its runs. nginx's `access_log syslog:server=…`
// and `error_log syslog:server=…` send one RFC 3164 message per datagram, over UDP or a unix
// datagram socket.
//
// Bounded and loss-counted: the queue holds at most max_queue_bytes; a datagram that does not fit
// is read and dropped (counted), as is one longer than max_datagram (too_long); datagrams the
// kernel dropped because its receive buffer was full (SO_RXQ_OVFL) are counted as dropped too.
// Each wake-up reads at most kMaxPerWake datagrams, so a flood never holds the loop for long.
//
// DatagramReceivers keeps one receiver per listen address for the agent: a check rebuilt by a
// reload takes over the socket of the check it replaces (nothing is lost or re-bound meanwhile);
// a receiver nobody took over within the grace period is closed (its port or path freed).
//
// Thread-safety: none; everything on the loop thread (the owner's runs, the loop's callbacks).
// The EventLoop must outlive every receiver (the agent, probe and test fixtures declare it
// first).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/clock.h"
#include "agent/base/expected.h"
#include "agent/base/fd.h"

namespace gatewatch {

class EventLoop;

// A listen address: "udp://127.0.0.1:5514", "udp://[::1]:5514" (port 1..65535) or
// "unix:///run/gatewatch/nginx.sock" (an absolute path up to 107 bytes).
struct DatagramAddress {
  bool unix_socket = false;
  std::string host;  // udp: the IP address (without brackets)
  int port = 0;      // udp
  std::string path;  // unix
};
// Parses `listen`; an Error naming what is wrong (for the config's message) otherwise.
Expected<DatagramAddress> ParseDatagramAddress(std::string_view listen);

class DatagramReceiver {
 public:
  static constexpr int kMaxPerWake = 4096;

  struct Options {
    std::string listen;  // as ParseDatagramAddress takes it
    size_t max_queue_bytes = 16 * 1024 * 1024;
    size_t max_datagram = 16 * 1024;  // longer datagrams are counted as too_long and dropped
  };
  // Cumulative since Open.
  struct Counters {
    uint64_t received = 0;  // queued for the owner
    uint64_t too_long = 0;  // over max_datagram
    uint64_t dropped = 0;   // queue full, or dropped by the kernel (receive buffer full)
  };

  // Binds and starts watching. A unix socket path that holds a stale socket is replaced (never a
  // file of another kind); the socket is made writable for nginx's workers (mode 0666: put it in
  // a directory only they can reach) and removed again on close.
  static Expected<std::unique_ptr<DatagramReceiver>> Open(EventLoop& loop, const Options& options);
  ~DatagramReceiver();
  DatagramReceiver(const DatagramReceiver&) = delete;
  DatagramReceiver& operator=(const DatagramReceiver&) = delete;

  // Reads what the socket holds (at most kMaxPerWake datagrams) into the queue. The loop calls it
  // when the socket is readable; owners call it before Drain so nothing waits for the loop.
  void ReadPending();
  // Hands every queued datagram to `on_message` (oldest first; the view lives during the call)
  // and empties the queue. Returns how many.
  size_t Drain(const std::function<void(std::string_view)>& on_message);

  const Counters& counters() const { return counters_; }
  // What the counters gained since the previous call (by any owner: a check rebuilt by a reload
  // reports what arrived while it took over).
  Counters TakeNewCounts();
  size_t queued_bytes() const { return queue_.size(); }
  const std::string& listen() const { return options_.listen; }

 private:
  DatagramReceiver(EventLoop& loop, Options options, UniqueFd fd, std::string unlink_path);

  EventLoop& loop_;
  Options options_;
  UniqueFd fd_;
  std::string unlink_path_;  // a unix socket's path, removed on close
  std::string queue_;        // datagrams back to back, lengths in lengths_
  std::vector<uint32_t> lengths_;
  std::string buffer_;         // one datagram
  uint32_t kernel_drops_ = 0;  // SO_RXQ_OVFL's last value (it counts since the socket's creation)
  Counters counters_;
  Counters reported_;
};

// The agent's receivers by listen address (one per address). Loop thread only.
class DatagramReceivers {
 public:
  DatagramReceivers() = default;
  ~DatagramReceivers();
  DatagramReceivers(const DatagramReceivers&) = delete;
  DatagramReceivers& operator=(const DatagramReceivers&) = delete;

  using Options = DatagramReceiver::Options;

  // The receiver of `options.listen`: the one already open (options other than `listen` are
  // those it was opened with), or a new one.
  Expected<std::shared_ptr<DatagramReceiver>> Acquire(EventLoop& loop, const Options& options);
  // The caller drops its receiver: if nobody else holds it, it stays open (and keeps receiving)
  // for `grace`, then closes unless Acquire took it over.
  void Release(std::shared_ptr<DatagramReceiver> receiver, Duration grace);

 private:
  struct Entry {
    std::shared_ptr<DatagramReceiver> receiver;
    EventLoop* loop = nullptr;
    uint64_t timer = 0;  // the grace timer while released, 0 otherwise
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace gatewatch
