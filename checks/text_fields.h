// Splitting text the way /proc files and DNS presentation format separate values.
#pragma once

#include <string_view>
#include <vector>

namespace gatewatch {

// The blank-separated (spaces, tabs) fields of `line`; runs of blanks separate once, and leading or
// trailing blanks give no empty field. The views point into `line`.
inline std::vector<std::string_view> BlankSeparatedFields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace gatewatch
