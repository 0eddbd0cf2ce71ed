// Test helpers: a private temporary directory, removed with its contents on destruction.
// Mode 0755, so nginx workers (which run as nobody when the test runs as root) can read it.
// Set GATEWATCH_KEEP_TMP=1 to keep it for debugging.
#pragma once

#include <string>

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

// A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read, close).
int FreeTcpPort();

}  // namespace gatewatch::testing
