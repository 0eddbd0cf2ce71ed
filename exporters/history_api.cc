#include "exporters/history_api.h"

#include <charconv>
#include <chrono>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/base/utf8.h"
#include "exporters/status_json.h"
#include "exporters/status_page.h"

namespace gatewatch {
namespace {

constexpr char kJson[] = "application/json";
constexpr char kHtml[] = "text/html; charset=utf-8";
constexpr char kChecksApi[] = "/api/v1/checks";

double Seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

// The value of `key` in a raw query string ("a=1&b=2"), or nullopt.
std::optional<std::string_view> QueryValue(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    size_t eq = part.find('=');
    if (part.substr(0, eq) == key) {
      return eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

WebResponse Json(int status, const nlohmann::json& j) {
  return WebResponse{status, kJson, DumpJson(j, 2) + "\n"};
}

WebResponse NotFound(const std::string& name) {
  return Json(404, nlohmann::json{{"error", "no check named " + SanitizeUtf8(name, 256)}});
}

}  // namespace

const char* StateName(const CheckSummary& s) {
  if (!s.has_run) return "unknown";
  return s.ok ? "ok" : "failing";
}

nlohmann::json SummaryJson(const CheckSummary& s) {
  nlohmann::json j{{"name", SanitizeUtf8(s.name, kMaxDetailBytes)},
                   {"type", SanitizeUtf8(s.type, kMaxDetailBytes)},
                   {"state", StateName(s)},
                   {"reason", std::string(ReasonName(s.reason))},
                   {"cause", std::string(CauseName(ReasonCause(s.reason)))},
                   {"detail", SanitizeUtf8(s.detail, kMaxDetailBytes)},
                   {"runs_total", s.runs_total},
                   {"failures_total", s.failures_total}};
  j["since_timestamp_seconds"] = s.has_run ? nlohmann::json(Seconds(s.since_ms)) : nullptr;
  j["last_run_timestamp_seconds"] = s.has_run ? nlohmann::json(Seconds(s.last_run_ms)) : nullptr;
  return j;
}

nlohmann::json RunJson(const HistoryEntry& e) {
  std::vector<std::pair<std::string_view, std::string_view>> report;
  std::string_view detail;
  if (e.evidence != nullptr) {
    detail = e.evidence->detail;
    report.assign(e.evidence->report.begin(), e.evidence->report.end());
  }
  nlohmann::json j =
      ResultJson(ResultView{.success = e.success(),
                            .reason = e.reason,
                            .detail = detail,
                            .duration_seconds = static_cast<double>(e.duration_us) / 1e6,
                            .report = report});
  j["seq"] = e.seq;
  j["timestamp_seconds"] = Seconds(e.time_ms);
  j["evidence"] = e.evidence != nullptr;
  return j;
}

nlohmann::json CheckDetailJson(const CheckHistory& h) {
  nlohmann::json j = SummaryJson(h.summary);
  j["last_run"] = h.last ? RunJson(*h.last) : nlohmann::json(nullptr);
  nlohmann::json changes = nlohmann::json::array();
  for (const StatePeriod& p : h.changes) {
    nlohmann::json c{{"state", p.ok ? "ok" : "failing"},
                     {"reason", std::string(ReasonName(p.first_reason))},
                     {"cause", std::string(CauseName(ReasonCause(p.first_reason)))},
                     {"start_timestamp_seconds", Seconds(p.start_ms)},
                     {"runs", p.runs}};
    c["end_timestamp_seconds"] = p.end_ms != 0 ? nlohmann::json(Seconds(p.end_ms)) : nullptr;
    c["duration_seconds"] =
        p.end_ms != 0 ? nlohmann::json(Seconds(p.end_ms - p.start_ms)) : nullptr;
    changes.push_back(std::move(c));
  }
  j["changes"] = std::move(changes);
  return j;
}

nlohmann::json HistoryJson(const CheckHistory& h, bool failures_only, size_t limit) {
  const std::vector<HistoryEntry>& from = failures_only ? h.failures : h.runs;
  size_t first = limit != 0 && from.size() > limit ? from.size() - limit : 0;
  nlohmann::json runs = nlohmann::json::array();
  for (size_t i = first; i < from.size(); ++i) runs.push_back(RunJson(from[i]));
  return nlohmann::json{{"name", SanitizeUtf8(h.summary.name, kMaxDetailBytes)},
                        {"failures_only", failures_only},
                        {"runs", std::move(runs)}};
}

std::optional<WebResponse> RouteHistory(const HistoryStore& store, const Clock& clock,
                                        const std::string& path, const std::string& query,
                                        const ServiceVerdictSource& services) {
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.WallNow().time_since_epoch())
          .count();
  std::string_view p = path;
  if (p == "/") {
    return WebResponse{
        200, kHtml,
        RenderStatusPage(store.Summaries(), store.Strips(now_ms, kStripSpanMs, kStripSlots), now_ms,
                         services ? services() : std::vector<ServiceVerdictView>{})};
  }
  if (p.starts_with("/checks/") && p.size() > 8) {
    std::string name(p.substr(8));
    auto h = store.Snapshot(name);
    if (!h) {
      return WebResponse{404, kHtml,
                         "<!DOCTYPE html><title>not found</title><p>No check named " +
                             HtmlEscape(name, 256) + ". <a href=\"/\">All checks</a></p>\n"};
    }
    return WebResponse{200, kHtml, RenderCheckPage(*h, now_ms)};
  }
  if (p == kChecksApi || p == "/api/v1/checks/") {
    nlohmann::json checks = nlohmann::json::array();
    for (const CheckSummary& s : store.Summaries()) checks.push_back(SummaryJson(s));
    return Json(200, nlohmann::json{{"checks", std::move(checks)}});
  }
  if (!p.starts_with("/api/v1/checks/")) return std::nullopt;
  std::string_view rest = p.substr(sizeof(kChecksApi));  // after "/api/v1/checks/"
  constexpr std::string_view kHistory = "/history";
  bool history = false;
  if (rest.ends_with(kHistory)) {
    history = true;
    rest.remove_suffix(kHistory.size());
  }
  std::string name(rest);
  auto h = store.Snapshot(name);
  // A check may itself be named "x/history": prefer the exact name.
  if (!h && history) {
    name = std::string(p.substr(sizeof(kChecksApi)));
    h = store.Snapshot(name);
    history = false;
  }
  if (!h) return NotFound(name);
  if (!history) return Json(200, CheckDetailJson(*h));
  auto failures = QueryValue(query, "failures");
  bool failures_only = failures && (*failures == "1" || *failures == "true");
  size_t limit = 0;
  if (auto l = QueryValue(query, "limit")) {
    auto [ptr, ec] = std::from_chars(l->data(), l->data() + l->size(), limit);
    if (ec != std::errc() || ptr != l->data() + l->size()) {
      return Json(400, nlohmann::json{{"error", "limit must be a non-negative integer"}});
    }
  }
  return Json(200, HistoryJson(*h, failures_only, limit));
}

}  // namespace gatewatch
