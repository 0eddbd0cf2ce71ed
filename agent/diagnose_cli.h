// `gatewatch diagnose`: the verdict and evidence of a running agent's services, as a person reads
// them (docs/diagnosis.md). With --url it reads GET <url>/api/v1/diagnosis of a running agent; with
// --config.file it runs the services' checks itself (a few seconds at most: each check's own
// timeout bounds each round) and judges their results with the same engine. Blocking, for the
// command line only.
#pragma once

#include <string>

namespace gatewatch {

struct DiagnoseOptions {
  std::string url;          // http://HOST:PORT of a running agent, or
  std::string config_file;  // a config whose services' checks are run here
  std::string service;      // empty: every service
  bool json = false;        // print the API's JSON instead
  double timeout_seconds = 10;
};

// Prints to stdout; 0 when every shown service is healthy, 1 when one has a verdict, 2 when the
// agent could not be asked or the config is invalid or has no such service (the error on stderr).
int RunDiagnose(const DiagnoseOptions& options);

// --config.file: the checks of the chosen services (all when `service` is empty) in rounds, so
// that checks that read what happened since their previous run see this run's traffic:
//   1. proxy_log and host checks once: a proxy_log check opens its logs at their end, a host
//      check takes its first samples (OOM kills and throttling are counted between runs);
//   2. every other check (probes, dns, cdn_origin, agent_path, ...) and the host checks again,
//      side by side;
//   3. after a short pause for the proxy to write its access-log lines, the proxy_log checks
//      again: they read exactly the lines of round 2's probes and any other traffic meanwhile.
// The results of rounds 2 and 3 go to the diagnosis engine (agent/diagnosis.h), judged once.
int RunDiagnoseConfig(const DiagnoseOptions& options);

}  // namespace gatewatch
