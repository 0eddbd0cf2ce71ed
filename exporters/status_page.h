// The status page a person reads at 3 a.m.: server-rendered HTML, no JavaScript, no external
// assets (inline CSS), readable on a phone; refreshes itself with a meta refresh. Pure functions
// of copies taken from the HistoryStore, so tests render them without a server.
//
// Every string that came from a config, a target or a log is sanitised (agent/base/utf8.h) and
// HTML-escaped (HtmlEscape) before it is written.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "checks/api/reason.h"
#include "exporters/history.h"

namespace gatewatch {

// &, <, >, " and ' escaped; invalid UTF-8 replaced; at most `max_bytes` of input kept.
std::string HtmlEscape(std::string_view s, size_t max_bytes = 4096);

// A check name as a path segment: every byte but [A-Za-z0-9._~-] percent-encoded.
std::string UrlPathEscape(std::string_view s);

// Words for people (docs/reasons.md): "nothing listens on the port (connection refused)".
std::string_view ReasonWords(Reason r);
std::string_view CauseWords(Cause c);

// The status page's strips: the last hour, one slot a minute (HistoryStore::Strips).
inline constexpr int64_t kStripSpanMs = 3600 * 1000;
inline constexpr int kStripSlots = 60;
// At most this many ok checks are listed on "/" (failing ones always are): a page for a person,
// not for 10,000 checks; the rest are counted, and /api/v1/checks has them all.
inline constexpr size_t kMaxOkListed = 200;

// One service's diagnosis (docs/diagnosis.md) as the status page shows it. Plain data: the agent
// fills it from its diagnosis engine (agent/diagnosis_sink.h), so this layer never sees agent/.
// Strings may hold any bytes (evidence quotes targets and logs): the page sanitises and escapes.
struct ServiceVerdictView {
  struct Fact {
    int64_t time_ms = 0;  // wall clock
    std::string check;
    std::string role;    // probe, proxy_log, dns, host, cdn_origin, agent_path
    std::string reason;  // docs/reasons.md name, "none" for a success
    std::string text;    // one line for a person
  };
  std::string service;
  bool healthy = true;  // no verdict: the fields below are empty
  std::string cause;    // upstream_down ... agent_network
  std::string why;
  std::vector<std::string> upstreams;
  double confidence = 0;
  int64_t since_ms = 0;        // wall clock
  std::vector<Fact> evidence;  // supporting facts first
};

// At most this many evidence lines per verdict on "/" (the API and `gatewatch diagnose` have all).
inline constexpr size_t kMaxPageEvidence = 5;

// Words for a diagnosis cause: "the upstream is down: ...", "gatewatch's own network path ...".
std::string_view DiagnosisCauseWords(std::string_view cause);

// "/" : the services' verdicts first (services with one first, the healthy ones in one line),
// then every check, failing ones first (then not run yet, then ok; by name within each).
std::string RenderStatusPage(const std::vector<CheckSummary>& checks,
                             const std::map<std::string, std::vector<Slot>>& strips, int64_t now_ms,
                             const std::vector<ServiceVerdictView>& services = {});

// "/checks/{name}": state, state changes, strip, recent failures with their evidence.
std::string RenderCheckPage(const CheckHistory& h, int64_t now_ms);

}  // namespace gatewatch
