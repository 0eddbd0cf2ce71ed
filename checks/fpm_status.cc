#include "checks/fpm_status.h"

#include <nlohmann/json.hpp>

namespace gatewatch {

namespace {

constexpr size_t kMaxBody = 64 * 1024;

bool ReadCounter(const nlohmann::json& obj, const char* key, int64_t* out, std::string* error) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    *error = std::string("no \"") + key + "\"";
    return false;
  }
  if (!it->is_number_integer() || (it->is_number_unsigned() && it->get<uint64_t>() > INT64_MAX)) {
    *error = std::string("\"") + key + "\" is not an integer";
    return false;
  }
  *out = it->get<int64_t>();
  if (*out < 0) {
    *error = std::string("\"") + key + "\" is negative";
    return false;
  }
  return true;
}

std::string StringOr(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  std::string s = it->get<std::string>();
  if (s.size() > 256) s.resize(256);
  // It goes into details and reports: printable ASCII only.
  for (char& c : s) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return s;
}

}  // namespace

std::optional<FpmPoolStatus> ParseFpmStatusJson(std::string_view body, std::string* error) {
  if (body.size() > kMaxBody) {
    *error = "status body larger than 64 KiB";
    return std::nullopt;
  }
  // Depth-limited by hand: nlohmann recurses per nesting level, and a hostile body of 64 KiB of
  // '[' would recurse that deep.
  int depth = 0;
  for (char c : body) {
    if (c == '[' || c == '{') {
      if (++depth > 16) {
        *error = "status JSON nested deeper than 16 levels";
        return std::nullopt;
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    *error = "status body is not JSON (is the query `json`?)";
    return std::nullopt;
  }
  if (!doc.is_object()) {
    *error = "status JSON is not an object";
    return std::nullopt;
  }
  FpmPoolStatus s;
  s.pool = StringOr(doc, "pool");
  s.process_manager = StringOr(doc, "process manager");
  const std::pair<const char*, int64_t*> counters[] = {
      {"accepted conn", &s.accepted_conn},
      {"listen queue", &s.listen_queue},
      {"max listen queue", &s.max_listen_queue},
      {"listen queue len", &s.listen_queue_len},
      {"idle processes", &s.idle_processes},
      {"active processes", &s.active_processes},
      {"total processes", &s.total_processes},
      {"max active processes", &s.max_active_processes},
      {"max children reached", &s.max_children_reached},
      {"slow requests", &s.slow_requests},
  };
  for (const auto& [key, out] : counters) {
    if (!ReadCounter(doc, key, out, error)) return std::nullopt;
  }
  return s;
}

FpmVerdict JudgeFpmStatus(const FpmPoolStatus& now, const FpmThresholds& limits,
                          std::optional<int64_t> previous_max_children_reached) {
  FpmVerdict v;
  std::string figures =
      " (pool " + (now.pool.empty() ? std::string("?") : now.pool) + ": active " +
      std::to_string(now.active_processes) + ", idle " + std::to_string(now.idle_processes) +
      ", total " + std::to_string(now.total_processes) + ", listen queue " +
      std::to_string(now.listen_queue) + " of " + std::to_string(now.listen_queue_len) + ")";
  if (now.listen_queue_len > 0 && now.listen_queue >= now.listen_queue_len) {
    v.reason = Reason::kListenQueueFull;
    v.detail = "listen queue full: " + std::to_string(now.listen_queue) +
               " connections wait, the backlog holds " + std::to_string(now.listen_queue_len) +
               figures;
    return v;
  }
  if (limits.max_listen_queue && now.listen_queue > *limits.max_listen_queue) {
    v.reason = Reason::kListenQueueFull;
    v.detail = std::to_string(now.listen_queue) + " connections wait in the listen queue, over " +
               "max_listen_queue " + std::to_string(*limits.max_listen_queue) + figures;
    return v;
  }
  if (limits.fail_on_max_children_reached && previous_max_children_reached &&
      now.max_children_reached > *previous_max_children_reached) {
    v.reason = Reason::kPoolSaturated;
    v.detail = "pool saturated: php-fpm reached pm.max_children " +
               std::to_string(now.max_children_reached - *previous_max_children_reached) +
               " time(s) since the last run" + figures;
    return v;
  }
  return v;
}

}  // namespace gatewatch
