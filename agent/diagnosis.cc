#include "agent/diagnosis.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <set>
#include <sstream>

#include "agent/base/strings.h"
#include "agent/base/units.h"

namespace gatewatch {
namespace {

constexpr size_t kMaxDetail = 300;
// nginx's access line and error lines of one probe request (RequestLogRecord::Text).
constexpr size_t kMaxRequestLog = 900;

std::string Number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// "10.0.0.4:8080" -> "10.0.0.4", "[::1]:80" -> "::1"; "" when the label is no ip:port (a group
// name, a unix socket, "none").
std::string UpstreamHost(const std::string& upstream) {
  std::string host;
  if (upstream.starts_with("[")) {
    size_t end = upstream.find(']');
    if (end == std::string::npos) return "";
    host = upstream.substr(1, end - 1);
  } else {
    size_t colon = upstream.rfind(':');
    host = colon == std::string::npos ? upstream : upstream.substr(0, colon);
  }
  return IsIp(host) ? host : "";
}

// Which cause a failure reason of a probe or of the proxy's logs points at, and how much it
// weighs: a reason the proxy or a connection gave counts fully, a bare status (http_502) half,
// because it says only that the hop in front failed, not why.
struct ReasonClass {
  std::optional<DiagnosisCause> cause;  // nullopt: not evidence about the service
  double weight = 1;
};

ReasonClass Classify(Reason r) {
  switch (r) {
    case Reason::kHttp502:
      return {DiagnosisCause::kUpstreamDown, 0.5};
    case Reason::kHttp503:
    case Reason::kHttp504:
      return {DiagnosisCause::kOverloaded, 0.5};
    case Reason::kLogUnreadable:  // gatewatch's own view is broken, not the service
    case Reason::kOther:
    case Reason::kInternalError:
    case Reason::kNone:
      return {std::nullopt, 0};
    default:
      break;
  }
  switch (ReasonCause(r)) {
    case Cause::kUpstreamDown:
      return {DiagnosisCause::kUpstreamDown};
    case Cause::kOverloaded:
      return {DiagnosisCause::kOverloaded};
    case Cause::kDns:
      return {DiagnosisCause::kDns};
    case Cause::kNetwork:
      return {DiagnosisCause::kNetwork};
    case Cause::kMisconfiguration:
      return {DiagnosisCause::kMisconfiguration, r == Reason::kHttp5xx ? 0.5 : 1.0};
    case Cause::kCdnPath:
      return {DiagnosisCause::kCdnPath};
    case Cause::kResources:
      return {DiagnosisCause::kResources};
    default:
      return {std::nullopt, 0};
  }
}

// The finer `why` of a reason within its cause (docs/diagnosis.md).
std::string WhyOf(Reason r) {
  switch (r) {
    case Reason::kConnectTimeout:
      return "listen_queue_full";
    case Reason::kTimeout:
    case Reason::kUpstreamTimeout:
    case Reason::kHttp504:
      return "upstream_timeout";
    case Reason::kEmptyReply:
    case Reason::kConnectionReset:
      return "connection_reset";
    case Reason::kDnsNotPropagated:
      return "not_propagated";
    case Reason::kHttp502:
      return "bad_gateway";
    default:
      break;
  }
  std::string_view name = ReasonName(r);
  if (name.starts_with("dns_")) name.remove_prefix(4);
  return std::string(name);
}

// Severity of a host reason as an explanation of upstream failures: an OOM kill explains a dead
// worker more surely than a busy CPU explains a slow one.
int ResourceRank(Reason r) {
  switch (r) {
    case Reason::kOomKilled:
      return 6;
    case Reason::kMemoryExhausted:
      return 5;
    case Reason::kCpuThrottled:
      return 4;
    case Reason::kCpuSaturated:
      return 3;
    case Reason::kDiskFull:
      return 2;
    case Reason::kInodesExhausted:
      return 1;
    default:
      return 0;
  }
}

// The agent cannot even reach the proxy: nothing the proxy or its upstreams did.
bool IsPathReason(Reason r) {
  return r == Reason::kHostUnreachable || r == Reason::kConnectTimeout ||
         r == Reason::kDnsTimeout || r == Reason::kDnsError;
}

double ConfidenceOf(size_t sources) {
  if (sources >= 3) return 0.95;
  if (sources == 2) return 0.8;
  return sources == 1 ? 0.6 : 0.4;
}

}  // namespace

std::string_view RoleName(ServiceRole r) {
  switch (r) {
    case ServiceRole::kProbe:
      return "probe";
    case ServiceRole::kProxyLog:
      return "proxy_log";
    case ServiceRole::kDns:
      return "dns";
    case ServiceRole::kHost:
      return "host";
    case ServiceRole::kCdnOrigin:
      return "cdn_origin";
    case ServiceRole::kAgentPath:
      return "agent_path";
  }
  return "probe";
}

std::optional<ServiceRole> ParseRole(std::string_view name) {
  for (ServiceRole r : {ServiceRole::kProbe, ServiceRole::kProxyLog, ServiceRole::kDns,
                        ServiceRole::kHost, ServiceRole::kCdnOrigin, ServiceRole::kAgentPath}) {
    if (RoleName(r) == name) return r;
  }
  return std::nullopt;
}

std::string_view DiagnosisCauseName(DiagnosisCause c) {
  switch (c) {
    case DiagnosisCause::kUpstreamDown:
      return "upstream_down";
    case DiagnosisCause::kOverloaded:
      return "overloaded";
    case DiagnosisCause::kDns:
      return "dns";
    case DiagnosisCause::kNetwork:
      return "network";
    case DiagnosisCause::kMisconfiguration:
      return "misconfiguration";
    case DiagnosisCause::kCdnPath:
      return "cdn_path";
    case DiagnosisCause::kResources:
      return "resources";
    case DiagnosisCause::kAgentNetwork:
      return "agent_network";
  }
  return "upstream_down";
}

std::string Verdict::Summary() const {
  std::string out(DiagnosisCauseName(cause));
  if (!why.empty()) out += " (" + why + ")";
  if (!upstreams.empty()) {
    out += " at ";
    for (size_t i = 0; i < upstreams.size() && i < 3; ++i) out += (i ? ", " : "") + upstreams[i];
  }
  for (size_t i = 0; i < evidence.size() && i < 3; ++i) {
    out += (i == 0 ? ": " : "; ") + evidence[i].text;
  }
  return Shorten(out, 1000);
}

struct DiagnosisEngine::Candidate {
  Candidate(DiagnosisCause c, std::string w) : cause(c), why(std::move(w)) {}
  DiagnosisCause cause;
  std::string why;
  std::vector<std::string> upstreams;
  size_t sources = 0;  // distinct checks that support it
  std::vector<DiagnosisFact> support;
  std::vector<DiagnosisFact> context;
  TimePoint newest{};      // the newest supporting fact
  bool tentative = false;  // only bare statuses support it (Verdict::tentative)
  // The upstream side's cause that this verdict explains (resources behind upstream_down: the
  // OOM killer took the upstream), so that it replaces a verdict of that cause at once.
  std::optional<DiagnosisCause> explains;
};

void DiagnosisEngine::Configure(std::vector<ServiceSpec> services, DiagnosisOptions options) {
  services_ = std::move(services);
  options_ = options;
  std::set<std::string> names, checks;
  for (const auto& s : services_) {
    names.insert(s.name);
    for (const auto& c : s.checks) checks.insert(c.check);
  }
  std::erase_if(verdicts_, [&](const auto& v) { return !names.contains(v.first); });
  std::erase_if(entries_, [&](const auto& e) { return !checks.contains(e.first); });
  for (const auto& c : checks) entries_.try_emplace(c);
}

void DiagnosisEngine::OnResult(const std::string& check, const Result& result) {
  auto it = entries_.find(check);
  if (it == entries_.end()) return;  // in no service
  Entry e;
  e.at = clock_.Now();
  e.wall = clock_.WallNow();
  e.success = result.success;
  e.reason = result.reason;
  e.detail = Printable(result.detail, kMaxDetail);
  for (const Observation& o : result.observations) {
    if (o.desc == nullptr || o.label_values.size() != 2 || o.value <= 0) continue;
    if (o.desc->name == "proxy_upstream_errors_total") {
      e.errors.push_back({o.label_values[0], o.label_values[1], o.value});
    } else if (o.desc->name == "proxy_responses_total") {
      e.responses.push_back({o.label_values[0], o.label_values[1], o.value});
    }
  }
  // A dns check's report: one line per server, "NOERROR 10.0.0.2 10.0.0.3 ttl=0 (0.3 ms) match".
  for (const auto& [key, value] : result.report) {
    if (key == "request_id") e.request_id = Printable(value, 64);
    if (!value.starts_with("NOERROR ")) continue;
    std::istringstream words(value);
    std::string w;
    while (words >> w) {
      if (IsIp(w) && std::find(e.answers.begin(), e.answers.end(), w) == e.answers.end())
        e.answers.push_back(w);
    }
  }
  auto& q = it->second;
  // Memory stays bounded by the window and a count: older entries are no evidence any more, and
  // a success's detail is never shown once a newer result came.
  const TimePoint oldest = e.at - options_.window;
  while (!q.empty() && q.front().at < oldest) q.pop_front();
  if (!q.empty() && q.back().success) std::string().swap(q.back().detail);
  q.push_back(std::move(e));
  while (q.size() > kMaxEntriesPerCheck) q.pop_front();
}

bool DiagnosisEngine::AttachRequestLog(const std::string& check, const std::string& request_id,
                                       const std::string& text) {
  auto it = entries_.find(check);
  if (it == entries_.end() || request_id.empty()) return false;
  for (Entry& e : it->second) {
    if (e.request_id != request_id) continue;
    e.nginx_log = Printable(text, kMaxRequestLog);
    return true;
  }
  return false;
}

std::optional<DiagnosisEngine::Candidate> DiagnosisEngine::Judge(const ServiceSpec& s,
                                                                 TimePoint now) const {
  const TimePoint oldest = now - options_.window;
  auto window_of = [&](const std::string& check) {
    std::vector<const Entry*> out;
    auto it = entries_.find(check);
    if (it == entries_.end()) return out;
    for (const Entry& e : it->second) {
      if (e.at >= oldest && e.at <= now) out.push_back(&e);
    }
    return out;
  };
  auto wanted_upstream = [&](const std::string& u) {
    return s.upstreams.empty() ||
           std::find(s.upstreams.begin(), s.upstreams.end(), u) != s.upstreams.end();
  };
  auto fact = [](const std::string& check, ServiceRole role, const Entry& e, std::string text) {
    DiagnosisFact f;
    f.check = check;
    f.role = role;
    f.at = e.at;
    f.wall = e.wall;
    f.reason = std::string(ReasonName(e.reason));
    f.text = std::move(text);
    return f;
  };

  // ----- Gather: the latest word of each check, the proxy's per-upstream counts -----
  struct Failing {
    std::string check;
    ServiceRole role;
    const Entry* latest;
  };
  std::vector<Failing> failing;  // checks whose latest result in the window failed
  std::vector<std::pair<std::string, const Entry*>> proxy_logs;  // with results in the window
  std::vector<DiagnosisFact> resource_facts;
  Reason resource_reason = Reason::kNone;
  // proxy_log, summed over the window: (upstream, reason) -> count, first seen.
  struct Count {
    double n = 0;
    std::chrono::system_clock::time_point first;
    TimePoint last{};
    std::string check;
  };
  std::map<std::pair<std::string, std::string>, Count> errors, bad_codes;
  std::map<std::string, double> traffic;  // upstream -> responses of any code
  double good_responses = 0;
  std::set<std::string> answers;  // dns: every address the service's names answer now
  bool have_answers = false;

  for (const ServiceCheck& c : s.checks) {
    auto entries = window_of(c.check);
    if (entries.empty()) continue;
    const Entry* latest = entries.back();
    if (c.role == ServiceRole::kProxyLog) {
      for (const Entry* e : entries) {
        for (const auto& u : e->errors) {
          if (!wanted_upstream(u.upstream)) continue;
          Count& k = errors[{u.upstream, u.reason}];
          if (k.n == 0) k.first = e->wall;
          k.n += u.n;
          k.last = e->at;
          k.check = c.check;
        }
        for (const auto& u : e->responses) {
          if (!wanted_upstream(u.upstream)) continue;
          traffic[u.upstream] += u.n;
          if (u.reason.starts_with("5")) {
            Count& k = bad_codes[{u.upstream, u.reason}];
            if (k.n == 0) k.first = e->wall;
            k.n += u.n;
            k.last = e->at;
            k.check = c.check;
          } else if (u.reason.starts_with("2") || u.reason.starts_with("3")) {
            good_responses += u.n;
          }
        }
      }
      proxy_logs.emplace_back(c.check, latest);
      // Its own result judges its own (longer) window: the counts above are what this window saw.
      continue;
    }
    if (c.role == ServiceRole::kHost) {
      // An OOM kill shows in one run only: every run of the window counts, not just the latest.
      for (const Entry* e : entries) {
        if (e->success || ResourceRank(e->reason) == 0) continue;
        if (ResourceRank(e->reason) > ResourceRank(resource_reason)) {
          resource_reason = e->reason;
          resource_facts.insert(resource_facts.begin(),
                                fact(c.check, c.role, *e, c.check + ": " + e->detail));
        }
      }
    }
    if (c.role == ServiceRole::kDns && latest->success && !latest->answers.empty()) {
      have_answers = true;
      answers.insert(latest->answers.begin(), latest->answers.end());
    }
    if (!latest->success) failing.push_back({c.check, c.role, latest});
  }

  // The proxy served in the window without a single 5xx or upstream error.
  const bool proxy_clean =
      !proxy_logs.empty() && good_responses > 0 && errors.empty() && bad_codes.empty();

  auto failing_of = [&](ServiceRole role) {
    std::vector<const Failing*> out;
    for (const auto& f : failing) {
      if (f.role == role && Classify(f.latest->reason).cause) out.push_back(&f);
    }
    return out;
  };
  auto fact_of = [&](const Failing& f) {
    return fact(
        f.check, f.role, *f.latest,
        f.check + " " + std::string(ReasonName(f.latest->reason)) + ": " + f.latest->detail);
  };

  // A failed request of the probe as nginx logged it (the per-probe log join), after the probe's
  // own fact: the newest failed run in the window whose lines arrived (the latest run's come a
  // proxy_log run later).
  auto push_probe = [&](std::vector<DiagnosisFact>& facts, const Failing& f) {
    facts.push_back(fact_of(f));
    auto entries = window_of(f.check);
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
      const Entry& e = **it;
      if (e.success || e.nginx_log.empty()) continue;
      facts.push_back(
          fact(f.check, f.role, e, "nginx log for " + e.request_id + ": " + e.nginx_log));
      return;
    }
  };

