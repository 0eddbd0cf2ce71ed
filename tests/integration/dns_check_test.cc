// The dns check against real dnsmasq resolvers started by the test, and against the in-process
// fake DNS server for what dnsmasq cannot do on demand (truncation, malformed replies, thousands of
// records, a chosen rcode, authoritative servers with different serials, silence).
#include <arpa/nameser.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "agent/config.h"
#include "exporters/check_series.h"
#include "exporters/series_render.h"
#include "tests/testlib/dnsmasq.h"
#include "tests/testlib/fake_dns_server.h"
#include "tests/testlib/loop_services.h"
#include "tests/testlib/observed.h"
#include "tests/testlib/process.h"
#include "tests/testlib/require.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using Behaviour = FakeDnsServer::Behaviour;

// Value of the observation `name` whose label values start with `labels`, or -1.

std::string Report(const Result& r, const std::string& key) {
  for (const auto& [k, v] : r.report) {
    if (k == key) return v;
  }
  return "";
}

std::string List(const std::vector<std::string>& servers) {
  std::string out = "[";
  for (const auto& s : servers) out += (out.size() > 1 ? ", '" : "'") + s + "'";
  return out + "]";
}

std::string DnsCheck(const std::string& name, const std::string& resolvers,
                     const std::string& extra = "", const std::string& timeout = "2s") {
  return "{name: t, type: dns, interval: 10s, timeout: " + timeout + ", query: {name: " + name +
         ", type: A}, resolvers: " + resolvers + (extra.empty() ? "" : ", " + extra) + "}";
}

class DnsmasqResolvers : public ::testing::Test {
 protected:
  // Starts one dnsmasq answering www.example.test with `address`.
  std::string Start(const std::string& address) {
    auto d = std::make_unique<Dnsmasq>(std::vector<std::string>{
        "--local=/example.test/", "--address=/www.example.test/" + address});
    std::string error;
    if (!d->Start(&error)) {
      skip_ = error;
      return "";
    }
    std::string server = d->server();
    instances_.push_back(std::move(d));
    return server;
  }
  std::vector<std::unique_ptr<Dnsmasq>> instances_;
  std::string skip_;
};

TEST_F(DnsmasqResolvers, TwoNewOneStaleIsNotPropagatedAtTwoThirds) {
  std::string a = Start("10.0.0.2"), b = Start("10.0.0.2"), stale = Start("10.0.0.1");
  if (!skip_.empty()) GW_SERVER_DID_NOT_START(kDnsmasqBinary, skip_);
  Result r = RunYamlCheckOnce(DnsCheck("www.example.test", List({a, stale, b})));
  EXPECT_EQ(r.reason, Reason::kDnsNotPropagated) << r.detail;
  EXPECT_NEAR(Observed(r, "dns_propagation_ratio"), 2.0 / 3, 1e-9);
  EXPECT_EQ(Observed(r, "dns_resolver_match", a), 1);
  EXPECT_EQ(Observed(r, "dns_resolver_match", stale), 0);
  EXPECT_EQ(Observed(r, "dns_resolver_up", stale), 1) << "a stale resolver still answers";
  EXPECT_EQ(Observed(r, "dns_resolver_rcode_total", stale, "NOERROR"), 1);
  EXPECT_GE(Observed(r, "dns_answer_ttl_seconds", a), 0);
  EXPECT_NE(r.detail.find(stale + ": 10.0.0.1"), std::string::npos) << r.detail;
  // The probe's report says which resolver answered what.
  EXPECT_NE(Report(r, stale).find("10.0.0.1"), std::string::npos);
  EXPECT_NE(Report(r, a).find("10.0.0.2"), std::string::npos);

  // The same resolvers through a named list, with min_ratio met.
  Result ok = RunYamlCheckOnce(
      "{name: t, type: dns, interval: 10s, timeout: 2s, query: {name: "
      "www.example.test}, resolvers: world, min_ratio: 0.6}",
      "resolvers: {world: " + List({a, stale, b}) + "}\n");
  EXPECT_TRUE(ok.success) << ok.detail;
  // With expect, the stale answer is the one that does not match.
  Result expect =
      RunYamlCheckOnce(DnsCheck("www.example.test", List({a, stale, b}), "expect: [10.0.0.1]"));
  EXPECT_EQ(expect.reason, Reason::kDnsNotPropagated) << expect.detail;
  EXPECT_NEAR(Observed(expect, "dns_propagation_ratio"), 1.0 / 3, 1e-9);
}

