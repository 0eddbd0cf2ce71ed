#include "exporters/status_json.h"

#include <string>
#include <vector>

#include "agent/base/utf8.h"
#include "checks/api/proxy_status_error.h"

namespace gatewatch {

nlohmann::json ResultJson(const ResultView& r) {
  // Strings may quote targets: sanitized here too (a Result that did not pass through the series
  // store, as in `gatewatch probe --json`), or dump() would throw type_error.316.
  nlohmann::json report = nlohmann::json::object();
  for (const auto& [key, value] : r.report) {
    report[SanitizeUtf8(key, kMaxLabelValueBytes)] = SanitizeUtf8(value, kMaxDetailBytes);
  }
  // The reason under its RFC 9209 name, for tools that read Proxy-Status: the error type alone
  // and the whole member as gatewatch would send it; null when the reason has no such name.
  nlohmann::json proxy_error = nullptr;
  nlohmann::json proxy_status = nullptr;
  if (std::optional<ProxyStatusError> e = ProxyStatusErrorFor(r.reason)) {
    proxy_error = std::string(e->error);
    proxy_status = *ProxyStatusMember(r.reason, r.detail);
  }
  return nlohmann::json{{"success", r.success},
                        {"reason", std::string(ReasonName(r.reason))},
                        {"cause", std::string(CauseName(ReasonCause(r.reason)))},
                        {"proxy_status_error", std::move(proxy_error)},
                        {"proxy_status", std::move(proxy_status)},
                        {"detail", SanitizeUtf8(r.detail, kMaxDetailBytes)},
                        {"duration_seconds", r.duration_seconds},
                        {"report", std::move(report)}};
}

nlohmann::json ResultJson(const Result& result) {
  std::vector<std::pair<std::string_view, std::string_view>> report(result.report.begin(),
                                                                    result.report.end());
  return ResultJson(ResultView{.success = result.success,
                               .reason = result.reason,
                               .detail = result.detail,
                               .duration_seconds = ToSeconds(result.duration),
                               .report = report});
}

nlohmann::json CheckStatusJson(const CheckStatus& s) {
  nlohmann::json c;
  if (s.has_status) {
    c = ResultJson(ResultView{.success = s.success,
                              .reason = s.reason,
                              .detail = s.detail,
                              .duration_seconds = s.duration_seconds,
                              .report = s.report});
    c["last_run_timestamp_seconds"] = s.last_run_timestamp_seconds;
  } else {
    c["success"] = nullptr;  // not run yet
  }
  c["name"] = SanitizeUtf8(s.name, kMaxDetailBytes);
  c["type"] = SanitizeUtf8(s.type, kMaxDetailBytes);
  c["skipped_total"] = s.skipped_total;
  return c;
}

nlohmann::json StatusJson(const CheckSeriesStore& store) {
  nlohmann::json checks = nlohmann::json::array();
  store.ForEachStatus([&](const CheckStatus& s) { checks.push_back(CheckStatusJson(s)); });
  return checks;
}

std::string DumpJson(const nlohmann::json& j, int indent) {
  // error_handler_t::replace: a string that escaped sanitizing is written with U+FFFD instead of
  // throwing type_error.316 out of a web handler.
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string StatusTextOfResult(const CheckSpec& check, const Result& result, double wall_seconds) {
  CheckSeriesStore store;
  store.SetChecks({&check});
  store.OnResult(check, result, wall_seconds);
  return DumpJson(StatusJson(store), 2);
}

}  // namespace gatewatch
