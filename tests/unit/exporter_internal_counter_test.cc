// PrometheusExporter::AddInternalCounter: counters of the agent's own machinery, read at scrape.
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "exporters/prometheus_exporter.h"
#include "tests/testlib/fake_clock.h"

namespace gatewatch {
namespace {

TEST(ExporterInternalCounterTest, RendersTheValueReadAtEveryScrape) {
  FakeClock clock;
  PrometheusExporter exporter(BuildInfo{"v", "r", "c"}, clock);
  EXPECT_EQ(exporter.Render().find("gatewatch_curl_multi_errors_total"), std::string::npos);

  std::atomic<uint64_t> errors{0};
  exporter.AddInternalCounter("gatewatch_curl_multi_errors_total", "Failed curl multi calls.",
                              [&] { return static_cast<double>(errors.load()); });
  std::string first = exporter.Render();
  EXPECT_NE(first.find("# HELP gatewatch_curl_multi_errors_total Failed curl multi calls.\n"),
            std::string::npos)
      << first;
  EXPECT_NE(first.find("# TYPE gatewatch_curl_multi_errors_total counter\n"), std::string::npos);
  EXPECT_NE(first.find("\ngatewatch_curl_multi_errors_total 0\n"), std::string::npos) << first;

  errors = 3;
  std::string second = exporter.Render();
  EXPECT_NE(second.find("\ngatewatch_curl_multi_errors_total 3\n"), std::string::npos) << second;
  EXPECT_EQ(second.find("\ngatewatch_curl_multi_errors_total 0\n"), std::string::npos);
}

}  // namespace
}  // namespace gatewatch
