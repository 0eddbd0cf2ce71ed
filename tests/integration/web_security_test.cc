// gatewatch's endpoints on a shared network, with the real programs: a CA, server and client
// certificates made with the openssl CLI, a web config file in exporter-toolkit's format, a real
// Prometheus (Debian's) scraping over TLS with basic auth and a client certificate, curl as the
// careless neighbour, and slow clients that must not starve /-/healthy or /metrics.
// Everything on 127.0.0.1, bounded in count and time.
#include <arpa/inet.h>
#include <crypt.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/base/fd.h"
#include "tests/testlib/gatewatch_process.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/process.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kPrometheus[] = "/usr/bin/prometheus";
constexpr char kOpenssl[] = "/usr/bin/openssl";
constexpr char kCurl[] = "/usr/bin/curl";

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string Bcrypt(const std::string& password) {
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> salt{};
  crypt_gensalt_rn("$2y$", 10, nullptr, 0, salt.data(), salt.size());
  crypt_data data{};
  return crypt_r(password.c_str(), salt.data(), &data);
}

void RunOk(std::vector<std::string> argv) {
  auto r = RunToExit(argv, seconds(30));
  ASSERT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << ": " << r.err;
}

// A CA, a server certificate for 127.0.0.1 and a client certificate, signed by the CA.
void MakeCertificates(const std::string& d) {
  RunOk({kOpenssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=gatewatch test CA", "-keyout", d + "/ca.key", "-out", d + "/ca.crt"});
  WriteFile(d + "/server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const std::string name : {"server", "client"}) {
    RunOk({kOpenssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout",
           d + "/" + name + ".key", "-out", d + "/" + name + ".csr"});
    std::vector<std::string> sign = {kOpenssl,
                                     "x509",
                                     "-req",
                                     "-in",
                                     d + "/" + name + ".csr",
                                     "-CA",
                                     d + "/ca.crt",
                                     "-CAkey",
                                     d + "/ca.key",
                                     "-CAcreateserial",
                                     "-days",
                                     "2",
                                     "-out",
                                     d + "/" + name + ".crt"};
    if (name == "server") sign.insert(sign.end(), {"-extfile", d + "/server.ext"});
    RunOk(sign);
  }
}

struct Curl {
  int exit_code = -1;
  int status = 0;
  std::string headers, body;
};

// curl with `args` before the URL; status 0 when no HTTP answer came.
Curl CurlRun(const std::string& dir, std::vector<std::string> args, const std::string& url) {
  std::vector<std::string> argv = {
      kCurl, "-sS",         "--max-time", "5",           "-D", dir + "/headers",
      "-o",  dir + "/body", "-w",         "%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(url);
  unlink((dir + "/headers").c_str());
  unlink((dir + "/body").c_str());
  auto r = RunToExit(argv, seconds(10));
  Curl c;
  c.exit_code = r.exit_code;
  c.status = std::atoi(r.out.c_str());
  c.headers = ReadFile(dir + "/headers");
  c.body = ReadFile(dir + "/body");
  return c;
}

int ProbePortFromLog(const std::string& log) {
  auto at = log.find("probe_port=");
  return at == std::string::npos ? 0 : std::atoi(log.c_str() + at + 11);
}

class WebSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* tool : {kOpenssl, kCurl}) {
      if (access(tool, X_OK) != 0) GTEST_SKIP() << tool << " not installed; deploy/setup.sh does";
    }
    d_ = dir_.path();
    MakeCertificates(d_);
    hash_ = Bcrypt("s3cret");
    WriteWebConfig(hash_);
  }

  void WriteWebConfig(const std::string& hash) {
    WriteFile(d_ + "/web.yml",
              "tls_server_config:\n"
              "  cert_file: server.crt\n"  // relative to this file, as exporter-toolkit resolves
              "  key_file: server.key\n"
              "  client_auth_type: RequireAndVerifyClientCert\n"
              "  client_ca_file: ca.crt\n"
              "  min_version: TLS12\n"
              "basic_auth_users:\n"
              "  prometheus: '" +
                  hash +
                  "'\n"
                  "http_server_config:\n"
                  "  headers: {Strict-Transport-Security: max-age=31536000}\n");
  }

  StartedGatewatch Start(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {GATEWATCH_BINARY, "--web.listen-address=127.0.0.1:0",
                                     "--web.config.file=" + d_ + "/web.yml",
                                     "--web.probe-address=127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return StartGatewatch(argv);
  }

  // TLS with the client certificate, plus `more` (credentials).
  std::vector<std::string> Tls(std::vector<std::string> more = {}) {
    std::vector<std::string> a = {"--cacert",         d_ + "/ca.crt", "--cert",
                                  d_ + "/client.crt", "--key",        d_ + "/client.key"};
    a.insert(a.end(), more.begin(), more.end());
    return a;
  }

  TempDir dir_;
  std::string d_, hash_;
};

TEST_F(WebSecurityTest, CurlNeedsCertificateAndPassword) {
  StartedGatewatch gw = Start();
  ASSERT_NE(gw.port, 0) << gw.process->Stderr();
  std::string base = "https://127.0.0.1:" + std::to_string(gw.port);

  Curl ok = CurlRun(d_, Tls({"-u", "prometheus:s3cret"}), base + "/metrics");
  EXPECT_EQ(ok.status, 200) << ok.headers << gw.process->Stderr();
  EXPECT_NE(ok.body.find("gatewatch_build_info"), std::string::npos);
  EXPECT_NE(ok.headers.find("Strict-Transport-Security: max-age=31536000"), std::string::npos);

  Curl anonymous = CurlRun(d_, Tls(), base + "/metrics");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_NE(anonymous.headers.find("WWW-Authenticate: Basic"), std::string::npos)
      << anonymous.headers;
  EXPECT_EQ(anonymous.body.find("gatewatch_build_info"), std::string::npos);
  // Every path, the status API (internal addresses) and the probes of the main port included.
  EXPECT_EQ(CurlRun(d_, Tls(), base + "/api/v1/status").status, 401);
  EXPECT_EQ(CurlRun(d_, Tls(), base + "/-/healthy").status, 401);
  EXPECT_EQ(CurlRun(d_, Tls({"-u", "prometheus:wrong"}), base + "/metrics").status, 401);
  EXPECT_EQ(CurlRun(d_, Tls({"-u", "alice:s3cret"}), base + "/metrics").status, 401);

  // Without a client certificate the handshake fails: no HTTP answer at all.
  Curl no_cert =
      CurlRun(d_, {"--cacert", d_ + "/ca.crt", "-u", "prometheus:s3cret"}, base + "/metrics");
  EXPECT_NE(no_cert.exit_code, 0);
  EXPECT_EQ(no_cert.status, 0);
  // Plain HTTP to the TLS port: no answer either.
  Curl plain = CurlRun(d_, {"-u", "prometheus:s3cret"},
                       "http://127.0.0.1:" + std::to_string(gw.port) + "/metrics");
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_EQ(plain.status, 0);

  // Lifecycle off by default: 403, as Prometheus answers.
  Curl reload = CurlRun(d_, Tls({"-u", "prometheus:s3cret", "-X", "POST"}), base + "/-/reload");
  EXPECT_EQ(reload.status, 403);
  EXPECT_EQ(reload.body, "Lifecycle API is not enabled.\n");

  // The probe listener: plain, no auth, only the two probe paths.
  int probe = ProbePortFromLog(gw.process->Stderr());
  ASSERT_NE(probe, 0) << gw.process->Stderr();
  std::string probe_base = "http://127.0.0.1:" + std::to_string(probe);
  // (Healthy means the loop has turned since start: wait for its first turn.)
  EXPECT_TRUE(
      WaitFor([&] { return HttpGet(probe_base + "/-/healthy").status == 200; }, seconds(10)));
  EXPECT_EQ(HttpGet(probe_base + "/-/ready").status, 200);
  EXPECT_EQ(HttpGet(probe_base + "/metrics").status, 404);
  EXPECT_EQ(HttpGet(probe_base + "/api/v1/status").status, 404);

  // The refusals are counted.
  Curl metrics = CurlRun(d_, Tls({"-u", "prometheus:s3cret"}), base + "/metrics");
  auto at = metrics.body.find("\ngatewatch_web_auth_failures_total ");
  ASSERT_NE(at, std::string::npos) << metrics.body.substr(0, 2000);
  EXPECT_GE(std::atof(metrics.body.c_str() + at + 35), 5.0);
}

TEST_F(WebSecurityTest, ReloadSwapsUsersAndKeepsTheOldFileOnError) {
  StartedGatewatch gw = Start({"--web.enable-lifecycle"});
  ASSERT_NE(gw.port, 0) << gw.process->Stderr();
  std::string base = "https://127.0.0.1:" + std::to_string(gw.port);
  auto get = [&](const std::string& password) {
    return CurlRun(d_, Tls({"-u", "prometheus:" + password}), base + "/-/ready").status;
  };
  ASSERT_EQ(get("s3cret"), 200);

  // With the flag, POST /-/reload works (with credentials).
  Curl reload = CurlRun(d_, Tls({"-u", "prometheus:s3cret", "-X", "POST"}), base + "/-/reload");
  EXPECT_EQ(reload.status, 200) << reload.body;
  EXPECT_EQ(CurlRun(d_, Tls({"-X", "POST"}), base + "/-/reload").status, 401);

  // A broken file: the running users stay.
  WriteFile(d_ + "/web.yml", "basic_auth_users: {prometheus: not-a-hash}\n");
  gw.process->Signal(SIGHUP);
  ASSERT_TRUE(WaitFor(
      [&] { return gw.process->Stderr().find("web config reload failed") != std::string::npos; },
      seconds(10)));
  EXPECT_NE(gw.process->Stderr().find("basic_auth_users.prometheus: not a bcrypt hash"),
            std::string::npos);
  EXPECT_EQ(get("s3cret"), 200);

  // A new password applies at the next request, without a restart.
  WriteWebConfig(Bcrypt("n3w"));
  gw.process->Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return get("n3w") == 200; }, seconds(10)));
  EXPECT_EQ(get("s3cret"), 401);

  // TLS settings are civetweb's start options: a change is reported, and applies at a restart.
  std::string web = ReadFile(d_ + "/web.yml");
  web.replace(web.find("TLS12"), 5, "TLS13");
  WriteFile(d_ + "/web.yml", web);
  gw.process->Signal(SIGHUP);
  EXPECT_TRUE(WaitFor(
      [&] { return gw.process->Stderr().find("applies at the next restart") != std::string::npos; },
      seconds(10)));
  EXPECT_EQ(get("n3w"), 200);
}

