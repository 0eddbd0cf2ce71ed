// The contract between the scheduler and every check type.
//
// A check type lives in one unit under checks/ (e.g. http_check.cc) and is registered
// by one line in checks/check_types.cc (checks/api/check_type.h). The core knows nothing else about
// it.
//
// Flow of one run (all on the loop thread):
//   1. the scheduler calls Check::Start(ctx, done) and keeps the returned CheckRun;
//   2. the run does its I/O through ctx.services (curl multi, c-ares, files) and returns at once;
//   3. when it finishes it calls done(Result) exactly once; or, if the deadline passes first, the
//      scheduler calls CheckRun::Abort(), which stops all I/O and returns the Result instead (done
//      is then never called).
//
// A Check is immutable configuration. What a check carries from one run to the next (counters
// for deltas, file offsets, a window) lives in a CheckState the check makes (Check::NewState) and
// the caller owns: the scheduler keeps one per scheduled check, across runs and across a reload
// that keeps the check unchanged (same fingerprint); a changed or new check starts from a fresh
// one. Process-wide resources a check needs (the statvfs pool, the tailed-paths registry) are
// services owned by the agent, never statics in checks/.
//
// Checks never know about Prometheus: they describe what they measured as Observations against
// MetricDescs, and exporters decide how to expose them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "checks/api/metric.h"
#include "checks/api/reason.h"
#include "checks/api/result.h"

namespace gatewatch {

class EventLoop;
class CurlMulti;
class DnsResolver;
class StatfsPool;
class TailRegistry;
class RequestLogIndex;

// ----- What a check is given -------------------------------------------------------------------

// Where the host's filesystems are mounted (--path.procfs, --path.sysfs, --path.rootfs), so an
// agent in a container can watch the host through read-only mounts.
struct HostPaths {
  std::string procfs = "/proc";
  std::string sysfs = "/sys";
  std::string rootfs = "/";
};

// The loop's services. Owned by the agent (or `gatewatch probe`, or a test fixture); they outlive
// every check run and every CheckState. loop, curl and dns are never null for a check that uses
// them: only a test whose fake checks do no I/O (the scheduler's) leaves them null, so it needs
// no event loop, curl or c-ares.
struct CheckServices {
  EventLoop* loop;
  CurlMulti* curl;
  DnsResolver* dns;
  const Clock& clock;
  StatfsPool& statfs;   // statvfs off the loop (agent/io/statfs_pool.h)
  TailRegistry& tails;  // log paths tailed already (agent/io/tail_registry.h)
  HostPaths paths = {};
  // What nginx logged about the probes' requests (checks/api/request_log.h): filled by proxy_log
  // checks, read by the agent. Null where nobody joins (`gatewatch probe`, tests).
  RequestLogIndex* request_log = nullptr;
};

// What a check remembers between its runs. Made by Check::NewState() of the check that uses it;
// owned by the caller of Check::Start (the scheduler's slot, a probe, a test). Touched only on the
// loop thread, by runs of its own check, which never overlap; it outlives every run it is given
// to (a run is destroyed or finished before its state).
class CheckState {
 public:
  virtual ~CheckState() = default;
};

struct RunContext {
  CheckServices& services;
  TimePoint started;
  TimePoint deadline;  // the run must be over by then; the scheduler enforces it with Abort()
  // The state made by this check's NewState() (or by that of a check with the same fingerprint),
  // the same object for every run of one scheduled check; nullptr when NewState() returned
  // nullptr. A stateful check given nullptr fails the run with internal_error.
  CheckState* state = nullptr;
};

// Named lists of DNS servers defined once at the top of the config
// (`resolvers: {public: ["1.1.1.1", "9.9.9.9:53"]}`), each entry already normalized to "ip:port"
// (DnsResolver::ParseServer). Read-only, shared by every check of one config.
using ResolverLists = std::map<std::string, std::vector<std::string>>;

// Settings shared by every check type.
struct CheckSpec {
  std::string name;  // unique, [a-zA-Z0-9_.-]+
  std::string type;
  Duration interval{};
  Duration timeout{};  // < interval
  std::map<std::string, std::string> labels;
  // The config's named resolver lists (never null when built by the config loader).
  std::shared_ptr<const ResolverLists> resolver_lists = std::make_shared<ResolverLists>();
};

// One run in flight. Destroying it stops all of its I/O without calling `done`.
class CheckRun {
 public:
  virtual ~CheckRun() = default;
  // Deadline reached: stop all I/O now and describe how far the run got (e.g. connect_timeout vs
  // timeout). After Abort(), `done` is never called.
  virtual Result Abort() = 0;
};

using DoneCallback = std::function<void(Result)>;

// A configured check. Immutable after construction (no mutable members): shared by the scheduler
// across runs and, when a reload keeps it unchanged, across configs; per-check memory lives in
// its CheckState.
class Check {
 public:
  explicit Check(CheckSpec spec) : spec_(std::move(spec)) {}
  virtual ~Check() = default;
  const CheckSpec& spec() const { return spec_; }

  // Starts a run. `done` is called exactly once, on the loop thread, unless the run is aborted or
  // destroyed first. `done` may be called before Start() returns (checks with no I/O); the callee
  // must not touch the run after calling `done`, because the caller may destroy it.
  virtual std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const = 0;

  // A fresh state for this check's runs (see CheckState); nullptr for a stateless type. Cheap and
  // without side effects (no file opened, nothing registered): I/O waits for the first run.
  virtual std::unique_ptr<CheckState> NewState() const { return nullptr; }

 private:
  CheckSpec spec_;
};

}  // namespace gatewatch
