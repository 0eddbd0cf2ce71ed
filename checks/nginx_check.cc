#include "checks/nginx_check.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <tuple>

#include "agent/base/strings.h"
#include "agent/base/units.h"
#include "agent/io/dns_resolver.h"
#include "agent/io/event_loop.h"
#include "checks/api/check_run_base.h"
#include "checks/http_expect.h"
#include "checks/http_request.h"
#include "checks/http_run.h"
#include "checks/keepalive_probe.h"
#include "checks/reason_vote.h"

extern char** environ;

namespace gatewatch {

namespace {

// Fails `result` keeping what it observed so far.
void Fail(Result& result, Reason reason, std::string detail) {
  result.success = false;
  result.reason = reason;
  result.detail = std::move(detail);
}

constexpr size_t kMaxConfigBytes = 8 * 1024 * 1024;

struct NginxMetrics {
  MetricDesc server_up{"nginx_upstream_server_up",
                       MetricKind::kGauge,
                       "1 if the upstream server (from nginx's config) answered the probe within "
                       "nginx's connect and read timeouts in the last run.",
                       {"group", "server"}};
  MetricDesc server_seconds{"nginx_upstream_server_response_seconds",
                            MetricKind::kGauge,
                            "Time until the upstream server's first response byte in the last run "
                            "(or until the probe gave up).",
                            {"group", "server"}};
  MetricDesc servers{"nginx_upstream_servers",
                     MetricKind::kGauge,
                     "Servers of each upstream group in nginx's config, probed or not.",
                     {"group"}};
  MetricDesc read_timeout{"nginx_upstream_read_timeout_seconds",
                          MetricKind::kGauge,
                          "The proxy_read_timeout nginx applies to the group (its first "
                          "proxy_pass).",
                          {"group"}};
  MetricDesc idle_close{"nginx_upstream_idle_close_seconds",
                        MetricKind::kGauge,
                        "Servers of upstream groups with keepalive: how long the server kept an "
                        "idle keep-alive connection open before closing it, as last measured (when "
                        "it outlasted the keepalive_timeout: the time waited).",
                        {"group", "server"}};
  MetricDesc keepalive_timeout{"nginx_upstream_keepalive_timeout_seconds",
                               MetricKind::kGauge,
                               "The keepalive_timeout of upstream groups with keepalive.",
                               {"group"}};
  MetricDesc connections{"nginx_connections",
                         MetricKind::kGauge,
                         "stub_status: client connections by state (active, reading, writing, "
                         "waiting).",
                         {"state"}};
  MetricDesc accepted{"nginx_connections_accepted_total",
                      MetricKind::kCounter,
                      "stub_status: client connections nginx accepted.",
                      {}};
  MetricDesc handled{"nginx_connections_handled_total",
                     MetricKind::kCounter,
                     "stub_status: client connections nginx handled.",
                     {}};
  MetricDesc dropped{"nginx_connections_dropped_total",
                     MetricKind::kCounter,
                     "stub_status: connections accepted but not handled (accepts - handled): "
                     "worker_connections or open files exhausted.",
                     {}};
  MetricDesc requests{
      "nginx_http_requests_total", MetricKind::kCounter, "stub_status: client requests.", {}};
};

const NginxMetrics& Metrics() {
  static const NginxMetrics* m = new NginxMetrics();
  return *m;
}

struct NginxCheckConfig : HttpExpectations {
  std::string config_file;
  std::vector<std::string> config_command;
  std::string status_url;
  double max_dropped = 0;
  NginxProbeOptions probe;
};

// The idle-close measurement of one server of a group with `keepalive`: it runs between the
// check's runs (nginx's keepalive_timeout, 60 s by default, is longer than a run), and its last
// result is reported by every run until the next one replaces it.
struct KeepaliveSlot {
  std::unique_ptr<IdleCloseProbe> probe;  // in flight, or finished and not yet dropped
  std::optional<IdleCloseResult> last;
  long long wait_ms = 0;  // what `last` waited for (the keepalive_timeout when measured)
};

// Between runs: the last stub_status counters, for the counters' increments, and the keep-alive
// measurements (at most one per probed server). Lives on the loop and is destroyed there, before
// the services (the measurements' sockets and timers are closed by its destructor).
struct NginxState : CheckState {
  std::optional<StubStatus> last;
  std::map<std::string, KeepaliveSlot> keepalive;  // by "group server"
};

// nginx's keepalive_timeout can be hours; a measurement waits at most this long.
constexpr long long kMaxKeepaliveWaitMs = 10 * 60 * 1000;

// Runs a command and collects its stdout (at most `max_bytes`) on the loop: the pipe is watched,
// never read blockingly; the deadline or the cap kill it. Destroying it kills and reaps the child.
class CommandOutput {
 public:
  using Done = std::function<void(std::optional<std::string> output, std::string error)>;

  CommandOutput(EventLoop& loop, std::vector<std::string> argv, TimePoint deadline, Done done)
      : loop_(loop), argv_(std::move(argv)), deadline_(deadline), done_(std::move(done)) {}
  ~CommandOutput() { Stop(); }
  CommandOutput(const CommandOutput&) = delete;
  CommandOutput& operator=(const CommandOutput&) = delete;