// exporter-toolkit's other policies as civetweb applies them: a certificate is optional with
// VerifyClientCertIfGiven but one from another CA is still refused; min_version holds.
TEST_F(WebSecurityTest, VerifyIfGivenAndMinVersion) {
  RunOk({kOpenssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=rogue", "-keyout", d_ + "/rogue.key", "-out", d_ + "/rogue.crt"});
  WriteFile(d_ + "/web.yml",
            "tls_server_config: {cert_file: server.crt, key_file: server.key, client_auth_type: "
            "VerifyClientCertIfGiven, client_ca_file: ca.crt, min_version: TLS13}\n");
  StartedGatewatch gw = Start();
  ASSERT_NE(gw.port, 0) << gw.process->Stderr();
  std::string url = "https://127.0.0.1:" + std::to_string(gw.port) + "/-/ready";
  EXPECT_EQ(CurlRun(d_, {"--cacert", d_ + "/ca.crt"}, url).status, 200);  // no certificate: fine
  EXPECT_EQ(CurlRun(d_, Tls(), url).status, 200);
  Curl rogue = CurlRun(
      d_, {"--cacert", d_ + "/ca.crt", "--cert", d_ + "/rogue.crt", "--key", d_ + "/rogue.key"},
      url);
  EXPECT_EQ(rogue.status, 0);
  EXPECT_NE(rogue.exit_code, 0);
  Curl old_tls = CurlRun(d_, {"--cacert", d_ + "/ca.crt", "--tls-max", "1.2"}, url);
  EXPECT_EQ(old_tls.status, 0);
  EXPECT_NE(old_tls.exit_code, 0);
  // No users: no auth.
  EXPECT_EQ(CurlRun(d_, {"--cacert", d_ + "/ca.crt"},
                    "https://127.0.0.1:" + std::to_string(gw.port) + "/metrics")
                .status,
            200);
}

TEST_F(WebSecurityTest, AKeyThatDoesNotMatchFailsTheStart) {
  WriteFile(d_ + "/web.yml", "tls_server_config: {cert_file: server.crt, key_file: client.key}\n");
  auto agent = RunToExit({GATEWATCH_BINARY, "--web.listen-address=127.0.0.1:0",
                          "--web.config.file=" + d_ + "/web.yml"},
                         seconds(10));
  EXPECT_EQ(agent.exit_code, 1) << agent.err;
  EXPECT_NE(agent.err.find("cannot serve"), std::string::npos) << agent.err;
}

TEST_F(WebSecurityTest, InvalidWebConfigFailsStartAndCheckWithTheKeyPath) {
  WriteFile(d_ + "/bad.yml", "basic_auth_users:\n  alice: secret\n");
  auto check =
      RunToExit({GATEWATCH_BINARY, "--web.config.check", "--web.config.file=" + d_ + "/bad.yml"},
                seconds(10));
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.err.find("basic_auth_users.alice: not a bcrypt hash"), std::string::npos)
      << check.err;
  auto good =
      RunToExit({GATEWATCH_BINARY, "--web.config.check", "--web.config.file=" + d_ + "/web.yml"},
                seconds(10));
  EXPECT_EQ(good.exit_code, 0) << good.err;
  auto agent = RunToExit({GATEWATCH_BINARY, "--web.listen-address=127.0.0.1:0",
                          "--web.config.file=" + d_ + "/bad.yml"},
                         seconds(10));
  EXPECT_EQ(agent.exit_code, 1);
  EXPECT_NE(agent.err.find("basic_auth_users.alice: not a bcrypt hash"), std::string::npos)
      << agent.err;
}

TEST_F(WebSecurityTest, PrometheusScrapesOverTlsWithBasicAuthAndAClientCertificate) {
  if (access(kPrometheus, X_OK) != 0) GTEST_SKIP() << "prometheus not installed";
  StartedGatewatch gw = Start();
  ASSERT_NE(gw.port, 0) << gw.process->Stderr();
  int prom_port = FreeTcpPort();
  WriteFile(d_ + "/prometheus.yml",
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: gatewatch\n"
            "    scheme: https\n"
            "    tls_config: {ca_file: " +
                d_ + "/ca.crt, cert_file: " + d_ + "/client.crt, key_file: " + d_ +
                "/client.key}\n"
                "    basic_auth: {username: prometheus, password: s3cret}\n"
                "    static_configs: [{targets: ['127.0.0.1:" +
                std::to_string(gw.port) + "']}]\n");
  Process prometheus({kPrometheus, "--config.file=" + d_ + "/prometheus.yml",
                      "--storage.tsdb.path=" + d_ + "/tsdb",
                      "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)});
  std::string prom = "http://127.0.0.1:" + std::to_string(prom_port);
  ASSERT_TRUE(WaitFor([&] { return HttpGet(prom + "/-/ready").status == 200; }, seconds(60)))
      << prometheus.Stderr();
  std::string last;
  bool up = WaitFor(
      [&] {
        auto r = HttpGet(prom + "/api/v1/targets");
        last = r.body;
        auto json = nlohmann::json::parse(r.body, nullptr, false);
        if (json.is_discarded()) return false;
        for (const auto& t : json["data"]["activeTargets"]) {
          if (t.value("health", "") == "up" && t.value("scrapeUrl", "").starts_with("https://"))
            return true;
        }
        return false;
      },
      seconds(30));
  EXPECT_TRUE(up) << last;
  // And the samples arrived: Prometheus's own query API.
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = HttpGet(prom + "/api/v1/query?query=gatewatch_build_info");
        return r.body.find("\"job\":\"gatewatch\"") != std::string::npos;
      },
      seconds(15)));
}

