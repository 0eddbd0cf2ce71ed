// What an alert is, shared by the agent (which parses and evaluates alerts) and the exporters
// (which export alert state and render Prometheus rules). Plain data, no I/O.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "checks/api/http_status.h"

namespace gatewatch {

// Which counters an alert's source exposes its responses through.
enum class AlertSourceKind { kHttpProbe, kProxyLog };

// One SLO burn-rate window pair (SRE workbook, chapter 5): both windows above factor × budget.
struct BurnWindow {
  Duration long_window;
  Duration short_window;
  double factor;
  std::string severity;
};

struct AlertSpec {
  std::string name;
  std::string check;  // source check name
  AlertSourceKind source_kind = AlertSourceKind::kHttpProbe;
  std::vector<std::string> of;  // "502" exact codes or "5xx" classes
  // Ratio alerts:
  Duration window = std::chrono::minutes(5);
  double above = 0;
  double clear_below = 0;  // hysteresis: a firing alert resolves only at or below this
  Duration for_duration{};
  int64_t min_events = 0;
  // SLO alerts (slo_objective > 0):
  double slo_objective = 0;
  std::vector<BurnWindow> burn_windows;
  std::string severity = "page";
  std::string service;
  std::map<std::string, std::string> annotations;

  bool is_slo() const { return slo_objective > 0; }
  // True if a response code (as the source's counters label it: "502" or "4xx") counts as bad.
  bool Matches(const std::string& code_label) const {
    for (const auto& item : of) {
      std::optional<StatusSpec> spec = StatusSpec::Parse(item);
      if (spec ? spec->MatchesLabel(code_label) : code_label == item) return true;
    }
    return false;
  }
};

// The default burn windows: 1h/5m at 14.4x and 6h/30m at 6x page; 3d/6h at 1x is a ticket.
inline std::vector<BurnWindow> DefaultBurnWindows() {
  using std::chrono::hours;
  using std::chrono::minutes;
  return {{hours(1), minutes(5), 14.4, "page"},
          {hours(6), minutes(30), 6, "page"},
          {hours(72), hours(6), 1, "ticket"}};
}

// Where an alert's state goes (the Prometheus exporter implements it; tests record it).
class AlertStateSink {
 public:
  virtual ~AlertStateSink() = default;
  virtual void OnAlertsConfigured(const std::vector<AlertSpec>& alerts) = 0;
  // `reason` is the dominant failure reason of the source in the window ("none" if unknown).
  virtual void OnAlertState(const AlertSpec& alert, bool firing, double value, double threshold,
                            const std::string& reason) = 0;
  // The diagnosis verdict of the alert's service as one line of alert text
  // (agent/diagnosis_sink.h VerdictAlertText), sent just before each OnAlertState; "" when the
  // alert is not firing or its service has no verdict. Optional for sinks.
  virtual void OnAlertVerdict(const AlertSpec& /*alert*/, const std::string& /*verdict*/) {}
};

}  // namespace gatewatch
