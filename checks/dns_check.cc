#include "checks/dns_check.h"

#include <ares.h>
#include <arpa/nameser.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "agent/base/strings.h"
#include "agent/io/dns_resolver.h"
#include "agent/io/event_loop.h"
#include "checks/http_reasons.h"

namespace gatewatch {
namespace {

// ----- Metrics ---------------------------------------------------------------------------------

struct DnsMetrics {
  MetricDesc ratio{
      "dns_propagation_ratio",
      MetricKind::kGauge,
      "Share (0-1) of the check's resolvers whose answer matched the reference (expect, "
      "or the majority answer) in the last run.",
      {}};
  MetricDesc up{"dns_resolver_up",
                MetricKind::kGauge,
                "1 if the resolver gave a definitive answer (NOERROR or NXDOMAIN) in the last run.",
                {"resolver"}};
  MetricDesc match{"dns_resolver_match",
                   MetricKind::kGauge,
                   "1 if the resolver's answer matched the reference in the last run.",
                   {"resolver"}};
  MetricDesc rcode{
      "dns_resolver_rcode_total",
      MetricKind::kCounter,
      "Replies by response code (NOERROR, NXDOMAIN, SERVFAIL, REFUSED, FORMERR, NOTIMP, "
      "other), or none when no reply arrived.",
      {"resolver", "rcode"}};
  MetricDesc ttl{"dns_answer_ttl_seconds",
                 MetricKind::kGauge,
                 "Smallest TTL of the records in the resolver's last positive answer.",
                 {"resolver"}};
  MetricDesc duration{"dns_query_duration_seconds",
                      MetricKind::kGauge,
                      "Time the resolver took to answer in the last run (until the deadline if it "
                      "did not).",
                      {"resolver"}};
  MetricDesc serial{"dns_soa_serial",
                    MetricKind::kGauge,
                    "SOA serial of the zone as the server reported it in the last run "
                    "(authoritative checks and SOA queries).",
                    {"resolver"}};
};

// Leaked on purpose: Observations point at these descriptors until the process exits.
const DnsMetrics& Metrics() {
  static const DnsMetrics* metrics = new DnsMetrics();
  return *metrics;
}

std::string FormatMs(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", std::chrono::duration<double, std::milli>(d).count());
  return buf;
}

std::string FormatRatio(size_t matching, size_t total) {
  return std::to_string(matching) + "/" + std::to_string(total);
}

// One server asked in a run: a configured resolver, or an authoritative NS server.
struct Target {
  std::string label;    // value of the `resolver` label: a plain hostname or an address
  std::string ns_name;  // authoritative: the NS name from the wire, to resolve (any bytes)
  std::string server;   // "ip:port" (authoritative: known once the NS name is resolved)
  std::unique_ptr<DnsQuery> addr_query;
  std::unique_ptr<DnsQuery> answer_query;
  std::unique_ptr<DnsQuery> soa_query;
  TimePoint started{};
  bool answer_done = false;
  bool soa_done = false;
  Duration elapsed{};
  int rcode = -1;  // -1: no reply
  ResolverOutcome outcome;
  std::string note;  // why there is no answer ("no answer within 500 ms", "malformed: ...")
  std::optional<uint32_t> serial;
  bool done() const { return answer_done && soa_done; }
};

Target NewTarget(std::string label, std::string server) {
  Target t;
  t.label = std::move(label);
  t.server = std::move(server);
  return t;
}

class DnsRun final : public CheckRun {
 public:
  DnsRun(std::shared_ptr<const DnsCheckConfig> cfg, const RunContext& ctx, DoneCallback done)
      : cfg_(std::move(cfg)),
        services_(ctx.services),
        started_(ctx.started),
        done_(std::move(done)) {}

  // Destroying the handles cancels every query: no callback reaches a dead run.
  ~DnsRun() override = default;
  DnsRun(const DnsRun&) = delete;
  DnsRun& operator=(const DnsRun&) = delete;

