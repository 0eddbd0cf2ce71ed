#include "agent/diagnosis_sink.h"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <sstream>

#include "agent/base/strings.h"
#include "agent/base/units.h"
#include "agent/base/utf8.h"
#include "exporters/status_json.h"

namespace gatewatch {
namespace {

std::string Text(std::string_view s) { return SanitizeUtf8(s, kMaxDetailBytes); }

nlohmann::json FactJson(const DiagnosisFact& f) {
  nlohmann::json numbers = nlohmann::json::object();
  for (const auto& [k, v] : f.numbers) numbers[Text(k)] = v;
  return {{"check", Text(f.check)},
          {"role", std::string(RoleName(f.role))},
          {"time", FormatUtc(f.wall, "%Y-%m-%dT%H:%M:%SZ")},
          {"reason", Text(f.reason)},
          {"text", Text(f.text)},
          {"numbers", std::move(numbers)}};
}

nlohmann::json VerdictJson(const Verdict& v) {
  nlohmann::json evidence = nlohmann::json::array();
  for (const auto& f : v.evidence) evidence.push_back(FactJson(f));
  nlohmann::json upstreams = nlohmann::json::array();
  for (const auto& u : v.upstreams) upstreams.push_back(Text(u));
  return {{"cause", std::string(DiagnosisCauseName(v.cause))},
          {"why", Text(v.why)},
          {"upstreams", std::move(upstreams)},
          {"confidence", v.confidence},
          {"since", FormatUtc(v.since_wall, "%Y-%m-%dT%H:%M:%SZ")},
          {"summary", Text(v.Summary())},
          {"evidence", std::move(evidence)}};
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// 37 rather than 37.0: counts are whole numbers.
std::string NumberText(const nlohmann::json& v) {
  if (!v.is_number()) return v.dump();
  double d = v.get<double>();
  if (d == static_cast<double>(static_cast<long long>(d)) && std::abs(d) < 1e15)
    return std::to_string(static_cast<long long>(d));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

}  // namespace

std::string VerdictAlertText(const Verdict& v) {
  // Each piece is made one printable line on its own (evidence text comes from targets and
  // logs), then the whole is capped once on a character boundary.
  constexpr size_t kPiece = 256;
  std::string out = "verdict: " + std::string(DiagnosisCauseName(v.cause));
  if (!v.why.empty()) out += " (" + Printable(v.why, kPiece) + ")";
  if (!v.upstreams.empty()) {
    out += "; upstreams:";
    for (size_t i = 0; i < v.upstreams.size() && i < 3; ++i)
      out += (i ? ", " : " ") + Printable(v.upstreams[i], kPiece);
    if (v.upstreams.size() > 3) out += " and " + std::to_string(v.upstreams.size() - 3) + " more";
  }
  for (size_t i = 0; i < v.evidence.size() && i < 3; ++i) {
    const DiagnosisFact& f = v.evidence[i];
    out += (i == 0 ? "; evidence: " : " | ") + FormatUtc(f.wall, "%H:%M:%S") + " " +
           Printable(f.check, 128) + ": " + Printable(f.text, kPiece);
  }
  out = SanitizeUtf8(out, kMaxDetailBytes);
  // Printable() blanks CR, LF and NUL; a page is plain text, so no control byte at all (bytes
  // below 0x20 and 0x7f never occur inside a multi-byte UTF-8 character).
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}

std::vector<ServiceVerdictView> ServiceViews(const std::vector<ServiceSpec>& services,
                                             const std::vector<Verdict>& verdicts) {
  auto ms = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  };
  std::map<std::string, const Verdict*> by_service;
  for (const auto& v : verdicts) by_service[v.service] = &v;
  std::vector<ServiceVerdictView> out;
  out.reserve(services.size());
  for (const auto& s : services) {
    ServiceVerdictView view;
    view.service = s.name;
    auto it = by_service.find(s.name);
    if (it != by_service.end()) {
      const Verdict& v = *it->second;
      view.healthy = false;
      view.cause = std::string(DiagnosisCauseName(v.cause));
      view.why = v.why;
      view.upstreams = v.upstreams;
      view.confidence = v.confidence;
      view.since_ms = ms(v.since_wall);
      for (const DiagnosisFact& f : v.evidence) {
        view.evidence.push_back(
            {ms(f.wall), f.check, std::string(RoleName(f.role)), f.reason, f.text});
      }
    }
    out.push_back(std::move(view));
  }
  return out;
}

nlohmann::json DiagnosisJson(const std::vector<ServiceSpec>& services,
                             const std::vector<Verdict>& verdicts) {
  std::map<std::string, const Verdict*> by_service;
  for (const auto& v : verdicts) by_service[v.service] = &v;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : services) {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& c : s.checks) {
      checks.push_back({{"check", c.check}, {"role", std::string(RoleName(c.role))}});
    }
    auto it = by_service.find(s.name);
    list.push_back(
        {{"service", s.name},
         {"healthy", it == by_service.end()},
         {"verdict", it == by_service.end() ? nlohmann::json() : VerdictJson(*it->second)},
         {"checks", std::move(checks)}});
  }
  return {{"services", std::move(list)}};
}

