// The contract between the scheduler and every check type.
//
// A check type lives in one unit under checks/ (e.g. http_check.cc) and registers itself with
// GATEWATCH_REGISTER_CHECK_TYPE. The core knows nothing else about it.
//
// Flow of one run (all on the loop thread):
//   1. the scheduler calls Check::Start(ctx, done) and keeps the returned CheckRun;
//   2. the run does its I/O through ctx.services (curl multi, c-ares, files) and returns at once;
//   3. when it finishes it calls done(Result) exactly once; or, if the deadline passes first, the
//      scheduler calls CheckRun::Abort(), which stops all I/O and returns the Result instead (done
//      is then never called).
//
// Checks never know about Prometheus: they describe what they measured as Observations against
// MetricDescs, and exporters decide how to expose them.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/clock.h"
#include "agent/config_node.h"
#include "checks/reason.h"

namespace gatewatch {

class EventLoop;
class CurlMulti;
class DnsResolver;

// ----- What a run reports ------------------------------------------------------------------------

enum class MetricKind { kGauge, kCounter, kHistogram };

// Describes one metric a check type reports. Exporters add the `gatewatch_` prefix and a leading
// `check` label. Instances have static storage duration (Observations point at them).
struct MetricDesc {
  std::string_view name;  // e.g. "http_phase_seconds"
  MetricKind kind;
  std::string_view help;
  std::vector<std::string_view> labels;  // label names after `check`; values must be bounded
  std::vector<double> buckets = {};      // histograms only
};

// The label values of one Observation, stored inline: no heap allocation for up to kMax values of
// up to 15 characters each (std::string's short-string buffer), where a std::vector<std::string>
// cost one allocation per Observation, about ten per HTTP run. Built from a braced list like a
// vector (`{}`, `{"connect"}`, `{upstream, "502"}`); a fourth value does not compile.
class LabelValues {
 public:
  static constexpr size_t kMax = 3;

  LabelValues() = default;
  // Not explicit: `{name}` in an Observation's braced initializer must convert.
  LabelValues(std::string a)
      : values_{std::move(a)}, size_(1) {}  // NOLINT(google-explicit-constructor)
  LabelValues(std::string a, std::string b) : values_{std::move(a), std::move(b)}, size_(2) {}
  LabelValues(std::string a, std::string b, std::string c)
      : values_{std::move(a), std::move(b), std::move(c)}, size_(3) {}

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const std::string* begin() const { return values_.data(); }
  const std::string* end() const { return values_.data() + size_; }
  const std::string& operator[](size_t i) const { return values_[i]; }
  const std::string& at(size_t i) const {
    if (i >= size_) throw std::out_of_range("LabelValues::at");
    return values_[i];
  }
  const std::string& back() const { return values_[size_ - 1]; }

  friend bool operator==(const LabelValues& a, std::span<const std::string> b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const LabelValues& a, const LabelValues& b) {
    return a == std::span<const std::string>(b.begin(), b.end());
  }

 private:
  std::array<std::string, kMax> values_;
  uint8_t size_ = 0;
};

// One measured value. Gauges are set, counters are incremented by `value`, histograms observe it.
// A gauge series of a check that a later result no longer reports is removed (e.g. a backend that
// left the DNS answer), so gauges describe only the current state.
//
// A histogram may instead receive a pre-bucketed batch, so a check that saw thousands of values in
// one run (a proxy's log lines) reports one Observation: `bucket_counts` holds how many values fell
// into each bucket (not cumulative; desc->buckets.size() + 1 entries, the last one for +Inf) and
// `value` is the sum of the values.
struct Observation {
  const MetricDesc* desc;
  LabelValues label_values;  // same order as desc->labels
  double value;
  std::vector<double> bucket_counts = {};  // histograms only; empty: `value` is one observation
};

// Counts `value` into `bucket_counts` (sized desc.buckets.size() + 1) the way Prometheus buckets
// it: the first bucket whose upper bound is >= value, else +Inf.
void AddToBuckets(const MetricDesc& desc, double value, std::vector<double>* bucket_counts);

struct Result {
  bool success = false;
  Reason reason = Reason::kNone;  // kNone exactly when success
  Duration duration{};
  // One line for humans (logs, status page, `gatewatch probe`). Never contains credentials.
  std::string detail;
  std::vector<Observation> observations;
  // Ordered key/value facts for `gatewatch probe` and the status API, e.g. {"status", "502"}.
  std::vector<std::pair<std::string, std::string>> report;

  static Result Success() {
    Result r;
    r.success = true;
    return r;
  }
  static Result Failure(Reason reason, std::string detail) {
    Result r;
    r.reason = reason;
    r.detail = std::move(detail);
    return r;
  }
};

// ----- What a check is given -------------------------------------------------------------------

// Where the host's filesystems are mounted (--path.procfs, --path.sysfs, --path.rootfs), so an
// agent in a container can watch the host through read-only mounts.
struct HostPaths {
  std::string procfs = "/proc";
  std::string sysfs = "/sys";
  std::string rootfs = "/";
};

// The loop's services. Owned by the agent; they outlive every check run.
struct CheckServices {
  EventLoop& loop;
  CurlMulti& curl;
  DnsResolver& dns;
  const Clock& clock;
  HostPaths paths = {};
};

struct RunContext {
  CheckServices& services;
  TimePoint started;
  TimePoint deadline;  // the run must be over by then; the scheduler enforces it with Abort()
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

// A configured check. Immutable after construction; shared by the scheduler across runs and, when
// a reload keeps it unchanged, across configs.
class Check {
 public:
  explicit Check(CheckSpec spec) : spec_(std::move(spec)) {}
  virtual ~Check() = default;
  const CheckSpec& spec() const { return spec_; }

  // Starts a run. `done` is called exactly once, on the loop thread, unless the run is aborted or
  // destroyed first. `done` may be called before Start() returns (checks with no I/O); the callee
  // must not touch the run after calling `done`, because the caller may destroy it.
  virtual std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const = 0;

 private:
  CheckSpec spec_;
};

// ----- Registry of check types -----------------------------------------------------------------

// Builds a check from its spec and the check's config node. The factory reads its own keys from
// `node` (the common keys name/type/interval/timeout/labels are already read) and throws
// ConfigError with the node's path on any invalid value. Unknown keys are rejected by the caller.
using CheckFactory = std::function<std::unique_ptr<Check>(const CheckSpec&, const ConfigNode&)>;

struct CheckType {
  std::string_view name;
  CheckFactory factory;
  std::vector<const MetricDesc*> metrics;  // every metric this type may report
};

class CheckRegistry {
 public:
  static CheckRegistry& Instance();
  bool Register(CheckType type);
  const CheckType* Find(std::string_view name) const;
  std::vector<std::string_view> Names() const;
  std::vector<const MetricDesc*> AllMetrics() const;

 private:
  std::vector<CheckType> types_;
};

// Registers every built-in check type once (idempotent). Adding a type adds one line to
// checks/check_types.cc and nothing else outside its own unit.
void RegisterBuiltinCheckTypes();

}  // namespace gatewatch