  // Every answer arrives from the loop, never inside Begin(): `done` is not called from here.
  void Begin() {
    if (!cfg_->authoritative) {
      stage_ = Stage::kQuerying;
      targets_.reserve(cfg_->resolvers.size());
      for (const auto& server : cfg_->resolvers) targets_.push_back(NewTarget(server, server));
      for (size_t i = 0; i < targets_.size(); ++i) Ask(i);
      return;
    }
    zone_ = cfg_->zone;
    if (zone_.empty()) {
      stage_ = Stage::kZone;
      discovery_query_ = Discovery().Query(
          cfg_->name, ns_t_soa,
          [this](int status, const unsigned char* reply, int len) { OnZone(status, reply, len); });
    } else {
      AskNs();
    }
  }

  Result Abort() override {
    TimePoint now = services_.clock.Now();
    if (stage_ == Stage::kZone || stage_ == Stage::kNs) {
      discovery_query_.reset();
      stage_ = Stage::kDone;
      Result r = Result::Failure(
          Reason::kDnsTimeout,
          std::string(stage_name_) + " timed out after " +
              std::to_string(
                  std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count()) +
              " ms");
      Describe(r, Agreement{});
      return r;
    }
    if (stage_ != Stage::kQuerying) {
      return Result::Failure(Reason::kInternalError, "dns run aborted while not running");
    }
    // The servers still silent time out; the ones that answered report what they said.
    for (Target& t : targets_) {
      if (t.done()) continue;
      t.addr_query.reset();
      t.answer_query.reset();
      t.soa_query.reset();
      if (!t.answer_done) {
        t.elapsed = now - (t.started == TimePoint() ? started_ : t.started);
        t.outcome = ResolverOutcome{};  // dns_timeout, no answer
        t.note = t.server.empty() ? "address of " + t.label + " not resolved before the deadline"
                                  : "no answer within " + FormatMs(t.elapsed);
      }
      t.answer_done = t.soa_done = true;
    }
    stage_ = Stage::kDone;
    return Evaluate();
  }

 private:
  enum class Stage { kIdle, kZone, kNs, kQuerying, kDone };

  DnsResolver::Options ServerOptions(const std::string& servers, bool no_recurse) const {
    DnsResolver::Options o;
    o.servers = servers;
    o.timeout = cfg_->query_timeout;
    o.tries = cfg_->tries;
    o.no_recurse = no_recurse;
    o.report_errors = true;  // SERVFAIL/REFUSED are results, never silently retried elsewhere
    return o;
  }

  // Who finds the NS set of an authoritative check: the configured resolvers (in order, as
  // fallbacks of one channel) or the system resolver.
  DnsResolver& Discovery() {
    if (cfg_->resolvers.empty()) return services_.dns;
    std::string csv;
    for (const auto& s : cfg_->resolvers) csv += (csv.empty() ? "" : ",") + s;
    DnsResolver::Options o = ServerOptions(csv, false);
    o.report_errors = false;  // discovery may use the next resolver when one fails
    return services_.dns.ForServer(o);
  }

  void OnZone(int status, const unsigned char* reply, int len) {
    discovery_query_.reset();
    QueryReply r = ReadQueryReply(status, reply, len, ns_t_soa);
    if (!r.answer || r.answer->soa_zone.empty()) {
      Reason reason = r.reason;
      if (reason == Reason::kDnsNodata || reason == Reason::kNone) reason = Reason::kDnsError;
      FinishEarly(reason, "cannot find the zone of " + cfg_->name + ": " +
                              (r.answer ? "no SOA in the reply" : r.error));
      return;
    }
    zone_ = r.answer->soa_zone;
    AskNs();
  }

  void AskNs() {
    stage_ = Stage::kNs;
    stage_name_ = "finding the NS servers of the zone";
    discovery_query_ = Discovery().Query(
        zone_, ns_t_ns,
        [this](int status, const unsigned char* reply, int len) { OnNs(status, reply, len); });
  }

