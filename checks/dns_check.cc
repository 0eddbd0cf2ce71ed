#include "checks/dns_check.h"

#include <arpa/nameser.h>

#include <algorithm>

#include "agent/base/units.h"
#include "agent/io/dns_resolver.h"
#include "checks/api/check_run_base.h"
#include "checks/dns_comparison.h"
#include "checks/dns_ns_discovery.h"

namespace gatewatch {
namespace {

// One run: in resolver mode asks every configured resolver at once; in authoritative mode first
// finds the NS servers (NsDiscovery), then resolves each one's address and asks it directly. The
// answers are judged by EvaluateDnsRun (checks/dns_comparison.h).
class DnsRun final : public CheckRunBase {
 public:
  DnsRun(std::shared_ptr<const DnsCheckConfig> cfg, const RunContext& ctx, DoneCallback done)
      : CheckRunBase(std::move(done)),
        cfg_(std::move(cfg)),
        services_(ctx.services),
        started_(ctx.started),
        discovery_([this]() -> DnsResolver& { return Discovery(); },
                   DnsCheckConfig::kMaxAuthoritative) {}

  // Destroying the handles cancels every query: no callback reaches a dead run.
  ~DnsRun() override = default;
  DnsRun(const DnsRun&) = delete;
  DnsRun& operator=(const DnsRun&) = delete;

  // Every answer arrives from the loop, never inside Begin(): `done` is not called from here.
  void Begin() {
    if (!cfg_->authoritative) {
      stage_ = Stage::kQuerying;
      servers_.reserve(cfg_->resolvers.size());
      for (const auto& server : cfg_->resolvers) servers_.push_back(NewServer(server, server));
      queries_.resize(servers_.size());
      for (size_t i = 0; i < servers_.size(); ++i) Ask(i);
      return;
    }
    stage_ = Stage::kDiscovering;
    discovery_.Start(
        cfg_->name, cfg_->zone, [this](NsDiscovery::Found found) { OnNsFound(std::move(found)); },
        [this](Reason reason, std::string detail) { FinishEarly(reason, std::move(detail)); });
  }

  Result Abort() override {
    TimePoint now = services_.clock.Now();
    if (stage_ == Stage::kDiscovering) {
      discovery_.Cancel();
      stage_ = Stage::kDone;
      return EarlyDnsFailure(
          View(), Reason::kDnsTimeout,
          std::string(discovery_.stage()) + " timed out after " +
              std::to_string(
                  std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count()) +
              " ms");
    }
    if (stage_ != Stage::kQuerying) {
      return Result::Failure(Reason::kInternalError, "dns run aborted while not running");
    }
    // The servers still silent time out; the ones that answered report what they said.
    for (size_t i = 0; i < servers_.size(); ++i) {
      DnsServerState& t = servers_[i];
      if (t.done()) continue;
      queries_[i] = Queries{};
      if (!t.answer_done) {
        t.elapsed = now - (t.started == TimePoint() ? started_ : t.started);
        t.outcome = ResolverOutcome{};  // dns_timeout, no answer
        t.note = t.server.empty() ? "address of " + t.label + " not resolved before the deadline"
                                  : "no answer within " + FormatMillis(t.elapsed, 1) + " ms";
      }
      t.answer_done = t.soa_done = true;
    }
    stage_ = Stage::kDone;
    return EvaluateDnsRun(View());
  }

 private:
  enum class Stage { kIdle, kDiscovering, kQuerying, kDone };

  // The queries in flight for servers_[i]; destroying a handle cancels its query.
  struct Queries {
    std::unique_ptr<DnsQuery> addr;
    std::unique_ptr<DnsQuery> answer;
    std::unique_ptr<DnsQuery> soa;
  };

  static DnsServerState NewServer(std::string label, std::string server) {
    DnsServerState t;
    t.label = std::move(label);
    t.server = std::move(server);
    return t;
  }

  DnsRunView View() const { return {*cfg_, discovery_.zone(), servers_, ns_not_asked_}; }

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
    if (cfg_->resolvers.empty()) return *services_.dns;
    std::string csv;
    for (const auto& s : cfg_->resolvers) csv += (csv.empty() ? "" : ",") + s;
    DnsResolver::Options o = ServerOptions(csv, false);
    o.report_errors = false;  // discovery may use the next resolver when one fails
    return services_.dns->ForServer(o);
  }

