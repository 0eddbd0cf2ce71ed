#include "agent/io/dns_resolver.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <mutex>

#include "agent/base/logging.h"
#include "agent/base/strings.h"

namespace gatewatch {

void AresGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

// One query's state. Owned by pending_; the c-ares callback argument only carries its id, so a
// cancelled query's late callback finds nothing and does nothing.
struct DnsResolver::Pending {
  ResolveCallback resolve_cb;
  RawCallback raw_cb;
  TimePoint started;
  TimerId deferred_timer = 0;  // set when c-ares answered synchronously (e.g. from /etc/hosts)
};

namespace {

struct CallbackArg {
  DnsResolver* self;
  uint64_t id;
};

Error AresError(const char* call, int status) {
  return Error{std::string(call) + ": " + ares_strerror(status), status};
}

// The channel for `options`, its socket state reported to `sock_state_cb(data, ...)`.
Expected<AresChannelPtr> CreateChannel(const DnsResolver::Options& options,
                                       ares_sock_state_cb sock_state_cb, void* data) {
  ares_options opts{};
  int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
  opts.sock_state_cb = sock_state_cb;
  opts.sock_state_cb_data = data;
  opts.timeout = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(options.timeout).count());
  opts.tries = options.tries;
  opts.flags = ARES_FLAG_STAYOPEN;
  if (options.report_errors) opts.flags |= ARES_FLAG_NOCHECKRESP;
  if (options.no_recurse) opts.flags |= ARES_FLAG_NORECURSE;
  ares_channel raw = nullptr;
  if (int status = ares_init_options(&raw, &opts, mask); status != ARES_SUCCESS) {
    return AresError("ares_init_options", status);
  }
  AresChannelPtr channel(raw);
  if (!options.servers.empty()) {
    if (int status = ares_set_servers_ports_csv(channel.get(), options.servers.c_str());
        status != ARES_SUCCESS) {
      return AresError("ares_set_servers_ports_csv", status);
    }
  }
  return channel;
}

}  // namespace

class DnsResolver::QueryHandle final : public DnsQuery {
 public:
  QueryHandle(DnsResolver* self, uint64_t id) : self_(self), id_(id) { ++self_->live_handles_; }
  ~QueryHandle() override {
    --self_->live_handles_;
    auto it = self_->pending_.find(id_);
    if (it == self_->pending_.end()) return;
    if (it->second->deferred_timer != 0) self_->loop_.CancelTimer(it->second->deferred_timer);
    self_->pending_.erase(it);
  }

 private:
  DnsResolver* self_;
  uint64_t id_;
};

DnsResolver::DnsResolver(EventLoop& loop, Options options)
    : DnsResolver(loop, std::move(options), nullptr) {}

DnsResolver::DnsResolver(EventLoop& loop, Options options, std::atomic<uint64_t>* errors)
    : loop_(loop), errors_(errors != nullptr ? errors : &own_errors_) {
  AresGlobalInit();
  Expected<AresChannelPtr> channel = CreateChannel(options, &DnsResolver::OnSockState, this);
  if (!channel) {
    init_status_ = channel.error().code;
    errors_->fetch_add(1, std::memory_order_relaxed);
    Log(LogLevel::kError, "dns resolver channel not created: its queries fail",
        {{"servers", options.servers.empty() ? "system" : options.servers},
         {"error", channel.error().message}});
    return;
  }
  channel_ = std::move(channel).value();
}

DnsResolver::~DnsResolver() {
  if (sweep_timer_ != 0) loop_.CancelTimer(sweep_timer_);
  per_server_.clear();  // their channels first: they share the loop, not this channel
  destroying_ = true;
  for (auto& [id, p] : pending_) {
    if (p->deferred_timer != 0) loop_.CancelTimer(p->deferred_timer);
  }
  pending_.clear();
  if (timer_ != 0) loop_.CancelTimer(timer_);
  if (cancel_timer_ != 0) loop_.CancelTimer(cancel_timer_);
  // ares_destroy calls every outstanding callback with ARES_EDESTRUCTION; they find nothing
  // pending.
  channel_.reset();
}

