// nginx error-log lines through the upstream-failure classifier.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "checks/nginx_log_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto error = gatewatch::ClassifyErrorLine(line);
  // The upstream it names is a view into the line itself.
  if (error && !error->upstream.empty() && error->upstream != "unknown" &&
      (error->upstream.data() < line.data() ||
       error->upstream.data() + error->upstream.size() > line.data() + line.size())) {
    __builtin_trap();
  }
  return 0;
}
