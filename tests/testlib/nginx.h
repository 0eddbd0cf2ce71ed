// A real nginx started by a test: its own prefix in a temp dir (world-readable, since workers run
// as nobody when tests run as root), logs in that dir, listening only where the snippet says.
#pragma once

#include <memory>
#include <string>

#include "tests/testlib/process.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {

inline constexpr char kNginxBinary[] = "/usr/sbin/nginx";

class NginxInstance {
 public:
  // `http_block` goes inside `http { }`: servers with `listen 127.0.0.1:PORT;` lines.
  // `worker_connections` of its one worker (a tiny one provokes its exhaustion for real).
  explicit NginxInstance(std::string http_block, int worker_connections = 256);
  ~NginxInstance();

  // Starts nginx and waits (at most 5 s) until every listen port accepts connections.
  bool Start(std::string* error);
  void Stop();
  // nginx -s reopen (after a log rotation by rename).
  void Reopen();
  // Rewrites nginx.conf with a new `http_block` and reloads nginx (SIGHUP) after `nginx -t`
  // accepted it; false with `*error` otherwise.
  bool Reload(std::string http_block, std::string* error);
  std::string conf_path() const { return dir_.path() + "/nginx.conf"; }

  const std::string& dir() const { return dir_.path(); }
  std::string error_log() const { return dir_.path() + "/error.log"; }
  std::string access_log() const { return dir_.path() + "/access.log"; }
  std::string ErrorLogText() const;

 private:
  void WriteConf() const;
  TempDir dir_;
  std::string http_block_;
  int worker_connections_ = 256;
  std::unique_ptr<Process> process_;
};

}  // namespace gatewatch::testing
