// nginx error-log lines through the upstream-failure classifier, and the same bytes as a syslog
// datagram through the RFC 3164 parser (how lines arrive without a shared file).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "checks/nginx_log_parse.h"
#include "checks/syslog_message.h"

namespace {

bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto error = gatewatch::ClassifyErrorLine(line);
  // The upstream it names is a view into the line itself ("unknown" and "none" are constants).
  if (error && error->upstream != "unknown" && error->upstream != "none" &&
      !Inside(error->upstream, line)) {
    __builtin_trap();
  }
  // Every part of a syslog message is a view into the datagram.
  if (auto m = gatewatch::ParseRfc3164(line)) {
    if (!Inside(m->hostname, line) || !Inside(m->tag, line) || !Inside(m->content, line) ||
        m->severity < 0 || m->severity > 7 || m->facility < 0 || m->facility > 23) {
      __builtin_trap();
    }
    gatewatch::IsNginxErrorLine(m->content);
  }
  return 0;
}
