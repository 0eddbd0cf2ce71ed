// The "proxy_log" check: reads a proxy's own logs (nginx's access.log and error.log) as a sidecar
// sharing its log volume, and turns every real request into counters: responses by upstream and
// code, request and upstream response time histograms, and the upstream failures nginx logged,
// classified into the Reason taxonomy (connection_refused, upstream_timeout, ...).
//
// Config (the check's own keys; errors name their exact path):
//   access_log: /var/log/nginx/access.log   at least one of access_log, error_log and syslog
//   error_log: /var/log/nginx/error.log
//   syslog:                   receive the logs over syslog instead (or as well): nginx's
//     listen: udp://127.0.0.1:5514     `access_log syslog:server=...` / `error_log syslog:...`;
//     queue: 16MiB            or unix:///path (a datagram socket); lines of nginx's error-log
//                             shape count as error log, every other line as access log. At
//                             most `queue` bytes wait between runs; the rest is dropped (counted)
//   format: upstream          combined (default) | upstream (docs/proxy-log.md) | json | a
//                             log_format string such as '$remote_addr [$time_local] $status ...'
//   start_at: end             end (default): only lines written after the first open count;
//                             beginning: read the files from their start, only the first time
//                             this process tails the path (a check rebuilt by a reload starts
//                             at the end: its counters carry on, they must not recount history)
//   max_line: 16KiB           longer lines are counted (result="too_long") and skipped; 256B..1MiB
//   read_budget: 1s           CPU time of the loop thread a run may spend reading and parsing
//                             one log; it reads until caught up or until this is spent (the
//                             rest waits for the next run); 1ms..5s
//   read_limit: 64MiB         optional byte cap per log per run, max_line..1GiB (none by default)
//   max_upstreams: 64         distinct upstream labels; later ones count as "other"; 1..1000;
//                             never recycled, so counters stay monotonic (docs/proxy-log.md)
//   proxy_read_timeout: 60s   optional: export how close upstream response times run to it
//   max_5xx_ratio: 0.1        the run fails when, over `window`, more than this share of
//   min_requests: 20          at least min_requests responses were 5xx
//   window: 1m
//
// A run reads whatever was appended since the previous run (regular files on local storage, until
// caught up or read_budget of CPU is spent: a hung network filesystem would block the loop in
// read()), and what the syslog receiver queued, and calls `done` before Start() returns. It
// succeeds unless a log is unreadable or the syslog socket cannot be bound (log_unreadable,
// retried every run, never fatal), the window holds the proxy's own exhaustion (its reason, cause
// resources), or the 5xx share of the window crosses max_5xx_ratio; it then fails with the dominant
// upstream error reason nginx logged in the window (or http_502/503/504/http_5xx when error_log
// says nothing), so a single 502 never flaps it.
//
// State (file offsets, upstream labels, the window) lives in a ProxyLogMonitor, the check's
// CheckState (checks/api/check.h), owned by the scheduler's slot: it persists across runs, and
// across a reload that keeps the check unchanged (same fingerprint). A changed check starts with
// a fresh monitor (fresh window and labels), but its reading positions do not: a monitor leaves
// them in the agent's TailRegistry (CheckServices::tails) when it goes away and the next monitor
// of the same path carries on from there, so no line written during a reload is lost or counted
// twice. Without a saved position, a log already tailed by this agent opens at the end, whatever
// start_at says. It is touched only on the loop thread, by runs
// of its own check, which the scheduler never overlaps.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "agent/io/datagram_receiver.h"
#include "agent/io/file_tailer.h"
#include "agent/io/tail_registry.h"
#include "checks/api/check_type.h"
#include "checks/api/request_log.h"
#include "checks/nginx_log_parse.h"

namespace gatewatch {

// The "proxy_log" check type. Registered by checks/check_types.cc.
CheckType ProxyLogCheckType();

struct ProxyLogConfig {
  std::string access_log;
  std::string error_log;
  std::string syslog_listen;  // empty: no syslog receiver
  uint64_t syslog_queue = 16 * 1024 * 1024;
  std::string format = "combined";
  bool start_at_end = true;
  uint64_t max_line = 16 * 1024;
  uint64_t read_limit = 0;  // 0: no byte cap, read_budget bounds a run
  Duration read_budget = std::chrono::seconds(1);
  size_t max_upstreams = 64;
  std::optional<Duration> proxy_read_timeout;
  double max_5xx_ratio = 0.1;
  int64_t min_requests = 20;
  Duration window = std::chrono::minutes(1);
};

// Reads the check's own keys from `node`; throws ConfigError naming the exact path (a format
// string that does not compile is refused at `<path>.format`).
std::shared_ptr<const ProxyLogConfig> ParseProxyLogConfig(const ConfigNode& node);

// Everything a proxy_log check remembers between runs: its CheckState. Loop thread only.
class ProxyLogMonitor final : public CheckState {
 public:
  // The number of time buckets the window is kept in: totals are running sums (a run adds its
  // counts, a bucket leaving the window is subtracted), so a run costs the same for a 1 s and a
  // 24 h window, and memory is bounded whatever the interval. The window is thereby exact to
  // 1/kWindowBuckets of itself (it covers between `window` and `window` + one bucket).
  static constexpr int kWindowBuckets = 60;

