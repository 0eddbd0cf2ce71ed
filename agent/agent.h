// The long-running agent: wires config, the loop and its services, the scheduler, the exporter
// and the web server, and handles signals (TERM/INT stop, HUP reloads) on the loop.
#pragma once

#include <string>

#include "agent/shard.h"
#include "checks/api/check.h"

namespace gatewatch {

struct AgentOptions {
  std::string config_file;  // empty: the embedded default config
  std::string listen_address = ":9142";
  std::string web_config_file;    // --web.config.file: TLS, basic auth, headers (exporter-toolkit)
  std::string probe_address;      // --web.probe-address: plain /-/healthy and /-/ready only
  bool enable_lifecycle = false;  // --web.enable-lifecycle: POST /-/reload
  HostPaths paths;
  Shard shard;               // run only the checks of this shard (agent/shard.h)
  std::string location;      // --location: a label on gatewatch_build_info
  std::string storage_path;  // --storage.path: folder for the history across restarts (optional)
};

// Runs until SIGTERM or SIGINT. Returns the process exit code: 0 after a clean stop, non-zero if
// the initial config is invalid or the web server cannot listen.
//
// Must be called from the main thread before any other thread exists: it blocks the handled
// signals so that only the loop's signalfd sees them.
int RunAgent(const AgentOptions& options);

// URL of the agent's own /-/healthy for a Prometheus-style listen address (":9142" -> 127.0.0.1).
std::string SelfHealthUrl(const std::string& listen_address, int bound_port);

}  // namespace gatewatch
