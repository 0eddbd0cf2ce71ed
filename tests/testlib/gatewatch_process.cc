#include "tests/testlib/gatewatch_process.h"

#include <cctype>

#include "tests/testlib/http_client.h"

namespace gatewatch::testing {

int BoundPortFromLog(const std::string& log) {
  for (size_t line = 0; line < log.size();) {
    size_t end = log.find('\n', line);
    if (end == std::string::npos) break;  // a line still being written
    std::string_view l(log.data() + line, end - line);
    line = end + 1;
    if (l.find("gatewatch started") == std::string_view::npos) continue;
    for (std::string_view key : {std::string_view("listen="), std::string_view("\"listen\":\"")}) {
      size_t at = l.find(key);
      if (at == std::string_view::npos) continue;
      size_t stop = l.find_first_of(" \"", at + key.size());
      std::string_view addr = l.substr(at + key.size(), stop - (at + key.size()));
      size_t colon = addr.rfind(':');
      if (colon == std::string_view::npos || colon + 1 == addr.size()) return 0;
      int port = 0;
      for (char c : addr.substr(colon + 1)) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return 0;
        port = port * 10 + (c - '0');
        if (port > 65535) return 0;
      }
      return port;
    }
  }
  return 0;
}

StartedGatewatch StartGatewatch(std::vector<std::string> argv, std::chrono::milliseconds limit) {
  StartedGatewatch out;
  out.process = std::make_unique<Process>(std::move(argv));
  WaitFor(
      [&] {
        out.port = BoundPortFromLog(out.process->Stderr());
        return out.port != 0;
      },
      limit);
  return out;
}

}  // namespace gatewatch::testing
