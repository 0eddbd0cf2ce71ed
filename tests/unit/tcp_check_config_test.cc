// The tcp check's config: what it accepts and every error with its exact path.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "checks/tcp_check.h"
#include "tests/testlib/config_error.h"

namespace gatewatch {
namespace {

std::string ErrorText(const std::string& yaml) {
  return testing::CheckConfigErrorOf(TcpCheckType(), yaml);
}

std::shared_ptr<const TcpCheckConfig> Parse(const std::string& yaml) {
  return ParseTcpCheckConfig(ConfigNode(YAML::Load(yaml), "checks[0]"));
}

TEST(TcpCheckConfigTest, ReadsEveryKey) {
  auto cfg = Parse(
      "{address: 'redis.internal:6379', tls: true, server_name: redis.example, insecure: true, "
      "ca_file: /ca.pem, cert_file: /c.pem, key_file: /c.key, send: \"PING\\r\\n\", "
      "expect: '^\\+PONG', max_bytes: 64}");
  EXPECT_EQ(cfg->target.host, "redis.internal");
  EXPECT_EQ(cfg->target.port, 6379);
  EXPECT_TRUE(cfg->target.tls);
  EXPECT_EQ(cfg->target.server_name, "redis.example");
  EXPECT_TRUE(cfg->target.insecure);
  EXPECT_EQ(cfg->target.ca_file, "/ca.pem");
  EXPECT_EQ(cfg->target.cert_file, "/c.pem");
  EXPECT_EQ(cfg->target.key_file, "/c.key");
  EXPECT_EQ(cfg->send, "PING\r\n");
  ASSERT_NE(cfg->expect, nullptr);
  EXPECT_TRUE(cfg->expect->Search("+PONG\r\n"));
  EXPECT_EQ(cfg->max_bytes, 64u);

  auto v6 = Parse("{address: '[::1]:25'}");
  EXPECT_EQ(v6->target.host, "::1");
  EXPECT_EQ(v6->target.port, 25);
  EXPECT_FALSE(v6->target.tls);
  EXPECT_EQ(v6->expect, nullptr);
  EXPECT_EQ(v6->max_bytes, 4096u);
}

TEST(TcpCheckConfigTest, ErrorsNameTheirPath) {
  EXPECT_EQ(ErrorText("{send: x}"), "checks[0].address: is required");
  EXPECT_EQ(ErrorText("{address: 'db.internal'}"),
            "checks[0].address: must be host:port (a port is required)");
  EXPECT_EQ(ErrorText("{address: 'db:99999'}"),
            "checks[0].address: must be host:port (a port is required)");
  EXPECT_EQ(ErrorText("{address: 'db:1', server_name: x}"),
            "checks[0].server_name: needs tls: true");
  EXPECT_EQ(ErrorText("{address: 'db:1', tls: true, key_file: /k}"),
            "checks[0].key_file: needs cert_file");
  EXPECT_EQ(ErrorText("{address: 'db:1', expect: '(a'}")
                .rfind("checks[0].expect: invalid regular expression: ", 0),
            0u);
  EXPECT_NE(ErrorText("{address: 'db:1', expect: '(a)\\1'}").find("no backreferences"),
            std::string::npos);
  EXPECT_EQ(ErrorText("{address: 'db:1', expect: x, max_bytes: 2MiB}"),
            "checks[0].max_bytes: must be between 1 and 1MiB");
  EXPECT_EQ(ErrorText("{address: 'db:1', max_bytes: 10}"), "checks[0].max_bytes: needs expect");
  EXPECT_EQ(ErrorText("{address: 'db:1', bogus: 1}").rfind("checks[0].bogus: unknown key", 0), 0u);
}

}  // namespace
}  // namespace gatewatch