  void OnNs(int status, const unsigned char* reply, int len) {
    discovery_query_.reset();
    QueryReply r = ReadQueryReply(status, reply, len, ns_t_ns);
    if (!r.answer || r.answer->ns_names.empty()) {
      FinishEarly(r.reason == Reason::kNone ? Reason::kDnsError : r.reason,
                  "no NS records for zone " + zone_ + ": " +
                      (r.answer ? DescribeAnswer(*r.answer) : r.error));
      return;
    }
    std::vector<std::string> names = r.answer->ns_names;
    std::sort(names.begin(), names.end());
    if (names.size() > DnsCheckConfig::kMaxAuthoritative) {
      ns_not_asked_ = names.size() - DnsCheckConfig::kMaxAuthoritative;
      names.resize(DnsCheckConfig::kMaxAuthoritative);
    }
    stage_ = Stage::kQuerying;
    targets_.reserve(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      // A name that is not a plain hostname never becomes a label (it may hold any byte, and
      // would break /metrics): its address does once known, until then a bounded placeholder.
      bool plain = IsPlainHostname(names[i]);
      targets_.push_back(NewTarget(plain ? names[i] : "ns_" + std::to_string(i), ""));
      targets_.back().ns_name = names[i];
    }
    for (size_t i = 0; i < targets_.size(); ++i) {
      targets_[i].started = services_.clock.Now();
      targets_[i].addr_query = Discovery().Resolve(
          targets_[i].ns_name, AF_UNSPEC, [this, i](const ResolveResult& r) { OnAddress(i, r); });
    }
  }

  void OnAddress(size_t i, const ResolveResult& r) {
    Target& t = targets_[i];
    t.addr_query.reset();
    const ResolvedAddress* pick = nullptr;
    for (const auto& a : r.addresses) {
      if (pick == nullptr || (a.family == AF_INET && pick->family != AF_INET)) pick = &a;
    }
    if (pick == nullptr) {
      t.elapsed = services_.clock.Now() - t.started;
      t.outcome.reason =
          r.status == ARES_SUCCESS ? Reason::kDnsNodata : ReasonForResolveStatus(r.status);
      t.note = "cannot resolve " + t.label + ": " +
               (r.status == ARES_SUCCESS ? "no addresses" : ares_strerror(r.status));
      t.answer_done = t.soa_done = true;
      MaybeFinish();
      return;
    }
    std::string host = pick->family == AF_INET6 ? "[" + pick->address + "]" : pick->address;
    if (t.label != t.ns_name) t.label = pick->address;  // not a plain hostname
    t.server = host + ":" + std::to_string(cfg_->authoritative_port);
    Ask(i);
  }

  void Ask(size_t i) {
    Target& t = targets_[i];
    DnsResolver& r = services_.dns.ForServer(ServerOptions(t.server, cfg_->authoritative));
    t.started = services_.clock.Now();
    t.answer_query =
        r.Query(cfg_->name, cfg_->type, [this, i](int status, const unsigned char* reply, int len) {
          OnAnswer(i, status, reply, len);
        });
    if (cfg_->authoritative) {
      t.soa_query =
          r.Query(zone_, ns_t_soa, [this, i](int status, const unsigned char* reply, int len) {
            OnSoa(i, status, reply, len);
          });
    } else {
      t.soa_done = true;
    }
  }

  void OnAnswer(size_t i, int status, const unsigned char* reply, int len) {
    Target& t = targets_[i];
    t.answer_query.reset();
    t.elapsed = services_.clock.Now() - t.started;
    t.answer_done = true;
    QueryReply r = ReadQueryReply(status, reply, len, cfg_->type);
    t.rcode = r.rcode;
    t.outcome.reason = r.reason;
    t.note = r.error;
    if (r.answer && cfg_->type == ns_t_soa) t.serial = r.answer->soa_serial;
    t.outcome.answer = std::move(r.answer);
    MaybeFinish();
  }

  void OnSoa(size_t i, int status, const unsigned char* reply, int len) {
    Target& t = targets_[i];
    t.soa_query.reset();
    t.soa_done = true;
    QueryReply r = ReadQueryReply(status, reply, len, ns_t_soa);
    if (r.answer && r.answer->rcode == ns_r_noerror) t.serial = r.answer->soa_serial;
    MaybeFinish();
  }

  void MaybeFinish() {
    if (stage_ != Stage::kQuerying) return;
    for (const Target& t : targets_) {
      if (!t.done()) return;
    }
    stage_ = Stage::kDone;
    Finish(Evaluate());
  }

