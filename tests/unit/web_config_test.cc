// The web config file (exporter-toolkit's format) as gatewatch reads it: every rule with its exact
// key path, basic auth against real bcrypt hashes (libcrypt), its cache, and the reload gate.
#include "exporters/web_config.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <array>
#include <thread>

#include "agent/base/config_node.h"
#include "exporters/basic_auth.h"
#include "exporters/reload_gate.h"

namespace gatewatch {
namespace {

// A real bcrypt hash of `password`; cost 4 keeps the test quick (the format is the same).
std::string Bcrypt(const std::string& password, unsigned long cost = 4) {
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> salt{};
  EXPECT_NE(crypt_gensalt_rn("$2y$", cost, nullptr, 0, salt.data(), salt.size()), nullptr);
  crypt_data data{};
  return crypt_r(password.c_str(), salt.data(), &data);
}

std::string ErrorOf(const std::string& yaml) {
  try {
    ParseWebConfig(yaml, "web.yml", "/etc/gw");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

const char kHash[] = "$2y$10$X0h7AzG3qLkkbfNGe2NfYuOiUOfHfuSu0YmBkvhd6SLQHRvESr0uK";

TEST(WebConfigTest, RulesNameTheKeyPath) {
  struct Case {
    std::string yaml, error;
  };
  const std::vector<Case> cases = {
      {"", "(no error)"},
      {"basic_auth_users: {alice: secret}",
       "basic_auth_users.alice: not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d "
       "':\\n'`)"},
      {std::string("basic_auth_users: {alice: '") + kHash + "'}", "(no error)"},
      {std::string("basic_auth_users: {alice: '") + kHash + "x'}",
       "basic_auth_users.alice: not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d "
       "':\\n'`)"},
      {"basic_auth_user: {}", "basic_auth_user: unknown key (did you mean \"basic_auth_users\"?)"},
      {"tls_server_config: {key_file: k.pem}", "tls_server_config.cert_file: is required"},
      {"tls_server_config: {cert_file: c.pem, key_file: k.pem, certfile: x}",
       "tls_server_config.certfile: unknown key (did you mean \"cert_file\"?)"},
      {"tls_server_config: {cert_file: c.pem, key_file: k.pem, client_auth_type: Maybe}",
       "tls_server_config.client_auth_type: must be NoClientCert, VerifyClientCertIfGiven or "
       "RequireAndVerifyClientCert (got \"Maybe\")"},
      {"tls_server_config: {cert_file: c.pem, key_file: k.pem, client_auth_type: "
       "RequestClientCert}",
       "tls_server_config.client_auth_type: RequestClientCert is not supported (civetweb "
       "verifies every certificate it asks for): use VerifyClientCertIfGiven or "
       "RequireAndVerifyClientCert with client_ca_file"},
      {"tls_server_config: {cert_file: c.pem, key_file: k.pem, client_auth_type: "
       "RequireAndVerifyClientCert}",
       "tls_server_config: client_auth_type RequireAndVerifyClientCert needs client_ca_file"},
      {"tls_server_config: {cert_file: c.pem, key_file: k.pem, client_ca_file: ca.pem}",
       "tls_server_config.client_ca_file: client CAs are configured without a client_auth_type "
       "(use RequireAndVerifyClientCert)"},
      {"tls_server_config: {cert_file: c.pem, key_file: k.pem, min_version: TLS14}",
       "tls_server_config.min_version: must be TLS10, TLS11, TLS12 or TLS13 (got \"TLS14\")"},
      {"tls_server_config: {cert_file: c.pem, key_file: k.pem, max_version: TLS12}",
       "tls_server_config.max_version: only TLS13 (the default) is supported: civetweb has no "
       "maximum version"},
      {"tls_server_config: {cert_file: c.pem, key_file: k.pem, cipher_suites: [TLS_FOO]}",
       "tls_server_config.cipher_suites[0]: unknown or unsupported cipher suite \"TLS_FOO\""},
      {"http_server_config: {headers: {Server: x}}",
       "http_server_config.headers.Server: header cannot be configured (allowed: "
       "Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, "
       "Content-Security-Policy)"},
      {"http_server_config: {headers: {X-Frame-Options: allow}}",
       "http_server_config.headers.X-Frame-Options: must be one of deny, sameorigin (got "
       "\"allow\")"},
      {"http_server_config: {headers: {X-Frame-Options: DENY}, http2: true}", "(no error)"},
      {"http_server_config: {header: {}}",
       "http_server_config.header: unknown key (did you mean \"headers\"?)"},
      {"[1, 2]", "web.yml: must be a map"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(ErrorOf(c.yaml), c.error) << c.yaml;
  }
}

TEST(WebConfigTest, FullFileResolvesRelativePaths) {
  WebConfig c = ParseWebConfig(std::string(R"(
tls_server_config:
  cert_file: server.crt
  key_file: /abs/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  min_version: TLS13
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_AES_256_GCM_SHA384]
basic_auth_users:
  prometheus: ')") + kHash + R"('
http_server_config:
  headers:
    Strict-Transport-Security: max-age=31536000
)",
                               "web.yml", "/etc/gw");
  ASSERT_TRUE(c.tls.has_value());
  EXPECT_EQ(c.tls->cert_file, "/etc/gw/server.crt");
  EXPECT_EQ(c.tls->key_file, "/abs/server.key");
  EXPECT_EQ(c.tls->client_ca_file, "/etc/gw/ca.crt");
  EXPECT_EQ(c.tls->client_auth, ClientAuth::kRequireAndVerify);
  EXPECT_EQ(c.tls->min_version, 13);
  EXPECT_EQ(c.tls->cipher_suites,
            (std::vector<std::string>{"ECDHE-RSA-AES128-GCM-SHA256", "AES256-GCM-SHA384"}));
  EXPECT_EQ(c.users.at("prometheus"), kHash);
  ASSERT_EQ(c.headers.size(), 1u);
  EXPECT_EQ(c.headers[0].first, "Strict-Transport-Security");
}

TEST(WebConfigTest, LoadNamesAnUnreadableCertificate) {
  char dir[] = "/tmp/gw-webcfg-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string file = std::string(dir) + "/web.yml";
  FILE* f = fopen(file.c_str(), "w");
  fputs("tls_server_config: {cert_file: missing.crt, key_file: missing.key}\n", f);
  fclose(f);
  try {
    LoadWebConfigFile(file);
    ADD_FAILURE() << "loaded";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "tls_server_config.cert_file: cannot read " +
                                         std::string(dir) +
                                         "/missing.crt: No such file or directory");
  }
  unlink(file.c_str());
  rmdir(dir);
}

TEST(WebConfigTest, BcryptHashShape) {
  EXPECT_TRUE(IsBcryptHash(kHash));
  EXPECT_TRUE(IsBcryptHash(Bcrypt("pw")));
  EXPECT_FALSE(IsBcryptHash("$2y$03$X0h7AzG3qLkkbfNGe2NfYuOiUOfHfuSu0YmBkvhd6SLQHRvESr0uK"));
  EXPECT_FALSE(IsBcryptHash("$2x$10$X0h7AzG3qLkkbfNGe2NfYuOiUOfHfuSu0YmBkvhd6SLQHRvESr0uK"));
  EXPECT_FALSE(IsBcryptHash("$6$salt$hash"));
  EXPECT_FALSE(IsBcryptHash(""));
}

TEST(BasicAuthTest, ParsesTheHeader) {
  // "alice:pa:ss" - the password may contain colons; the user may not.
  auto c = BasicAuthenticator::ParseAuthorization("Basic YWxpY2U6cGE6c3M=");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->user, "alice");
  EXPECT_EQ(c->password, "pa:ss");
  EXPECT_TRUE(BasicAuthenticator::ParseAuthorization("basic YWxpY2U6cGE6c3M").has_value());
  EXPECT_FALSE(BasicAuthenticator::ParseAuthorization("Bearer YWxpY2U6cGE6c3M=").has_value());
  EXPECT_FALSE(BasicAuthenticator::ParseAuthorization("Basic !!!!").has_value());
  EXPECT_FALSE(BasicAuthenticator::ParseAuthorization("Basic YWxpY2U=").has_value());  // no ':'
  EXPECT_FALSE(BasicAuthenticator::ParseAuthorization("Basic YQBiOmM=").has_value());  // "a\0b:c"
  EXPECT_FALSE(BasicAuthenticator::ParseAuthorization("Basic ").has_value());
  EXPECT_EQ(BasicAuthenticator::DecodeBase64("aGVsbG8gd29ybGQ="), "hello world");
  EXPECT_TRUE(BasicAuthenticator::ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(BasicAuthenticator::ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(BasicAuthenticator::ConstantTimeEquals("abc", "abcd"));
}

std::string Header(const std::string& user_pass) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < user_pass.size(); i += 3) {
    uint32_t v = (uint8_t(user_pass[i]) << 16) | (uint8_t(user_pass[i + 1]) << 8) |
                 uint8_t(user_pass[i + 2]);
    out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63]};
  }
  if (user_pass.size() - i == 1) {
    uint32_t v = uint8_t(user_pass[i]) << 16;
    out += {a[v >> 18], a[(v >> 12) & 63], '=', '='};
  } else if (user_pass.size() - i == 2) {
    uint32_t v = (uint8_t(user_pass[i]) << 16) | (uint8_t(user_pass[i + 1]) << 8);
    out += {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], '='};
  }
  return "Basic " + out;
}

