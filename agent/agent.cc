#include "agent/agent.h"

#include <malloc.h>
#include <signal.h>
#include <sys/signalfd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "agent/alerts.h"
#include "agent/base/logging.h"
#include "agent/base/version.h"
#include "agent/config.h"
#include "agent/diagnosis_sink.h"
#include "agent/history_persister.h"
#include "agent/io/curl_multi.h"
#include "agent/io/dns_resolver.h"
#include "agent/io/event_loop.h"
#include "agent/io/statfs_pool.h"
#include "agent/io/tail_registry.h"
#include "agent/listen_address.h"
#include "agent/request_log_attach.h"
#include "agent/scheduler/scheduler.h"
#include "agent/sinks.h"
#include "exporters/history_api.h"
#include "exporters/prometheus_exporter.h"
#include "exporters/web_server.h"

namespace gatewatch {
namespace {

// Healthy means the loop still turns: it wakes at least once a second even when idle.
constexpr Duration kLoopStallLimit = std::chrono::seconds(10);

// The signals the agent handles on its loop: TERM and INT stop, HUP reloads. RunAgent blocks
// them in every thread so that only the loop's signalfd sees them.
sigset_t HandledSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// The checks of `shard`: a sharded agent schedules (and exports) only its own share.
std::vector<ScheduledCheck> ToScheduled(const Config& config, const Shard& shard) {
  std::vector<ScheduledCheck> out;
  std::copy_if(config.checks.begin(), config.checks.end(), std::back_inserter(out),
               [&](const ScheduledCheck& c) { return InShard(c.check->spec().name, shard); });
  return out;
}

class Agent {
 public:
  explicit Agent(AgentOptions options)
      : options_(std::move(options)),
        loop_(clock_),
        curl_(loop_),
        dns_(loop_, DnsResolver::Options{}),
        // Every service a check may use, built here and only here.
        services_{&loop_, &curl_, &dns_, clock_, statfs_, tails_, options_.paths, &request_log_},
        exporter_(BuildInfo{kVersion, kRevision, kCompiler}, clock_,
                  Placement{options_.shard.ToString(), options_.location}),
        alert_log_(exporter_),
        alerts_(clock_, alert_log_),
        history_(clock_),
        diagnosis_(clock_),
        request_log_attach_(clock_, request_log_, history_, diagnosis_),
        fanout_({&exporter_, &alerts_, &history_, &diagnosis_, &request_log_attach_}),
        logging_sink_(fanout_),
        scheduler_(loop_.timers(), clock_, random_, services_, logging_sink_) {
    exporter_.AddInternalCounter(
        "gatewatch_curl_multi_errors_total",
        "Failed curl multi calls and sockets the event loop could not watch for curl.",
        [this] { return static_cast<double>(curl_.errors()); });
    exporter_.AddInternalCounter(
        "gatewatch_dns_resolver_errors_total",
        "DNS resolver channels that could not be created and sockets the event loop could not "
        "watch for c-ares.",
        [this] { return static_cast<double>(dns_.errors()); });
    exporter_.AddInternalGauges(
        "gatewatch_diagnosis",
        "The diagnosis of each service (docs/diagnosis.md): 1 for its current cause, none when "
        "healthy.",
        {"service", "cause"}, [this] { return diagnosis_.GaugeRows(); });
    exporter_.AddInternalGauges(
        "gatewatch_diagnosis_info",
        "1 for each check of a service with a verdict, with the verdict's cause and why "
        "(docs/diagnosis.md); the generated alert rules read it into their annotations.",
        {"service", "check", "cause", "why"}, [this] { return diagnosis_.InfoRows(); });
    alerts_.SetVerdictSource(
        [this](const AlertSpec& a) { return diagnosis_.AlertText(a.check, a.service); });
    exporter_.AddInternalCounter(
        "gatewatch_web_auth_failures_total",
        "Requests refused with 401 for missing or wrong basic-auth credentials.", [this] {
          // Read by scrapes on web threads while Shutdown may release web_: an atomic copy of the
          // pointer, never cleared (the server is deleted only after Stop() joined its workers).
          const WebServer* web = web_for_scrapes_.load(std::memory_order_acquire);
          return web != nullptr ? static_cast<double>(web->auth_failures()) : 0.0;
        });
  }