  // May call `done` before returning.
  void Start() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return Finish(std::nullopt, "pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::vector<char*> args;
    for (std::string& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    // The agent blocks the signals its signalfd reads; the child gets the default mask back.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      pid_ = -1;
      return Finish(std::nullopt, "cannot run " + argv_[0] + ": " + std::strerror(rc));
    }
    fd_ = fds[0];
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
    loop_.Watch(fd_, EPOLLIN, [this](uint32_t) { OnReadable(); });
    timer_ = loop_.AddTimer(deadline_, [this] {
      timer_ = 0;
      Finish(std::nullopt, argv_[0] + " did not finish before the run's deadline");
    });
  }

 private:
  void OnReadable() {
    char buf[65536];
    while (true) {
      ssize_t n = read(fd_, buf, sizeof buf);
      if (n > 0) {
        output_.append(buf, static_cast<size_t>(n));
        if (output_.size() > kMaxConfigBytes) {
          return Finish(std::nullopt, argv_[0] + " printed more than 8 MiB");
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      break;  // end of output (or a read error): wait for the exit status
    }
    loop_.Unwatch(fd_);
    close(fd_);
    fd_ = -1;
    Reap();
  }

  void Reap() {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == 0) {  // closed its output but still running: look again shortly
      poll_ = loop_.AddTimerAfter(std::chrono::milliseconds(10), [this] {
        poll_ = 0;
        Reap();
      });
      return;
    }
    pid_ = -1;
    if (r > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
      std::string how = WIFEXITED(status)
                            ? "exited with status " + std::to_string(WEXITSTATUS(status))
                            : "was killed by signal " + std::to_string(WTERMSIG(status));
      return Finish(std::nullopt, argv_[0] + " " + how);
    }
    Finish(std::move(output_), "");
  }

  void Stop() {
    if (fd_ >= 0) {
      loop_.Unwatch(fd_);
      close(fd_);
      fd_ = -1;
    }
    if (timer_ != 0) loop_.CancelTimer(timer_);
    if (poll_ != 0) loop_.CancelTimer(poll_);
    timer_ = poll_ = 0;
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);  // killed: returns at once
      pid_ = -1;
    }
  }

  void Finish(std::optional<std::string> output, std::string error) {
    Stop();
    if (!done_) return;
    Done done = std::move(done_);
    done_ = nullptr;
    done(std::move(output), std::move(error));  // may destroy `this`
  }

