// c-ares on the EventLoop: ARES_OPT_SOCK_STATE_CB tells us which sockets to watch, ares_timeout()
// arms one loop timer, ares_process_fd() runs when either fires (c-ares 1.18 has no event thread).
//
// One DnsResolver owns one channel. The agent's default resolver reads /etc/resolv.conf and
// /etc/hosts; checks that ask a specific server (DNS propagation, split horizon) get their own
// resolver for that server from ForServer().
//
// Thread-safety: loop thread only (a c-ares 1.18 channel is not thread-safe).
#pragma once

#include <ares.h>
#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "agent/base/expected.h"
#include "agent/io/event_loop.h"

namespace gatewatch {

// Calls ares_library_init once per process.
void AresGlobalInit();

struct AresChannelDeleter {
  void operator()(ares_channel channel) const { ares_destroy(channel); }
};
using AresChannelPtr = std::unique_ptr<std::remove_pointer_t<ares_channel>, AresChannelDeleter>;

struct ResolvedAddress {
  int family;           // AF_INET or AF_INET6
  std::string address;  // numeric form, e.g. "127.0.0.1" or "::1"
  int ttl_seconds;
};

struct ResolveResult {
  int status = ARES_SUCCESS;  // ARES_SUCCESS, ARES_ENOTFOUND, ARES_ENODATA, ARES_ESERVFAIL, ...
  std::vector<ResolvedAddress> addresses;
  Duration elapsed{};
};

// Cancellation of one query: destroying the handle guarantees its callback is not called.
// A handle must not outlive the resolver that made it.
class DnsQuery {
 public:
  virtual ~DnsQuery() = default;
};

class DnsResolver {
 public:
  struct Options {
    std::string servers;  // "" = system resolv.conf; else "ip[:port],..." (ares csv form)
    Duration timeout = std::chrono::seconds(2);  // per try
    int tries = 2;
    bool no_recurse = false;
    bool report_errors = true;  // ARES_FLAG_NOCHECKRESP: SERVFAIL/REFUSED are results, not retried
  };

  DnsResolver(EventLoop& loop, Options options);
  ~DnsResolver();  // cancels every pending query without calling callbacks
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // True if the channel was created; otherwise every query fails with init_status().
  bool ok() const { return channel_ != nullptr; }
  int init_status() const { return init_status_; }
  // Channel init failures and sockets the loop could not watch, of this resolver and every one
  // ForServer() made (gatewatch_dns_resolver_errors_total). Each kind is logged once per resolver.
  // Safe to read from any thread (a scrape).
  uint64_t errors() const { return errors_->load(std::memory_order_relaxed); }

  // Callbacks may destroy their DnsQuery handle but not this resolver.
  using ResolveCallback = std::function<void(const ResolveResult&)>;
  // Resolves `host` (also via /etc/hosts when using the system config) to addresses of `family`
  // (AF_UNSPEC, AF_INET or AF_INET6). The callback runs on the loop, never before this returns.
  [[nodiscard]] std::unique_ptr<DnsQuery> Resolve(const std::string& host, int family,
                                                  ResolveCallback cb);

  using RawCallback = std::function<void(int status, const unsigned char* reply, int len)>;
  // Sends one question (class IN) and hands the raw reply to the callback, for the DNS check.
  [[nodiscard]] std::unique_ptr<DnsQuery> Query(const std::string& name, int type, RawCallback cb);

  // Returns true if `host` is a numeric IPv4/IPv6 literal (then no query is needed).
  static bool IsIpLiteral(const std::string& host);
  // Normalizes a configured DNS server "ip", "ip:port", "[v6]" or "[v6]:port" to the c-ares csv
  // form with an explicit port ("10.0.0.2:53", "[::1]:5301"). nullopt if it is not one. The one
  // server parser of the tree: ParseHostPort (agent/base/strings.h), then an IP literal check.
  static std::optional<std::string> ParseServer(const std::string& text);

  // A resolver that asks `options.servers` (e.g. "127.0.0.1:5301") with those options, created on
  // first use and cached here, so every check asking the same server with the same options shares
  // one channel and no channel is set up per query (a hit is one map lookup).
  //
  // Ownership and lifetime: this resolver owns the returned one; it stays valid until this
  // resolver is destroyed, except that cached resolvers that have had no live DnsQuery handle and
  // no ForServer() call for kIdleEvict (servers a reload removed) are dropped by a sweep that
  // ForServer() schedules at most once a minute on a loop timer (never inline: ForServer() may be
  // called from a cached resolver's own callback). So a caller may keep the reference while it
  // holds one of its handles, or until it returns to the loop; a check asks again on every run.
  // Loop thread only, like everything here.
  static constexpr Duration kIdleEvict = std::chrono::minutes(10);
  DnsResolver& ForServer(const Options& options);
  size_t cached_servers() const { return per_server_.size(); }

 private:
  struct Pending;
  class QueryHandle;
  // A resolver made by ForServer() counts into its parent's `errors`.
  DnsResolver(EventLoop& loop, Options options, std::atomic<uint64_t>* errors);
  // c-ares' sock_state_cb: noexcept, a socket the loop cannot watch fails the channel's queries
  // with ARES_ECANCELLED from a loop timer (never re-entrantly into c-ares).
  static void OnSockState(void* data, ares_socket_t fd, int readable, int writable) noexcept;
  void CancelAllLater() noexcept;
  void ArmTimer();
  void Process(ares_socket_t read_fd, ares_socket_t write_fd);
  void Deliver(uint64_t id, std::function<void(Pending&, Duration)> invoke);
  std::unique_ptr<DnsQuery> Begin(std::shared_ptr<Pending> pending, uint64_t* id);
  // The channel could not be created: fail the query from a timer, never re-entrantly.
  void FailLater(uint64_t id, std::function<void(Pending&)> fail);

  EventLoop& loop_;
  std::atomic<uint64_t> own_errors_{0};
  std::atomic<uint64_t>* errors_;  // own_errors_ or the parent's
  bool logged_watch_error_ = false;
  AresChannelPtr channel_;
  int init_status_ = ARES_SUCCESS;
  TimerId timer_ = 0;
  TimerId cancel_timer_ = 0;  // CancelAllLater()'s
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<Pending>> pending_;
  // Set while the destructor runs, so callbacks from ares_destroy are ignored.
  bool destroying_ = false;
  bool in_submit_ = false;   // inside ares_getaddrinfo/ares_query: answers must be deferred
  size_t live_handles_ = 0;  // DnsQuery handles not yet destroyed (they point at this resolver)

  struct Cached {
    std::unique_ptr<DnsResolver> resolver;
    TimePoint last_used;
  };
  std::unordered_map<std::string, Cached> per_server_;  // key: the options, as text
  void SweepIdle();  // drops idle cached resolvers; runs from sweep_timer_ only
  TimePoint last_sweep_{};
  TimerId sweep_timer_ = 0;
};

}  // namespace gatewatch
