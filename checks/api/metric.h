// What a check measures, described without Prometheus: static MetricDescs and the Observations a
// run reports against them. Exporters decide how to expose them.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gatewatch {

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

// The bucket `value` falls into the way Prometheus (and prometheus-cpp) buckets it: the index of
// the first upper bound >= value, else bounds.size() (+Inf). NaN compares false with every bound
// and goes to +Inf. `bounds` is sorted ascending.
size_t BucketIndex(std::span<const double> bounds, double value);

// Counts `value` into `bucket_counts` (sized desc.buckets.size() + 1) in bucket BucketIndex().
void AddToBuckets(const MetricDesc& desc, double value, std::vector<double>* bucket_counts);

}  // namespace gatewatch
