#include "exporters/status_json.h"

#include <string>
#include <vector>

namespace gatewatch {

nlohmann::json ResultJson(const ResultView& r) {
  nlohmann::json report = nlohmann::json::object();
  for (const auto& [key, value] : r.report) report[std::string(key)] = std::string(value);
  return nlohmann::json{{"success", r.success},
                        {"reason", std::string(ReasonName(r.reason))},
                        {"cause", std::string(CauseName(ReasonCause(r.reason)))},
                        {"detail", std::string(r.detail)},
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
  c["name"] = std::string(s.name);
  c["type"] = std::string(s.type);
  c["skipped_total"] = s.skipped_total;
  return c;
}

nlohmann::json StatusJson(const CheckSeriesStore& store) {
  nlohmann::json checks = nlohmann::json::array();
  store.ForEachStatus([&](const CheckStatus& s) { checks.push_back(CheckStatusJson(s)); });
  return checks;
}

}  // namespace gatewatch
