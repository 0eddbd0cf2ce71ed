// `gatewatch probe URL`: one HTTP check, run now on a private loop, printed as a table (or JSON).
// With --origin ADDR it is a cdn_origin check instead: the URL through the edge and straight to the
// origin, both sides and the verdict. `gatewatch probe --check NAME` / `--dns NAME`: any configured
// check, or a dns check from flags. The same check code as the agent runs, so what it prints is
// what the agent would export.
#pragma once

#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "agent/io/curl_multi.h"
#include "agent/io/dns_resolver.h"
#include "agent/io/event_loop.h"
#include "agent/io/statfs_pool.h"
#include "agent/io/tail_registry.h"
#include "checks/api/check.h"

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

// `gatewatch probe --check NAME --config.file FILE`: one run of any configured check, through the
// same path the agent uses. `gatewatch probe --dns NAME --resolver IP[:PORT]...`: a dns check
// built from flags; the report says which resolver answered what.
struct ProbeCheckOptions {
  std::string config_file;
  std::string check;     // a configured check's name, or
  std::string dns_name;  // a name to ask the resolvers
  std::string dns_type = "A";
  std::vector<std::string> resolvers;
  std::vector<std::string> expect;
  bool authoritative = false;
  Duration timeout = std::chrono::seconds(10);  // --dns only; --check uses the check's own
  bool json = false;
};

// Returns the exit code: 0 success, 1 check failed, 2 invalid options or config.
int RunProbeCheck(const ProbeCheckOptions& options);

class Check;
// Runs `check` once (its own timeout) with fresh loop services and prints the result like
// `gatewatch probe`. `what` is the JSON key naming the probed thing ("url", "check").
int RunAndPrint(const Check& check, const std::string& what, const std::string& title, bool json);

struct CheckServices;
class Check;
class CheckState;
struct Result;

// The loop and the services of a one-shot command (`gatewatch probe`, `gatewatch diagnose
// --config.file`) on the calling thread. Declare it before any check state, so that it outlives
// them (a proxy_log state gives its tails back to `tails` when it goes).
struct OneShotServices {
  SystemClock clock;
  EventLoop loop{clock};
  CurlMulti curl{loop};
  DnsResolver dns{loop, DnsResolver::Options{}};
  StatfsPool statfs;
  TailRegistry tails;
  CheckServices services{&loop, &curl, &dns, clock, statfs, tails};
};

// Runs one run of `check` now, driving `services.loop` until the run calls back or its deadline
// (spec.timeout) aborts it, the way the scheduler would. Blocks the calling thread, which must
// own the loop; for `gatewatch probe` and tests, never inside the agent. `state` is what the run
// starts from and leaves for the next (made by check.NewState(), kept by the caller across runs);
// nullptr: a fresh state for this run alone, as `gatewatch probe` does.
Result RunCheckOnce(const Check& check, CheckServices& services, CheckState* state = nullptr);

// The same for several checks at once, as the scheduler runs them side by side: all start now,
// each ends at its own result or deadline; returns when every one has, results in `checks`
// order. `states[i]` as `state` above (missing or nullptr: a fresh one for this run alone).
std::vector<Result> RunChecksOnce(const std::vector<const Check*>& checks, CheckServices& services,
                                  const std::vector<CheckState*>& states = {});

}  // namespace gatewatch
