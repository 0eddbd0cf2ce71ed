// `gatewatch diagnose`: the verdict and evidence of a running agent's services, as a person reads
// them (docs/diagnosis.md). Reads GET <url>/api/v1/diagnosis; blocking, for the command line only.
#pragma once

#include <string>

namespace gatewatch {

struct DiagnoseOptions {
  std::string url;      // http://HOST:PORT of a running agent
  std::string service;  // empty: every service
  bool json = false;    // print the API's JSON instead
  double timeout_seconds = 10;
};

// Prints to stdout; 0 when every shown service is healthy, 1 when one has a verdict, 2 when the
// agent could not be asked (the error on stderr).
int RunDiagnose(const DiagnoseOptions& options);

}  // namespace gatewatch