bool DnsResolver::IsIpLiteral(const std::string& host) {
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

std::optional<std::string> DnsResolver::ParseServer(const std::string& text) {
  std::optional<HostPort> hp = ParseHostPort(text, 53);
  // c-ares takes addresses only: a name here would need a resolver to find the resolver.
  if (!hp || !IsIpLiteral(hp->host)) return std::nullopt;
  return FormatHostPort(hp->host, hp->port);
}

std::unique_ptr<DnsQuery> DnsResolver::Begin(std::shared_ptr<Pending> pending, uint64_t* id) {
  *id = next_id_++;
  pending->started = loop_.clock().Now();
  pending_.emplace(*id, std::move(pending));
  return std::make_unique<QueryHandle>(this, *id);
}

void DnsResolver::FailLater(uint64_t id, std::function<void(Pending&)> fail) {
  in_submit_ = true;  // delivered from a timer, like any answer given before we return
  Deliver(id, [fail = std::move(fail)](Pending& p, Duration) { fail(p); });
  in_submit_ = false;
}

std::unique_ptr<DnsQuery> DnsResolver::Resolve(const std::string& host, int family,
                                               ResolveCallback cb) {
  auto pending = std::make_shared<Pending>();
  pending->resolve_cb = std::move(cb);
  uint64_t id;
  auto handle = Begin(std::move(pending), &id);
  if (channel_ == nullptr) {
    FailLater(id, [status = init_status_](Pending& p) {
      ResolveResult r;
      r.status = status;
      p.resolve_cb(r);
    });
    return handle;
  }

  ares_addrinfo_hints hints{};
  hints.ai_family = family;
  auto* arg = new CallbackArg{this, id};
  in_submit_ = true;
  ares_getaddrinfo(
      channel_.get(), host.c_str(), nullptr, &hints,
      [](void* a, int status, int /*timeouts*/, ares_addrinfo* info) {
        std::unique_ptr<CallbackArg> arg(static_cast<CallbackArg*>(a));
        DnsResolver* self = arg->self;
        ResolveResult r;
        r.status = status;
        if (info != nullptr) {
          for (ares_addrinfo_node* n = info->nodes; n != nullptr; n = n->ai_next) {
            char buf[INET6_ADDRSTRLEN] = {};
            const void* addr = n->ai_family == AF_INET
                                   ? static_cast<const void*>(
                                         &reinterpret_cast<sockaddr_in*>(n->ai_addr)->sin_addr)
                                   : static_cast<const void*>(
                                         &reinterpret_cast<sockaddr_in6*>(n->ai_addr)->sin6_addr);
            if (inet_ntop(n->ai_family, addr, buf, sizeof buf) != nullptr) {
              r.addresses.push_back({n->ai_family, buf, n->ai_ttl});
            }
          }
          ares_freeaddrinfo(info);
        }
        if (self->destroying_) return;
        self->Deliver(arg->id, [r = std::move(r)](Pending& p, Duration elapsed) mutable {
          r.elapsed = elapsed;
          p.resolve_cb(r);
        });
      },
      arg);
  in_submit_ = false;
  ArmTimer();
  return handle;
}

std::unique_ptr<DnsQuery> DnsResolver::Query(const std::string& name, int type, RawCallback cb) {
  auto pending = std::make_shared<Pending>();
  pending->raw_cb = std::move(cb);
  uint64_t id;
  auto handle = Begin(std::move(pending), &id);
  if (channel_ == nullptr) {
    FailLater(id, [status = init_status_](Pending& p) { p.raw_cb(status, nullptr, 0); });
    return handle;
  }
  auto* arg = new CallbackArg{this, id};
  in_submit_ = true;
  ares_query(
      channel_.get(), name.c_str(), ns_c_in, type,
      [](void* a, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
        std::unique_ptr<CallbackArg> arg(static_cast<CallbackArg*>(a));
        DnsResolver* self = arg->self;
        if (self->destroying_) return;
        std::vector<unsigned char> reply;
        if (abuf != nullptr && alen > 0) reply.assign(abuf, abuf + alen);
        self->Deliver(arg->id, [status, reply = std::move(reply)](Pending& p, Duration) {
          p.raw_cb(status, reply.empty() ? nullptr : reply.data(), static_cast<int>(reply.size()));
        });
      },
      arg);
  in_submit_ = false;
  ArmTimer();
  return handle;
}

DnsResolver& DnsResolver::ForServer(const Options& options) {
  TimePoint now = loop_.clock().Now();
  if (now - last_sweep_ >= std::chrono::minutes(1) && sweep_timer_ == 0) {
    // ForServer() is called from query callbacks, possibly one of a cached resolver's own: the
    // sweep runs from its own loop timer, so it never destroys a resolver that is delivering.
    sweep_timer_ = loop_.AddTimer(now, [this] {
      sweep_timer_ = 0;
      SweepIdle();
    });
  }
  std::string key =
      options.servers + "|" +
      std::to_string(
          std::chrono::duration_cast<std::chrono::microseconds>(options.timeout).count()) +
      "|" + std::to_string(options.tries) + "|" + (options.no_recurse ? "norec" : "rec") + "|" +
      (options.report_errors ? "errors" : "retry");
  Cached& c = per_server_[key];
  if (c.resolver == nullptr) c.resolver.reset(new DnsResolver(loop_, options, errors_));
  c.last_used = now;
  return *c.resolver;
}

void DnsResolver::SweepIdle() {
  TimePoint now = loop_.clock().Now();
  last_sweep_ = now;
  for (auto it = per_server_.begin(); it != per_server_.end();) {
    bool idle = it->second.resolver->live_handles_ == 0 && now - it->second.last_used >= kIdleEvict;
    it = idle ? per_server_.erase(it) : std::next(it);
  }
}

void DnsResolver::Deliver(uint64_t id, std::function<void(Pending&, Duration)> invoke) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // cancelled
  if (in_submit_) {
    // Answered before Resolve()/Query() returned (hosts file, bad name): keep the promise that
    // callbacks never run re-entrantly by delivering from a timer.
    it->second->deferred_timer =
        loop_.AddTimer(loop_.clock().Now(), [this, id, invoke = std::move(invoke)]() mutable {
          auto it = pending_.find(id);
          if (it == pending_.end()) return;
          auto p = it->second;
          pending_.erase(it);
          invoke(*p, loop_.clock().Now() - p->started);
        });
    return;
  }
  auto p = it->second;
  pending_.erase(it);
  invoke(*p, loop_.clock().Now() - p->started);
}