std::string FormatDiagnosis(const nlohmann::json& doc, const std::string& service) {
  std::ostringstream out;
  auto services = doc.find("services");
  if (services == doc.end() || !services->is_array() || services->empty()) {
    return "no services configured (add a services: section or a proxy_log check)\n";
  }
  bool any = false;
  for (const auto& s : *services) {
    std::string name = Str(s, "service");
    if (!service.empty() && name != service) continue;
    if (any) out << "\n";
    any = true;
    out << "SERVICE      " << name << "\n";
    auto v = s.find("verdict");
    if (v == s.end() || !v->is_object()) {
      out << "VERDICT      none (healthy)\n";
      continue;
    }
    std::string why = Str(*v, "why");
    char confidence[16];
    std::snprintf(confidence, sizeof confidence, "%.2f", v->value("confidence", 0.0));
    out << "VERDICT      " << Str(*v, "cause") << (why.empty() ? "" : " (" + why + ")")
        << "  confidence " << confidence << "  since " << Str(*v, "since") << "\n";
    if (auto u = v->find("upstreams"); u != v->end() && u->is_array() && !u->empty()) {
      out << "UPSTREAMS   ";
      for (const auto& a : *u) out << " " << (a.is_string() ? a.get<std::string>() : "");
      out << "\n";
    }
    out << "EVIDENCE\n";
    if (auto e = v->find("evidence"); e != v->end() && e->is_array()) {
      for (const auto& f : *e) {
        out << "  " << Str(f, "time") << "  " << Str(f, "check") << " (" << Str(f, "role") << ")  "
            << Str(f, "text");
        if (auto n = f.find("numbers"); n != f.end() && n->is_object() && !n->empty()) {
          out << "  [";
          bool first = true;
          for (auto it = n->begin(); it != n->end(); ++it) {
            out << (first ? "" : " ") << it.key() << "=" << NumberText(it.value());
            first = false;
          }
          out << "]";
        }
        out << "\n";
      }
    }
  }
  if (!any) return "no service named \"" + service + "\"\n";
  return out.str();
}

void DiagnosisSink::Configure(std::vector<ServiceSpec> services, DiagnosisOptions options) {
  engine_.Configure(std::move(services), options);
  dirty_ = true;
  Evaluate();
}

void DiagnosisSink::OnResult(const CheckSpec& check, const Result& result) {
  engine_.OnResult(check.name, result);
  dirty_ = true;
}

bool DiagnosisSink::AttachRequestLog(const std::string& check, const std::string& request_id,
                                     const std::string& text) {
  if (!engine_.AttachRequestLog(check, request_id, text)) return false;
  dirty_ = true;
  return true;
}

