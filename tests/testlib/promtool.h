// `promtool check metrics` on an exposition, for tests that assert a scrape is clean.
#pragma once

#include <chrono>
#include <fstream>
#include <string>

#include "tests/testlib/process.h"

namespace gatewatch::testing {

// Writes `metrics` to `dir`/metrics.prom and runs promtool on it. Returns "" when promtool is
// clean, else what it printed (or why it could not run).
inline std::string PromtoolProblems(const std::string& metrics, const std::string& dir) {
  std::string file = dir + "/metrics.prom";
  {
    std::ofstream out(file, std::ios::trunc);
    out << metrics;
  }
  Process promtool({"/bin/sh", "-c", "promtool check metrics < " + file});
  int status = -1;
  if (!promtool.WaitExit(std::chrono::seconds(20), &status)) return "promtool did not finish";
  std::string said = promtool.Stderr() + promtool.Stdout();
  if (status != 0 && said.empty()) return "promtool exited with status " + std::to_string(status);
  return said;
}

}  // namespace gatewatch::testing
