// `gatewatch probe URL`: one HTTP check, run now on a private loop, printed as a table (or JSON).
// With --origin ADDR it is a cdn_origin check instead: the URL through the edge and straight to the
// origin, both sides and the verdict. The same check code as the agent runs, so what it prints is
// what the agent would export.
#pragma once

#include <string>
#include <vector>

#include "agent/clock.h"

namespace gatewatch {

struct ProbeOptions {
  std::string url;
  std::string method = "GET";
  Duration timeout = std::chrono::seconds(10);
  std::vector<std::string> headers;        // "Name: value"
  std::vector<std::string> expect_status;  // "200", "2xx"; empty = the check's default
  std::string body_regex;
  std::string host;
  int max_redirects = 10;
  bool insecure = false;
  bool json = false;
  std::string origin;                // non-empty: a cdn_origin check against this origin
  std::vector<std::string> compare;  // cdn_origin's compare list; empty = its default
};

// Returns the exit code: 0 success, 1 check failed, 2 invalid options.
int RunProbe(const ProbeOptions& options);

struct CheckServices;
class Check;
struct Result;

// Runs one run of `check` now, driving `services.loop` until the run calls back or its deadline
// (spec.timeout) aborts it, the way the scheduler would. Blocks the calling thread, which must
// own the loop; for `gatewatch probe` and tests, never inside the agent.
Result RunCheckOnce(const Check& check, CheckServices& services);

}  // namespace gatewatch
