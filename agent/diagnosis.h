// The diagnosis engine (docs/diagnosis.md): joins the results of the checks that describe one
// proxied service (public probes, the proxy's own logs, DNS of the upstream names, the host, the
// CDN-vs-origin check) into one verdict per service: a cause, a finer `why`, the upstream
// addresses it concerns, a confidence and the evidence chain.
//
// Pure: it sees only Results and the time of an injected Clock, does no I/O and knows nothing of
// Prometheus, so it is table-tested with a fake clock (tests/unit/diagnosis_test.cc).
//
// Thread-safety: none; the agent calls it on the loop thread only (DiagnosisSink in
// agent/diagnosis_sink.h publishes snapshots for other threads).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/base/clock.h"
#include "checks/api/result.h"

namespace gatewatch {

// What a check tells about its service.
enum class ServiceRole {
  kProbe,      // a public probe through the proxy (http)
  kProxyLog,   // the proxy's own access/error logs (proxy_log)
  kDns,        // DNS of an upstream name (dns)
  kHost,       // the host or container the upstream runs on (host)
  kCdnOrigin,  // the same URL through the CDN and straight to the origin (cdn_origin)
  kAgentPath,  // a target that proves the agent's own network path (any type)
};
std::string_view RoleName(ServiceRole r);
std::optional<ServiceRole> ParseRole(std::string_view name);

struct ServiceCheck {
  std::string check;
  ServiceRole role;
};

struct ServiceSpec {
  std::string name;
  std::vector<ServiceCheck> checks;
  // The proxy_log upstream labels ($upstream_addr values) of this service; empty: all of them.
  std::vector<std::string> upstreams;
  // The config's implicit service (no `services:`): its dns checks are not known to be the
  // upstreams' names, so the stale-address join is off.
  bool implicit = false;
};

struct DiagnosisOptions {
  // Results older than this are not evidence any more.
  Duration window = std::chrono::seconds(60);
  // A verdict holds at least this long: it changes only on fresh evidence for another cause after
  // it, and clears only when nothing has supported it for this long.
  Duration hold = std::chrono::seconds(30);
};

// The verdict's cause: docs/reasons.md's causes plus the agent's own network.
enum class DiagnosisCause {
  kUpstreamDown,
  kOverloaded,
  kDns,
  kNetwork,
  kMisconfiguration,
  kCdnPath,
  kResources,
  kAgentNetwork,
};
inline constexpr int kDiagnosisCauseCount = 8;
std::string_view DiagnosisCauseName(DiagnosisCause c);

// One fact of the evidence chain.
struct DiagnosisFact {
  std::string check;
  ServiceRole role = ServiceRole::kProbe;
  TimePoint at{};                              // when the source check reported it (loop clock)
  std::chrono::system_clock::time_point wall;  // the same moment on the wall clock
  std::string reason;                          // docs/reasons.md name, "none" for a success
  std::string text;                            // one line for a person
  std::vector<std::pair<std::string, double>> numbers;
};

struct Verdict {
  std::string service;
  DiagnosisCause cause = DiagnosisCause::kUpstreamDown;
  std::string why;  // finer cause where evidence allows (oom_killed, stale_upstream_address...)
  std::vector<std::string> upstreams;   // affected upstream addresses, most failures first
  double confidence = 0;                // 0..1: how many independent checks agree
  std::vector<DiagnosisFact> evidence;  // supporting facts first, at most kMaxEvidence
  TimePoint since{};
  std::chrono::system_clock::time_point since_wall;
  TimePoint supported{};  // the last evaluation whose evidence backed it
  // Only bare statuses (http_502...) back it: a guess from the hop in front. A verdict of another
  // cause that a reason backs (the proxy's log saying connection_reset) replaces it at once,
  // without waiting for the hold.
  bool tentative = false;
  // One line: "upstream_down (connection_refused): 10.0.0.4:8080 connection_refused 37 times ..."
  std::string Summary() const;
};

class DiagnosisEngine {
 public:
  static constexpr size_t kMaxEvidence = 12;
  static constexpr size_t kMaxUpstreams = 8;
  static constexpr size_t kMaxEntriesPerCheck = 64;

  explicit DiagnosisEngine(const Clock& clock) : clock_(clock) {}

  // Replaces the services; verdicts of services that keep their name survive.
  void Configure(std::vector<ServiceSpec> services, DiagnosisOptions options);
  // A result of `check` (ignored unless some service lists it), taken at clock.Now().
  void OnResult(const std::string& check, const Result& result);
  // The per-probe log join (checks/api/request_log.h): nginx's lines for the request `request_id`
  // of a probe's run (its report's `request_id`). The newest failed run of a failing probe with
  // such lines in the window shows them as a fact after the probe's own ("nginx log for gw-...:
  // ..."); a later call replaces them (more error lines arrived). False when no entry has that id.
  bool AttachRequestLog(const std::string& check, const std::string& request_id,
                        const std::string& text);
  // Re-judges every service at clock.Now().
  void Evaluate();

  // The current verdicts, in service order; a healthy service has none.
  std::vector<Verdict> Verdicts() const;
  const std::vector<ServiceSpec>& services() const { return services_; }

 private:
  struct UpstreamCount {
    std::string upstream;
    std::string reason;  // reason name, or the status code ("502") for a proxy_log response
    double n;
  };
  struct Entry {
    TimePoint at{};
    std::chrono::system_clock::time_point wall{};
    bool success = false;
    Reason reason = Reason::kNone;
    std::string detail;
    std::vector<UpstreamCount> errors;     // proxy_log: upstream failures this run
    std::vector<UpstreamCount> responses;  // proxy_log: responses per upstream and code
    std::vector<std::string> answers;      // dns: addresses in the answers
    std::string request_id;                // probe: the run's request id (report `request_id`)
    std::string nginx_log;                 // probe: nginx's lines for it, once joined
  };
  struct Candidate;

  std::optional<Candidate> Judge(const ServiceSpec& s, TimePoint now) const;

  const Clock& clock_;
  DiagnosisOptions options_;
  std::vector<ServiceSpec> services_;
  std::unordered_map<std::string, std::deque<Entry>> entries_;  // by check: its window
  std::map<std::string, Verdict> verdicts_;                     // by service
};

}  // namespace gatewatch