TEST(BasicAuthTest, VerifiesBcryptAndCachesOnlySuccess) {
  BasicAuthenticator auth({{"alice", Bcrypt("s3cret")}, {"bob", Bcrypt("other")}});
  EXPECT_FALSE(auth.Check(nullptr));
  EXPECT_FALSE(auth.Check(Header("alice:wrong").c_str()));
  EXPECT_FALSE(auth.Check(Header("alice:wrong").c_str()));  // failures are never cached
  EXPECT_EQ(auth.bcrypt_verifications(), 2u);
  EXPECT_FALSE(auth.Check(Header("mallory:s3cret").c_str()));
  EXPECT_FALSE(auth.Check(Header("bob:s3cret").c_str()));  // alice's password is not bob's
  EXPECT_EQ(auth.bcrypt_verifications(), 3u);
  EXPECT_TRUE(auth.Check(Header("alice:s3cret").c_str()));
  EXPECT_EQ(auth.bcrypt_verifications(), 4u);
  // A scrape every second: the next ones are answered from the cache, not by bcrypt.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(auth.Check(Header("alice:s3cret").c_str()));
  EXPECT_EQ(auth.bcrypt_verifications(), 4u);
  EXPECT_EQ(auth.cache_hits(), 5u);
  // A cached success never admits a different password or another user.
  EXPECT_FALSE(auth.Check(Header("alice:s3cret2").c_str()));
  EXPECT_FALSE(auth.Check(Header("bob:s3cret").c_str()));
  EXPECT_TRUE(auth.Check(Header("bob:other").c_str()));
}

