#include "exporters/series_render.h"

#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <string_view>

namespace gatewatch {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

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

}  // namespace

std::vector<MetricFamily> CollectCheckSeries(const CheckSeriesStore& store) {
  std::vector<const SeriesFamily*> families = store.Families();
  std::vector<MetricFamily> own;
  own.reserve(kOwnCount);
  for (const OwnFamily& f : kOwn) own.push_back(EmptyFamily(f.name, f.help, f.type));
  size_t n = store.size();
  own[kRuns].metric.reserve(2 * n);
  for (Own o : {kSkipped, kSuccess, kDuration, kLastRun, kInfo}) own[o].metric.reserve(n);
  std::vector<MetricFamily> observed;
  observed.reserve(families.size());
  for (const SeriesFamily* f : families)
    observed.push_back(EmptyFamily(f->name, f->help, TypeOf(f->kind)));

  store.ForEachRecord([&](const CheckRecord& r) {
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

    for (const ObservedSeries& s : r.observed) {
      const SeriesFamily& f = *s.family;
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
  });

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

std::string MetricsTextOfResult(const CheckSpec& check, const Result& result, double wall_seconds) {
  CheckSeriesStore store;
  store.SetChecks({&check});
  store.OnResult(check, result, wall_seconds);
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, CollectCheckSeries(store));
  return std::move(out).str();
}

}  // namespace gatewatch
