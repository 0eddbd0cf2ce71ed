#include "exporters/rules.h"

#include <yaml-cpp/yaml.h>

#include <optional>
#include <set>

#include "agent/base/config_node.h"
#include "agent/base/units.h"
#include "checks/api/http_status.h"

namespace gatewatch {
namespace {

std::string Num(double v) { return FormatGeneral(v, 6); }

std::string Range(Duration d) { return "[" + FormatDuration(d) + "]"; }

// Codes as the counters label them: "502" exact, or "5xx" which must also match exact 5xx labels.
std::string CodeRegex(const std::vector<std::string>& of) {
  std::string re;
  for (const auto& item : of) {
    if (!re.empty()) re += "|";
    std::optional<StatusSpec> spec = StatusSpec::Parse(item);
    re += spec ? spec->LabelRegex() : item;
  }
  return re;
}

// "502, 503, 504" or "5xx": the codes as the user wrote them, for humans.
std::string CodeList(const std::vector<std::string>& of) {
  std::string out;
  for (const auto& item : of) out += (out.empty() ? "" : ", ") + item;
  return out;
}

struct Queries {
  std::string bad;     // increase of responses with a code in `of`
  std::string total;   // increase of all responses (or runs)
  std::string reason;  // the dominant failure reason, for the annotation
};

Queries QueriesFor(const AlertSpec& a, Duration window) {
  std::string check = "check=\"" + a.check + "\"";
  std::string codes = CodeRegex(a.of);
  Queries q;
  if (a.source_kind == AlertSourceKind::kHttpProbe) {
    q.bad = "sum(increase(gatewatch_http_responses_total{" + check + ",code=~\"" + codes + "\"}" +
            Range(window) + "))";
    q.total = "sum(increase(gatewatch_check_runs_total{" + check + "}" + Range(window) + "))";
    q.reason = "topk(1, sum by (reason) (increase(gatewatch_check_failures_total{" + check + "}" +
               Range(window) + ")))";
  } else {
    q.bad = "sum(increase(gatewatch_proxy_responses_total{" + check + ",code=~\"" + codes + "\"}" +
            Range(window) + "))";
    q.total = "sum(increase(gatewatch_proxy_responses_total{" + check + "}" + Range(window) + "))";
    q.reason = "topk(1, sum by (reason) (increase(gatewatch_proxy_upstream_errors_total{" + check +
               "}" + Range(window) + ")))";
  }
  return q;
}

std::string TemplateString(const std::string& query) {
  std::string escaped;
  for (char c : query) {
    if (c == '"') escaped += "\\";
    escaped += c;
  }
  return "\"" + escaped + "\"";
}

// Prometheus runs the query when it renders the annotation: the page names the cause.
std::string ReasonAnnotation(const std::string& query) {
  return "{{ with query " + TemplateString(query) +
         " }}{{ range . }}{{ .Labels.reason }}{{ end }}{{ else }}unknown{{ end }}";
}

// The diagnosis verdict of the services the source check belongs to (gatewatch_diagnosis_info,
// docs/diagnosis.md), "none" while they are healthy: "shop: upstream_down (connection_refused)".
// `max by` folds the same verdict reported by several agents (shards, locations).
std::string DiagnosisAnnotation(const std::string& check) {
  std::string query =
      "max by (service, cause, why) (gatewatch_diagnosis_info{check=\"" + check + "\"})";
  return "{{ with query " + TemplateString(query) +
         " }}{{ range $i, $v := . }}{{ if $i }}; {{ end }}{{ $v.Labels.service }}: "
         "{{ $v.Labels.cause }}{{ with $v.Labels.why }} ({{ . }}){{ end }}{{ end }}"
         "{{ else }}none{{ end }}";
}

struct Rule {
  std::string alert;
  std::string expr;
  Duration for_duration{};
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, std::string>> annotations;
};

std::vector<Rule> BuildRules(const std::vector<AlertSpec>& alerts) {
  std::vector<Rule> rules;
  std::set<std::pair<std::string, std::string>> upstream_down;  // (service, check)
  for (const auto& a : alerts) {
    auto common = [&](const std::string& kind, const std::string& severity) {
      return std::vector<std::pair<std::string, std::string>>{{"severity", severity},
                                                              {"service", a.service},
                                                              {"check", a.check},
                                                              {"gatewatch_kind", kind}};
    };
    if (!a.is_slo()) {
      Queries q = QueriesFor(a, a.window);
      Rule r;
      r.alert = a.name;
      r.expr = "(\n  " + q.bad + "\n/\n  " + q.total + "\n) > " + Num(a.above);
      if (a.min_events > 0)
        r.expr += "\nand\n" + q.total + " >= " + Num(static_cast<double>(a.min_events));
      r.for_duration = a.for_duration;
      r.labels = common("ratio", a.severity);
      r.annotations = {
          {"summary", "Share of " + CodeList(a.of) + " responses of " + a.check +
                          " is {{ $value | humanizePercentage }} over " + FormatDuration(a.window) +
                          " (threshold " + Num(a.above * 100) + "%)"},
          {"reason", ReasonAnnotation(q.reason)},
          {"diagnosis", DiagnosisAnnotation(a.check)}};
      for (const auto& [k, v] : a.annotations) r.annotations.emplace_back(k, v);
      rules.push_back(std::move(r));
    } else {
      double budget = 1 - a.slo_objective;
      std::set<std::string> severities;
      for (const auto& bw : a.burn_windows) severities.insert(bw.severity);
      // One rule per severity; the pairs of one severity are joined with `or` (SRE workbook).
      for (const auto& severity : severities) {
        Rule r;
        r.alert = a.name;
        std::string expr;
        std::string reason_query;
        for (const auto& bw : a.burn_windows) {
          if (bw.severity != severity) continue;
          Queries lq = QueriesFor(a, bw.long_window), sq = QueriesFor(a, bw.short_window);
          std::string threshold = Num(bw.factor) + " * " + Num(budget);
          std::string pair = "(\n  (" + lq.bad + " / " + lq.total + ") > " + threshold +
                             "\n  and\n  (" + sq.bad + " / " + sq.total + ") > " + threshold;
          if (a.min_events > 0)
            pair += "\n  and\n  " + lq.total + " >= " + Num(static_cast<double>(a.min_events));
          pair += "\n)";
          expr += (expr.empty() ? "" : "\nor\n") + pair;
          if (reason_query.empty()) reason_query = sq.reason;
        }
        r.expr = expr;
        r.labels = common("slo", severity);
        r.annotations = {
            {"summary", "Error budget of " + a.check + " (SLO " + Num(a.slo_objective * 100) +
                            "% not " + CodeList(a.of) + ") is burning too fast"},
            {"reason", ReasonAnnotation(reason_query)},
            {"diagnosis", DiagnosisAnnotation(a.check)}};
        for (const auto& [k, v] : a.annotations) r.annotations.emplace_back(k, v);
        rules.push_back(std::move(r));
      }
    }
    upstream_down.emplace(a.service, a.check);
  }
  for (const auto& [service, check] : upstream_down) {
    const AlertSpec* source = nullptr;
    for (const auto& a : alerts) {
      if (a.check == check) source = &a;
    }
    // As quick as the service's own alert, but never slower than 2m / 1m: a refused connection
    // is unambiguous.
    Duration window = std::min<Duration>(source->window, std::chrono::minutes(2));
    Rule r;
    r.alert = "UpstreamDown";
    std::string sel = "check=\"" + check + "\",reason=~\"connection_refused|no_live_upstreams\"";
    r.expr = source->source_kind == AlertSourceKind::kHttpProbe
                 ? "sum(increase(gatewatch_check_failures_total{" + sel + "}" + Range(window) +
                       ")) > 0\nand\nmin(gatewatch_check_success{check=\"" + check + "\"}) == 0"
                 : "sum(increase(gatewatch_proxy_upstream_errors_total{" + sel + "}" +
                       Range(window) + ")) > 0";
    r.for_duration = std::min<Duration>(source->for_duration, std::chrono::minutes(1));
    r.labels = {{"severity", "page"},
                {"service", service},
                {"check", check},
                {"gatewatch_kind", "upstream_down"}};
    r.annotations = {
        {"summary", "An upstream of " + service + " refuses connections or none is live (seen by " +
                        check + ")"},
        {"reason", "connection_refused or no_live_upstreams"},
        {"diagnosis", DiagnosisAnnotation(check)}};
    rules.push_back(std::move(r));
  }
  return rules;
}

void EmitGroups(YAML::Emitter& out, const std::vector<AlertSpec>& alerts) {
  out << YAML::Key << "groups" << YAML::Value << YAML::BeginSeq;
  out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << "gatewatch";
  out << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  for (const auto& r : BuildRules(alerts)) {
    out << YAML::BeginMap;
    out << YAML::Key << "alert" << YAML::Value << r.alert;
    out << YAML::Key << "expr" << YAML::Value << YAML::Literal << r.expr;
    if (r.for_duration > Duration::zero())
      out << YAML::Key << "for" << YAML::Value << FormatDuration(r.for_duration);
    out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : r.labels) out << YAML::Key << k << YAML::Value << v;
    out << YAML::EndMap;
    out << YAML::Key << "annotations" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : r.annotations)
      out << YAML::Key << k << YAML::Value << YAML::DoubleQuoted << v;
    out << YAML::EndMap;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap << YAML::EndSeq;
}

}  // namespace

std::string RenderRuleFile(const std::vector<AlertSpec>& alerts) {
  YAML::Emitter out;
  out << YAML::Comment(
      "Generated by `gatewatch rules` from the alerts of the gatewatch config; do not edit.");
  out << YAML::BeginMap;
  EmitGroups(out, alerts);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::string RenderPrometheusRule(const std::vector<AlertSpec>& alerts, const std::string& name,
                                 const std::string& ns) {
  YAML::Emitter out;
  out << YAML::Comment("Generated by `gatewatch rules --format=kubernetes`; do not edit.");
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "monitoring.coreos.com/v1";
  out << YAML::Key << "kind" << YAML::Value << "PrometheusRule";
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  out << YAML::Key << "namespace" << YAML::Value << ns;
  out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap << YAML::Key
      << "app.kubernetes.io/name" << YAML::Value << "gatewatch" << YAML::EndMap;
  out << YAML::EndMap;
  out << YAML::Key << "spec" << YAML::Value << YAML::BeginMap;
  EmitGroups(out, alerts);
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace gatewatch
