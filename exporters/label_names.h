// The label names gatewatch's exporter puts on series itself, beside the check types' MetricDesc
// labels, and those Prometheus attaches when it scrapes. A user label (a check's `labels:` in the
// config, rendered on gatewatch_check_info) of one of these names would collide with them, so the
// config reserves them (agent/config.cc).
#pragma once

#include <array>
#include <span>
#include <string_view>

namespace gatewatch {

// Every label name the exporter renders outside MetricDesc labels (exporter_test fails on a
// rendered label name that is in neither list).
inline constexpr std::array<std::string_view, 13> kExporterLabelNames = {
    "check",   "type",     "result",   "reason",  // gatewatch_check_* (series_render.cc)
    "le",      "quantile",                        // histogram buckets; summary quantiles
    "alert",   "severity",                        // gatewatch_alert_* (prometheus_exporter.cc)
    "version", "revision", "compiler",            // gatewatch_build_info
    "shard",   "location",                        // gatewatch_build_info: Placement
};

// The target labels Prometheus adds to every scraped series. Names starting with "__" are
// Prometheus' too (internal labels).
inline constexpr std::array<std::string_view, 2> kPrometheusTargetLabelNames = {"job", "instance"};
inline constexpr std::string_view kPrometheusReservedPrefix = "__";

constexpr std::span<const std::string_view> ExporterLabelNames() { return kExporterLabelNames; }
constexpr std::span<const std::string_view> PrometheusTargetLabelNames() {
  return kPrometheusTargetLabelNames;
}

}  // namespace gatewatch
