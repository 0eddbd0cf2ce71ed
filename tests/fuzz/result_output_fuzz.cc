// The whole way out of the process for what a target said: a Result with arbitrary bytes in every
// string field (detail, report keys and values, Observation label values) goes into the series
// store, then out as /metrics text (prometheus-cpp's TextSerializer) and as the status API's JSON.
// Both must be produced without an exception and be valid UTF-8.
//
// With GATEWATCH_FUZZ_METRICS_OUT=FILE set, the /metrics text of the last input is written there,
// so the CI step can hand it to `promtool check metrics`.
#include <prometheus/text_serializer.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "checks/api/check.h"
#include "checks/api/result.h"
#include "exporters/check_series.h"
#include "exporters/series_render.h"
#include "exporters/status_json.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using gatewatch::MetricDesc;
using gatewatch::MetricKind;

const MetricDesc kUpstreamGauge{"fuzz_upstream_up",
                                MetricKind::kGauge,
                                "Whether an upstream named by a target answered.",
                                {"upstream"}};
const MetricDesc kPairCounter{"fuzz_responses_total",
                              MetricKind::kCounter,
                              "Responses by upstream and code.",
                              {"upstream", "code"}};
const MetricDesc kHistogram{"fuzz_response_seconds",
                            MetricKind::kHistogram,
                            "Response times by upstream.",
                            {"upstream"},
                            {0.1, 1, 10}};

double ValueFrom(uint8_t b) {
  switch (b % 6) {
    case 0:
      return NAN;
    case 1:
      return INFINITY;
    case 2:
      return -INFINITY;
    case 3:
      return -1;
    default:
      return b;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gatewatch::fuzz::FuzzInput in(data, size);
  gatewatch::CheckSpec spec;
  spec.name = "fuzz";
  spec.type = "http";

  gatewatch::CheckSeriesStore store;
  store.SetChecks({&spec});
  for (int run = 0; run < 2 && !in.empty(); ++run) {
    uint8_t flags = in.Byte();
    gatewatch::Result r =
        (flags & 1) ? gatewatch::Result::Success()
                    : gatewatch::Result::Failure(
                          static_cast<gatewatch::Reason>(1 + (flags >> 1 & 7)), in.Field());
    if (r.success) r.detail = in.Field();
    for (int i = 0; i < 3 && !in.empty(); ++i) {
      std::string key = in.Field();
      r.report.emplace_back(std::move(key), in.Field());
    }
    std::string a = in.Field(), b = in.Field();
    r.observations.push_back({&kUpstreamGauge, {a}, ValueFrom(in.Byte())});
    r.observations.push_back({&kPairCounter, {a, b}, 1});
    r.observations.push_back({&kHistogram, {b}, ValueFrom(in.Byte())});
    store.OnResult(spec, r, 1.7e9);
  }

  std::ostringstream metrics;
  prometheus::TextSerializer().Serialize(metrics, gatewatch::CollectCheckSeries(store));
  std::string text = metrics.str();
  if (!gatewatch::fuzz::IsValidUtf8(text)) __builtin_trap();
  // dump() throws type_error.316 on invalid UTF-8: an uncaught exception is a crash here, as it
  // would be in a web handler.
  std::string json = gatewatch::StatusJson(store).dump();
  if (!gatewatch::fuzz::IsValidUtf8(json)) __builtin_trap();

  if (const char* out = std::getenv("GATEWATCH_FUZZ_METRICS_OUT")) {
    std::ofstream(out, std::ios::trunc) << text;
  }
  return 0;
}