  std::string What(const Target& t) const {
    if (t.outcome.answer) return Shorten(DescribeAnswer(*t.outcome.answer), 120);
    return t.note;
  }

  Result Evaluate() {
    std::vector<ResolverOutcome> outcomes;
    outcomes.reserve(targets_.size());
    for (const Target& t : targets_) outcomes.push_back(t.outcome);
    Agreement ag = CompareOutcomes(outcomes, cfg_->expect, cfg_->min_ratio);

    std::string reference;
    if (cfg_->expect) {
      reference = Shorten(DescribeAnswer(*cfg_->expect), 120);
    } else if (ag.reference >= 0) {
      reference = What(targets_[ag.reference]);
    }
    std::string agree = FormatRatio(ag.matching, targets_.size()) +
                        (cfg_->authoritative ? " authoritative servers" : " resolvers");

    Result result;
    // Authoritative servers of one zone must agree with each other: serials and answers.
    std::set<uint32_t> serials;
    for (const Target& t : targets_) {
      if (t.serial) serials.insert(*t.serial);
    }
    bool answers_differ = false;
    const DnsAnswerSet* first = nullptr;
    for (const Target& t : targets_) {
      if (!t.outcome.answer) continue;
      if (first == nullptr) {
        first = &*t.outcome.answer;
      } else if (!SameAnswer(*first, *t.outcome.answer)) {
        answers_differ = true;
      }
    }
    if (cfg_->authoritative && (serials.size() > 1 || answers_differ)) {
      std::string what;
      for (const Target& t : targets_) {
        if (!what.empty()) what += ", ";
        what += t.label + " " +
                (serials.size() > 1
                     ? (t.serial ? "serial " + std::to_string(*t.serial) : std::string("no SOA"))
                     : What(t));
      }
      result = Result::Failure(Reason::kDnsInconsistent,
                               "authoritative servers of " + zone_ + " disagree: " + what);
    } else if (ag.reason == Reason::kNone) {
      result = Result::Success();
      result.detail = agree + (cfg_->expect ? " answer the expected " : " agree: ") + reference;
    } else {
      std::string others;
      int listed = 0;
      for (size_t i = 0; i < targets_.size(); ++i) {
        if (ag.match[i]) continue;
        if (listed++ == 3) {
          others += ", ...";
          break;
        }
        others += (others.empty() ? "" : ", ") + targets_[i].label + ": " + What(targets_[i]);
      }
      std::string head =
          reference.empty()
              ? "no " + std::string(cfg_->authoritative ? "server" : "resolver") + " answered " +
                    cfg_->name + " " + DnsTypeName(cfg_->type)
              : agree + " match " + reference + " (min_ratio " + FormatMinRatio() + ")";
      result = Result::Failure(ag.reason, head + "; " + others);
    }
    Describe(result, ag);
    return result;
  }

  std::string FormatMinRatio() const {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%g", cfg_->min_ratio);
    return buf;
  }

