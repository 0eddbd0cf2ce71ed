#include "agent/request_log_attach.h"

#include <algorithm>
#include <set>

#include "agent/diagnosis_sink.h"
#include "exporters/history.h"

namespace gatewatch {

void RequestLogAttacher::OnConfig(const std::vector<const CheckSpec*>& checks) {
  std::set<std::string> names;
  for (const CheckSpec* c : checks) names.insert(c->name);
  std::erase_if(pending_, [&](const Pending& p) { return !names.contains(p.check); });
}

void RequestLogAttacher::OnResult(const CheckSpec& check, const Result& result) {
  if (!result.success) {
    for (const auto& [key, value] : result.report) {
      if (key != "request_id" || !IsProbeRequestId(value)) continue;
      if (pending_.size() >= kMaxPending) pending_.pop_front();
      pending_.push_back({check.name, value, clock_.Now() + window_, 0});
      seen_generation_ = 0;  // the lines may be in the index already
      break;
    }
  }
  Poll();
}

void RequestLogAttacher::Poll() {
  const TimePoint now = clock_.Now();
  while (!pending_.empty() && pending_.front().until < now) pending_.pop_front();
  if (index_.generation() == seen_generation_) return;
  seen_generation_ = index_.generation();
  for (Pending& p : pending_) {
    const RequestLogRecord* r = index_.Find(p.id);
    if (r == nullptr || r->version == p.version) continue;
    p.version = r->version;
    const std::string text = r->Text(kMaxTextBytes);
    history_.AttachReport(p.check, "request_id", p.id, "nginx_log", text);
    diagnosis_.AttachRequestLog(p.check, p.id, text);
  }
}

}  // namespace gatewatch
