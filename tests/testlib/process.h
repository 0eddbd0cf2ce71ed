// A child process for tests: stdout and stderr go to files in a private directory (read on
// demand), so nothing has to drain pipes. The destructor kills (SIGKILL) and reaps it.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {

class Process {
 public:
  explicit Process(std::vector<std::string> argv);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  int pid() const { return pid_; }
  void Signal(int signo);
  // Waits for the exit; returns false if still running after `limit`. *status as from waitpid.
  bool WaitExit(std::chrono::milliseconds limit, int* status);
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  TempDir dir_;
  int pid_ = -1;
  bool reaped_ = false;
};

// A command run to its end: `exit_code` is -1 if it did not exit normally within the limit (it is
// then killed).
struct CommandResult {
  int exit_code = -1;
  std::string out, err;
};
CommandResult RunToExit(std::vector<std::string> argv, std::chrono::milliseconds limit);

// The whole file, or "" if it cannot be read.
std::string ReadFile(const std::string& path);

}  // namespace gatewatch::testing
