#include "tests/testlib/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace gatewatch::testing {
std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CommandResult RunToExit(std::vector<std::string> argv, std::chrono::milliseconds limit) {
  Process p(std::move(argv));
  int status = 0;
  CommandResult r;
  if (p.WaitExit(limit, &status) && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.out = p.Stdout();
  r.err = p.Stderr();
  return r;
}

Process::Process(std::vector<std::string> argv) {
  std::string out = dir_.path() + "/stdout", err = dir_.path() + "/stderr";
  pid_ = fork();
  if (pid_ == 0) {
    // Child: signals blocked by the test runner must not stay blocked in the program.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int n = open("/dev/null", O_RDONLY);
    dup2(n, 0);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
}

Process::~Process() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
}

void Process::Signal(int signo) {
  if (pid_ > 0 && !reaped_) kill(pid_, signo);
}

bool Process::WaitExit(std::chrono::milliseconds limit, int* status) {
  if (reaped_) return true;
  auto end = std::chrono::steady_clock::now() + limit;
  do {
    pid_t r = waitpid(pid_, status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  } while (std::chrono::steady_clock::now() < end);
  return false;
}

std::string Process::Stdout() const { return ReadFile(dir_.path() + "/stdout"); }
std::string Process::Stderr() const { return ReadFile(dir_.path() + "/stderr"); }

}  // namespace gatewatch::testing
