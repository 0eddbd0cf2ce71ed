// The authoritative consistency rule (checks/dns_consistency.h): serials first, then answers.
#include "checks/dns_consistency.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatewatch {
namespace {

TEST(AuthoritativeConsistencyTest, Table) {
  const DnsAnswerSet a = ExpectedAnswerSet({"10.0.0.2"});
  const DnsAnswerSet b = ExpectedAnswerSet({"10.0.0.3"});
  DnsAnswerSet nxdomain;
  nxdomain.rcode = 3;
  const DnsAnswerSet* none = nullptr;
  struct Case {
    const char* name;
    std::vector<NsServerView> servers;
    Reason want;
    std::string detail;  // exact, "" when consistent
  };
  const Case cases[] = {
      {"no servers", {}, Reason::kNone, ""},
      {"one server", {{"ns1", 7, &a, "10.0.0.2"}}, Reason::kNone, ""},
      {"same serial, same answer",
       {{"ns1", 7, &a, "10.0.0.2"}, {"ns2", 7, &a, "10.0.0.2"}},
       Reason::kNone,
       ""},
      {"a missing serial or answer is not a disagreement",
       {{"ns1", 7, &a, "10.0.0.2"}, {"ns2", std::nullopt, none, "no answer within 500.0 ms"}},
       Reason::kNone,
       ""},
      {"serials differ: every server's serial",
       {{"ns1", 2, &a, "10.0.0.2"}, {"ns2", 1, &a, "10.0.0.2"}, {"ns3", std::nullopt, &a, "x"}},
       Reason::kDnsInconsistent,
       "authoritative servers of example.test disagree: ns1 serial 2, ns2 serial 1, ns3 no SOA"},
      {"serials differ and answers differ: serials win",
       {{"ns1", 2, &a, "10.0.0.2"}, {"ns2", 1, &b, "10.0.0.3"}},
       Reason::kDnsInconsistent,
       "authoritative servers of example.test disagree: ns1 serial 2, ns2 serial 1"},
      {"same serial, answers differ: what each said",
       {{"ns1", 7, &a, "10.0.0.2"}, {"ns2", 7, &b, "10.0.0.3"}, {"ns3", 7, none, "refused"}},
       Reason::kDnsInconsistent,
       "authoritative servers of example.test disagree: ns1 10.0.0.2, ns2 10.0.0.3, ns3 refused"},
      {"an NXDOMAIN beside an answer differs",
       {{"ns1", std::nullopt, &a, "10.0.0.2"}, {"ns2", std::nullopt, &nxdomain, "NXDOMAIN"}},
       Reason::kDnsInconsistent,
       "authoritative servers of example.test disagree: ns1 10.0.0.2, ns2 NXDOMAIN"},
      {"the third server differs from the first",
       {{"ns1", 7, &a, "A"}, {"ns2", 7, &a, "A"}, {"ns3", 7, &b, "B"}},
       Reason::kDnsInconsistent,
       "authoritative servers of example.test disagree: ns1 A, ns2 A, ns3 B"},
  };
  for (const Case& c : cases) {
    ConsistencyVerdict v = AuthoritativeConsistency("example.test", c.servers);
    EXPECT_EQ(v.reason, c.want) << c.name;
    EXPECT_EQ(v.consistent(), c.want == Reason::kNone) << c.name;
    EXPECT_EQ(v.detail, c.detail) << c.name;
  }
}

}  // namespace
}  // namespace gatewatch
