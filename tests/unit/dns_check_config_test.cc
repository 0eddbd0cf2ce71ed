// The dns check's config keys and the top-level resolver lists: every rule with its exact path.
#include <gtest/gtest.h>

#include "agent/config.h"
#include "checks/dns_check.h"
#include "tests/testlib/config_error.h"

namespace gatewatch {
namespace {

using testing::ConfigErrorOf;

std::string Check(const std::string& keys) {
  return "checks:\n  - {name: d, type: dns, interval: 10s, timeout: 2s, " + keys + "}\n";
}

TEST(DnsCheckConfigTest, ErrorsNameTheirPath) {
  struct Row {
    std::string yaml;
    std::string error;
  };
  const std::string q = "query: {name: www.example.test}, ";
  const std::vector<Row> rows = {
      {Check("resolvers: ['127.0.0.1']"), "checks[0].query: is required"},
      {Check("query: www, resolvers: ['127.0.0.1']"),
       "checks[0].query: must be a map {name: ..., type: ...}"},
      {Check("query: {name: 'a..b'}, resolvers: ['127.0.0.1']"),
       "checks[0].query.name: must be a DNS name"},
      {Check("query: {name: a, type: ANY}, resolvers: ['127.0.0.1']"),
       "checks[0].query.type: must be one of A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, CAA"},
      {Check(q.substr(0, q.size() - 2)),
       "checks[0].resolvers: is required (a list of ip[:port], a resolver list name, or "
       "authoritative: true)"},
      {Check(q + "resolvers: ['127.0.0.1', 'dns.google']"),
       "checks[0].resolvers[1]: must be ip[:port]"},
      {Check(q + "resolvers: ['127.0.0.1:70000']"), "checks[0].resolvers[0]: must be ip[:port]"},
      {Check(q + "resolvers: ['127.0.0.1', '127.0.0.1:53']"),
       "checks[0].resolvers[1]: duplicate resolver 127.0.0.1:53"},
      {Check(q + "resolvers: []"), "checks[0].resolvers: must not be empty"},
      {Check(q + "resolvers: public"),
       "checks[0].resolvers: unknown resolver list \"public\" (defined at the top level: none)"},
      {Check(q + "resolvers: ['127.0.0.1'], expect: ['10.0.0']"),
       "checks[0].expect[0]: is not a valid A record"},
      {Check(q + "resolvers: ['127.0.0.1'], min_ratio: 0"),
       "checks[0].min_ratio: must be greater than 0"},
      {Check(q + "resolvers: ['127.0.0.1'], zone: example.test"),
       "checks[0].zone: only with authoritative: true"},
      {Check(q + "resolvers: ['127.0.0.1'], query_timeout: 2s"),
       "checks[0].query_timeout: must be less than the check's timeout (2s)"},
      {Check(q + "resolvers: ['127.0.0.1'], tries: 9"),
       "checks[0].tries: must be an integer between 1 and 5"},
      {Check(q + "resolvers: ['127.0.0.1'], recurse: false"), "checks[0].recurse: unknown key"},
      {"resolvers: {public: ['1.1.1.1', 'x']}\n", "resolvers.public[1]: must be ip[:port]"},
      {"resolvers: {public: []}\n", "resolvers.public: must be a non-empty list of ip[:port]"},
      {"resolvers: {pub-lic: ['1.1.1.1']}\n",
       "resolvers.pub-lic: list name must match [a-zA-Z_][a-zA-Z0-9_]*"},
  };
  for (const auto& row : rows) {
    std::string got = ConfigErrorOf(row.yaml);
    // Unknown-key errors may carry a "did you mean" hint after the rule.
    EXPECT_EQ(got.substr(0, row.error.size()), row.error) << row.yaml;
  }
}

TEST(DnsCheckConfigTest, NamedListsAndDefaults) {
  Config config =
      ParseConfig("resolvers: {public: ['1.1.1.1', '[2606:4700::1111]:5353']}\n" +
                      Check("query: {name: www.example.test., type: aaaa}, resolvers: public, "
                            "expect: ['2001:DB8::1']"),
                  "test.yml");
  ASSERT_EQ(config.checks.size(), 1u);
  auto lists = config.checks[0].check->spec().resolver_lists;
  ASSERT_EQ(lists->count("public"), 1u);
  EXPECT_EQ(lists->at("public"),
            (std::vector<std::string>{"1.1.1.1:53", "[2606:4700::1111]:5353"}));
  // A change of a resolver list changes every check's fingerprint (the check restarts).
  Config changed =
      ParseConfig("resolvers: {public: ['1.1.1.1']}\n" +
                      Check("query: {name: www.example.test., type: aaaa}, resolvers: public, "
                            "expect: ['2001:DB8::1']"),
                  "test.yml");
  EXPECT_NE(config.checks[0].fingerprint, changed.checks[0].fingerprint);
}

}  // namespace
}  // namespace gatewatch
