// The per-probe log join, agent side (docs/diagnosis.md): a failed probe's run carries its
// request id (report `request_id`, checks/api/request_log.h); nginx's access line and error lines
// for that request reach the RequestLogIndex only when a proxy_log check reads them, on its own
// schedule, after the run finished. This sink remembers each failed run's id for `window` and,
// whenever the index has news (every result passes here, a proxy_log check's included), attaches
// what it has to the run's history entry (report `nginx_log`) and to the diagnosis entry (a fact
// "nginx log for gw-...: ..."), again when more error lines arrive. Never a metric label.
//
// Bounded: at most kMaxPending runs wait (the oldest are given up first), each for `window`.
// Ownership: the index, history and diagnosis outlive it (the agent owns all four).
// Thread-safety: loop thread only, like every ResultSink.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "checks/api/request_log.h"
#include "checks/api/result_sink.h"

namespace gatewatch {

class HistoryStore;
class DiagnosisSink;

class RequestLogAttacher final : public ResultSink {
 public:
  static constexpr size_t kMaxPending = 256;
  // nginx's lines for one request as shown (RequestLogRecord::Text).
  static constexpr size_t kMaxTextBytes = 1000;

  RequestLogAttacher(const Clock& clock, const RequestLogIndex& index, HistoryStore& history,
                     DiagnosisSink& diagnosis, Duration window = std::chrono::minutes(2))
      : clock_(clock), index_(index), history_(history), diagnosis_(diagnosis), window_(window) {}

  void OnConfig(const std::vector<const CheckSpec*>& checks) override;
  void OnResult(const CheckSpec& check, const Result& result) override;
  void OnSkipped(const CheckSpec&) override {}
  void OnSchedulerLag(Duration) override {}

  size_t pending() const { return pending_.size(); }

 private:
  struct Pending {
    std::string check;
    std::string id;
    TimePoint until;
    uint64_t version = 0;  // of the record last attached
  };
  void Poll();

  const Clock& clock_;
  const RequestLogIndex& index_;
  HistoryStore& history_;
  DiagnosisSink& diagnosis_;
  const Duration window_;
  std::deque<Pending> pending_;  // oldest first
  uint64_t seen_generation_ = 0;
};

}  // namespace gatewatch
