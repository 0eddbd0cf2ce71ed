// Test helpers: a private temporary directory, removed with its contents on destruction.
// Mode 0755, so nginx workers (which run as nobody when the test runs as root) can read it.
// Set GATEWATCH_KEEP_TMP=1 to keep it for debugging.
#pragma once

#include <string>

#include "agent/base/fd.h"

namespace gatewatch::testing {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A socket of `type` (SOCK_STREAM or SOCK_DGRAM, non-blocking, close-on-exec, SO_REUSEADDR) bound
// to IPv4 `address`:`port` (0 picks one); invalid if it cannot bind. *bound_port gets the port.
UniqueFd BindInet(int type, const char* address, int port, int* bound_port);

// A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close).
int FreeTcpPort();

// A port on 127.0.0.1 that refuses connections for as long as this object lives: a socket bound to
// it that never listens. Unlike a port that was merely free, no parallel test can take it.
class RefusingPort {
 public:
  explicit RefusingPort(int port = 0);
  ~RefusingPort();
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace gatewatch::testing