  // The config must be valid (ParseProxyLogConfig). Opens nothing (see Check::NewState).
  // `interval`: the check's, to tell a reading position left by a rebuilt check (resumed) from
  // one left long ago by a check since removed (not resumed: such a check starts at the end).
  explicit ProxyLogMonitor(std::shared_ptr<const ProxyLogConfig> cfg, Duration interval = {});
  // Leaves the reading positions in the TailRegistry of the first Run(), for the state of a
  // rebuilt check on the same path.
  ~ProxyLogMonitor() override;

  // One run: reads what both logs gained since the last run and describes it. The first run
  // opens the logs, from their start only if start_at is beginning and `tails` has not seen the
  // path yet; later runs ignore `tails`.
  // `loop`: where a syslog receiver is watched (needed only with `syslog`).
  // `request_log`: where access lines of gatewatch's own probes (by request id) and the error
  // lines of their connections go, for the per-probe log join; null: nowhere.
  Result Run(TimePoint now, TailRegistry& tails, EventLoop* loop = nullptr,
             RequestLogIndex* request_log = nullptr);

  // The pieces of Run(), for tests that feed lines directly (after set_request_log, if any).
  void set_request_log(RequestLogIndex* index) { request_log_ = index; }
  void OnAccessLine(std::string_view line);
  void OnErrorLine(std::string_view line);
  // One syslog datagram: an RFC 3164 message whose content is an access or error log line.
  void OnSyslogMessage(std::string_view datagram);
  Result Finish(TimePoint now, const FileTailer::PollStats* access,
                const FileTailer::PollStats* error);

 private:
  struct Histogram {
    std::vector<double> buckets;
    double sum = 0;
    uint64_t count = 0;
  };
  // One run's totals, a bucket of the window, or the window's running sum.
  struct WindowEntry {
    int64_t bucket = -1;  // index of the bucket (time / bucket width); -1: empty
    double total = 0;
    double bad = 0;  // 5xx
    double max_upstream_seconds = 0;
    std::map<int, double> bad_codes;               // status -> count
    std::map<std::pair<int, int>, double> errors;  // (reason, upstream id) -> count
  };
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  void OpenTailers(TailRegistry& tails, TimePoint now);
  // Reads what the syslog receiver holds (opening it first if needed); false with *error set
  // when it cannot be opened (retried every run).
  bool ReadSyslog(TailRegistry& tails, EventLoop* loop, std::string* error);
  // Adds run_ to the window at `now` and expires the buckets that left it.
  void AdvanceWindow(TimePoint now);
  void Subtract(const WindowEntry& e);
  int UpstreamId(std::string_view addr);
  void CountLines(Result& r, const char* log, const FileTailer::PollStats* stats, uint64_t parsed,
                  uint64_t skipped) const;

  std::shared_ptr<const ProxyLogConfig> cfg_;
  std::unique_ptr<AccessLogFormat> format_;
  std::unique_ptr<FileTailer> access_;
  std::unique_ptr<FileTailer> error_;
  bool tailers_open_ = false;      // at the first Run()
  TailRegistry* tails_ = nullptr;  // the first Run()'s, outlives this state (owned by the agent)
  RequestLogIndex* request_log_ = nullptr;  // the last Run()'s (owned by the agent)
  Duration interval_{};
  TimePoint last_run_{};
  std::shared_ptr<DatagramReceiver> syslog_;  // shared with TailRegistry::receivers()
  DatagramReceiver::Counters syslog_counts_;  // this run's
  uint64_t syslog_too_long_ = 0;              // this run's: lines over max_line
  uint64_t syslog_malformed_ = 0;             // this run's
  std::string syslog_error_;                  // why the receiver could not be opened

  // Upstream labels: bounded by max_upstreams plus "none", "unknown" and "other".
  std::unordered_map<std::string, int, StringHash, std::equal_to<>> upstream_ids_;
  std::vector<std::string> upstream_names_;
  size_t real_upstreams_ = 0;
  std::vector<int> new_upstreams_;  // first seen in this run

  // This run's totals.
  std::unordered_map<uint64_t, double> responses_;  // (upstream id << 16 | code slot) -> count
  std::unordered_map<uint64_t, double> errors_;     // (upstream id << 8 | reason) -> count
  Histogram request_seconds_;
  std::unordered_map<int, Histogram> upstream_seconds_;  // by upstream id
  uint64_t access_parsed_ = 0, access_skipped_ = 0, error_parsed_ = 0, error_skipped_ = 0;
  WindowEntry run_;
  std::vector<UpstreamAttempt> attempts_;  // scratch

  Duration bucket_width_{};
  std::vector<WindowEntry> buckets_;  // kWindowBuckets + 1, a ring indexed by bucket
  WindowEntry window_sum_;            // running sums over buckets_ (max_upstream_seconds unused)
};

}  // namespace gatewatch
