#include "exporters/check_series.h"

#include <algorithm>
#include <cstdint>

#include "agent/base/utf8.h"

namespace gatewatch {
namespace {

constexpr std::string_view kPrefix = "gatewatch_";

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

bool CheckRecord::SameIdentity(const CheckSpec& spec) const {
  return type == spec.type && std::equal(labels.begin(), labels.end(), spec.labels.begin(),
                                         spec.labels.end(), [](const auto& a, const auto& b) {
                                           return a.first == b.first && a.second == b.second;
                                         });
}

CheckSeriesStore::CheckSeriesStore() : list_(std::make_shared<RecordList>()) {}
CheckSeriesStore::~CheckSeriesStore() = default;

CheckRecord* CheckSeriesStore::FindRecord(std::string_view name) const {
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
    auto record = std::make_shared<CheckRecord>(*spec);
    if (found && (*old)->type == spec->type) {
      // Only the labels changed: new series, but the status page keeps the last result.
      const CheckRecord& o = **old;
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

CheckRecord& CheckSeriesStore::RecordFor(const CheckSpec& spec) {
  if (CheckRecord* r = FindRecord(spec.name)) return *r;
  // Not configured (only callers that skip SetChecks): copy the list with the new record.
  auto next = std::make_shared<RecordList>(*list_);
  auto record = std::make_shared<CheckRecord>(spec);
  CheckRecord& ref = *record;
  next->insert(LowerBoundByName(*next, spec.name), std::move(record));
  Publish(std::move(next));
  return ref;
}

const SeriesFamily& CheckSeriesStore::FamilyFor(const MetricDesc& desc) {
  auto it = family_by_name_.find(desc.name);
  if (it != family_by_name_.end()) return *it->second;
  auto f = std::make_unique<SeriesFamily>();
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
  const SeriesFamily& ref = *f;
  family_by_name_.emplace(std::string_view(ref.name).substr(kPrefix.size()), &ref);
  std::lock_guard<std::mutex> lock(mu_);
  families_.push_back(std::move(f));
  return ref;
}

void CheckSeriesStore::Observe(CheckRecord& r, const Observation& obs, uint32_t generation) {
  const SeriesFamily& family = FamilyFor(*obs.desc);
  key_.clear();
  for (const std::string& v : obs.label_values) {
    // Values can come from targets (a proxy log's upstream names): valid UTF-8 of bounded size
    // only (the text format is UTF-8: one bad byte makes Prometheus drop the whole scrape), and a
    // NUL inside one must not split it into two labels or make it collide with another series.
    size_t at = key_.size();
    AppendSanitizedUtf8(key_, v, kMaxLabelValueBytes);
    std::replace(key_.begin() + static_cast<std::ptrdiff_t>(at), key_.end(), '\0', '?');
    key_ += '\0';
  }
  // Results report their observations in the same order run after run: looking from where the
  // last match was makes the search one comparison in the usual case.
  ObservedSeries* s = nullptr;
  size_t n = r.observed.size();
  for (size_t k = 0, i = r.cursor; k < n; ++k, ++i) {
    if (i >= n) i = 0;
    ObservedSeries& c = r.observed[i];
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
        s->buckets[BucketIndex(family.buckets, obs.value)] += 1;
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
  CheckRecord& r = RecordFor(check);
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
  std::erase_if(r.observed, [&](const ObservedSeries& s) {
    return s.family->kind == MetricKind::kGauge && s.generation != generation;
  });
  if (r.observed.size() != before) {
    r.cursor = 0;
    // Series are added in bursts (the first result): give back the vector's growth slack.
    if (r.observed.capacity() > r.observed.size() + r.observed.size() / 8 + 1) {
      r.observed.shrink_to_fit();
    }
  }

  // Details and reports quote targets: valid UTF-8 of bounded size only (agent/base/utf8.h), so
  // the status JSON can always be written.
  r.detail.clear();
  AppendSanitizedUtf8(r.detail, result.detail, kMaxDetailBytes);
  // Sized once to the packed length: appending would leave up to half of the buffer unused.
  size_t packed = 0;
  for (const auto& [key, value] : result.report) {
    packed +=
        std::min(key.size(), kMaxLabelValueBytes) + std::min(value.size(), kMaxDetailBytes) + 4;
  }
  r.report.clear();
  if (packed > r.report.capacity()) r.report.reserve(packed);
  for (const auto& [key, value] : result.report) {
    scratch_.clear();
    AppendSanitizedUtf8(scratch_, key, kMaxLabelValueBytes);
    PackString(r.report, scratch_);
    scratch_.clear();
    AppendSanitizedUtf8(scratch_, value, kMaxDetailBytes);
    PackString(r.report, scratch_);
  }
}

void CheckSeriesStore::OnSkipped(const CheckSpec& check) {
  CheckRecord& r = RecordFor(check);
  std::lock_guard<std::mutex> lock(r.mu);
  r.skipped += 1;
  r.status_skipped++;
}

std::shared_ptr<const CheckSeriesStore::RecordList> CheckSeriesStore::Records() const {
  std::lock_guard<std::mutex> lock(mu_);
  return list_;
}

size_t CheckSeriesStore::size() const { return Records()->size(); }

std::vector<const SeriesFamily*> CheckSeriesStore::Families() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<const SeriesFamily*> families;
  families.reserve(families_.size());
  for (const auto& f : families_) families.push_back(f.get());
  return families;
}

void CheckSeriesStore::ForEachRecord(const std::function<void(const CheckRecord&)>& visit) const {
  std::shared_ptr<const RecordList> list = Records();
  for (const auto& record : *list) {
    std::lock_guard<std::mutex> lock(record->mu);
    visit(*record);
  }
}

void CheckSeriesStore::ForEachStatus(const std::function<void(const CheckStatus&)>& visit) const {
  std::shared_ptr<const RecordList> list = Records();
  CheckStatus status;
  for (const auto& record : *list) {
    const CheckRecord& r = *record;
    status.name = r.name;
    status.type = r.type;
    {
      std::lock_guard<std::mutex> lock(r.mu);
      status.skipped_total = r.status_skipped;
      status.has_status = r.has_status;
      status.success = r.success;
      status.reason = r.reason;
      status.duration_seconds = r.duration;
      status.last_run_timestamp_seconds = r.last_run;
      if (r.has_status) {
        status.detail.assign(r.detail);
        status.report_buffer.assign(r.report);
      }
    }
    status.report.clear();
    if (status.has_status) {
      for (std::string_view in = status.report_buffer; !in.empty();) {
        std::string_view key = UnpackString(in);
        status.report.emplace_back(key, UnpackString(in));
      }
    }
    visit(status);
  }
}

}  // namespace gatewatch