TEST(BasicAuthTest, ConcurrentChecksAgree) {
  BasicAuthenticator auth({{"alice", Bcrypt("s3cret")}});
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        bool good = (i + t) % 2 == 0;
        bool r = auth.Check(Header(good ? "alice:s3cret" : "alice:nope").c_str());
        (r == good ? ok : refused)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 80);
  EXPECT_EQ(refused.load(), 0);
}

TEST(ReloadGateTest, OneInFlightAndOneASecond) {
  using std::chrono::milliseconds;
  ReloadGate gate(std::chrono::seconds(1));
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  EXPECT_EQ(gate.TryBegin(t0), ReloadGate::Decision::kRun);
  EXPECT_EQ(gate.TryBegin(t0 + milliseconds(10)), ReloadGate::Decision::kBusy);
  EXPECT_EQ(gate.TryBegin(t0 + milliseconds(2000)), ReloadGate::Decision::kBusy);
  gate.End();
  EXPECT_EQ(gate.TryBegin(t0 + milliseconds(2100)), ReloadGate::Decision::kRun);
  gate.End();
  EXPECT_EQ(gate.TryBegin(t0 + milliseconds(2500)), ReloadGate::Decision::kTooSoon);
  EXPECT_EQ(gate.TryBegin(t0 + milliseconds(3100)), ReloadGate::Decision::kRun);
  gate.End();
}

}  // namespace
}  // namespace gatewatch
