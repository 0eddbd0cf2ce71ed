// A gatewatch child on a port the kernel picked: start it with --web.listen-address=HOST:0 and
// learn the port from its start-up line ("gatewatch started ... listen=HOST:PORT"), so no test
// races another for a port that was free a moment ago.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/testlib/process.h"

namespace gatewatch::testing {

struct StartedGatewatch {
  std::unique_ptr<Process> process;  // null only if the fork failed
  int port = 0;                      // 0: no start-up line within the limit (see process->Stderr())
};

// Runs GATEWATCH-style `argv` (argv[0] is the binary; give --web.listen-address=127.0.0.1:0) and
// waits up to `limit` for the start-up line. The process keeps running when the line never comes,
// so the caller can show its stderr.
StartedGatewatch StartGatewatch(std::vector<std::string> argv,
                                std::chrono::milliseconds limit = std::chrono::seconds(10));

// The port of the first start-up line in `log` (logfmt or JSON), or 0 if there is none.
int BoundPortFromLog(const std::string& log);

}  // namespace gatewatch::testing
