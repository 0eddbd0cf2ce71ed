// A private event loop with the services a check run needs (curl multi, c-ares, a statvfs pool,
// a tailed-paths registry), on the real clock: what integration tests run checks on. Members are
// public so a test can drive the loop. A test gives a stand-in statvfs (e.g. one that hangs until
// released) to the constructor; the pool and registry are this fixture's alone.
//
// Header-only: it needs gw_agent (config parsing, the probe's run-once path), which only the
// tests that run checks link; gw_testlib itself stays below the agent.
#pragma once

#include <string>
#include <utility>

#include "agent/base/clock.h"
#include "agent/config.h"
#include "agent/io/curl_multi.h"
#include "agent/io/dns_resolver.h"
#include "agent/io/event_loop.h"
#include "agent/io/statfs_pool.h"
#include "agent/io/tail_registry.h"
#include "agent/probe.h"
#include "checks/api/check.h"

namespace gatewatch::testing {

struct LoopServices {
  explicit LoopServices(DnsResolver::Options dns_options = {}, StatfsFn statfs_fn = &SystemStatfs)
      : dns(loop, std::move(dns_options)), statfs(std::move(statfs_fn)) {}

  SystemClock clock;
  EventLoop loop{clock};
  CurlMulti curl{loop};
  DnsResolver dns;
  StatfsPool statfs;
  TailRegistry tails;
  CheckServices services{&loop, &curl, &dns, clock, statfs, tails};
};

// Parses `top` (extra top-level config, e.g. resolver lists) and one `checks:` entry given by its
// keys, and runs that check once on a private loop through `gatewatch probe`'s path: a deadline at
// its timeout aborts the run.
inline Result RunYamlCheckOnce(const std::string& check_yaml, const std::string& top = "",
                               DnsResolver::Options dns_options = {}) {
  Config config = ParseConfig(top + "checks:\n  - " + check_yaml + "\n", "test.yml");
  LoopServices io(std::move(dns_options));
  return RunCheckOnce(*config.checks.at(0).check, io.services);
}

// One http check as a flow mapping for RunYamlCheckOnce: `url`, interval 10s, `timeout`, and any
// `extra` keys ("method: POST, body: x").
inline std::string HttpCheckYaml(const std::string& url, const std::string& extra = "",
                                 const std::string& timeout = "2s") {
  return "{name: t, type: http, url: '" + url + "', interval: 10s, timeout: " + timeout +
         (extra.empty() ? "" : ", " + extra) + "}";
}

// The last value of report key `key`, "" if absent.
inline std::string ReportValue(const Result& r, const std::string& key) {
  std::string value;
  for (const auto& [k, v] : r.report) {
    if (k == key) value = v;
  }
  return value;
}

}  // namespace gatewatch::testing
