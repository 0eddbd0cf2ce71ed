// Fan-out's pure parts: which addresses a run probes, and the verdict from per-address results.
#include "checks/http_fanout.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "checks/http_check.h"

namespace gatewatch {
namespace {

TEST(SelectBackendsTest, DeduplicatesSortsNumericallyV4FirstAndCaps) {
  std::vector<ResolvedAddress> in = {{AF_INET6, "::1", 60},
                                     {AF_INET, "127.0.0.10", 60},
                                     {AF_INET, "127.0.0.2", 60},
                                     {AF_INET, "127.0.0.2", 60}};
  FanoutAddresses out = SelectBackends(in);
  EXPECT_EQ(out.probe, (std::vector<std::string>{"127.0.0.2", "127.0.0.10", "::1"}));
  EXPECT_EQ(out.not_probed, 0u);

  std::vector<ResolvedAddress> many;
  for (int i = 1; i <= 40; ++i) many.push_back({AF_INET, "10.0.0." + std::to_string(i), 60});
  out = SelectBackends(many);
  EXPECT_EQ(out.probe.size(), kMaxFanoutBackends);
  EXPECT_EQ(out.not_probed, 8u);
  EXPECT_EQ(out.probe.back(), "10.0.0.32");
}

TEST(CombineBackendsTest, Table) {
  struct Row {
    const char* name;
    std::vector<BackendResult> backends;
    size_t not_probed;
    Reason reason;
    size_t up;
    int representative;
    const char* detail_prefix;
  };
  const BackendResult ok{"10.0.0.1:80", Reason::kNone, "HTTP 200"};
  const BackendResult refused{"10.0.0.2:80", Reason::kConnectionRefused, "connect() refused"};
  const BackendResult slow{"10.0.0.3:80", Reason::kTimeout, "no response"};
  const BackendResult bad{"10.0.0.4:80", Reason::kHttp502, "HTTP 502"};
  const std::vector<Row> rows = {
      {"all up", {ok, ok}, 0, Reason::kNone, 2, 0, "2/2 backends up"},
      {"one down",
       {ok, refused, ok},
       0,
       Reason::kConnectionRefused,
       2,
       1,
       "1/3 backends down: 10.0.0.2:80 connection_refused: connect() refused"},
      {"most frequent reason", {slow, bad, bad}, 0, Reason::kHttp502, 0, 0, "3/3 backends down"},
      {"tie: first down", {ok, slow, bad}, 0, Reason::kTimeout, 1, 1, "2/3 backends down"},
      // A tie goes to the first down backend's reason, not to the reason that reached the top
      // count first (timeout, at the third backend).
      {"tie: first in order",
       {refused, slow, slow, refused},
       0,
       Reason::kConnectionRefused,
       0,
       0,
       "4/4 backends down"},
      {"rest counted", {ok}, 5, Reason::kNone, 1, 0, "1/1 backends up (5 more addresses"},
      {"nothing", {}, 0, Reason::kDnsNodata, 0, -1, "no addresses"},
  };
  for (const auto& row : rows) {
    FanoutVerdict v = CombineBackends(row.backends, row.not_probed);
    EXPECT_EQ(v.reason, row.reason) << row.name;
    EXPECT_EQ(v.up, row.up) << row.name;
    EXPECT_EQ(v.representative, row.representative) << row.name;
    EXPECT_EQ(v.detail.rfind(row.detail_prefix, 0), 0u) << row.name << ": " << v.detail;
  }
}

TEST(CombineBackendsTest, Policies) {
  struct Row {
    FanoutPolicy policy;
    std::vector<Reason> backends;  // kNone: up
    Reason want;
    int representative;
    const char* detail_prefix;
  };
  const Reason up = Reason::kNone;
  const Reason refused = Reason::kConnectionRefused;
  const std::vector<Row> rows = {
      {FanoutPolicy::kAll, {up, refused, up}, refused, 1, "1/3 backends down: "},
      {FanoutPolicy::kAny, {refused, up, refused}, up, 1, "2/3 backends down (policy any): "},
      {FanoutPolicy::kAny, {refused, refused}, refused, 0, "2/2 backends down (policy any): "},
      {FanoutPolicy::kQuorum, {refused, up, up}, up, 1, "1/3 backends down (policy quorum): "},
      // Half is no majority.
      {FanoutPolicy::kQuorum, {up, refused}, refused, 1, "1/2 backends down (policy quorum): "},
      {FanoutPolicy::kQuorum, {up, refused, refused}, refused, 1, "2/3 backends down"},
      {FanoutPolicy::kAny, {up, up}, up, 0, "2/2 backends up"},
  };
  for (const Row& row : rows) {
    std::vector<BackendResult> backends;
    for (size_t i = 0; i < row.backends.size(); ++i) {
      backends.push_back({"10.0.0." + std::to_string(i + 1) + ":80", row.backends[i], "d"});
    }
    FanoutVerdict v = CombineBackends(backends, 0, row.policy);
    std::string name = std::string(FanoutPolicyName(row.policy)) + " " + v.detail;
    EXPECT_EQ(v.reason, row.want) << name;
    EXPECT_EQ(v.representative, row.representative) << name;
    EXPECT_EQ(v.detail.rfind(row.detail_prefix, 0), 0u) << name;
  }
}

std::string ErrorOf(const std::string& yaml) {
  try {
    ParseHttpCheckConfig(ConfigNode(YAML::Load(yaml), "checks[0]"));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(HttpResolverConfigTest, ResolverAndFanoutKeys) {
  EXPECT_EQ(ErrorOf("{url: 'http://a.test/', resolver: 'dns.internal'}"),
            "checks[0].resolver: must be ip[:port]");
  EXPECT_EQ(ErrorOf("{url: 'http://127.0.0.1/', fanout: true}"),
            "checks[0].fanout: needs a host name in url, not an address");
  auto cfg = ParseHttpCheckConfig(ConfigNode(
      YAML::Load("{url: 'http://a.test/', resolver: '10.0.0.53', fanout: true}"), "checks[0]"));
  EXPECT_EQ(cfg->resolver, "10.0.0.53:53");
  EXPECT_TRUE(cfg->fanout);
  EXPECT_EQ(cfg->fanout_policy, FanoutPolicy::kAll);
  EXPECT_EQ(ErrorOf("{url: 'http://a.test/', fanout: true, fanout_policy: most}"),
            "checks[0].fanout_policy: must be all, any or quorum");
  EXPECT_EQ(ErrorOf("{url: 'http://a.test/', fanout_policy: any}"),
            "checks[0].fanout_policy: needs fanout: true");
  for (auto [text, policy] : {std::pair{"all", FanoutPolicy::kAll},
                              {"any", FanoutPolicy::kAny},
                              {"quorum", FanoutPolicy::kQuorum}}) {
    auto c = ParseHttpCheckConfig(
        ConfigNode(YAML::Load(std::string("{url: 'http://a.test/', fanout: true, fanout_policy: ") +
                              text + "}"),
                   "checks[0]"));
    EXPECT_EQ(c->fanout_policy, policy) << text;
  }
}

}  // namespace
}  // namespace gatewatch