void DnsResolver::OnSockState(void* data, ares_socket_t fd, int readable, int writable) noexcept {
  auto* self = static_cast<DnsResolver*>(data);
  if (self->destroying_ || (!readable && !writable)) {
    self->loop_.Unwatch(fd);
    return;
  }
  uint32_t events = 0;
  if (readable) events |= EventLoop::kReadable;
  if (writable) events |= EventLoop::kWritable;
  Expected<void> watched = self->loop_.TryWatch(fd, events, [self, fd](uint32_t ev) {
    self->Process((ev & (EventLoop::kReadable | EventLoop::kError)) ? fd : ARES_SOCKET_BAD,
                  (ev & EventLoop::kWritable) ? fd : ARES_SOCKET_BAD);
  });
  if (watched) return;
  self->errors_->fetch_add(1, std::memory_order_relaxed);
  if (!self->logged_watch_error_) {
    self->logged_watch_error_ = true;
    try {
      Log(LogLevel::kError, "dns socket not watched: the resolver's queries fail (logged once)",
          {{"error", watched.error().message}});
    } catch (...) {  // a log line that cannot be built is not worth terminating for
    }
  }
  // Nobody would read the socket: without this its queries would wait for their timeouts.
  self->CancelAllLater();
}

void DnsResolver::CancelAllLater() noexcept {
  if (cancel_timer_ != 0 || channel_ == nullptr) return;
  try {
    cancel_timer_ = loop_.AddTimer(loop_.clock().Now(), [this] {
      cancel_timer_ = 0;
      // Every query of the channel gets ARES_ECANCELLED through the normal Deliver path.
      ares_cancel(channel_.get());
      ArmTimer();
    });
  } catch (...) {
    // Out of memory: the queries still fail, at their c-ares timeout.
  }
}

void DnsResolver::Process(ares_socket_t read_fd, ares_socket_t write_fd) {
  ares_process_fd(channel_.get(), read_fd, write_fd);
  ArmTimer();
}

void DnsResolver::ArmTimer() {
  if (timer_ != 0) {
    loop_.CancelTimer(timer_);
    timer_ = 0;
  }
  if (channel_ == nullptr) return;
  timeval tv{};
  // Without a maximum, ares_timeout returns null when no query is outstanding (cancelled queries
  // still count: they need their timeouts processed to be released).
  timeval* next = ares_timeout(channel_.get(), nullptr, &tv);
  if (next == nullptr) return;
  auto delay = std::chrono::seconds(next->tv_sec) + std::chrono::microseconds(next->tv_usec);
  timer_ = loop_.AddTimerAfter(delay, [this] {
    timer_ = 0;
    Process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  });
}

}  // namespace gatewatch
