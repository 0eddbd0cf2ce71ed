#include "checks/dns_comparison.h"

#include <arpa/nameser.h>

#include "agent/base/strings.h"
#include "agent/base/units.h"
#include "checks/dns_consistency.h"

namespace gatewatch {
namespace {

std::string FormatRatio(size_t matching, size_t total) {
  return std::to_string(matching) + "/" + std::to_string(total);
}

std::string What(const DnsServerState& s) { return AnswerOrNote(s.outcome.answer, s.note); }

// Observations and the probe's report: which server answered what.
void Describe(const DnsRunView& run, Result& result, const Agreement& ag) {
  const DnsCheckConfig& cfg = run.cfg;
  const DnsMetrics& m = DnsCheckMetrics();
  auto& obs = result.observations;
  obs.push_back({&m.ratio, {}, ag.ratio});
  auto& report = result.report;
  report.emplace_back("query", cfg.name + " " + DnsTypeName(cfg.type));
  if (cfg.authoritative) report.emplace_back("zone", run.zone.empty() ? "-" : run.zone);
  if (cfg.expect) report.emplace_back("expect", Shorten(DescribeAnswer(*cfg.expect), 120));
  for (size_t i = 0; i < run.servers.size(); ++i) {
    const DnsServerState& t = run.servers[i];
    bool match = i < ag.match.size() && ag.match[i];
    const auto& a = t.outcome.answer;
    bool up = a && (a->rcode == ns_r_noerror || a->rcode == ns_r_nxdomain);
    // Authoritative servers are series by their position in the sorted NS set (ns_0..ns_15),
    // not by the name from the wire: a changing (or hostile) NS set would otherwise add counter
    // series per name seen, forever. dns_authoritative_server_info names who is at a position.
    const std::string series = cfg.authoritative ? "ns_" + std::to_string(i) : t.label;
    if (cfg.authoritative) obs.push_back({&m.ns_info, {series, t.label}, 1});
    obs.push_back({&m.up, {series}, up ? 1.0 : 0.0});
    obs.push_back({&m.match, {series}, match ? 1.0 : 0.0});
    obs.push_back({&m.rcode, {series, std::string(RcodeLabel(t.rcode))}, 1});
    obs.push_back({&m.duration, {series}, ToSeconds(t.elapsed)});
    if (a && a->positive() && a->min_ttl) {
      obs.push_back({&m.ttl, {series}, static_cast<double>(*a->min_ttl)});
    }
    if (t.serial) obs.push_back({&m.serial, {series}, static_cast<double>(*t.serial)});

    std::string line = std::string(RcodeLabel(t.rcode)) + " " + What(t);
    if (a && a->positive() && a->min_ttl) line += " ttl=" + std::to_string(*a->min_ttl);
    if (t.serial) line += " serial=" + std::to_string(*t.serial);
    line += " (" + FormatMillis(t.elapsed, 1) + " ms" + ")" + (match ? " match" : "");
    std::string key = t.label;
    if (cfg.authoritative && !t.server.empty()) key += " " + t.server;
    report.emplace_back(key, line);
  }
  if (run.ns_not_asked > 0) report.emplace_back("ns_not_asked", std::to_string(run.ns_not_asked));
  report.emplace_back("ratio", FormatRatio(ag.matching, run.servers.size()));
  report.emplace_back("reason", std::string(ReasonName(result.reason)));
}

}  // namespace

const DnsMetrics& DnsCheckMetrics() {
  static const DnsMetrics* metrics = new DnsMetrics{
      {"dns_propagation_ratio",
       MetricKind::kGauge,
       "Share (0-1) of the check's resolvers whose answer matched the reference (expect, "
       "or the majority answer) in the last run.",
       {}},
      {"dns_resolver_up",
       MetricKind::kGauge,
       "1 if the resolver gave a definitive answer (NOERROR or NXDOMAIN) in the last run.",
       {"resolver"}},
      {"dns_resolver_match",
       MetricKind::kGauge,
       "1 if the resolver's answer matched the reference in the last run.",
       {"resolver"}},
      {"dns_resolver_rcode_total",
       MetricKind::kCounter,
       "Replies by response code (NOERROR, NXDOMAIN, SERVFAIL, REFUSED, FORMERR, NOTIMP, "
       "other), or none when no reply arrived.",
       {"resolver", "rcode"}},
      {"dns_answer_ttl_seconds",
       MetricKind::kGauge,
       "Smallest TTL of the records in the resolver's last positive answer.",
       {"resolver"}},
      {"dns_query_duration_seconds",
       MetricKind::kGauge,
       "Time the resolver took to answer in the last run (until the deadline if it "
       "did not).",
       {"resolver"}},
      {"dns_soa_serial",
       MetricKind::kGauge,
       "SOA serial of the zone as the server reported it in the last run "
       "(authoritative checks and SOA queries).",
       {"resolver"}},
      {"dns_authoritative_server_info",
       MetricKind::kGauge,
       "Always 1: the NS server (its name, or its address when the name is not a plain hostname) "
       "at a position (resolver=\"ns_<i>\") of the zone's sorted NS set in the last run.",
       {"resolver", "ns"}},
  };
  return *metrics;
}

Result EvaluateDnsRun(const DnsRunView& run) {
  const DnsCheckConfig& cfg = run.cfg;
  const std::vector<DnsServerState>& servers = run.servers;
  std::vector<ResolverOutcome> outcomes;
  outcomes.reserve(servers.size());
  for (const DnsServerState& t : servers) outcomes.push_back(t.outcome);
  Agreement ag = CompareOutcomes(outcomes, cfg.expect, cfg.min_ratio);

  std::string reference;
  if (cfg.expect) {
    reference = Shorten(DescribeAnswer(*cfg.expect), 120);
  } else if (ag.reference >= 0) {
    reference = What(servers[ag.reference]);
  }
  std::string agree = FormatRatio(ag.matching, servers.size()) +
                      (cfg.authoritative ? " authoritative servers" : " resolvers");

  ConsistencyVerdict consistency;
  if (cfg.authoritative) {
    std::vector<NsServerView> views;
    views.reserve(servers.size());
    for (const DnsServerState& t : servers) {
      views.push_back(
          {t.label, t.serial, t.outcome.answer ? &*t.outcome.answer : nullptr, What(t)});
    }
    consistency = AuthoritativeConsistency(run.zone, views);
  }

  Result result;
  if (!consistency.consistent()) {
    result = Result::Failure(consistency.reason, std::move(consistency.detail));
  } else if (ag.reason == Reason::kNone) {
    result = Result::Success();
    result.detail = agree + (cfg.expect ? " answer the expected " : " agree: ") + reference;
  } else {
    std::string others;
    int listed = 0;
    for (size_t i = 0; i < servers.size(); ++i) {
      if (ag.match[i]) continue;
      if (listed++ == 3) {
        others += ", ...";
        break;
      }
      others += (others.empty() ? "" : ", ") + servers[i].label + ": " + What(servers[i]);
    }
    std::string head =
        reference.empty()
            ? "no " + std::string(cfg.authoritative ? "server" : "resolver") + " answered " +
                  cfg.name + " " + DnsTypeName(cfg.type)
            : agree + " match " + reference + " (min_ratio " + FormatGeneral(cfg.min_ratio) + ")";
    result = Result::Failure(ag.reason, head + "; " + others);
  }
  Describe(run, result, ag);
  return result;
}

Result EarlyDnsFailure(const DnsRunView& run, Reason reason, std::string detail) {
  Result r = Result::Failure(reason, std::move(detail));
  Describe(run, r, Agreement{});
  return r;
}

}  // namespace gatewatch