  // A SIGHUP load may still run on its thread; std::thread must not be destroyed joinable.
  ~Agent() {
    if (reload_thread_.joinable()) reload_thread_.join();
  }
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  int Run() {
    std::optional<Config> config;
    if (!LoadInitialConfig(&config)) return 1;
    if (!StartWeb()) return 1;
    if (!config && !LoadDefaultConfig(&config)) return 1;
    if (!RestoreHistory(*config)) return 1;
    Apply(*config);  // drops saved checks no longer configured
    if (persister_) persister_->Start();
    UniqueFd signals = WatchSignals();
    if (!signals.valid()) return 1;
    Housekeeping();

    Log(LogLevel::kInfo, "gatewatch started",
        {{"version", kVersion},
         {"config", config->source},
         {"checks", std::to_string(config->checks.size())},
         {"shard", options_.shard.ToString()},
         // The bound port (--web.listen-address=127.0.0.1:0 picks one): tests read it from here.
         {"listen", LocalHost() + ":" + std::to_string(web_->port())},
         {"metrics", std::string(web_->tls() ? "https" : "http") + "://" + LocalHost() + ":" +
                         std::to_string(web_->port()) + "/metrics"},
         {"probe_port", probe_web_ ? std::to_string(probe_web_->port()) : "none"}});
    config.reset();
    malloc_trim(0);  // the parse's freed nodes (see LoadYaml in agent/config.cc)
    loop_.Run();

    Shutdown();
    return 0;
  }

 private:
  // The first config must be valid: a typo must fail the deploy, not run an empty agent. Leaves
  // *config empty without --config.file: the embedded default needs the bound port first.
  bool LoadInitialConfig(std::optional<Config>* config) {
    if (options_.config_file.empty()) return true;
    try {
      *config = LoadConfigFile(options_.config_file);
      return true;
    } catch (const ConfigError& e) {
      Log(LogLevel::kError, "invalid config",
          {{"file", options_.config_file}, {"error", e.what()}});
      return false;
    }
  }

  // The embedded default probes the agent's own /-/healthy on the port it bound.
  bool LoadDefaultConfig(std::optional<Config>* config) {
    std::string self = SelfHealthUrl(options_.listen_address, web_->port());
    try {
      *config = ParseConfig(DefaultConfigYaml(self), "<embedded default>");
      return true;
    } catch (const ConfigError& e) {
      Log(LogLevel::kError, "embedded default config is invalid", {{"error", e.what()}});
      return false;
    }
  }

  // --storage.path: the history saved by the last run, before the first config is applied.
  bool RestoreHistory(const Config& config) {
    if (options_.storage_path.empty()) return true;
    persister_ = std::make_unique<HistoryPersister>(history_, options_.storage_path);
    if (!persister_->Prepare()) return false;
    history_.SetOptions(config.history);  // restored rings are cut to the config's bounds, not ours
    history_.Restore(persister_->Load());
    return true;
  }

  bool StartWeb() {
    WebServer::Handlers handlers;
    handlers.metrics = [this] { return exporter_.Render(); };
    handlers.healthy = [this] { return clock_.Now() - loop_.last_iteration() < kLoopStallLimit; };
    handlers.ready = [this] { return ready_.load(); };
    handlers.reload = [this] { return ReloadFromOtherThread(); };
    handlers.status = [this] { return exporter_.StatusJson(); };
    handlers.pages = [this](const std::string& path,
                            const std::string& query) -> std::optional<WebResponse> {
      if (path == "/api/v1/diagnosis") return DiagnosisResponse(diagnosis_, query);
      return RouteHistory(history_, clock_, path, query, [this] { return diagnosis_.PageViews(); });
    };
    WebServer::Options web_options;
    web_options.web_config_file = options_.web_config_file;
    web_options.enable_lifecycle = options_.enable_lifecycle;
    web_ = std::make_unique<WebServer>(options_.listen_address, handlers, web_options);
    web_for_scrapes_.store(web_.get(), std::memory_order_release);
    std::string error;
    if (!web_->Start(&error)) {
      Log(LogLevel::kError, "cannot serve",
          {{"address", options_.listen_address}, {"error", error}});
      return false;
    }
    if (!options_.probe_address.empty()) {
      WebServer::Options probe_options;
      probe_options.probe_only = true;
      probe_options.num_threads = 2;  // two cheap paths; their own workers, never the scrapes'
      probe_options.request_timeout_ms = 2000;
      probe_web_ = std::make_unique<WebServer>(options_.probe_address, handlers, probe_options);
      if (!probe_web_->Start(&error)) {
        Log(LogLevel::kError, "cannot serve probes",
            {{"address", options_.probe_address}, {"error", error}});
        return false;
      }
    }
    return true;
  }

  // Loop thread (reload): new users and headers apply at once; a bad file keeps the old one.
  void ReloadWebConfig() {
    if (options_.web_config_file.empty()) return;
    std::string error;
    bool tls_changed = false;
    if (!web_->ReloadWebConfig(&error, &tls_changed)) {
      Log(LogLevel::kError, "web config reload failed; keeping the running one",
          {{"file", options_.web_config_file}, {"error", error}});
    } else if (tls_changed) {
      Log(LogLevel::kWarn, "web config: tls_server_config changed; it applies at the next restart",
          {{"file", options_.web_config_file}});
    }
  }