  // Observations and the probe's report: which server answered what.
  void Describe(Result& result, const Agreement& ag) const {
    const DnsMetrics& m = Metrics();
    auto& obs = result.observations;
    obs.push_back({&m.ratio, {}, ag.ratio});
    auto& report = result.report;
    report.emplace_back("query", cfg_->name + " " + DnsTypeName(cfg_->type));
    if (cfg_->authoritative) report.emplace_back("zone", zone_.empty() ? "-" : zone_);
    if (cfg_->expect) report.emplace_back("expect", Shorten(DescribeAnswer(*cfg_->expect), 120));
    for (size_t i = 0; i < targets_.size(); ++i) {
      const Target& t = targets_[i];
      bool match = i < ag.match.size() && ag.match[i];
      const auto& a = t.outcome.answer;
      bool up = a && (a->rcode == ns_r_noerror || a->rcode == ns_r_nxdomain);
      obs.push_back({&m.up, {t.label}, up ? 1.0 : 0.0});
      obs.push_back({&m.match, {t.label}, match ? 1.0 : 0.0});
      obs.push_back({&m.rcode, {t.label, std::string(RcodeLabel(t.rcode))}, 1});
      obs.push_back({&m.duration, {t.label}, ToSeconds(t.elapsed)});
      if (a && a->positive() && a->min_ttl) {
        obs.push_back({&m.ttl, {t.label}, static_cast<double>(*a->min_ttl)});
      }
      if (t.serial) obs.push_back({&m.serial, {t.label}, static_cast<double>(*t.serial)});

      std::string line = std::string(RcodeLabel(t.rcode)) + " " + What(t);
      if (a && a->positive() && a->min_ttl) line += " ttl=" + std::to_string(*a->min_ttl);
      if (t.serial) line += " serial=" + std::to_string(*t.serial);
      line += " (" + FormatMs(t.elapsed) + ")" + (match ? " match" : "");
      std::string key = t.label;
      if (cfg_->authoritative && !t.server.empty()) key += " " + t.server;
      report.emplace_back(key, line);
    }
    if (ns_not_asked_ > 0) report.emplace_back("ns_not_asked", std::to_string(ns_not_asked_));
    report.emplace_back("ratio", FormatRatio(ag.matching, targets_.size()));
    report.emplace_back("reason", std::string(ReasonName(result.reason)));
  }

  void FinishEarly(Reason reason, std::string detail) {
    stage_ = Stage::kDone;
    Result r = Result::Failure(reason, std::move(detail));
    Describe(r, Agreement{});
    Finish(std::move(r));
  }

  // `this` may be destroyed inside done_: nothing after it.
  void Finish(Result result) {
    DoneCallback done = std::move(done_);
    done(std::move(result));
  }

  const std::shared_ptr<const DnsCheckConfig> cfg_;
  CheckServices& services_;
  const TimePoint started_;
  DoneCallback done_;
  Stage stage_ = Stage::kIdle;
  const char* stage_name_ = "finding the zone of the name";
  std::string zone_;
  std::unique_ptr<DnsQuery> discovery_query_;
  std::vector<Target> targets_;  // reserved before any query: callbacks index into it
  size_t ns_not_asked_ = 0;
};

class DnsCheck final : public Check {
 public:
  DnsCheck(CheckSpec spec, std::shared_ptr<const DnsCheckConfig> cfg)
      : Check(std::move(spec)), cfg_(std::move(cfg)) {}

  std::unique_ptr<CheckRun> Start(const RunContext& ctx, DoneCallback done) const override {
    auto run = std::make_unique<DnsRun>(cfg_, ctx, std::move(done));
    run->Begin();
    return run;
  }