  EventLoop& loop_;
  std::vector<std::string> argv_;
  const TimePoint deadline_;
  Done done_;
  pid_t pid_ = -1;
  int fd_ = -1;
  TimerId timer_ = 0;
  TimerId poll_ = 0;
  std::string output_;
};

std::string Location(const std::string& file, int line) {
  return file + ":" + std::to_string(line);
}

std::string TimeText(long long ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

class NginxRun final : public CheckRunBase {
 public:
  NginxRun(std::shared_ptr<const NginxCheckConfig> cfg, const RunContext& ctx, DoneCallback done)
      : CheckRunBase(std::move(done)),
        cfg_(std::move(cfg)),
        services_(ctx.services),
        started_(ctx.started),
        deadline_(ctx.deadline),
        state_(static_cast<NginxState*>(ctx.state)) {}

  void Begin() {
    running_ = true;
    pending_ = 1;  // until everything is started
    if (!cfg_->status_url.empty()) StartStatus();
    if (!cfg_->config_command.empty()) {
      ++pending_;
      command_ = std::make_unique<CommandOutput>(
          *services_.loop, cfg_->config_command, deadline_,
          [this](std::optional<std::string> output, std::string error) {
            OnConfigText(std::move(output), std::move(error));
          });
      command_->Start();
    } else if (!cfg_->config_file.empty()) {
      // Config files are local and small: read on the loop like /proc, bounded in size.
      NginxConfParse parsed = LoadNginxConf(cfg_->config_file, DiskNginxConfFiles(kMaxConfigBytes));
      OnParsed(std::move(parsed));
    }
    Settle();
  }

  Result Abort() override {
    if (!running_) return Result::Failure(Reason::kInternalError, "nginx run aborted while idle");
    running_ = false;
    Duration elapsed = services_.clock.Now() - started_;
    if (command_ && !config_done_) {
      command_.reset();
      config_error_ = "config_command did not finish before the run's deadline";
    }
    AddLookedUp(false);
    for (Probe& p : probes_) {
      if (p.done) continue;
      p.run->Abort(elapsed);
      Judge(p);
    }
    if (status_run_ && !status_done_) {
      status_run_->Abort(elapsed);
      status_done_ = true;
    }
    return Combine();
  }

 private:
  struct Probe {
    NginxProbe plan;
    std::shared_ptr<HttpRequest> request;
    std::unique_ptr<HttpRun> run;
    bool done = false;
    Reason reason = Reason::kNone;
    std::string detail;
    double seconds = 0;
  };

  void OnConfigText(std::optional<std::string> output, std::string error) {
    config_done_ = true;
    if (!output) {
      config_error_ = "config_command: " + error;
    } else {
      std::string main;
      auto files = SplitNginxT(*output, &main);
      if (main.empty()) {
        config_error_ = "config_command printed no \"# configuration file\" section (not nginx -T)";
      } else {
        OnParsed(LoadNginxConf(main, TableNginxConfFiles(std::move(files))));
      }
    }
    Settle();
  }

  void OnParsed(NginxConfParse parsed) {
    config_done_ = true;
    if (parsed.error) {
      config_error_ = parsed.error->Text();
      return;
    }
    topology_ = ExtractNginxTopology(parsed.directives);
    plan_ = BuildNginxProbes(topology_, cfg_->probe);
    // Every probe added below stays at its index (callbacks hold it): never more than this.
    probes_.reserve(cfg_->probe.max_servers);
    for (size_t i = 0; i < plan_.probes.size(); ++i) {
      if (DnsResolver::IsIpLiteral(plan_.probes[i].connect_host)) {
        AddProbe(plan_.probes[i], true);
      } else {
        lookups_.push_back({i, nullptr});
      }
    }
    // Names first resolve, as nginx resolves them, then every address is probed (nginx uses
    // them all, round-robin).
    lookups_left_ = lookups_.size();
    pending_ += lookups_.size();
    for (size_t k = 0; k < lookups_.size(); ++k) {
      const NginxProbe& plan = plan_.probes[lookups_[k].plan_index];
      HttpRun::Target t;
      t.host = plan.connect_host;
      t.resolve_only = true;
      ChooseResolver(plan, t);
      t.deadline = deadline_;
      lookups_[k].run = std::make_unique<HttpRun>(std::make_shared<HttpRequest>(), *services_.curl,
                                                  services_.clock, t, [this] {
                                                    if (--lookups_left_ == 0) AddLookedUp(true);
                                                    Settle();
                                                  });
    }
    for (size_t k = 0; k < lookups_.size(); ++k) lookups_[k].run->Begin();
  }

  // nginx's resolver for names it resolves at request time, else the system's (set t.host first).
  void ChooseResolver(const NginxProbe& plan, HttpRun::Target& t) {
    t.ChooseResolver(*services_.dns, plan.resolver, "nginx resolver " + plan.resolver);
  }

  // Adds (and starts, if `start`) one probe; beyond max_servers it is only counted.
  Probe* AddProbe(const NginxProbe& plan, bool start) {
    if (probes_.size() >= cfg_->probe.max_servers) {
      ++plan_.not_probed;
      return nullptr;
    }
    probes_.emplace_back();
    probes_.back().plan = plan;
    if (start) StartProbe(probes_.size() - 1);
    return &probes_.back();
  }

  // The names' lookups are over (or aborted): a probe per address, or the lookup's failure as
  // the server's verdict. `start` false (the deadline came): the addresses are not probed.
  void AddLookedUp(bool start) {
    if (looked_up_) return;
    looked_up_ = true;
    Duration elapsed = services_.clock.Now() - started_;
    for (Lookup& l : lookups_) {
      const NginxProbe& plan = plan_.probes[l.plan_index];
      if (!l.run->finished()) l.run->Abort(elapsed);
      if (l.run->failure() == Reason::kNone) {
        std::vector<std::string> addresses;
        for (const ResolvedAddress& a : l.run->addresses()) addresses.push_back(a.address);
        for (const NginxProbe& each : ProbesPerAddress(plan, addresses)) {
          Probe* p = AddProbe(each, start);
          if (p != nullptr && !start) {
            p->done = true;
            p->reason = Reason::kTimeout;
            p->detail = "not probed: the run's deadline came while names were being resolved";
          }
        }
        continue;
      }
      Probe* p = AddProbe(plan, false);
      if (p == nullptr) continue;
      p->run = std::move(l.run);
      Judge(*p);  // the lookup's dns_* reason
    }
  }

  void StartProbe(size_t i) {
    Probe& p = probes_[i];
    p.request = std::make_shared<HttpRequest>();
    if (!SetRequestUrl(p.plan.url, *p.request)) {
      p.done = true;
      p.reason = Reason::kNginxConfigInvalid;
      p.detail = "cannot probe " + p.plan.url;
      return;
    }
    p.request->insecure = p.plan.insecure;
    p.request->follow_redirects = false;
    p.request->connect_timeout_ms = static_cast<long>(p.plan.connect_timeout_ms);
    if (!p.plan.host_header.empty())
      p.request->request_headers.push_back("Host: " + p.plan.host_header);
    HttpRun::Target t;
    // A numeric address (a name's resolved one, pinned for the URL's name) is connected to as is.
    t.host = p.plan.address.empty() ? p.plan.connect_host : p.plan.address;
    t.connect_port = p.plan.connect_port;
    ChooseResolver(p.plan, t);
    t.keep_body = cfg_->keeps_body();
    // nginx gives up after connect + read timeouts; a little more lets a late answer arrive so
    // its lateness is measured rather than guessed.
    TimePoint own = services_.clock.Now() + std::chrono::milliseconds(p.plan.connect_timeout_ms +
                                                                      p.plan.read_timeout_ms + 500);
    t.deadline = std::min(deadline_, own);
    ++pending_;
    p.run = std::make_unique<HttpRun>(p.request, *services_.curl, services_.clock, t, [this, i] {
      Judge(probes_[i]);
      Settle();
    });
    p.run->Begin();
  }

  // The verdict on one server, as nginx would see it.
  void Judge(Probe& p) {
    p.done = true;
    Duration elapsed = services_.clock.Now() - started_;
    const HttpOutcome* o = p.run->outcome();
    double waited_ms = std::chrono::duration<double, std::milli>(elapsed).count();
    if (o != nullptr && o->info.times.starttransfer > 0) {
      waited_ms = static_cast<double>(o->info.times.starttransfer) / 1000.0;
    }
    p.seconds = waited_ms / 1000.0;
    std::string read_limit = "proxy_read_timeout " + TimeText(p.plan.read_timeout_ms) + " (" +
                             p.plan.timeouts_from + ")";
    if (p.run->failure() != Reason::kNone) {
      p.reason = p.run->failure();
      p.detail = p.run->failure_detail();
    } else {
      Result r = EvaluateHttpOutcome(*cfg_, *p.request, *o);
      p.reason = r.reason;
      p.detail = r.detail;
    }
    // Waiting for the answer longer than nginx would is a 504 whatever curl saw.
    bool connected = o != nullptr && o->info.connected;
    double after_request_ms = waited_ms;
    if (o != nullptr && o->info.times.pretransfer > 0 && o->info.times.starttransfer > 0) {
      after_request_ms =
          static_cast<double>(o->info.times.starttransfer - o->info.times.pretransfer) / 1000.0;
    }
    bool timed_out = p.reason == Reason::kTimeout || p.reason == Reason::kUpstreamTimeout;
    if (connected && (after_request_ms > static_cast<double>(p.plan.read_timeout_ms) ||
                      (timed_out && o->info.times.starttransfer == 0))) {
      p.reason = Reason::kUpstreamTimeout;
      p.detail = "no response within " + read_limit + " (waited " +
                 FormatFixed(after_request_ms / 1000.0, 1) + " s): nginx would answer 504";
    } else if (p.reason == Reason::kConnectTimeout) {
      p.detail += "; nginx would answer 504 after proxy_connect_timeout " +
                  TimeText(p.plan.connect_timeout_ms);
    }
  }

  void StartStatus() {
    auto request = std::make_shared<HttpRequest>();
    if (!SetRequestUrl(cfg_->status_url, *request)) return;  // validated at load
    request->follow_redirects = false;
    status_request_ = request;
    HttpRun::Target t;
    t.host = request->host;
    t.resolver = services_.dns;
    t.resolver_label = "system resolver";
    t.keep_body = true;
    t.deadline = deadline_;
    ++pending_;
    status_run_ = std::make_unique<HttpRun>(request, *services_.curl, services_.clock, t, [this] {
      status_done_ = true;
      Settle();
    });
    status_run_->Begin();
  }

  void Settle() {
    if (--pending_ > 0 || !running_) return;
    running_ = false;
    Finish(Combine());  // `this` may be gone
  }

  Result Combine() {
    const NginxMetrics& m = Metrics();
    Result result = Result::Success();
    std::vector<std::pair<std::string, std::string>> report;
    std::string source =
        !cfg_->config_file.empty()
            ? cfg_->config_file
            : (cfg_->config_command.empty() ? std::string() : "command " + cfg_->config_command[0]);
    std::string probe_detail;
    if (!source.empty()) {
      report.emplace_back("config", source);
      if (!config_error_.empty()) {
        Fail(result, Reason::kNginxConfigInvalid, config_error_);
      } else {
        report.emplace_back("upstreams", std::to_string(topology_.upstreams.size()) + " groups, " +
                                             std::to_string(plan_.servers) + " servers, " +
                                             std::to_string(probes_.size()) + " probed");
        // Series per group stay bounded like those per server (max_servers).
        size_t groups = 0;
        for (const NginxUpstream& u : topology_.upstreams) {
          if (groups++ >= cfg_->probe.max_servers) break;
          result.observations.push_back(
              {&m.servers, {u.name}, static_cast<double>(u.servers.size())});
        }
        std::map<std::string, long long> read_timeouts;
        ReasonVote votes;
        size_t down = 0, listed = 0;
        std::string first_down;
        for (const Probe& p : probes_) {
          read_timeouts.emplace(p.plan.group, p.plan.read_timeout_ms);
          bool up = p.reason == Reason::kNone;
          result.observations.push_back(
              {&m.server_up, {p.plan.group, p.plan.server}, up ? 1.0 : 0.0});
          result.observations.push_back(
              {&m.server_seconds, {p.plan.group, p.plan.server}, p.seconds});
          std::string key =
              "server " + p.plan.group + " " + p.plan.server + (p.plan.backup ? " (backup)" : "");
          if (up) {
            report.emplace_back(key, "up, " + FormatFixed(p.seconds * 1000.0, 1) + " ms");
            continue;
          }
          ++down;
          votes.Add(p.reason);
          report.emplace_back(key, std::string(ReasonName(p.reason)) + ": " + p.detail);
          if (listed++ < 3) {
            probe_detail += (probe_detail.empty() ? "" : "; ") + p.plan.group + " " +
                            p.plan.server + " " + std::string(ReasonName(p.reason)) + ": " +
                            p.detail;
          }
        }
        size_t mismatched = 0;
        std::string mismatch_detail;
        JudgeKeepalive(report, result, mismatched, mismatch_detail);
        for (const auto& [group, ms] : read_timeouts) {
          result.observations.push_back(
              {&m.read_timeout, {group}, static_cast<double>(ms) / 1000.0});
        }
        for (const std::string& s : plan_.skipped) report.emplace_back("not probed", s);
        for (const std::string& s : plan_.keepalive_unused) report.emplace_back("keepalive", s);
        if (plan_.not_probed > 0) {
          report.emplace_back("not probed",
                              std::to_string(plan_.not_probed) + " servers beyond max_servers");
        }
        for (const NginxConfError& w : topology_.warnings) report.emplace_back("warning", w.Text());
        if (down > 0) {
          Fail(result, votes.Winner(Reason::kOther),
               std::to_string(down) + "/" + std::to_string(probes_.size()) +
                   " upstream servers down: " + probe_detail);
        } else if (mismatched > 0) {
          Fail(result, Reason::kKeepaliveMismatch,
               std::to_string(mismatched) +
                   " upstream servers close idle connections before nginx's keepalive_timeout "
                   "(nginx may reuse a closed connection: \"upstream prematurely closed\" 502s): " +
                   mismatch_detail);
        } else {
          result.detail = std::to_string(probes_.size()) + "/" + std::to_string(probes_.size()) +
                          " upstream servers up";
        }
      }
    }
    if (status_request_) JudgeStatus(result, report);
    for (auto& r : report) result.report.push_back(std::move(r));
    return result;
  }

  // Reports the keep-alive measurements of the servers of groups with `keepalive`, starts a new
  // one for every server that is up and has none in flight, and drops those of servers gone.
  void JudgeKeepalive(std::vector<std::pair<std::string, std::string>>& report, Result& result,
                      size_t& mismatched, std::string& mismatch_detail) {
    const NginxMetrics& m = Metrics();
    std::map<std::string, KeepaliveSlot> kept;
    std::map<std::string, long long> timeouts;
    for (const Probe& p : probes_) {
      if (p.plan.keepalive <= 0) continue;
      std::string key = p.plan.group + " " + p.plan.server;
      auto found = state_->keepalive.find(key);
      if (found == state_->keepalive.end()) {
        found = state_->keepalive.emplace(key, KeepaliveSlot{}).first;
      }
      auto node = state_->keepalive.extract(found);
      KeepaliveSlot& slot = kept.insert(std::move(node)).position->second;
      timeouts.emplace(p.plan.group, p.plan.keepalive_timeout_ms);
      long long wait_ms = std::min(p.plan.keepalive_timeout_ms, kMaxKeepaliveWaitMs);
      if (slot.probe && slot.probe->finished()) slot.probe.reset();
      if (slot.last && slot.wait_ms != wait_ms) slot.last.reset();  // keepalive_timeout changed
      if (!slot.probe && p.reason == Reason::kNone) StartKeepalive(p, slot);
      std::string timeout_text = "keepalive_timeout " + TimeText(p.plan.keepalive_timeout_ms) +
                                 " (" + p.plan.keepalive_from + ")";
      std::string label = "keepalive " + p.plan.group + " " + p.plan.server;
      if (!slot.last) {
        report.emplace_back(label, slot.probe ? "measuring the idle close (up to " +
                                                    TimeText(wait_ms) + "), reported by a later run"
                                              : "not measured (the server is not up)");
      } else {
        const IdleCloseResult& r = *slot.last;
        using Outcome = IdleCloseResult::Outcome;
        if (r.outcome == Outcome::kClosed || r.outcome == Outcome::kKeptOpen) {
          result.observations.push_back(
              {&m.idle_close, {p.plan.group, p.plan.server}, r.idle_seconds});
        }
        bool mismatch = r.outcome == Outcome::kClosed &&
                        r.idle_seconds * 1000.0 < static_cast<double>(p.plan.keepalive_timeout_ms);
        std::string text = r.detail;
        if (mismatch) {
          text += " < " + timeout_text + ": keepalive_mismatch";
          if (mismatched++ < 3) {
            mismatch_detail += (mismatch_detail.empty() ? "" : "; ") + p.plan.group + " " +
                               p.plan.server + " closed idle connections after " +
                               FormatFixed(r.idle_seconds, 1) + " s < " + timeout_text;
          }
        } else if (r.outcome == Outcome::kClosed || r.outcome == Outcome::kKeptOpen) {
          text += " (" + timeout_text + ")";
        } else if (r.outcome == Outcome::kFailed) {
          text = "not measured: " + text;
        }
        report.emplace_back(label, text);
      }
    }
    for (const auto& [group, ms] : timeouts) {
      result.observations.push_back(
          {&m.keepalive_timeout, {group}, static_cast<double>(ms) / 1000.0});
    }
    state_->keepalive = std::move(kept);  // servers gone from the config: measurements stopped
  }

  void StartKeepalive(const Probe& p, KeepaliveSlot& slot) {
    StreamTarget target;
    target.host = p.plan.address.empty() ? p.plan.connect_host : p.plan.address;
    target.port = p.plan.port;
    target.tls = p.plan.tls;
    target.server_name = p.plan.server_name;
    target.insecure = p.plan.insecure;
    std::string host = p.plan.host_header;
    if (host.empty()) {
      host = (p.plan.connect_host.find(':') != std::string::npos ? "[" + p.plan.connect_host + "]"
                                                                 : p.plan.connect_host) +
             ":" + std::to_string(p.plan.port);
    }
    std::string request = "GET " + p.plan.path + " HTTP/1.1\r\nHost: " + host +
                          "\r\nUser-Agent: gatewatch\r\nAccept: */*\r\n\r\n";
    slot.wait_ms = std::min(p.plan.keepalive_timeout_ms, kMaxKeepaliveWaitMs);
    Duration io = std::chrono::milliseconds(
        std::min<long long>(p.plan.connect_timeout_ms + p.plan.read_timeout_ms, 60000));
    KeepaliveSlot* s = &slot;  // map nodes do not move; the slot owns the probe
    slot.probe = std::make_unique<IdleCloseProbe>(services_, std::move(target), std::move(request),
                                                  std::chrono::milliseconds(slot.wait_ms), io,
                                                  [s](const IdleCloseResult& r) { s->last = r; });
    slot.probe->Begin();
  }

  void JudgeStatus(Result& result, std::vector<std::pair<std::string, std::string>>& report) {
    const NginxMetrics& m = Metrics();
    report.emplace_back("status_url", status_request_->redacted_url);
    std::optional<StubStatus> s;
    Reason failure = Reason::kNone;
    std::string detail;
    if (!status_done_ || status_run_ == nullptr) {
      failure = Reason::kTimeout;
      detail = "stub_status did not answer";
    } else if (status_run_->failure() != Reason::kNone) {
      failure = status_run_->failure();
      detail = "stub_status: " + status_run_->failure_detail();
    } else {
      const HttpOutcome& o = *status_run_->outcome();
      if (o.code != CURLE_OK) {
        std::tie(failure, detail) = DescribeTransportFailure(o);
        detail = "stub_status: " + detail;
      } else if (o.info.status < 200 || o.info.status > 299) {
        failure = Reason::kUnexpectedStatus;
        detail = "stub_status answered HTTP " + std::to_string(o.info.status);
      } else {
        s = ParseStubStatus(o.body);
        if (!s) {
          failure = Reason::kProtocolError;
          detail = "stub_status: the page is not nginx's stub_status";
        }
      }
    }
    if (!s) {
      if (result.success) Fail(result, failure, detail);
      report.emplace_back("stub_status", detail);
      return;
    }
    result.observations.push_back({&m.connections, {"active"}, s->active});
    result.observations.push_back({&m.connections, {"reading"}, s->reading});
    result.observations.push_back({&m.connections, {"writing"}, s->writing});
    result.observations.push_back({&m.connections, {"waiting"}, s->waiting});
    StubStatusIncrements inc = IncrementsSince(state_->last, *s);
    double dropped_now = std::max(0.0, s->accepts - s->handled);
    double new_drops = inc.dropped;
    result.observations.push_back({&m.accepted, {}, inc.accepted});
    result.observations.push_back({&m.handled, {}, inc.handled});
    result.observations.push_back({&m.requests, {}, inc.requests});
    result.observations.push_back({&m.dropped, {}, inc.dropped});
    state_->last = s;
    report.emplace_back("connections", FormatGeneral(s->active) + " active (" +
                                           FormatGeneral(s->reading) + " reading, " +
                                           FormatGeneral(s->writing) + " writing, " +
                                           FormatGeneral(s->waiting) + " waiting)");
    report.emplace_back("accepts/handled", FormatGeneral(s->accepts) + "/" +
                                               FormatGeneral(s->handled) + " (" +
                                               FormatGeneral(dropped_now) + " dropped)");
    if (new_drops > cfg_->max_dropped && result.success) {
      Fail(result, Reason::kConnectionsDropped,
           FormatGeneral(new_drops) +
               " connections accepted but not handled since the last run "
               "(max_dropped " +
               FormatGeneral(cfg_->max_dropped) +
               "): nginx is out of worker_connections or open files");
    }
  }

  const std::shared_ptr<const NginxCheckConfig> cfg_;
  CheckServices& services_;
  const TimePoint started_;
  const TimePoint deadline_;
  NginxState* state_;
  bool running_ = false;
  size_t pending_ = 0;
  std::unique_ptr<CommandOutput> command_;
  bool config_done_ = false;
  std::string config_error_;
  NginxTopology topology_;
  NginxProbePlan plan_;
  struct Lookup {
    size_t plan_index;
    std::unique_ptr<HttpRun> run;  // resolve_only; moved to the probe when it failed
  };
  std::vector<Lookup> lookups_;
  size_t lookups_left_ = 0;
  bool looked_up_ = false;
  std::vector<Probe> probes_;  // reserved for max_servers: never reallocated
  std::shared_ptr<HttpRequest> status_request_;
  std::unique_ptr<HttpRun> status_run_;
  bool status_done_ = false;
};

// A run that finished inside Start().
class FinishedRun final : public CheckRun {
 public:
  Result Abort() override {
    return Result::Failure(Reason::kInternalError, "nginx run aborted after it finished");
  }
};

class NginxCheck final : public Check {
 public:
  NginxCheck(CheckSpec spec, std::shared_ptr<const NginxCheckConfig> cfg)
      : Check(std::move(spec)), cfg_(std::move(cfg)) {}

  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    if (ctx.state == nullptr) {
      done(Result::Failure(Reason::kInternalError, "nginx run started without its state"));
      return std::make_unique<FinishedRun>();
    }
    auto run = std::make_unique<NginxRun>(cfg_, ctx, std::move(done));
    run->Begin();
    return run;
  }

  std::unique_ptr<CheckState> NewState() const override { return std::make_unique<NginxState>(); }

 private:
  std::shared_ptr<const NginxCheckConfig> cfg_;
};

std::string HealthPath(const ConfigNode& node) {
  std::string path = node.AsString();
  if (path.empty() || path[0] != '/') node.Fail("must start with /");
  if (path.find_first_of(" \t\r\n") != std::string::npos) node.Fail("must not contain blanks");
  return path;
}

std::shared_ptr<const NginxCheckConfig> ParseNginxCheckConfig(const ConfigNode& node) {
  auto cfg = std::make_shared<NginxCheckConfig>();
  if (ConfigNode f = node.Child("config_file"); f.IsDefined()) {
    cfg->config_file = f.AsString();
    if (cfg->config_file.empty()) f.Fail("must not be empty");
  }
  if (ConfigNode c = node.Child("config_command"); c.IsDefined()) {
    if (!cfg->config_file.empty()) c.Fail("config_file and config_command exclude each other");
    if (!c.IsSequence()) c.Fail("must be a list of arguments, e.g. [nginx, -T]");
    cfg->config_command = c.AsStringList();
    if (cfg->config_command.empty() || cfg->config_command[0].empty()) {
      c.Fail("must name a command");
    }
    if (cfg->config_command.size() > 64) c.Fail("at most 64 arguments");
  }
  if (ConfigNode s = node.Child("status_url"); s.IsDefined()) {
    cfg->status_url = s.AsString();
    HttpRequest probe;
    if (!SetRequestUrl(cfg->status_url, probe)) s.Fail("must be an http or https URL");
  }
  if (cfg->config_file.empty() && cfg->config_command.empty() && cfg->status_url.empty()) {
    node.Fail("needs config_file, config_command or status_url");
  }
  if (ConfigNode d = node.Child("max_dropped"); d.IsDefined()) {
    cfg->max_dropped = d.AsDouble(0, 1e12);
    if (cfg->status_url.empty()) d.Fail("needs status_url");
  }
  if (ConfigNode h = node.Child("health_path"); h.IsDefined())
    cfg->probe.health_path = HealthPath(h);
  if (ConfigNode hs = node.Child("health_paths"); hs.IsDefined()) {
    if (!hs.IsMap()) hs.Fail("must be a map of upstream group to path");
    for (const std::string& k : hs.Keys()) cfg->probe.health_paths[k] = HealthPath(hs.Child(k));
  }
  cfg->probe.max_servers = static_cast<size_t>(node.IntOr("max_servers", 64, 1, 1024));
  ParseHttpExpect(node.Child("expect"), false, *cfg);
  return cfg;
}

std::optional<double> NumberAfter(std::string_view text, std::string_view label) {
  size_t at = text.find(label);
  if (at == std::string_view::npos) return std::nullopt;
  size_t pos = at + label.size();
  while (pos < text.size() && text[pos] == ' ') ++pos;
  unsigned long long v = 0;
  auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), v);
  if (ec != std::errc()) return std::nullopt;
  return static_cast<double>(v);
}

}  // namespace