  // Runs now, then once a second on the loop until Shutdown.
  void Housekeeping() {
    exporter_.SetRunsInFlight(scheduler_.in_flight());
    alerts_.Evaluate();  // `for` and window expiry advance even when no result arrives
    diagnosis_.Evaluate();
    housekeeping_ = loop_.AddTimerAfter(std::chrono::seconds(1), [this] { Housekeeping(); });
  }

  void Shutdown() {
    loop_.CancelTimer(housekeeping_);
    if (reload_thread_.joinable()) reload_thread_.join();  // its outcome is not applied any more
    scheduler_.Stop();
    if (persister_) persister_->Stop();  // the last save, with the loop stopped
    ready_ = false;
    StopWebServerBounded();
    Log(LogLevel::kInfo, "gatewatch stopped");
  }

  // civetweb's mg_stop() joins threads that poll in 2 s quanta; a pod being stopped must not wait
  // for that. Give it a moment, then leave: the kernel closes the listening socket on exit.
  void StopWebServerBounded() {
    auto stopped = std::make_shared<std::promise<void>>();
    auto future = stopped->get_future();
    std::thread([web = web_.release(), probe = probe_web_.release(), stopped] {
      if (probe != nullptr) probe->Stop();
      delete probe;
      web->Stop();
      delete web;
      stopped->set_value();
    }).detach();
    if (future.wait_for(std::chrono::milliseconds(500)) != std::future_status::ready) {
      Log(LogLevel::kInfo, "gatewatch stopped");
      std::fflush(stderr);
      std::_Exit(0);
    }
  }

  // For the start-up line: where a local client reaches /metrics.
  std::string LocalHost() const {
    auto address = ParseListenAddress(options_.listen_address);
    return address ? address->LocalHost() : "127.0.0.1";
  }

  void Apply(const Config& config) {
    scheduler_.SetChecks(ToScheduled(config, options_.shard), config.scheduler);
    alerts_.SetAlerts(config.alerts);
    history_.SetOptions(config.history);
    diagnosis_.Configure(config.services, config.diagnosis);
    exporter_.SetReloadResult(true);
    ready_ = true;
  }

  // Any thread but the loop: reads and parses the file here (blocking I/O and YAML stay off the
  // loop), then applies it on the loop and hands the outcome to `reply` there. Loads are
  // serialized, so they are applied in the order they were read. A bad file keeps the running
  // config.
  void LoadThenApply(std::function<void(const WebServer::ReloadOutcome&)> reply) {
    std::lock_guard lock(reload_mutex_);
    ReloadWebConfig();  // any thread; a bad web config keeps the running one
    std::string file = options_.config_file;
    auto config = std::make_shared<std::optional<Config>>();
    std::string error;
    if (!file.empty()) {
      try {
        config->emplace(LoadConfigFile(file));
      } catch (const ConfigError& e) {
        error = e.what();
      }
    }
    loop_.Post([this, file, config, error, reply = std::move(reply)] {
      WebServer::ReloadOutcome outcome = ApplyReload(file, *config, error);
      if (reply) reply(outcome);
    });
  }

  // Loop thread.
  WebServer::ReloadOutcome ApplyReload(const std::string& file, std::optional<Config>& config,
                                       const std::string& error) {
    if (file.empty()) {
      // Nothing to re-read: the embedded default cannot change. Report success honestly.
      return {true, ""};
    }
    if (!config) {
      exporter_.SetReloadResult(false);
      Log(LogLevel::kError, "config reload failed; keeping the running config",
          {{"file", file}, {"error", error}});
      return {false, error};
    }
    Apply(*config);
    size_t checks = config->checks.size();
    config.reset();
    malloc_trim(0);  // the parse's freed nodes (see LoadYaml in agent/config.cc)
    Log(LogLevel::kInfo, "config reloaded", {{"file", file}, {"checks", std::to_string(checks)}});
    return {true, ""};
  }

  // Loop thread (SIGHUP): loads on a short-lived thread; a signal during a load reloads once more
  // after it, so the last signal always sees the last file.
  void ReloadOnSignal() {
    if (reload_running_) {
      reload_pending_ = true;
      return;
    }
    if (reload_thread_.joinable()) reload_thread_.join();  // done: it posted its outcome
    reload_running_ = true;
    auto done = [this](const WebServer::ReloadOutcome&) {
      reload_running_ = false;
      if (std::exchange(reload_pending_, false)) ReloadOnSignal();
    };
    try {
      reload_thread_ = std::thread([this, done] { LoadThenApply(done); });
    } catch (const std::system_error&) {
      LoadThenApply(done);  // no thread to be had (a pids limit): load here rather than not at all
    }
  }

