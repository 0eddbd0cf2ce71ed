// The `services:` and `diagnosis:` sections: roles from check types, explicit roles, the implicit
// service, and every error with its exact path.
#include <gtest/gtest.h>

#include <string>

#include "agent/config.h"
#include "tests/testlib/config_error.h"

namespace gatewatch {
namespace {

const std::string kChecks = R"(checks:
  - {name: shop, type: http, url: "http://127.0.0.1:1/"}
  - {name: nginx, type: proxy_log, access_log: /tmp/gatewatch-no-such.log}
  - {name: backend-dns, type: dns, query: {name: backend.test}, resolvers: ["127.0.0.1"]}
  - {name: host, type: host}
)";

std::string Roles(const ServiceSpec& s) {
  std::string out;
  for (const auto& c : s.checks) out += c.check + "=" + std::string(RoleName(c.role)) + " ";
  return out;
}

TEST(ServicesConfigTest, ExplicitServices) {
  Config c = ParseConfig(kChecks + R"(services:
  - name: shop
    checks: [shop, nginx, {check: backend-dns}, {check: host, role: agent_path}]
    upstreams: ["10.0.0.4:8080"]
  - name: api
    checks: [nginx]
diagnosis: {window: 2m, hold: 10s}
)",
                         "test.yml");
  ASSERT_EQ(c.services.size(), 2u);
  EXPECT_EQ(c.services[0].name, "shop");
  EXPECT_EQ(Roles(c.services[0]), "shop=probe nginx=proxy_log backend-dns=dns host=agent_path ");
  EXPECT_EQ(c.services[0].upstreams, std::vector<std::string>{"10.0.0.4:8080"});
  EXPECT_EQ(Roles(c.services[1]), "nginx=proxy_log ");
  EXPECT_EQ(c.diagnosis.window, std::chrono::minutes(2));
  EXPECT_EQ(c.diagnosis.hold, std::chrono::seconds(10));
}

TEST(ServicesConfigTest, OneImplicitServiceWhenTheConfigWatchesAProxy) {
  Config c = ParseConfig(kChecks, "test.yml");
  ASSERT_EQ(c.services.size(), 1u);
  EXPECT_EQ(c.services[0].name, "default");
  EXPECT_TRUE(c.services[0].implicit);
  EXPECT_EQ(Roles(c.services[0]), "backend-dns=dns host=host nginx=proxy_log shop=probe ");
  EXPECT_EQ(c.diagnosis.window, DiagnosisOptions{}.window);
}

TEST(ServicesConfigTest, NoServiceWithoutAProxy) {
  Config c = ParseConfig("checks:\n  - {name: host, type: host}\n", "test.yml");
  EXPECT_TRUE(c.services.empty());
}

struct ErrorCase {
  const char* name;
  const char* yaml;  // after kChecks
  const char* error;
};
void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ServicesErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ServicesErrorTest, NamesThePath) {
  EXPECT_EQ(testing::ConfigErrorOf(kChecks + GetParam().yaml), GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Rules, ServicesErrorTest,
    ::testing::Values(
        ErrorCase{"NotAList", "services: {name: a}\n", "services: must be a list"},
        ErrorCase{"NoName", "services: [{checks: [shop]}]\n", "services[0].name: is required"},
        ErrorCase{"BadName", "services: [{name: 'a b', checks: [shop]}]\n",
                  "services[0].name: must match [a-zA-Z0-9_.-]{1,128} (got \"a b\")"},
        ErrorCase{"DuplicateName",
                  "services: [{name: a, checks: [shop]}, {name: a, checks: [nginx]}]\n",
                  "services[1].name: duplicate service name \"a\""},
        ErrorCase{"NoChecks", "services: [{name: a}]\n", "services[0].checks: is required"},
        ErrorCase{"EmptyChecks", "services: [{name: a, checks: []}]\n",
                  "services[0].checks: must be a non-empty list"},
        ErrorCase{"UnknownCheck", "services: [{name: a, checks: [shop, x]}]\n",
                  "services[0].checks[1]: no check named \"x\""},
        ErrorCase{"UnknownCheckInMap", "services: [{name: a, checks: [{check: y}]}]\n",
                  "services[0].checks[0]: no check named \"y\""},
        ErrorCase{"UnknownRole", "services: [{name: a, checks: [{check: shop, role: web}]}]\n",
                  "services[0].checks[0].role: unknown role \"web\" (known: probe, proxy_log, "
                  "dns, host, cdn_origin, agent_path)"},
        ErrorCase{"ListedTwice", "services: [{name: a, checks: [shop, shop]}]\n",
                  "services[0].checks[1]: check \"shop\" is listed twice"},
        ErrorCase{"UnknownKey", "services: [{name: a, checks: [shop], probes: [shop]}]\n",
                  "services[0].probes: unknown key"},
        ErrorCase{"UnknownKeyInEntry", "services: [{name: a, checks: [{check: shop, rol: x}]}]\n",
                  "services[0].checks[0].rol: unknown key (did you mean \"role\"?)"},
        ErrorCase{"WindowTooShort", "diagnosis: {window: 100ms}\n",
                  "diagnosis.window: must be at least 1s"},
        ErrorCase{"DiagnosisUnknownKey", "diagnosis: {hodl: 1s}\n",
                  "diagnosis.hodl: unknown key (did you mean \"hold\"?)"}));

}  // namespace
}  // namespace gatewatch