std::optional<StubStatus> ParseStubStatus(std::string_view text) {
  if (text.size() > 4096) return std::nullopt;
  StubStatus s;
  auto active = NumberAfter(text, "Active connections:");
  auto reading = NumberAfter(text, "Reading:");
  auto writing = NumberAfter(text, "Writing:");
  auto waiting = NumberAfter(text, "Waiting:");
  size_t header = text.find("server accepts handled requests");
  if (!active || !reading || !writing || !waiting || header == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view rest = text.substr(header + 31);
  double values[3];
  for (double& v : values) {
    size_t pos = rest.find_first_not_of(" \r\n");
    if (pos == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(pos);
    unsigned long long n = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec != std::errc()) return std::nullopt;
    v = static_cast<double>(n);
    rest.remove_prefix(static_cast<size_t>(ptr - rest.data()));
  }
  s.active = *active;
  s.accepts = values[0];
  s.handled = values[1];
  s.requests = values[2];
  s.reading = *reading;
  s.writing = *writing;
  s.waiting = *waiting;
  return s;
}

StubStatusIncrements IncrementsSince(const std::optional<StubStatus>& last, const StubStatus& now) {
  StubStatusIncrements inc;
  if (!last) return inc;  // the first run only sets the baseline
  // nginx restarted (or reloaded with a new shared zone): its counters went back to 0.
  bool restarted =
      now.accepts < last->accepts || now.handled < last->handled || now.requests < last->requests;
  auto delta = [&](double n, double before) { return restarted ? n : n - before; };
  inc.accepted = delta(now.accepts, last->accepts);
  inc.handled = delta(now.handled, last->handled);
  inc.requests = delta(now.requests, last->requests);
  inc.dropped = std::max(0.0, inc.accepted - inc.handled);
  return inc;
}

NginxProbePlan BuildNginxProbes(const NginxTopology& topology, const NginxProbeOptions& options) {
  NginxProbePlan plan;
  for (const NginxUpstream& u : topology.upstreams) {
    plan.servers += u.servers.size();
    const NginxPass* pass = nullptr;
    for (const NginxPass& p : topology.passes) {
      if (p.upstream == u.name) {
        pass = &p;
        break;
      }
    }
    auto skip = [&](const std::string& server, const std::string& why) {
      if (plan.skipped.size() < 32) plan.skipped.push_back(u.name + " " + server + ": " + why);
    };
    if (pass == nullptr) {
      skip("*", "no proxy_pass uses it");
      continue;
    }
    if (pass->directive != "proxy_pass") {
      skip("*", pass->directive + " (only HTTP proxying is probed)");
      continue;
    }
    auto path_it = options.health_paths.find(u.name);
    const std::string& path =
        path_it != options.health_paths.end() ? path_it->second : options.health_path;
    const NginxProxySettings& s = pass->settings;
    // nginx caches upstream connections only when it speaks HTTP/1.1 to them; with 1.0 it sends
    // Connection: close and never reuses one, so an early idle close cannot hurt.
    bool keepalive_used = !u.implicit && u.keepalive > 0 && s.http_version == "1.1";
    if (!u.implicit && u.keepalive > 0 && !keepalive_used && plan.keepalive_unused.size() < 32) {
      plan.keepalive_unused.push_back(u.name + ": keepalive " + std::to_string(u.keepalive) +
                                      " unused: proxy_http_version " + s.http_version + " (" +
                                      Location(pass->file, pass->line) +
                                      ") makes nginx close upstream connections");
    }
    for (const NginxUpstreamServer& server : u.servers) {
      if (server.down) {
        skip(server.address, "marked down");
        continue;
      }
      if (server.unix_socket) {
        skip(server.address, "unix socket");
        continue;
      }
      if (plan.probes.size() >= options.max_servers) {
        ++plan.not_probed;
        continue;
      }
      NginxProbe p;
      p.group = u.name;
      p.server = server.address;
      p.backup = server.backup;
      p.connect_host = server.host;
      p.connect_timeout_ms = s.connect_timeout_ms;
      p.read_timeout_ms = s.read_timeout_ms;
      p.timeouts_from = Location(pass->file, pass->line);
      p.insecure = !s.ssl_verify;
      p.port = server.port;
      p.tls = pass->scheme == "https";
      p.path = path;
      if (keepalive_used) {
        p.keepalive = u.keepalive;
        p.keepalive_timeout_ms = u.keepalive_timeout_ms;
        p.keepalive_from = Location(u.file, u.line);
      }
      // nginx resolves at request time (with `resolver`) only a proxy_pass with variables.
      if (u.implicit && pass->has_variables) {
        for (const std::string& r : s.resolver) p.resolver += (p.resolver.empty() ? "" : ",") + r;
      }
      std::string bracketed =
          server.host.find(':') != std::string::npos ? "[" + server.host + "]" : server.host;
      std::string port = std::to_string(server.port);
      if (pass->scheme == "https") {
        // SNI: proxy_ssl_name, else the proxied host ($proxy_host), only with
        // proxy_ssl_server_name on; off sends none (an IP-literal URL sends none either).
        std::string name = s.ssl_name.empty() ? (u.implicit ? server.host : u.name) : s.ssl_name;
        if (s.ssl_server_name && name.find('$') == std::string::npos) {
          p.server_name = name;
          p.url = "https://" + name + ":" + port + path;
          p.connect_port = server.port;
        } else {
          p.url = "https://" + bracketed + ":" + port + path;
        }
      } else {
        p.url = "http://" + bracketed + ":" + port + path;
      }
      // nginx's default `proxy_set_header Host $proxy_host`: the upstream's name.
      if (!u.implicit) p.host_header = u.name;
      plan.probes.push_back(std::move(p));
    }
  }
  return plan;
}

std::vector<NginxProbe> ProbesPerAddress(const NginxProbe& probe,
                                         const std::vector<std::string>& addresses) {
  std::vector<std::string> unique;
  for (const std::string& a : addresses) {
    if (unique.size() >= kMaxAddressesPerName) break;
    if (std::find(unique.begin(), unique.end(), a) == unique.end()) unique.push_back(a);
  }
  std::vector<NginxProbe> out;
  for (const std::string& a : unique) {
    NginxProbe p = probe;
    p.address = a;
    if (unique.size() > 1) p.server = probe.server + "@" + a;
    out.push_back(std::move(p));
  }
  return out;
}

CheckType NginxCheckType() {
  const NginxMetrics& m = Metrics();
  CheckType type;
  type.name = "nginx";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return std::make_unique<NginxCheck>(spec, ParseNginxCheckConfig(node));
  };
  type.metrics = {&m.server_up,  &m.server_seconds,    &m.servers,     &m.read_timeout,
                  &m.idle_close, &m.keepalive_timeout, &m.connections, &m.accepted,
                  &m.handled,    &m.dropped,           &m.requests};
  return type;
}

}  // namespace gatewatch