  void OnNsFound(NsDiscovery::Found found) {
    ns_not_asked_ = found.not_asked;
    stage_ = Stage::kQuerying;
    servers_.reserve(found.ns_names.size());
    for (size_t i = 0; i < found.ns_names.size(); ++i) {
      servers_.push_back(NewServer(NsLabel(found.ns_names[i], i), ""));
      servers_.back().ns_name = found.ns_names[i];
    }
    queries_.resize(servers_.size());
    for (size_t i = 0; i < servers_.size(); ++i) {
      servers_[i].started = services_.clock.Now();
      queries_[i].addr = Discovery().Resolve(
          servers_[i].ns_name, AF_UNSPEC, [this, i](const ResolveResult& r) { OnAddress(i, r); });
    }
  }

  void OnAddress(size_t i, const ResolveResult& r) {
    DnsServerState& t = servers_[i];
    queries_[i].addr.reset();
    NsAddress a = PickNsAddress(r, cfg_->authoritative_port);
    if (a.server.empty()) {
      t.elapsed = services_.clock.Now() - t.started;
      t.outcome.reason = a.reason;
      t.note = "cannot resolve " + t.label + ": " + a.error;
      t.answer_done = t.soa_done = true;
      MaybeFinish();
      return;
    }
    if (t.label != t.ns_name) t.label = a.address;  // not a plain hostname
    t.server = a.server;
    Ask(i);
  }

  void Ask(size_t i) {
    DnsServerState& t = servers_[i];
    DnsResolver& r = services_.dns->ForServer(ServerOptions(t.server, cfg_->authoritative));
    t.started = services_.clock.Now();
    queries_[i].answer =
        r.Query(cfg_->name, cfg_->type, [this, i](int status, const unsigned char* reply, int len) {
          OnAnswer(i, status, reply, len);
        });
    if (cfg_->authoritative) {
      queries_[i].soa = r.Query(discovery_.zone(), ns_t_soa,
                                [this, i](int status, const unsigned char* reply, int len) {
                                  OnSoa(i, status, reply, len);
                                });
    } else {
      t.soa_done = true;
    }
  }

  void OnAnswer(size_t i, int status, const unsigned char* reply, int len) {
    DnsServerState& t = servers_[i];
    queries_[i].answer.reset();
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
    DnsServerState& t = servers_[i];
    queries_[i].soa.reset();
    t.soa_done = true;
    QueryReply r = ReadQueryReply(status, reply, len, ns_t_soa);
    if (r.answer && r.answer->rcode == ns_r_noerror) t.serial = r.answer->soa_serial;
    MaybeFinish();
  }

  void MaybeFinish() {
    if (stage_ != Stage::kQuerying) return;
    for (const DnsServerState& t : servers_) {
      if (!t.done()) return;
    }
    stage_ = Stage::kDone;
    Finish(EvaluateDnsRun(View()));  // `this` may be gone
  }

  void FinishEarly(Reason reason, std::string detail) {
    stage_ = Stage::kDone;
    Finish(EarlyDnsFailure(View(), reason, std::move(detail)));  // `this` may be gone
  }

  const std::shared_ptr<const DnsCheckConfig> cfg_;
  CheckServices& services_;
  const TimePoint started_;
  Stage stage_ = Stage::kIdle;
  NsDiscovery discovery_;                // authoritative only; holds the zone once known
  std::vector<DnsServerState> servers_;  // filled before any query: callbacks index into it
  std::vector<Queries> queries_;         // parallel to servers_
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
  const DnsMetrics& m = DnsCheckMetrics();
  CheckType type;
  type.name = "dns";
  type.factory = [](const CheckSpec& spec, const ConfigNode& node) -> std::unique_ptr<Check> {
    return std::make_unique<DnsCheck>(spec, ParseDnsCheckConfig(spec, node));
  };
  type.metrics = {&m.ratio, &m.up, &m.match, &m.rcode, &m.ttl, &m.duration, &m.serial, &m.ns_info};
  return type;
}

}  // namespace gatewatch