void DiagnosisSink::Evaluate() {
  // With no new result, only verdicts can change with time (hold, window): judge anyway when
  // there are some, else there is nothing to do.
  std::vector<Verdict> before = engine_.Verdicts();
  if (!dirty_ && before.empty()) return;
  engine_.Evaluate();
  dirty_ = false;
  Publish();
}

void DiagnosisSink::Publish() {
  std::vector<Verdict> verdicts = engine_.Verdicts();
  nlohmann::json doc = DiagnosisJson(engine_.services(), verdicts);
  std::vector<std::pair<std::vector<std::string>, double>> rows;
  std::map<std::string, DiagnosisCause> current;
  for (const auto& v : verdicts) current[v.service] = v.cause;
  for (const auto& s : engine_.services()) {
    auto it = current.find(s.name);
    rows.push_back({{s.name, "none"}, it == current.end() ? 1.0 : 0.0});
    for (int c = 0; c < kDiagnosisCauseCount; ++c) {
      auto cause = static_cast<DiagnosisCause>(c);
      bool set = it != current.end() && it->second == cause;
      rows.push_back({{s.name, std::string(DiagnosisCauseName(cause))}, set ? 1.0 : 0.0});
    }
  }
  DiagnosisRows info;
  for (const auto& v : verdicts) {
    for (const auto& s : engine_.services()) {
      if (s.name != v.service) continue;
      for (const auto& c : s.checks) {
        info.push_back({{s.name, c.check, std::string(DiagnosisCauseName(v.cause)),
                         SanitizeUtf8(v.why, kMaxLabelValueBytes)},
                        1.0});
      }
    }
  }
  std::vector<ServiceVerdictView> views = ServiceViews(engine_.services(), verdicts);
  std::lock_guard lock(mu_);
  doc_ = std::move(doc);
  rows_ = std::move(rows);
  info_rows_ = std::move(info);
  views_ = std::move(views);
}

std::vector<ServiceVerdictView> DiagnosisSink::PageViews() const {
  std::lock_guard lock(mu_);
  return views_;
}

DiagnosisRows DiagnosisSink::InfoRows() const {
  std::lock_guard lock(mu_);
  return info_rows_;
}

std::string DiagnosisSink::AlertText(const std::string& check, const std::string& service) const {
  std::vector<Verdict> verdicts = engine_.Verdicts();
  if (verdicts.empty()) return "";
  const Verdict* named = nullptr;
  for (const auto& v : verdicts) {
    if (v.service == service) named = &v;
    for (const auto& s : engine_.services()) {
      if (s.name != v.service) continue;
      for (const auto& c : s.checks) {
        if (c.check == check) return VerdictAlertText(v);
      }
    }
  }
  return named != nullptr ? VerdictAlertText(*named) : "";
}

std::string DiagnosisSink::Json(const std::string& service) const {
  nlohmann::json doc;
  {
    std::lock_guard lock(mu_);
    doc = doc_;
  }
  if (!service.empty() && doc.contains("services")) {
    nlohmann::json kept = nlohmann::json::array();
    for (const auto& s : doc["services"]) {
      if (s.value("service", "") == service) kept.push_back(s);
    }
    doc["services"] = std::move(kept);
  }
  if (doc.is_null()) doc = {{"services", nlohmann::json::array()}};
  return DumpJson(doc);
}

WebResponse DiagnosisResponse(const DiagnosisSink& sink, const std::string& query) {
  // Only `service=`; service names are [a-zA-Z0-9_.-], so no percent-decoding is needed.
  std::string service;
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string_view part(query.data() + start, end - start);
    if (part.starts_with("service=")) service = std::string(part.substr(8, 128));
    start = end + 1;
  }
  return {200, "application/json", sink.Json(service)};
}

std::vector<std::pair<std::vector<std::string>, double>> DiagnosisSink::GaugeRows() const {
  std::lock_guard lock(mu_);
  return rows_;
}

}  // namespace gatewatch