  // Web-server thread: loads here, applies on the loop, which owns the scheduler.
  WebServer::ReloadOutcome ReloadFromOtherThread() {
    auto promise = std::make_shared<std::promise<WebServer::ReloadOutcome>>();
    auto future = promise->get_future();
    // Not on this web worker: Debian's civetweb gives its workers 100 KB stacks, too small for a
    // config parse (ASan's frames overflowed it and corrupted a neighbouring worker).
    try {
      std::thread([&] {
        LoadThenApply([promise](const WebServer::ReloadOutcome& o) { promise->set_value(o); });
      }).join();
    } catch (const std::system_error& e) {
      return {false, std::string("cannot start a reload thread: ") + e.what()};
    }
    if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      return {false, "reload timed out: the event loop did not answer"};
    }
    return future.get();
  }

  UniqueFd WatchSignals() {
    sigset_t set = HandledSignals();
    UniqueFd fd(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd.valid()) {
      Log(LogLevel::kError, "signalfd failed", {{"error", std::strerror(errno)}});
      return fd;
    }
    int raw = fd.get();
    loop_.Watch(raw, EventLoop::kReadable, [this, raw](uint32_t) {
      signalfd_siginfo info;
      while (::read(raw, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) {
          ReloadOnSignal();
        } else {
          Log(LogLevel::kInfo, "stopping",
              {{"signal", strsignal(static_cast<int>(info.ssi_signo))}});
          // Stop scheduling and abort transfers now; the loop returns after this iteration.
          scheduler_.Stop();
          loop_.Stop();
        }
      }
    });
    return fd;
  }

  AgentOptions options_;
  SystemClock clock_;
  SystemRandom random_;
  EventLoop loop_;
  CurlMulti curl_;
  DnsResolver dns_;
  StatfsPool statfs_;  // before services_ and scheduler_: outlives every check run
  TailRegistry tails_;
  RequestLogIndex request_log_;  // nginx's lines of the probes' requests (per-probe log join)
  CheckServices services_;
  PrometheusExporter exporter_;
  LoggingAlertSink alert_log_;
  AlertEvaluator alerts_;
  HistoryStore history_;     // runs and failures per check: the status page and history API
  DiagnosisSink diagnosis_;  // one verdict per service: /api/v1/diagnosis, gatewatch_diagnosis
  RequestLogAttacher request_log_attach_;        // after history_ and diagnosis_: attaches to both
  std::unique_ptr<HistoryPersister> persister_;  // --storage.path; destroyed before history_
  FanoutSink fanout_;
  LoggingSink logging_sink_;
  Scheduler scheduler_;
  std::unique_ptr<WebServer> web_;
  std::atomic<const WebServer*> web_for_scrapes_{nullptr};  // see the auth-failures counter
  std::unique_ptr<WebServer> probe_web_;  // --web.probe-address; stopped with the process
  TimerId housekeeping_ = 0;
  std::atomic<bool> ready_{false};
  std::mutex reload_mutex_;    // one load at a time (ParseConfig, then its Post to the loop)
  std::thread reload_thread_;  // the SIGHUP load; the flags below are the loop's
  bool reload_running_ = false;
  bool reload_pending_ = false;
};

}  // namespace

std::string SelfHealthUrl(const std::string& listen_address, int bound_port) {
  auto address = ParseListenAddress(listen_address);
  std::string host = address ? address->LocalHost() : "127.0.0.1";
  return "http://" + host + ":" + std::to_string(bound_port) + "/-/healthy";
}

int RunAgent(const AgentOptions& options) {
  // Only the loop's signalfd may see these; threads started later (civetweb) inherit the mask.
  sigset_t set = HandledSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // curl runs with CURLOPT_NOSIGNAL; a peer closing mid-write must not kill the process.
  signal(SIGPIPE, SIG_IGN);
  // glibc gives each thread that allocates its own arena (civetweb's workers render /metrics),
  // and raises the mmap threshold after the first large free, so every scrape's megabytes stayed
  // resident in a per-thread heap. Two arenas (the loop's and one for the web threads) and a
  // fixed threshold (large scrape buffers come from mmap and go back on free) keep the RSS near
  // the live data: 38 -> 27 MB at 1,000 checks (docs/performance.md).
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  CurlGlobalInit();
  AresGlobalInit();
  Agent agent(options);
  return agent.Run();
}

}  // namespace gatewatch
