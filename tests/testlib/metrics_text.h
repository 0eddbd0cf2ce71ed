// Reading the Prometheus text format in tests.
#pragma once

#include <sstream>
#include <string>

namespace gatewatch::testing {

// Value of the sample whose line starts with `series` (name and labels exactly as exposed), or -1.
inline double Sample(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

}  // namespace gatewatch::testing
