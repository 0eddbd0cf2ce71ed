#include "exporters/check_series.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>

namespace gatewatch {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr std::string_view kPrefix = "gatewatch_";

// The exporter's own per-check families, in the order they are rendered within their type.
enum Own { kRuns, kFailures, kSkipped, kSuccess, kDuration, kLastRun, kInfo, kOwnCount };

struct OwnFamily {
  const char* name;
  const char* help;
  MetricType type;
};

constexpr std::array<OwnFamily, kOwnCount> kOwn = {{
    {"gatewatch_check_runs_total", "Completed runs of the check, by result (success or failure).",
     MetricType::Counter},
    {"gatewatch_check_failures_total", "Failed runs of the check, by reason (see docs/reasons.md).",
     MetricType::Counter},
    {"gatewatch_check_skipped_total",
     "Runs not started because the previous run was still in flight or the global cap on runs "
     "in flight was reached.",
     MetricType::Counter},
    {"gatewatch_check_success", "Whether the last run of the check succeeded (1) or failed (0).",
     MetricType::Gauge},
    {"gatewatch_check_duration_seconds", "Duration of the last run of the check.",
     MetricType::Gauge},
    {"gatewatch_check_last_run_timestamp_seconds",
     "Unix time at which the last run of the check ended.", MetricType::Gauge},
    {"gatewatch_check_info", "Always 1: the check's type and the labels given to it in the config.",
     MetricType::Gauge},
}};

MetricType TypeOf(MetricKind kind) {
  switch (kind) {
    case MetricKind::kGauge:
      return MetricType::Gauge;
    case MetricKind::kCounter:
      return MetricType::Counter;
    case MetricKind::kHistogram:
      return MetricType::Histogram;
  }
  return MetricType::Untyped;
}

MetricFamily EmptyFamily(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric& AddMetric(MetricFamily& family, double value) {
  ClientMetric& m = family.metric.emplace_back();
  if (family.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}

// The status report, packed into one string (each key and value preceded by its length as a
// varint): one buffer whose capacity is reused run after run, instead of a vector of string pairs.
void PackString(std::string& out, std::string_view s) {
  size_t n = s.size();
  while (n >= 0x80) {
    out += static_cast<char>((n & 0x7f) | 0x80);
    n >>= 7;
  }
  out += static_cast<char>(n);
  out += s;
}

std::string_view UnpackString(std::string_view& in) {
  size_t n = 0;
  for (int shift = 0; !in.empty(); shift += 7) {
    auto byte = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    n |= static_cast<size_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  std::string_view s = in.substr(0, n);
  in.remove_prefix(s.size());
  return s;
}

// The first record of a list sorted by name whose name is not below `name`.
template <typename List>
auto LowerBoundByName(List& list, std::string_view name) {
  return std::lower_bound(list.begin(), list.end(), name,
                          [](const auto& r, std::string_view n) { return r->name < n; });
}

}  // namespace

// One metric of the check types (a MetricDesc), shared by every check that reports it.
// Immutable once published.
struct CheckSeriesStore::Family {
  std::string name;  // with the gatewatch_ prefix
  std::string help;
  MetricKind kind;
  std::vector<std::string> label_names;  // after `check`
  std::vector<double> buckets;           // histograms only
  // Rendering order of the labels, sorted by name: 0 is `check`, i + 1 is label_names[i].
  std::vector<uint8_t> order;
  size_t index;  // in families_
};

// One series of an Observation. 64 bytes plus the label values beyond std::string's short buffer.
struct CheckSeriesStore::Series {
  const Family* family;
  std::string values;  // label values, each followed by '\0' (a NUL inside a value becomes '?')
  double value = 0;    // the gauge's or counter's value; a histogram's sum
  std::unique_ptr<double[]> buckets;  // histograms: count per bucket (not cumulative), +Inf last
  uint32_t generation = 0;            // the last result that reported it
};

struct CheckSeriesStore::Record {
  explicit Record(const CheckSpec& spec)
      : name(spec.name), type(spec.type), labels(spec.labels.begin(), spec.labels.end()) {}

  bool SameIdentity(const CheckSpec& spec) const {
    return type == spec.type && std::equal(labels.begin(), labels.end(), spec.labels.begin(),
                                           spec.labels.end(), [](const auto& a, const auto& b) {
                                             return a.first == b.first && a.second == b.second;
                                           });
  }

  const std::string name;
  const std::string type;
  const std::vector<std::pair<std::string, std::string>> labels;  // from the config

  mutable std::mutex mu;    // guards everything below
  bool ran = false;         // a result arrived: the success/duration/last-run gauges exist
  bool has_status = false;  // the status API shows a last result (may predate this record)
  bool success = false;
  Reason reason = Reason::kNone;
  uint32_t generation = 0;  // results so far
  uint32_t cursor = 0;      // where the next Observation's series is looked for first
  double duration = 0;
  double last_run = 0;
  double runs_success = 0;
  double runs_failure = 0;
  double skipped = 0;
  uint64_t status_skipped = 0;  // for the status API; survives a change of labels
  std::vector<std::pair<Reason, double>> failures;
  std::vector<Series> observed;
  std::string detail;
  std::string report;  // packed, see PackString
};

CheckSeriesStore::CheckSeriesStore() : list_(std::make_shared<RecordList>()) {}
CheckSeriesStore::~CheckSeriesStore() = default;

CheckSeriesStore::Record* CheckSeriesStore::FindRecord(std::string_view name) const {
  const RecordList& list = *list_;
  auto it = LowerBoundByName(list, name);
  return it != list.end() && (*it)->name == name ? it->get() : nullptr;
}

void CheckSeriesStore::Publish(std::shared_ptr<const RecordList> list) {
  // The old list is released outside the lock: a removed record may be the last reference.
  std::shared_ptr<const RecordList> old;
  std::lock_guard<std::mutex> lock(mu_);
  old = std::exchange(list_, std::move(list));
}

void CheckSeriesStore::SetChecks(const std::vector<const CheckSpec*>& checks) {
  auto next = std::make_shared<RecordList>();
  next->reserve(checks.size());
  for (const CheckSpec* spec : checks) {
    auto old = LowerBoundByName(*list_, spec->name);
    bool found = old != list_->end() && (*old)->name == spec->name;
    if (found && (*old)->SameIdentity(*spec)) {
      next->push_back(*old);
      continue;
    }
    auto record = std::make_shared<Record>(*spec);
    if (found && (*old)->type == spec->type) {
      // Only the labels changed: new series, but the status page keeps the last result.
      const Record& o = **old;
      std::lock_guard<std::mutex> lock(o.mu);
      record->has_status = o.has_status;
      record->success = o.success;
      record->reason = o.reason;
      record->duration = o.duration;
      record->last_run = o.last_run;
      record->status_skipped = o.status_skipped;
      record->detail = o.detail;
      record->report = o.report;
    }
    next->push_back(std::move(record));
  }
  std::sort(next->begin(), next->end(),
            [](const auto& a, const auto& b) { return a->name < b->name; });
  next->erase(std::unique(next->begin(), next->end(),
                          [](const auto& a, const auto& b) { return a->name == b->name; }),
              next->end());
  Publish(std::move(next));
}

CheckSeriesStore::Record& CheckSeriesStore::RecordFor(const CheckSpec& spec) {
  if (Record* r = FindRecord(spec.name)) return *r;
  // Not configured (only callers that skip SetChecks): copy the list with the new record.
  auto next = std::make_shared<RecordList>(*list_);
  auto record = std::make_shared<Record>(spec);
  Record& ref = *record;
  next->insert(LowerBoundByName(*next, spec.name), std::move(record));
  Publish(std::move(next));
  return ref;
}

const CheckSeriesStore::Family& CheckSeriesStore::FamilyFor(const MetricDesc& desc) {
  auto it = family_by_name_.find(desc.name);
  if (it != family_by_name_.end()) return *it->second;
  auto f = std::make_unique<Family>();
  f->name = std::string(kPrefix) + std::string(desc.name);
  f->help = std::string(desc.help);
  f->kind = desc.kind;
  f->label_names.assign(desc.labels.begin(), desc.labels.end());
  f->buckets = desc.buckets;
  auto label = [&](uint8_t i) -> std::string_view {
    return i == 0 ? std::string_view("check") : std::string_view(f->label_names[i - 1]);
  };
  for (size_t i = 0; i <= f->label_names.size(); ++i) f->order.push_back(static_cast<uint8_t>(i));
  std::sort(f->order.begin(), f->order.end(),
            [&](uint8_t a, uint8_t b) { return label(a) < label(b); });
  f->index = families_.size();
  const Family& ref = *f;
  family_by_name_.emplace(std::string_view(ref.name).substr(kPrefix.size()), &ref);
  std::lock_guard<std::mutex> lock(mu_);
  families_.push_back(std::move(f));
  return ref;
}

void CheckSeriesStore::Observe(Record& r, const Observation& obs, uint32_t generation) {
  const Family& family = FamilyFor(*obs.desc);
  key_.clear();
  for (const std::string& v : obs.label_values) {
    // Values can come from targets (a proxy log's upstream names): a NUL inside one must not
    // split it into two labels or make it collide with another series.
    size_t at = key_.size();
    key_ += v;
    std::replace(key_.begin() + static_cast<std::ptrdiff_t>(at), key_.end(), '\0', '?');
    key_ += '\0';
  }
  // Results report their observations in the same order run after run: looking from where the
  // last match was makes the search one comparison in the usual case.
  Series* s = nullptr;
  size_t n = r.observed.size();
  for (size_t k = 0, i = r.cursor; k < n; ++k, ++i) {
    if (i >= n) i = 0;
    Series& c = r.observed[i];
    if (c.family == &family && c.values == key_) {
      s = &c;
      r.cursor = static_cast<uint32_t>(i + 1);
      break;
    }
  }
  if (s == nullptr) {
    s = &r.observed.emplace_back();
    s->family = &family;
    s->values = key_;
    if (family.kind == MetricKind::kHistogram) {
      s->buckets = std::make_unique<double[]>(family.buckets.size() + 1);
    }
    r.cursor = static_cast<uint32_t>(r.observed.size());
  }
  s->generation = generation;
  switch (family.kind) {
    case MetricKind::kGauge:
      s->value = obs.value;
      break;
    case MetricKind::kCounter:
      if (obs.value > 0) s->value += obs.value;
      break;
    case MetricKind::kHistogram:
      if (obs.bucket_counts.empty()) {
        // The first bucket whose bound is not below the value, as prometheus-cpp buckets it; NaN
        // compares false with every bound and goes to +Inf there too.
        auto b = std::isnan(obs.value)
                     ? family.buckets.end()
                     : std::lower_bound(family.buckets.begin(), family.buckets.end(), obs.value);
        s->buckets[b - family.buckets.begin()] += 1;
        s->value += obs.value;
      } else if (obs.bucket_counts.size() == family.buckets.size() + 1) {
        for (size_t i = 0; i < obs.bucket_counts.size(); ++i) {
          // A count never goes down (prometheus-cpp's Counter::Increment ignores negatives).
          if (!(obs.bucket_counts[i] < 0)) s->buckets[i] += obs.bucket_counts[i];
        }
        s->value += obs.value;
      }  // a batch of another shape is a check bug: dropped rather than mis-bucketed
      break;
  }
}

void CheckSeriesStore::OnResult(const CheckSpec& check, const Result& result, double wall_seconds) {
  Record& r = RecordFor(check);
  std::lock_guard<std::mutex> lock(r.mu);
  r.ran = r.has_status = true;
  r.success = result.success;
  r.reason = result.reason;
  r.duration = ToSeconds(result.duration);
  r.last_run = wall_seconds;
  if (result.success) {
    r.runs_success += 1;
  } else {
    r.runs_failure += 1;
    auto f = std::find_if(r.failures.begin(), r.failures.end(),
                          [&](const auto& p) { return p.first == result.reason; });
    if (f == r.failures.end()) {
      r.failures.emplace_back(result.reason, 1);
    } else {
      f->second += 1;
    }
  }

  uint32_t generation = ++r.generation;
  size_t before = r.observed.size();
  for (const Observation& obs : result.observations) Observe(r, obs, generation);
  // Gauges describe the current state: drop those this result no longer reports.
  std::erase_if(r.observed, [&](const Series& s) {
    return s.family->kind == MetricKind::kGauge && s.generation != generation;
  });
  if (r.observed.size() != before) {
    r.cursor = 0;
    // Series are added in bursts (the first result): give back the vector's growth slack.
    if (r.observed.capacity() > r.observed.size() + r.observed.size() / 8 + 1) {
      r.observed.shrink_to_fit();
    }
  }

  r.detail.assign(result.detail);
  // Sized once to the packed length: appending would leave up to half of the buffer unused.
  size_t packed = 0;
  for (const auto& [key, value] : result.report) packed += key.size() + value.size() + 4;
  r.report.clear();
  if (packed > r.report.capacity()) r.report.reserve(packed);
  for (const auto& [key, value] : result.report) {
    PackString(r.report, key);
    PackString(r.report, value);
  }
}

void CheckSeriesStore::OnSkipped(const CheckSpec& check) {
  Record& r = RecordFor(check);
  std::lock_guard<std::mutex> lock(r.mu);
  r.skipped += 1;
  r.status_skipped++;
}

std::vector<MetricFamily> CheckSeriesStore::Collect() const {
  std::shared_ptr<const RecordList> list;
  std::vector<const Family*> families;
  {
    std::lock_guard<std::mutex> lock(mu_);
    list = list_;
    families.reserve(families_.size());
    for (const auto& f : families_) families.push_back(f.get());
  }
  std::vector<MetricFamily> own;
  own.reserve(kOwnCount);
  for (const OwnFamily& f : kOwn) own.push_back(EmptyFamily(f.name, f.help, f.type));
  size_t n = list->size();
  own[kRuns].metric.reserve(2 * n);
  for (Own o : {kSkipped, kSuccess, kDuration, kLastRun, kInfo}) own[o].metric.reserve(n);
  std::vector<MetricFamily> observed;
  observed.reserve(families.size());
  for (const Family* f : families)
    observed.push_back(EmptyFamily(f->name, f->help, TypeOf(f->kind)));

  for (const auto& record : *list) {
    const Record& r = *record;
    std::lock_guard<std::mutex> lock(r.mu);
    AddMetric(own[kRuns], r.runs_success).label = {
        {"check", r.name}, {"result", "success"}, {"type", r.type}};
    AddMetric(own[kRuns], r.runs_failure).label = {
        {"check", r.name}, {"result", "failure"}, {"type", r.type}};
    for (const auto& [reason, count] : r.failures) {
      AddMetric(own[kFailures], count).label = {
          {"check", r.name}, {"reason", std::string(ReasonName(reason))}, {"type", r.type}};
    }
    AddMetric(own[kSkipped], r.skipped).label = {{"check", r.name}};
    if (r.ran) {
      AddMetric(own[kSuccess], r.success ? 1 : 0).label = {{"check", r.name}, {"type", r.type}};
      AddMetric(own[kDuration], r.duration).label = {{"check", r.name}, {"type", r.type}};
      AddMetric(own[kLastRun], r.last_run).label = {{"check", r.name}};
    }
    ClientMetric& info = AddMetric(own[kInfo], 1);
    info.label.reserve(r.labels.size() + 2);
    info.label = {{"check", r.name}, {"type", r.type}};
    for (const auto& [k, v] : r.labels) info.label.push_back({k, v});
    std::sort(info.label.begin(), info.label.end());

    for (const Series& s : r.observed) {
      const Family& f = *s.family;
      if (f.index >= observed.size()) continue;  // created after this scrape began
      MetricFamily& out = observed[f.index];
      ClientMetric& m = AddMetric(out, s.value);
      std::array<std::string_view, LabelValues::kMax + 1> values{r.name};
      size_t count = 1;
      for (std::string_view rest = s.values; !rest.empty() && count < values.size(); ++count) {
        size_t end = rest.find('\0');
        values[count] = rest.substr(0, end);
        rest.remove_prefix(std::min(rest.size(), end + 1));
      }
      // Values beyond the desc's labels have no name: dropped, as a label map would drop them.
      count = std::min(count, f.label_names.size() + 1);
      m.label.reserve(count);
      for (uint8_t i : f.order) {
        if (i < count) {
          m.label.push_back(
              {i == 0 ? std::string("check") : f.label_names[i - 1], std::string(values[i])});
        }
      }
      if (f.kind == MetricKind::kHistogram) {
        auto& h = m.histogram;
        h.bucket.resize(f.buckets.size() + 1);
        uint64_t cumulative = 0;
        for (size_t i = 0; i < h.bucket.size(); ++i) {
          // Adding the double to the integer truncates as prometheus-cpp's Histogram does.
          cumulative += s.buckets[i];
          h.bucket[i].cumulative_count = cumulative;
          h.bucket[i].upper_bound =
              i < f.buckets.size() ? f.buckets[i] : std::numeric_limits<double>::infinity();
        }
        h.sample_count = cumulative;
        h.sample_sum = s.value;
      }
    }
  }

  // Counters, then gauges, then histograms, like prometheus-cpp's Registry; no empty family.
  std::vector<MetricFamily> out;
  out.reserve(own.size() + observed.size());
  auto take = [&out](MetricFamily& f) {
    if (!f.metric.empty()) out.push_back(std::move(f));
  };
  for (Own o : {kRuns, kFailures, kSkipped}) take(own[o]);
  for (auto& f : observed) {
    if (f.type == MetricType::Counter) take(f);
  }
  for (Own o : {kSuccess, kDuration, kLastRun, kInfo}) take(own[o]);
  for (auto& f : observed) {
    if (f.type == MetricType::Gauge) take(f);
  }
  for (auto& f : observed) {
    if (f.type == MetricType::Histogram) take(f);
  }
  return out;
}

nlohmann::json CheckSeriesStore::StatusJson() const {
  std::shared_ptr<const RecordList> list;
  {
    std::lock_guard<std::mutex> lock(mu_);
    list = list_;
  }
  nlohmann::json checks = nlohmann::json::array();
  std::string detail, report;
  for (const auto& record : *list) {
    const Record& r = *record;
    nlohmann::json c{{"name", r.name}, {"type", r.type}};
    bool has_status, success;
    Reason reason;
    double duration, last_run;
    {
      std::lock_guard<std::mutex> lock(r.mu);
      c["skipped_total"] = r.status_skipped;
      has_status = r.has_status;
      success = r.success;
      reason = r.reason;
      duration = r.duration;
      last_run = r.last_run;
      if (has_status) {
        detail.assign(r.detail);
        report.assign(r.report);
      }
    }
    if (has_status) {
      c["success"] = success;
      c["reason"] = std::string(ReasonName(reason));
      c["cause"] = CauseName(ReasonCause(reason));
      c["detail"] = detail;
      c["duration_seconds"] = duration;
      c["last_run_timestamp_seconds"] = last_run;
      nlohmann::json facts = nlohmann::json::object();
      for (std::string_view in = report; !in.empty();) {
        std::string_view key = UnpackString(in);
        facts[std::string(key)] = std::string(UnpackString(in));
      }
      c["report"] = std::move(facts);
    } else {
      c["success"] = nullptr;  // not run yet
    }
    checks.push_back(std::move(c));
  }
  return checks;
}

}  // namespace gatewatch