 private:
  std::shared_ptr<const DnsCheckConfig> cfg_;
};

bool ValidDnsName(const std::string& name) {
  return DnsNameShape(name, [](char c) { return c > ' ' && c != 0x7F; });
}

}  // namespace

std::shared_ptr<const DnsCheckConfig> ParseDnsCheckConfig(const CheckSpec& spec,
                                                          const ConfigNode& node) {
  auto cfg = std::make_shared<DnsCheckConfig>();
  ConfigNode query = node.Required("query");
  if (!query.IsMap()) query.Fail("must be a map {name: ..., type: ...}");
  ConfigNode name = query.Required("name");
  cfg->name = name.AsString();
  while (cfg->name.size() > 1 && cfg->name.back() == '.') cfg->name.pop_back();
  if (!ValidDnsName(cfg->name)) name.Fail("must be a DNS name");
  if (ConfigNode type = query.Child("type"); type.IsDefined()) {
    auto t = ParseDnsType(type.AsString());
    if (!t) type.Fail("must be one of A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, CAA");
    cfg->type = *t;
  } else {
    cfg->type = ns_t_a;
  }
  query.RejectUnknownKeys();

  cfg->authoritative = node.BoolOr("authoritative", false);
  ConfigNode resolvers = node.Child("resolvers");
  if (resolvers.IsDefined()) {
    if (resolvers.IsScalar()) {
      std::string list = resolvers.AsString();
      auto it = spec.resolver_lists->find(list);
      if (it == spec.resolver_lists->end()) {
        std::string known;
        for (const auto& [n, s] : *spec.resolver_lists) known += (known.empty() ? "" : ", ") + n;
        resolvers.Fail("unknown resolver list \"" + list +
                       "\" (defined at the top level: " + (known.empty() ? "none" : known) + ")");
      }
      cfg->resolvers = it->second;
    } else if (resolvers.IsSequence()) {
      for (size_t i = 0; i < resolvers.size(); ++i) {
        auto server = DnsResolver::ParseServer(resolvers.At(i).AsString());
        if (!server) resolvers.At(i).Fail("must be ip[:port]");
        if (std::find(cfg->resolvers.begin(), cfg->resolvers.end(), *server) !=
            cfg->resolvers.end()) {
          resolvers.At(i).Fail("duplicate resolver " + *server);
        }
        cfg->resolvers.push_back(*server);
      }
    } else {
      resolvers.Fail("must be a list of ip[:port] or the name of a resolver list");
    }
    if (cfg->resolvers.empty()) resolvers.Fail("must not be empty");
    if (cfg->resolvers.size() > DnsCheckConfig::kMaxResolvers) {
      resolvers.Fail("at most " + std::to_string(DnsCheckConfig::kMaxResolvers) + " resolvers");
    }
  } else if (!cfg->authoritative) {
    resolvers.Fail(
        "is required (a list of ip[:port], a resolver list name, or authoritative: true)");
  }

  if (ConfigNode expect = node.Child("expect"); expect.IsDefined()) {
    if (!expect.IsSequence() && !expect.IsScalar()) expect.Fail("must be a list of records");
    size_t n = expect.IsSequence() ? expect.size() : 1;
    if (n == 0) expect.Fail("must not be empty");
    for (size_t i = 0; i < n; ++i) {
      ConfigNode item = expect.IsSequence() ? expect.At(i) : expect;
      auto record = CanonicalRecord(cfg->type, item.AsString());
      if (!record) item.Fail("is not a valid " + DnsTypeName(cfg->type) + " record");
      cfg->expect_records.push_back(*record);
    }
    cfg->expect = ExpectedAnswerSet(cfg->expect_records);
  }

  if (ConfigNode ratio = node.Child("min_ratio"); ratio.IsDefined()) {
    cfg->min_ratio = ratio.AsDouble(0, 1);
    if (cfg->min_ratio <= 0) ratio.Fail("must be greater than 0");
  }

  if (ConfigNode zone = node.Child("zone"); zone.IsDefined()) {
    if (!cfg->authoritative) zone.Fail("only with authoritative: true");
    cfg->zone = zone.AsString();
    while (cfg->zone.size() > 1 && cfg->zone.back() == '.') cfg->zone.pop_back();
    if (!ValidDnsName(cfg->zone)) zone.Fail("must be a DNS name");
  }
  if (ConfigNode port = node.Child("authoritative_port"); port.IsDefined()) {
    if (!cfg->authoritative) port.Fail("only with authoritative: true");
    cfg->authoritative_port = static_cast<int>(port.AsInt(1, 65535));
  }

  Duration fallback = std::max<Duration>(spec.timeout / 4, std::chrono::milliseconds(1));
  ConfigNode query_timeout = node.Child("query_timeout");
  cfg->query_timeout = query_timeout.IsDefined() ? query_timeout.AsDuration() : fallback;
  if (cfg->query_timeout < std::chrono::milliseconds(1)) query_timeout.Fail("must be at least 1ms");
  if (cfg->query_timeout >= spec.timeout) {
    query_timeout.Fail("must be less than the check's timeout (" + FormatDuration(spec.timeout) +
                       ")");
  }
  cfg->tries = static_cast<int>(node.IntOr("tries", 2, 1, 5));
  return cfg;
}

CheckType DnsCheckType() {
  const DnsMetrics& m = Metrics();
  CheckType type;
  type.name = "dns";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return std::make_unique<DnsCheck>(spec, ParseDnsCheckConfig(spec, node));
  };
  type.metrics = {&m.ratio, &m.up, &m.match, &m.rcode, &m.ttl, &m.duration, &m.serial};
  return type;
}

}  // namespace gatewatch
