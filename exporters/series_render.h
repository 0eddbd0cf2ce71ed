// The store's per-check series (exporters/check_series.h) as prometheus-cpp MetricFamilies, for
// prometheus-cpp's TextSerializer: gatewatch_check_* (runs, failures, skipped, success, duration,
// last run, info) and gatewatch_<desc.name> for every Observation family.
//
// Rendered like one prometheus-cpp family per metric: the labels of a series sorted by name;
// counters, then gauges, then histograms, as prometheus-cpp's Registry orders them; families
// without a series left out.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "exporters/check_series.h"

namespace gatewatch {

// Any thread (see CheckSeriesStore's thread-safety: one record locked at a time).
std::vector<prometheus::MetricFamily> CollectCheckSeries(const CheckSeriesStore& store);

}  // namespace gatewatch