// A socket to 127.0.0.1:port that has sent `prefix` (maybe nothing) and then waits.
UniqueFd Hold(int port, const std::string& prefix) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return UniqueFd();
  if (!prefix.empty()) (void)::send(fd.get(), prefix.data(), prefix.size(), MSG_NOSIGNAL);
  return fd;
}

// Closed by the server within `limit` (an error answer before the close is fine): recv gives 0
// (or an error).
bool ClosedWithin(int fd, milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[256];
    if (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) return true;
  }
  return false;
}

// The starvation of issue 16: on the old server (4 workers, 10 s request timeout) six slow
// connections made /-/healthy miss its deadline. Ten are held here (six half-sent headers, four
// idle keep-alive-style connections) while the probes and a scrape must still answer in time.
TEST(WebRobustnessTest, SlowClientsDoNotStarveProbesOrScrapes) {
  TempDir dir;
  StartedGatewatch gw = StartGatewatch(
      {GATEWATCH_BINARY, "--web.listen-address=127.0.0.1:0", "--web.probe-address=127.0.0.1:0"});
  ASSERT_NE(gw.port, 0) << gw.process->Stderr();
  int probe = ProbePortFromLog(gw.process->Stderr());
  ASSERT_NE(probe, 0) << gw.process->Stderr();
  std::string main = "http://127.0.0.1:" + std::to_string(gw.port);
  // The loop's first turn (healthy means it turns) before the slow clients come.
  ASSERT_TRUE(WaitFor([&] { return HttpGet(main + "/-/healthy").status == 200; }, seconds(10)));
  std::vector<UniqueFd> held;
  for (int i = 0; i < 6; ++i) {
    held.push_back(Hold(gw.port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));
  }
  for (int i = 0; i < 4; ++i) held.push_back(Hold(gw.port, ""));
  for (const auto& fd : held) ASSERT_TRUE(fd.valid());
  // The kubelet's deadlines: 1 s for a probe; a scrape gets 3 s.
  for (int round = 0; round < 5; ++round) {
    EXPECT_EQ(
        HttpGet("http://127.0.0.1:" + std::to_string(probe) + "/-/healthy", seconds(1)).status, 200)
        << "round " << round;
    EXPECT_EQ(HttpGet(main + "/-/healthy", seconds(1)).status, 200) << "round " << round;
    auto scrape = HttpGet(main + "/metrics", seconds(3));
    EXPECT_EQ(scrape.status, 200) << "round " << round;
    EXPECT_NE(scrape.body.find("gatewatch_build_info"), std::string::npos);
    usleep(200 * 1000);
  }
  // And the slow ones do not keep their workers: the server closes them after its request
  // timeout (5 s), long before a scrape interval of minutes would pile them up.
  for (const auto& fd : held) EXPECT_TRUE(ClosedWithin(fd.get(), seconds(15)));
}