  // ----- The upstream side: probes and the proxy's logs, scored by cause -----
  std::map<DiagnosisCause, double> score;
  std::map<DiagnosisCause, std::map<std::string, double>> why_score, upstream_score;
  std::map<DiagnosisCause, std::set<std::string>> cause_sources;
  std::map<DiagnosisCause, std::vector<DiagnosisFact>> cause_facts;
  std::map<DiagnosisCause, TimePoint> cause_newest;
  std::set<DiagnosisCause> reasoned;  // causes that a full-weight reason supports
  auto add_count = [&](const std::pair<std::string, std::string>& key, const Count& k,
                       Reason reason, bool is_code) {
    ReasonClass rc = Classify(reason);
    if (!rc.cause) return;
    DiagnosisCause cause = *rc.cause;
    score[cause] += rc.weight;  // one proxy_log upstream counts like one probe, whatever the n
    if (rc.weight >= 1) reasoned.insert(cause);
    why_score[cause][WhyOf(reason)] += rc.weight * k.n;
    upstream_score[cause][key.first] += k.n;
    cause_sources[cause].insert(k.check);
    cause_newest[cause] = std::max(cause_newest[cause], k.last);
    DiagnosisFact f;
    f.check = k.check;
    f.role = ServiceRole::kProxyLog;
    f.at = k.last;
    f.wall = k.first;
    f.reason = std::string(ReasonName(reason));
    f.text = key.first + " " + (is_code ? "answered " + key.second : key.second) + " " +
             Number(k.n) + (k.n == 1 ? " time" : " times") + " since " +
             FormatUtc(k.first, "%H:%M:%S") + " (" + k.check + ")";
    f.numbers = {{"count", k.n}};
    cause_facts[cause].push_back(std::move(f));
  };
  for (const auto& [key, k] : errors) {
    if (auto r = ParseReason(key.second)) add_count(key, k, *r, false);
  }
  // Status codes only where the error log said nothing about that upstream.
  for (const auto& [key, k] : bad_codes) {
    // A named copy: clang 14 cannot capture a structured binding in a lambda.
    const auto& upstream = key.first;
    bool explained = std::any_of(errors.begin(), errors.end(),
                                 [&](const auto& e) { return e.first.first == upstream; });
    if (explained) continue;
    Reason r = key.second == "502"   ? Reason::kHttp502
               : key.second == "503" ? Reason::kHttp503
               : key.second == "504" ? Reason::kHttp504
                                     : Reason::kHttp5xx;
    add_count(key, k, r, true);
  }
  for (const Failing* f : failing_of(ServiceRole::kProbe)) {
    ReasonClass rc = Classify(f->latest->reason);
    score[*rc.cause] += rc.weight;
    if (rc.weight >= 1) reasoned.insert(*rc.cause);
    why_score[*rc.cause][WhyOf(f->latest->reason)] += rc.weight;
    cause_sources[*rc.cause].insert(f->check);
    cause_newest[*rc.cause] = std::max(cause_newest[*rc.cause], f->latest->at);
    push_probe(cause_facts[*rc.cause], *f);
  }
  auto build = [&](DiagnosisCause cause, std::string why) {
    Candidate c{cause, std::move(why)};
    auto& ups = upstream_score[cause];
    std::vector<std::pair<std::string, double>> sorted(ups.begin(), ups.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    for (const auto& [u, n] : sorted) {
      if (c.upstreams.size() < kMaxUpstreams) c.upstreams.push_back(u);
    }
    auto& facts = cause_facts[cause];
    std::stable_sort(facts.begin(), facts.end(), [](const auto& a, const auto& b) {
      auto n = [](const DiagnosisFact& f) { return f.numbers.empty() ? 0 : f.numbers[0].second; };
      return n(a) > n(b);
    });
    c.support = facts;
    c.sources = cause_sources[cause].size();
    c.newest = cause_newest[cause];
    c.tentative = !reasoned.contains(cause);
    // What else was wrong in the window, as context.
    for (const auto& [other, other_facts] : cause_facts) {
      if (other == cause) continue;
      c.context.insert(c.context.end(), other_facts.begin(), other_facts.end());
    }
    return c;
  };
  std::optional<DiagnosisCause> upstream_cause;
  {
    double best = 0;
    for (const auto& [cause, sc] : score) {
      if (cause == DiagnosisCause::kCdnPath) continue;  // judged below, with the origin
      if (sc > best) best = sc, upstream_cause = cause;
    }
  }
  auto top_why = [&](DiagnosisCause cause) {
    const auto& w = why_score[cause];
    auto it = std::max_element(w.begin(), w.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
    return it == w.end() ? std::string() : it->first;
  };

  // ----- Rule 1: the agent's own path -----
  {
    std::vector<const Failing*> path_failing;
    size_t path_checks = 0;
    for (const ServiceCheck& c : s.checks) {
      if (c.role != ServiceRole::kAgentPath) continue;
      auto entries = window_of(c.check);
      if (entries.empty()) continue;
      ++path_checks;
      for (const auto& f : failing) {
        if (f.check == c.check && f.role == ServiceRole::kAgentPath) path_failing.push_back(&f);
      }
    }
    bool all_path_down = path_checks > 0 && path_failing.size() == path_checks;
    // Without a canary: every failing probe cannot reach the proxy, while the proxy's own log
    // shows it serving others without a 5xx.
    auto probes = failing_of(ServiceRole::kProbe);
    bool probes_cut_off =
        !probes.empty() && std::all_of(probes.begin(), probes.end(), [](const Failing* f) {
          return IsPathReason(f->latest->reason);
        });
    bool proxy_serving = proxy_clean;
    if (all_path_down || (probes_cut_off && proxy_serving)) {
      Candidate c{DiagnosisCause::kAgentNetwork,
                  all_path_down ? "agent_path_down" : "proxy_serving"};
      std::set<std::string> sources;
      for (const Failing* f : path_failing) {
        c.support.push_back(fact_of(*f));
        sources.insert(f->check);
        c.newest = std::max(c.newest, f->latest->at);
      }
      for (const Failing* f : probes) {
        push_probe(c.support, *f);
        sources.insert(f->check);
        c.newest = std::max(c.newest, f->latest->at);
      }
      if (proxy_serving) {
        const auto& [check, e] = proxy_logs.front();
        DiagnosisFact f = fact(
            check, ServiceRole::kProxyLog, *e,
            check + ": " + Number(good_responses) + " 2xx/3xx responses and no 5xx in the window");
        f.numbers = {{"responses_2xx_3xx", good_responses}};
        c.support.push_back(std::move(f));
        sources.insert(check);
      }
      c.sources = sources.size();
      return c;
    }
  }

  // ----- Rule 2: DNS of the upstream names -----
  if (auto dns = failing_of(ServiceRole::kDns); !dns.empty()) {
    Candidate c{DiagnosisCause::kDns, WhyOf(dns.front()->latest->reason)};
    for (const Failing* f : dns) {
      c.support.push_back(fact_of(*f));
      c.newest = std::max(c.newest, f->latest->at);
    }
    c.sources = dns.size();
    if (upstream_cause) {
      // Upstream failures in the same window make it more certain and name the addresses.
      Candidate u = build(*upstream_cause, "");
      c.upstreams = u.upstreams;
      c.context = u.support;
      c.sources += u.sources;
      c.explains = upstream_cause;
    }
    return c;
  }

  // ----- Rule 3: stale upstream address (the proxy sends where DNS no longer points) -----
  if (have_answers && !s.implicit) {
    std::vector<std::string> stale;
    for (const auto& [u, n] : traffic) {
      std::string host = UpstreamHost(u);
      if (!host.empty() && !answers.contains(host)) stale.push_back(u);
    }
    for (const auto& [key, k] : errors) {
      std::string host = UpstreamHost(key.first);
      if (!host.empty() && !answers.contains(host) &&
          std::find(stale.begin(), stale.end(), key.first) == stale.end())
        stale.push_back(key.first);
    }
    if (!stale.empty()) {
      Candidate c{DiagnosisCause::kDns, "stale_upstream_address"};
      c.upstreams.assign(stale.begin(), stale.begin() + std::min(stale.size(), kMaxUpstreams));
      std::set<std::string> sources;
      std::string now_answers;
      for (const auto& a : answers) now_answers += (now_answers.empty() ? "" : " ") + a;
      for (const ServiceCheck& sc : s.checks) {
        if (sc.role != ServiceRole::kDns) continue;
        auto entries = window_of(sc.check);
        if (entries.empty() || !entries.back()->success) continue;
        c.support.push_back(
            fact(sc.check, sc.role, *entries.back(), sc.check + " answers " + now_answers));
        sources.insert(sc.check);
        c.newest = std::max(c.newest, entries.back()->at);
      }
      for (const auto& u : c.upstreams) {
        DiagnosisFact f;
        f.role = ServiceRole::kProxyLog;
        f.reason = "none";
        double sent = traffic.contains(u) ? traffic.at(u) : 0;
        double failed = 0;
        for (const auto& [key, k] : errors) {
          if (key.first != u) continue;
          failed += k.n;
          f.check = k.check;
          f.at = k.last;
          f.wall = k.first;
          f.reason = key.second;
        }
        if (f.check.empty()) {
          for (const ServiceCheck& sc : s.checks) {
            if (sc.role != ServiceRole::kProxyLog) continue;
            auto entries = window_of(sc.check);
            if (entries.empty()) continue;
            f.check = sc.check;
            f.at = entries.back()->at;
            f.wall = entries.back()->wall;
          }
        }
        f.text = "the proxy still sends to " + u + " (" + Number(sent) + " responses, " +
                 Number(failed) + " upstream errors in the window), not in the DNS answers";
        f.numbers = {{"responses", sent}, {"upstream_errors", failed}};
        sources.insert(f.check);
        c.newest = std::max(c.newest, f.at);
        c.support.push_back(std::move(f));
      }
      c.sources = sources.size();
      if (upstream_cause) c.context = build(*upstream_cause, "").support;
      return c;
    }
  }

  // ----- Rule 4: resources at the same moment -----
  bool upstream_kind = !upstream_cause || *upstream_cause == DiagnosisCause::kUpstreamDown ||
                       *upstream_cause == DiagnosisCause::kOverloaded ||
                       *upstream_cause == DiagnosisCause::kResources;
  if (resource_reason != Reason::kNone && upstream_kind) {
    Candidate c{DiagnosisCause::kResources, std::string(ReasonName(resource_reason))};
    c.support = resource_facts;
    c.sources = 1;
    for (const auto& f : resource_facts) c.newest = std::max(c.newest, f.at);
    if (upstream_cause) {
      Candidate u = build(*upstream_cause, "");
      c.upstreams = u.upstreams;
      c.support.insert(c.support.end(), u.support.begin(), u.support.end());
      c.sources += u.sources;
      c.explains = upstream_cause;
    }
    return c;
  }

  // ----- Rule 5: the CDN path -----
  auto cdn = failing_of(ServiceRole::kCdnOrigin);
  for (const Failing* f : cdn) {
    Reason r = f->latest->reason;
    bool origin_side = r == Reason::kOriginFault || r == Reason::kBothDown;
    if (origin_side && upstream_cause) {
      // The origin fails and its upstream says why: the upstream's verdict, the CDN as evidence.
      Candidate c = build(*upstream_cause, top_why(*upstream_cause));
      c.support.push_back(fact_of(*f));
      c.sources += 1;
      return c;
    }
    if (ReasonCause(r) == Cause::kCdnPath) {
      Candidate c{DiagnosisCause::kCdnPath, std::string(ReasonName(r))};
      c.support.push_back(fact_of(*f));
      c.sources = 1;
      c.newest = f->latest->at;
      if (r == Reason::kEdgeFault && proxy_clean) {
        // The origin's own log is clean: the edge's requests did not fail there.
        const auto& [check, e] = proxy_logs.front();
        c.support.push_back(fact(check, ServiceRole::kProxyLog, *e,
                                 "origin log " + check + " ok: " + Number(good_responses) +
                                     " 2xx/3xx responses and no 5xx in the window"));
        c.sources += 1;
      }
      if (upstream_cause) c.context = build(*upstream_cause, "").support;
      return c;
    }
  }

  // ----- Rule 6: what the probes and the proxy say -----
  if (upstream_cause) return build(*upstream_cause, top_why(*upstream_cause));
  return std::nullopt;
}

void DiagnosisEngine::Evaluate() {
  const TimePoint now = clock_.Now();
  for (const ServiceSpec& s : services_) {
    std::optional<Candidate> c = Judge(s, now);
    auto it = verdicts_.find(s.name);
    if (!c) {
      // Healthy now: the verdict goes once nothing has backed it for `hold`.
      if (it != verdicts_.end() && now - it->second.supported >= options_.hold) verdicts_.erase(it);
      continue;
    }
    Verdict v;
    v.service = s.name;
    v.cause = c->cause;
    v.why = c->why;
    v.upstreams = c->upstreams;
    v.confidence = ConfidenceOf(c->sources);
    v.evidence = c->support;
    for (const auto& f : c->context) {
      if (v.evidence.size() >= kMaxEvidence) break;
      v.evidence.push_back(f);
    }
    if (v.evidence.size() > kMaxEvidence) v.evidence.resize(kMaxEvidence);
    v.supported = now;
    v.tentative = c->tentative;
    if (it == verdicts_.end()) {
      v.since = now;
      v.since_wall = clock_.WallNow();
      verdicts_.emplace(s.name, std::move(v));
      continue;
    }
    Verdict& cur = it->second;
    // The same cause with another why is a refinement (the proxy's log says why after the probe
    // said 502), not a flap: taken at once.
    if (cur.cause == v.cause) {
      v.since = cur.since;
      v.since_wall = cur.since_wall;
      cur = std::move(v);
      continue;
    }
    // Another cause: only after the hold, and only on evidence newer than the current verdict;
    // at once when the current one is a bare status's guess and a reason backs the new one, or
    // when the new one explains it (the OOM kill behind the refusals). Until then the service is
    // still unhealthy, so the current verdict counts as supported.
    cur.supported = now;
    if ((now - cur.since >= options_.hold && c->newest > cur.since) ||
        (cur.tentative && !c->tentative) || c->explains == cur.cause) {
      v.since = now;
      v.since_wall = clock_.WallNow();
      cur = std::move(v);
    }
  }
}

std::vector<Verdict> DiagnosisEngine::Verdicts() const {
  std::vector<Verdict> out;
  for (const ServiceSpec& s : services_) {
    auto it = verdicts_.find(s.name);
    if (it != verdicts_.end()) out.push_back(it->second);
  }
  return out;
}

}  // namespace gatewatch