// `gatewatch probe` (the real binary) shows which resolver answered what, for a dns check from
// flags and for a configured check of any type by name.
TEST_F(DnsmasqResolvers, ProbeShowsWhichResolverAnsweredWhat) {
  std::string a = Start("10.0.0.2"), stale = Start("10.0.0.1");
  if (!skip_.empty()) GW_SERVER_DID_NOT_START(kDnsmasqBinary, skip_);
  Process dns_probe({GATEWATCH_BINARY, "probe", "--dns", "www.example.test", "--resolver", a,
                     "--resolver", stale, "--timeout", "2s"});
  int status = -1;
  ASSERT_TRUE(dns_probe.WaitExit(std::chrono::seconds(10), &status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << "a failed check exits 1";
  std::string out = dns_probe.Stdout();
  EXPECT_NE(out.find(a + "  NOERROR 10.0.0.2"), std::string::npos) << out;
  EXPECT_NE(out.find(stale + "  NOERROR 10.0.0.1"), std::string::npos) << out;
  EXPECT_NE(out.find("reason=dns_not_propagated"), std::string::npos) << out;

  TempDir dir;
  std::string config = dir.path() + "/gatewatch.yml";
  std::ofstream(config) << "resolvers: {lab: ['" << a << "']}\n"
                        << "checks:\n  - {name: www, type: dns, query: {name: www.example.test}, "
                           "resolvers: lab, expect: [10.0.0.2]}\n";
  Process check_probe(
      {GATEWATCH_BINARY, "probe", "--check", "www", "--config.file", config, "--json"});
  ASSERT_TRUE(check_probe.WaitExit(std::chrono::seconds(10), &status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << check_probe.Stdout() << check_probe.Stderr();
  EXPECT_NE(check_probe.Stdout().find("\"check\": \"www (dns)\""), std::string::npos)
      << check_probe.Stdout();
  Process missing({GATEWATCH_BINARY, "probe", "--check", "nope", "--config.file", config});
  ASSERT_TRUE(missing.WaitExit(std::chrono::seconds(10), &status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_NE(missing.Stderr().find("no check named \"nope\""), std::string::npos);
}

TEST_F(DnsmasqResolvers, UnknownNameIsNxdomainEverywhere) {
  std::string a = Start("10.0.0.2"), b = Start("10.0.0.2");
  if (!skip_.empty()) GW_SERVER_DID_NOT_START(kDnsmasqBinary, skip_);
  Result r = RunYamlCheckOnce(DnsCheck("nope.example.test", List({a, b})));
  EXPECT_EQ(r.reason, Reason::kDnsNxdomain) << r.detail;
  EXPECT_EQ(Observed(r, "dns_resolver_rcode_total", a, "NXDOMAIN"), 1);
  EXPECT_EQ(Observed(r, "dns_resolver_up", a), 1);
  EXPECT_EQ(Observed(r, "dns_propagation_ratio"), 0);
}

TEST_F(DnsmasqResolvers, SilentResolverTimesOutWhileTheOthersReport) {
  std::string a = Start("10.0.0.2"), b = Start("10.0.0.2");
  if (!skip_.empty()) GW_SERVER_DID_NOT_START(kDnsmasqBinary, skip_);
  FakeDnsServer silent(Behaviour::kSilent);
  // c-ares gives up first (query_timeout 200ms x 2 tries, well inside the 2s deadline)...
  Result r = RunYamlCheckOnce(DnsCheck("www.example.test", List({a, silent.server(), b}),
                                       "query_timeout: 200ms, tries: 2"));
  EXPECT_EQ(r.reason, Reason::kDnsTimeout) << r.detail;
  EXPECT_NE(r.detail.find(silent.server() + ": Timeout while contacting"), std::string::npos)
      << "c-ares gives up, not the deadline: " << r.detail;
  EXPECT_EQ(Observed(r, "dns_resolver_up", silent.server()), 0);
  EXPECT_EQ(Observed(r, "dns_resolver_rcode_total", silent.server(), "none"), 1);
  EXPECT_EQ(Observed(r, "dns_resolver_match", a), 1);
  EXPECT_EQ(Observed(r, "dns_resolver_match", b), 1);
  EXPECT_NEAR(Observed(r, "dns_propagation_ratio"), 2.0 / 3, 1e-9);
  EXPECT_GT(silent.udp_queries(), 0);

  // ...or the deadline does (tries that outlast it): Abort() names the silent one, and the
  // others still report their answers.
  Result aborted = RunYamlCheckOnce(DnsCheck("www.example.test", List({a, silent.server(), b}),
                                             "query_timeout: 900ms, tries: 3", "1s"));
  EXPECT_EQ(aborted.reason, Reason::kDnsTimeout) << aborted.detail;
  EXPECT_NE(aborted.detail.find(silent.server() + ": no answer within"), std::string::npos)
      << aborted.detail;
  EXPECT_EQ(Observed(aborted, "dns_resolver_match", a), 1);
  EXPECT_EQ(Observed(aborted, "dns_resolver_up", b), 1);
}

TEST(FakeDnsTest, ServfailAndRefusedAreResultsNotRetriedAway) {
  FakeDnsServer servfail(Behaviour::kRcode);
  servfail.set_rcode(ns_r_servfail);
  Result r = RunYamlCheckOnce(DnsCheck("www.example.test", List({servfail.server()})));
  EXPECT_EQ(r.reason, Reason::kDnsServfail) << r.detail;
  EXPECT_EQ(Observed(r, "dns_resolver_rcode_total", servfail.server(), "SERVFAIL"), 1);
  EXPECT_EQ(Observed(r, "dns_resolver_up", servfail.server()), 0);
  EXPECT_EQ(servfail.udp_queries(), 1) << "SERVFAIL must be reported, not retried";

  FakeDnsServer refused(Behaviour::kRcode);
  refused.set_rcode(ns_r_refused);
  EXPECT_EQ(RunYamlCheckOnce(DnsCheck("www.example.test", List({refused.server()}))).reason,
            Reason::kDnsRefused);
}

TEST(FakeDnsTest, TruncatedUdpAnswerIsFetchedOverTcp) {
  FakeDnsServer server;
  // 30 records (514 bytes): more than UDP without EDNS carries, fewer than the storage cap.
  for (int i = 1; i <= 30; ++i) server.AddA("big.example.test", "10.1.0." + std::to_string(i));
  Result r = RunYamlCheckOnce(DnsCheck("big.example.test", List({server.server()})));
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_GT(server.tcp_queries(), 0) << "the answer needs TCP";
  EXPECT_NE(Report(r, server.server()).find("NOERROR 10.1.0.1 10.1.0.10 10.1.0.11"),
            std::string::npos)
      << Report(r, server.server());
}

TEST(FakeDnsTest, MalformedReplyIsDnsMalformed) {
  FakeDnsServer bad(Behaviour::kMalformed);
  Result r = RunYamlCheckOnce(DnsCheck("www.example.test", List({bad.server()})));
  EXPECT_EQ(r.reason, Reason::kDnsMalformed) << r.detail;
  EXPECT_EQ(Observed(r, "dns_resolver_up", bad.server()), 0);
}

// 4,000 A records, the most that fit a DNS message (64 KiB over TCP); the answer is counted and
// hashed, not kept, and two servers with the same records in another order agree.
TEST(FakeDnsTest, ThousandsOfRecordsAreCountedAndCompared) {
  FakeDnsServer one, two;
  for (int i = 0; i < 4000; ++i) {
    std::string ip = "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".1";
    one.AddA("many.example.test", ip);
  }
  for (int i = 3999; i >= 0; --i) {
    std::string ip = "10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".1";
    two.AddA("many.example.test", ip);
  }
  Result r = RunYamlCheckOnce(DnsCheck("many.example.test", List({one.server(), two.server()})));
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_NE(r.detail.find("4000 records"), std::string::npos) << r.detail;
  EXPECT_EQ(Observed(r, "dns_propagation_ratio"), 1);
  EXPECT_LT(r.detail.size(), 400u) << "the answer must not be kept whole";
}

// Authoritative mode: a recursive resolver (fake) names the zone's NS servers; two fake
// "authoritative" servers on 127.0.0.2 and 127.0.0.3 share one port.
class AuthoritativeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ns1_ = std::make_unique<FakeDnsServer>(Behaviour::kAnswer, "127.0.0.2");
    ns2_ = std::make_unique<FakeDnsServer>(Behaviour::kAnswer, "127.0.0.3", ns1_->port());
    recursive_.AddSoa("example.test", 1);
    recursive_.AddNs("example.test", "ns1.example.test");
    recursive_.AddNs("example.test", "ns2.example.test");
    recursive_.AddA("ns1.example.test", "127.0.0.2");
    recursive_.AddA("ns2.example.test", "127.0.0.3");
  }
  std::string Check() const {
    return "{name: t, type: dns, interval: 10s, timeout: 2s, query: {name: www.example.test}, "
           "authoritative: true, resolvers: ['" +
           recursive_.server() + "'], authoritative_port: " + std::to_string(ns1_->port()) + "}";
  }
  FakeDnsServer recursive_;
  std::unique_ptr<FakeDnsServer> ns1_, ns2_;
};

TEST_F(AuthoritativeTest, SerialMismatchIsInconsistent) {
  ns1_->AddSoa("example.test", 2024010102);
  ns1_->AddA("www.example.test", "10.0.0.2");
  ns2_->AddSoa("example.test", 2024010101);
  ns2_->AddA("www.example.test", "10.0.0.2");
  Result r = RunYamlCheckOnce(Check());
  EXPECT_EQ(r.reason, Reason::kDnsInconsistent) << r.detail;
  // Series by position in the sorted NS set; the names on dns_authoritative_server_info.
  EXPECT_EQ(Observed(r, "dns_soa_serial", "ns_0"), 2024010102);
  EXPECT_EQ(Observed(r, "dns_soa_serial", "ns_1"), 2024010101);
  EXPECT_EQ(Observed(r, "dns_authoritative_server_info", "ns_0", "ns1.example.test"), 1);
  EXPECT_EQ(Observed(r, "dns_authoritative_server_info", "ns_1", "ns2.example.test"), 1);
  EXPECT_NE(r.detail.find("ns2.example.test serial 2024010101"), std::string::npos) << r.detail;
  EXPECT_EQ(Report(r, "zone"), "example.test");
}

TEST_F(AuthoritativeTest, SameSerialAndAnswerSucceeds) {
  for (auto* ns : {ns1_.get(), ns2_.get()}) {
    ns->AddSoa("example.test", 7);
    ns->AddA("www.example.test", "10.0.0.2");
  }
  Result r = RunYamlCheckOnce(Check());
  EXPECT_TRUE(r.success) << r.detail;
  EXPECT_EQ(Observed(r, "dns_soa_serial", "ns_1"), 7);
  EXPECT_EQ(Observed(r, "dns_propagation_ratio"), 1);
}

TEST_F(AuthoritativeTest, SeriesAreBoundedByPositionWhenTheNsSetChanges) {
  // Today's code: each NS name seen becomes a `resolver` label, and the rcode counter keeps
  // every one of them: 5 runs with 2 new names each leave 10 counter series.
  for (auto* ns : {ns1_.get(), ns2_.get()}) {
    ns->AddSoa("example.test", 7);
    ns->AddA("www.example.test", "10.0.0.2");
  }
  CheckSpec spec;
  spec.name = "t";
  spec.type = "dns";
  CheckSeriesStore store;
  store.SetChecks({&spec});
  for (int run = 0; run < 5; ++run) {
    recursive_.Clear();
    recursive_.AddSoa("example.test", 1);
    std::string a = "a" + std::to_string(run) + ".example.test";
    std::string b = "b" + std::to_string(run) + ".example.test";
    recursive_.AddNs("example.test", a);
    recursive_.AddNs("example.test", b);
    recursive_.AddA(a, "127.0.0.2");
    recursive_.AddA(b, "127.0.0.3");
    Result r = RunYamlCheckOnce(Check());
    ASSERT_TRUE(r.success) << r.detail;
    EXPECT_EQ(Observed(r, "dns_authoritative_server_info", "ns_0", a), 1);
    store.OnResult(spec, r, 1000 + run);
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, CollectCheckSeries(store));
  std::string text = out.str();
  size_t counters = 0, infos = 0;
  for (size_t at = 0; (at = text.find("\ngatewatch_dns_resolver_rcode_total{", at)) != text.npos;
       ++at) {
    ++counters;
  }
  for (size_t at = 0;
       (at = text.find("\ngatewatch_dns_authoritative_server_info{", at)) != text.npos; ++at) {
    ++infos;
  }
  EXPECT_EQ(counters, 2u) << text;  // ns_0 and ns_1, NOERROR
  EXPECT_EQ(infos, 2u) << text;     // only the last run's names
  EXPECT_NE(text.find("ns=\"b4.example.test\""), std::string::npos) << text;
}

}  // namespace
}  // namespace gatewatch::testing