// A burst of reloads (the careless neighbour's 100 a second): at most one runs at a time and at
// most one starts per second; the rest get 429 at once instead of queueing workers on the loop.
TEST(WebRobustnessTest, ReloadBurstIsRateLimited) {
  TempDir dir;
  std::string config = dir.path() + "/gatewatch.yml";
  WriteFile(config, "checks: []\n");
  StartedGatewatch gw = StartGatewatch({GATEWATCH_BINARY, "--web.listen-address=127.0.0.1:0",
                                        "--config.file=" + config, "--web.enable-lifecycle"});
  ASSERT_NE(gw.port, 0) << gw.process->Stderr();
  std::string url = "http://127.0.0.1:" + std::to_string(gw.port) + "/-/reload";
  std::atomic<int> ok{0}, limited{0}, other{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int i = 0; i < 12; ++i) {
    clients.emplace_back([&] {
      long status = HttpPost(url, seconds(5)).status;
      (status == 200 ? ok : status == 429 ? limited : other)++;
    });
  }
  for (auto& t : clients) t.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GE(ok.load(), 1);
  EXPECT_LE(ok.load(), static_cast<int>(elapsed) + 1) << elapsed << " s";
  EXPECT_GE(limited.load(), 12 - (static_cast<int>(elapsed) + 1));
  // SIGHUP is not rate-limited: it always reloads.
  gw.process->Signal(SIGHUP);
  EXPECT_TRUE(WaitFor(
      [&] {
        std::string log = gw.process->Stderr();
        size_t n = 0;
        for (size_t at = log.find("config reloaded"); at != std::string::npos;
             at = log.find("config reloaded", at + 1))
          ++n;
        return n == static_cast<size_t>(ok.load()) + 1;
      },
      seconds(10)));
}

}  // namespace
}  // namespace gatewatch::testing
