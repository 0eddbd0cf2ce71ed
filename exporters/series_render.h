// The store's per-check series (exporters/check_series.h) as prometheus-cpp MetricFamilies, for
// prometheus-cpp's TextSerializer: gatewatch_check_* (runs, failures, skipped, success, duration,
// last run, info) and gatewatch_<desc.name> for every Observation family.
//
// Rendered like one prometheus-cpp family per metric: the labels of a series sorted by name;
// counters, then gauges, then histograms, as prometheus-cpp's Registry orders them; families
// without a series left out.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

#include "exporters/check_series.h"

namespace gatewatch {

// Any thread (see CheckSeriesStore's thread-safety: one record locked at a time).
std::vector<prometheus::MetricFamily> CollectCheckSeries(const CheckSeriesStore& store);

// Pure, for fuzzing and tests: the text exposition format (0.0.4) of the per-check series after
// one `result` of `check`, with any bytes in any string field of the result (detail, report,
// observation label values). The text is valid UTF-8 and passes `promtool check metrics` for any
// result whose observations follow their descs; never throws.
std::string MetricsTextOfResult(const CheckSpec& check, const Result& result, double wall_seconds);

}  // namespace gatewatch
