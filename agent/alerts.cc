#include "agent/alerts.h"

#include <algorithm>
#include <optional>
#include <set>

#include "agent/base/utf8.h"
#include "checks/api/http_status.h"

namespace gatewatch {
namespace {

// Codes as the source's counters label them: http_responses_total keeps 502/503/504 exact and
// other codes by class; proxy_responses_total keeps every 5xx exact.
std::vector<std::string> ParseCodes(const ConfigNode& node, AlertSourceKind kind) {
  if (!node.IsSequence() || node.size() == 0)
    node.Fail("must be a non-empty list of codes or classes");
  std::vector<std::string> codes;
  for (size_t i = 0; i < node.size(); ++i) {
    ConfigNode item = node.At(i);
    std::string v = item.AsString();
    std::optional<StatusSpec> spec = StatusSpec::Parse(v);
    if (!spec)
      item.Fail("must be a status code like 502 or a class like \"5xx\" (got \"" + v + "\")");
    if (spec->is_class()) {
      codes.push_back(spec->ToString());
      continue;
    }
    std::string by_class = std::to_string(spec->code / 100) + "xx";
    if (kind == AlertSourceKind::kHttpProbe &&
        !LabelsExactly(spec->code, CodeLabelScheme::kGatewayExact)) {
      item.Fail("http checks count 502, 503 and 504 exactly and other codes by class: use \"" +
                by_class + "\"");
    }
    if (kind == AlertSourceKind::kProxyLog &&
        !LabelsExactly(spec->code, CodeLabelScheme::kServerErrorsExact)) {
      item.Fail("proxy_log checks count 5xx codes exactly and other codes by class: use \"" +
                by_class + "\"");
    }
    codes.push_back(v);
  }
  return codes;
}

}  // namespace

std::vector<AlertSpec> ParseAlerts(const ConfigNode& node,
                                   const std::map<std::string, std::string>& check_types) {
  std::vector<AlertSpec> alerts;
  if (!node.IsDefined()) return alerts;
  if (!node.IsSequence()) node.Fail("must be a list");
  std::set<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    ConfigNode a = node.At(i);
    if (!a.IsMap()) a.Fail("must be a map");
    AlertSpec spec;
    ConfigNode name = a.Required("name");
    spec.name = name.AsString();
    if (!IsPrometheusName(spec.name))
      name.Fail("must match [a-zA-Z_][a-zA-Z0-9_]* (got \"" + spec.name + "\")");
    if (!names.insert(spec.name).second) name.Fail("duplicate alert name \"" + spec.name + "\"");

    ConfigNode source = a.Required("source");
    source.ExpectMap();
    ConfigNode check = source.Required("check");
    spec.check = check.AsString();
    auto type = check_types.find(spec.check);
    if (type == check_types.end()) check.Fail("no check named \"" + spec.check + "\"");
    if (type->second == "http") {
      spec.source_kind = AlertSourceKind::kHttpProbe;
    } else if (type->second == "proxy_log") {
      spec.source_kind = AlertSourceKind::kProxyLog;
    } else {
      check.Fail("check \"" + spec.check + "\" is of type " + type->second +
                 "; alert sources must be http or proxy_log checks");
    }
    source.RejectUnknownKeys();

    bool has_ratio = a.Has("ratio"), has_slo = a.Has("slo");
    if (has_ratio == has_slo) a.Fail("needs exactly one of ratio or slo");
    spec.min_events = a.IntOr("min_events", has_slo ? 100 : 0, 0, 1'000'000'000);
    if (has_ratio) {
      ConfigNode ratio = a.Child("ratio");
      ratio.ExpectMap();
      spec.of = ParseCodes(ratio.Required("of"), spec.source_kind);
      spec.window = ratio.DurationOr("window", std::chrono::minutes(5));
      if (spec.window < std::chrono::seconds(10))
        ratio.Child("window").Fail("must be at least 10s");
      ratio.RejectUnknownKeys();
      spec.above = a.Required("above").AsDouble(0, 1);
      ConfigNode clear = a.Child("clear_below");
      spec.clear_below = clear.IsDefined() ? clear.AsDouble(0, 1) : spec.above * 0.9;
      if (spec.clear_below > spec.above)
        clear.Fail("must not be above `above` (" + std::to_string(spec.above) + ")");
      spec.for_duration = a.DurationOr("for", Duration::zero());
    } else {
      ConfigNode slo = a.Child("slo");
      slo.ExpectMap();
      ConfigNode objective = slo.Required("objective");
      spec.slo_objective = objective.AsDouble(0, 1);
      if (spec.slo_objective <= 0.5 || spec.slo_objective >= 1) {
        objective.Fail("must be between 0.5 and 1, exclusive (e.g. 0.999)");
      }
      spec.of = ParseCodes(slo.Required("of"), spec.source_kind);
      slo.RejectUnknownKeys();
      spec.burn_windows = DefaultBurnWindows();
      spec.window = spec.burn_windows.front().long_window;
      spec.above = spec.burn_windows.front().factor * (1 - spec.slo_objective);
    }
    spec.severity = a.StringOr("severity", "page");
    if (spec.severity.empty()) a.Child("severity").Fail("must not be empty");
    // Severity, service and annotations end up in label values and alert text (the UTF-8
    // contract of agent/base/utf8.h): refused here rather than rewritten behind the user's back.
    if (!IsValidUtf8(spec.severity)) a.Child("severity").Fail("must be valid UTF-8");
    spec.service = a.StringOr("service", spec.check);
    if (!IsValidUtf8(spec.service)) a.Child("service").Fail("must be valid UTF-8");
    ConfigNode annotations = a.Child("annotations");
    annotations.ExpectMap();
    for (const auto& key : annotations.Keys()) {
      spec.annotations[key] = annotations.Child(key).AsString();
      if (!IsValidUtf8(key) || !IsValidUtf8(spec.annotations[key]))
        annotations.Child(key).Fail("must be valid UTF-8");
    }
    a.RejectUnknownKeys();
    alerts.push_back(std::move(spec));
  }
  return alerts;
}

// ----- Evaluation ------------------------------------------------------------------------------

void AlertEvaluator::Window::Advance(TimePoint now) {
  int64_t index = now.time_since_epoch() / slot;
  if (current < 0) {
    current = index;
    return;
  }
  if (index <= current) return;
  int64_t clear = std::min<int64_t>(index - current, kSlots);
  for (int64_t i = 1; i <= clear; ++i) {
    total[(current + i) % kSlots] = 0;
    bad[(current + i) % kSlots] = 0;
  }
  current = index;
}

void AlertEvaluator::Window::Add(TimePoint now, double total_delta, double bad_delta) {
  Advance(now);
  total[current % kSlots] += total_delta;
  bad[current % kSlots] += bad_delta;
}

std::pair<double, double> AlertEvaluator::Window::Sum(TimePoint now) {
  Advance(now);
  double t = 0, b = 0;
  for (int i = 0; i < kSlots; ++i) t += total[i], b += bad[i];
  return {t, b};
}

AlertEvaluator::AlertEvaluator(const Clock& clock, AlertStateSink& sink)
    : clock_(clock), sink_(sink) {}

void AlertEvaluator::SetAlerts(std::vector<AlertSpec> alerts) {
  // Alerts whose definition is unchanged keep their windows and state across a reload.
  std::vector<Tracked> next;
  for (auto& spec : alerts) {
    auto old = std::find_if(alerts_.begin(), alerts_.end(), [&](const Tracked& t) {
      return t.spec.name == spec.name && t.spec.check == spec.check && t.spec.of == spec.of &&
             t.spec.window == spec.window && t.spec.slo_objective == spec.slo_objective;
    });
    Tracked t;
    if (old != alerts_.end()) {
      t = std::move(*old);
      t.spec = std::move(spec);
    } else {
      t.spec = std::move(spec);
      auto make = [](Duration w) {
        Window win;
        win.slot = std::max<Duration>(w / kSlots, std::chrono::milliseconds(100));
        return win;
      };
      if (t.spec.is_slo()) {
        for (const auto& bw : t.spec.burn_windows) {
          t.windows.push_back(make(bw.long_window));
          t.windows.push_back(make(bw.short_window));
        }
      } else {
        t.windows.push_back(make(t.spec.window));
      }
      t.reasons_reset = clock_.Now();
    }
    next.push_back(std::move(t));
  }
  alerts_ = std::move(next);
  by_check_.clear();
  std::vector<AlertSpec> specs;
  for (size_t i = 0; i < alerts_.size(); ++i) {
    by_check_[alerts_[i].spec.check].push_back(i);
    specs.push_back(alerts_[i].spec);
  }
  sink_.OnAlertsConfigured(specs);
  Evaluate();
}

void AlertEvaluator::Record(Tracked& t, TimePoint now, double total, double bad) {
  for (auto& w : t.windows) w.Add(now, total, bad);
}

void AlertEvaluator::OnResult(const CheckSpec& check, const Result& result) {
  auto it = by_check_.find(check.name);
  if (it == by_check_.end()) return;
  TimePoint now = clock_.Now();
  for (size_t index : it->second) {
    Tracked& t = alerts_[index];
    if (now - t.reasons_reset > t.spec.window) {
      t.reasons.clear();
      t.reasons_reset = now;
    }
    if (t.spec.source_kind == AlertSourceKind::kHttpProbe) {
      // One run is one event; it is bad when its response code is one of `of`.
      bool bad = false;
      for (const auto& obs : result.observations) {
        if (obs.desc->name == "http_responses_total" && !obs.label_values.empty() &&
            obs.value > 0 && t.spec.Matches(obs.label_values.back())) {
          bad = true;
        }
      }
      Record(t, now, 1, bad ? 1 : 0);
      if (!result.success) t.reasons[std::string(ReasonName(result.reason))] += 1;
    } else {
      for (const auto& obs : result.observations) {
        if (obs.label_values.empty() || obs.value <= 0) continue;
        if (obs.desc->name == "proxy_responses_total") {
          Record(t, now, obs.value, t.spec.Matches(obs.label_values.back()) ? obs.value : 0);
        } else if (obs.desc->name == "proxy_upstream_errors_total") {
          t.reasons[obs.label_values.back()] += obs.value;
        }
      }
    }
    EvaluateOne(t, now);
  }
}

void AlertEvaluator::Evaluate() {
  TimePoint now = clock_.Now();
  for (auto& t : alerts_) EvaluateOne(t, now);
}

void AlertEvaluator::EvaluateOne(Tracked& t, TimePoint now) {
  const AlertSpec& spec = t.spec;
  bool condition = false;
  double value = 0, threshold = spec.above, events = 0;
  bool clear = false;
  if (!spec.is_slo()) {
    auto [total, bad] = t.windows[0].Sum(now);
    events = total;
    value = total > 0 ? bad / total : 0;
    condition = total >= static_cast<double>(spec.min_events) && value > spec.above;
    clear = value <= spec.clear_below || total < static_cast<double>(spec.min_events);
  } else {
    // Agent-side, an SLO alert fires on the pairs of its own severity (the page pairs by
    // default); the ticket pair exists only in the generated rules.
    double budget = 1 - spec.slo_objective;
    bool any_pair = false;
    for (size_t i = 0; i < spec.burn_windows.size(); ++i) {
      const BurnWindow& bw = spec.burn_windows[i];
      if (bw.severity != spec.severity) continue;
      auto [lt, lb] = t.windows[2 * i].Sum(now);
      auto [st, sb] = t.windows[2 * i + 1].Sum(now);
      double long_ratio = lt > 0 ? lb / lt : 0, short_ratio = st > 0 ? sb / st : 0;
      double burn = std::min(long_ratio, short_ratio) / budget;
      if (!any_pair || burn / bw.factor > value / threshold) {
        value = burn;
        threshold = bw.factor;
        events = lt;
      }
      any_pair = true;
      if (lt >= static_cast<double>(spec.min_events) && burn > bw.factor) condition = true;
    }
    clear = !condition;
  }

  State& s = t.state;
  s.value = value;
  s.events = events;
  if (s.firing) {
    if (clear) {
      s.firing = false;
      s.pending_since.reset();
    }
  } else if (condition) {
    if (!s.pending_since) s.pending_since = now;
    if (now - *s.pending_since >= spec.for_duration) s.firing = true;
  } else {
    s.pending_since.reset();
  }
  s.reason = "none";
  double best = 0;
  for (const auto& [reason, count] : t.reasons) {
    if (count > best) best = count, s.reason = reason;
  }
  s.verdict = s.firing && verdict_source_ ? verdict_source_(spec) : std::string();
  sink_.OnAlertVerdict(spec, s.verdict);
  sink_.OnAlertState(spec, s.firing, value, threshold, s.reason);
}

const AlertEvaluator::State* AlertEvaluator::StateOf(const std::string& alert) const {
  for (const auto& t : alerts_) {
    if (t.spec.name == alert) return &t.state;
  }
  return nullptr;
}

}  // namespace gatewatch
