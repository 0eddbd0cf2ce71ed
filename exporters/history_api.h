// The history API and the pages built on it (docs/api.md):
//   GET /api/v1/checks                       every check: state, since when, last reason
//   GET /api/v1/checks/{name}                one check: the same, its last run and state changes
//   GET /api/v1/checks/{name}/history        its runs, oldest first; ?failures=1 the kept failures
//                                            (with evidence), ?limit=N the newest N
//   GET /                                    the status page (exporters/status_page.h)
//   GET /checks/{name}                       a check's page
// Unknown check names are 404. JSON leaves only through DumpJson, HTML only escaped.
//
// Thread-safety: any thread (reads the HistoryStore, which locks itself).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "agent/base/clock.h"
#include "exporters/history.h"
#include "exporters/status_page.h"
#include "exporters/web_response.h"

namespace gatewatch {

// "ok", "failing", or "unknown" before the first run.
const char* StateName(const CheckSummary& s);

nlohmann::json SummaryJson(const CheckSummary& s);
nlohmann::json RunJson(const HistoryEntry& e);
nlohmann::json CheckDetailJson(const CheckHistory& h);
// `failures_only`: the kept failures instead of the runs; `limit` keeps the newest (0: all).
nlohmann::json HistoryJson(const CheckHistory& h, bool failures_only, size_t limit);

// Routes a GET of `path` (decoded, as civetweb's local_uri) with its raw `query` string.
// nullopt: not a path of these handlers (the web server answers it or says 404). `services`, if
// given, is asked for the services' verdicts shown at the top of "/" (any thread, cheap: a copy
// of a published snapshot).
using ServiceVerdictSource = std::function<std::vector<ServiceVerdictView>()>;
std::optional<WebResponse> RouteHistory(const HistoryStore& store, const Clock& clock,
                                        const std::string& path, const std::string& query,
                                        const ServiceVerdictSource& services = {});

}  // namespace gatewatch
