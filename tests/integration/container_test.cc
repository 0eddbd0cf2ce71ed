// The image as users run it: built from deploy/Dockerfile with podman (a FROM scratch image: the
// binary, the libraries it loads, CA certificates, passwd), started as a real container next to a
// real nginx (host network, non-root, read-only root filesystem, config and nginx's log folder
// mounted read-only), probing https against a local CA and DNS against a real dnsmasq, scraped on
// /metrics, serving TLS itself, and stopped with `podman stop`.
//
// Needs root, podman, runc and debootstrap (deploy/setup.sh installs them). Where containers cannot
// run (e.g. inside an unprivileged container) the test skips and says why, unless
// GATEWATCH_REQUIRE_CONTAINER_TEST=1 (set by .ci/run under CI=true) turns that into a failure.
// One ctest entry (label "container"): the image is built once for all of its tests.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>

#include "tests/testlib/dnsmasq.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/metrics_text.h"
#include "tests/testlib/nginx.h"
#include "tests/testlib/process.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kImage[] = "localhost/gatewatch:ctest";
// crun fails on this kind of host (cgroups hybrid mode); runc works. setrlimit above the host's
// hard limit is refused, hence the lowered ulimits.
const std::vector<std::string> kPodman = {"podman", "--runtime", "/usr/sbin/runc"};
const std::vector<std::string> kLimits = {"--ulimit", "nofile=1024:1024", "--ulimit",
                                          "nproc=1024:1024"};
// The issue's goal for the minimal image, uncompressed (what `podman image inspect` reports).
constexpr long long kMaxImageBytes = 30LL * 1000 * 1000;
constexpr char kOpenssl[] = "/usr/bin/openssl";
constexpr char kCurl[] = "/usr/bin/curl";

std::vector<std::string> Cat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Why containers cannot run here, or "" when they can.
std::string ContainerUnavailable() {
  if (geteuid() != 0) return "not root (podman here runs rootful with runc)";
  for (const char* tool : {"/usr/bin/podman", "/usr/sbin/runc", "/usr/sbin/debootstrap"}) {
    if (access(tool, X_OK) != 0) {
      return std::string(tool) + " is missing (deploy/setup.sh installs podman, runc, debootstrap)";
    }
  }
  // Inside a podman container (podman writes /run/.containerenv; fresh-debian-run is one) nested
  // podman fails on storage ("'overlay' is not supported over overlayfs", only from its second
  // call on) and debootstrap on mknod: no cheap probe is reliable there. (/.dockerenv is no sign:
  // hosts that run podman fine can themselves be docker containers.)
  if (access("/run/.containerenv", F_OK) == 0) {
    return "running inside a podman container (/run/.containerenv): nested podman needs a "
           "privileged host";
  }
  CommandResult images = RunToExit(Cat(kPodman, {"images", "--quiet"}), seconds(60));
  if (images.exit_code != 0) return "podman cannot use its storage here: " + images.err;
  return "";
}

class ContainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    unavailable_ = new std::string(ContainerUnavailable());
    if (!unavailable_->empty()) return;
    auto start = std::chrono::steady_clock::now();
    build_ = new CommandResult(
        RunToExit({std::string(GATEWATCH_SOURCE_DIR) + "/deploy/container/build-image.sh", kImage},
                  seconds(900)));
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CommandResult size =
        RunToExit(Cat(kPodman, {"image", "inspect", "--format", "{{.Size}}", kImage}), seconds(30));
    std::cout << "[ figure ] image " << kImage << ": " << size.out.substr(0, size.out.find('\n'))
              << " bytes, built (base cached or made) in " << took << " s\n";
  }
  static void TearDownTestSuite() {
    delete unavailable_;
    delete build_;
  }

  void SetUp() override {
    if (unavailable_->empty()) {
      for (const char* tool : {kOpenssl, kCurl}) {
        if (access(tool, X_OK) != 0) *unavailable_ = std::string(tool) + " is missing";
      }
    }
    if (!unavailable_->empty()) {
      const char* require = std::getenv("GATEWATCH_REQUIRE_CONTAINER_TEST");
      if (require != nullptr && std::string(require) == "1") {
        FAIL() << "containers cannot run here but GATEWATCH_REQUIRE_CONTAINER_TEST=1: "
               << *unavailable_;
      }
      GTEST_SKIP() << "container test skipped: " << *unavailable_;
    }
    ASSERT_TRUE(build_->exit_code == 0)
        << "image build failed:\n"
        << build_->out.substr(build_->out.size() > 4000 ? build_->out.size() - 4000 : 0)
        << build_->err;
    name_ = "gatewatch-ctest-" + std::to_string(getpid());
  }

  void TearDown() override {
    if (!name_.empty()) RunToExit(Cat(kPodman, {"rm", "-f", "-t", "0", name_}), seconds(30));
  }

  // Starts the image like the Kubernetes manifests do: as the image's own (non-root) user,
  // read-only root filesystem, no capabilities, the config folder (dir_: gatewatch.yml and the
  // test's certificates) and the log folder mounted read-only. `ready` tells when it serves.
  void StartContainer(const std::string& config_yaml, const std::string& log_dir,
                      const std::vector<std::string>& extra_args = {},
                      const std::function<bool()>& ready = nullptr) {
    config_ = dir_.path() + "/gatewatch.yml";
    std::ofstream(config_) << config_yaml;
    port_ = FreeTcpPort();
    container_ = std::make_unique<Process>(
        Cat(Cat(kPodman, {"run", "--rm", "--name", name_, "--network=host"}),
            Cat(Cat(kLimits,
                    {"--read-only", "--cap-drop=ALL", "--security-opt", "no-new-privileges", "-v",
                     dir_.path() + ":/etc/gatewatch:ro", "-v", log_dir + ":/var/log/nginx:ro",
                     kImage, "--config.file=/etc/gatewatch/gatewatch.yml",
                     "--web.listen-address=127.0.0.1:" + std::to_string(port_)}),
                extra_args)));
    int status = 0;
    bool exited = false;
    ASSERT_TRUE(WaitFor(
        [&] {
          exited = exited || container_->WaitExit(milliseconds(0), &status);
          return exited || (ready ? ready() : Get("/-/ready").status == 200);
        },
        seconds(30)));
    ASSERT_FALSE(exited) << "the container exited: " << container_->Stderr();
  }

  // A CA and a certificate for localhost and 127.0.0.1 signed by it, in dir_ (mounted at
  // /etc/gatewatch in the container): ca.crt, server.crt, server.key.
  void MakeCertificates() {
    const std::string d = dir_.path();
    auto run = [](const std::vector<std::string>& argv) {
      CommandResult r = RunToExit(argv, seconds(30));
      ASSERT_EQ(r.exit_code, 0) << argv[1] << ": " << r.err;
    };
    ASSERT_NO_FATAL_FAILURE(
        run({kOpenssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             "/CN=gatewatch container test CA", "-keyout", d + "/ca.key", "-out", d + "/ca.crt"}));
    std::ofstream(d + "/server.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    ASSERT_NO_FATAL_FAILURE(
        run({kOpenssl, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
             d + "/server.key", "-out", d + "/server.csr"}));
    ASSERT_NO_FATAL_FAILURE(run({kOpenssl, "x509", "-req", "-in", d + "/server.csr", "-CA",
                                 d + "/ca.crt", "-CAkey", d + "/ca.key", "-CAcreateserial", "-days",
                                 "2", "-extfile", d + "/server.ext", "-out", d + "/server.crt"}));
    // The container runs as nobody: the key must be readable by it.
    ::chmod((d + "/server.key").c_str(), 0644);
  }

  HttpResponse Get(const std::string& path) {
    return HttpGet("http://127.0.0.1:" + std::to_string(port_) + path);
  }

  static std::string* unavailable_;
  static CommandResult* build_;
  TempDir dir_;
  std::string name_, config_;
  int port_ = 0;
  std::unique_ptr<Process> container_;
};

std::string* ContainerTest::unavailable_ = nullptr;
CommandResult* ContainerTest::build_ = nullptr;

// nginx in front of a healthy upstream and dead ones, logging in the recommended format
// (deploy/nginx/gatewatch-log-format.conf) into logs/, the folder the container reads. The probes
// use /healthz and /dead; the test's own traffic /api and /gone, on upstreams of their own, so the
// proxy-log counters of those are exact.
std::string NginxBlock(int edge, int upstream, int api, int dead, int gone) {
  std::string log_format =
      ReadFile(std::string(GATEWATCH_SOURCE_DIR) + "/deploy/nginx/gatewatch-log-format.conf");
  log_format = log_format.substr(log_format.find("log_format gatewatch"));
  auto port = [](int p) { return std::to_string(p); };
  return "  " + log_format + "  server { listen 127.0.0.1:" + port(upstream) +
         "; listen 127.0.0.1:" + port(api) +
         "; access_log off; location / { return 200 \"ok\\n\"; } }\n"
         "  server { listen 127.0.0.1:" +
         port(edge) +
         ";\n"
         "    access_log logs/access.log gatewatch;\n"
         "    error_log logs/error.log;\n"
         "    location /healthz { proxy_pass http://127.0.0.1:" +
         port(upstream) + "; }\n    location /dead { proxy_pass http://127.0.0.1:" + port(dead) +
         "; }\n    location /api { proxy_pass http://127.0.0.1:" + port(api) +
         "; }\n    location /gone { proxy_pass http://127.0.0.1:" + port(gone) + "; }\n  }\n";
}

TEST_F(ContainerTest, ImageRunsAsNonRootAndExposesTheMetricsPort) {
  CommandResult inspect = RunToExit(
      Cat(kPodman, {"image", "inspect", "--format",
                    "{{.Config.User}}|{{.Config.ExposedPorts}}|{{.Config.Entrypoint}}", kImage}),
      seconds(30));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(inspect.out, "65534:65534|map[9142/tcp:{}]|[/usr/local/bin/gatewatch]\n");
  // The minimal image: no shell (nor anything else than gatewatch and what it loads), and small.
  CommandResult sh =
      RunToExit(Cat(Cat(kPodman, {"run", "--rm", "--network=host"}),
                    Cat(kLimits, {"--read-only", "--entrypoint", "/bin/sh", kImage, "-c", "true"})),
                seconds(60));
  EXPECT_NE(sh.exit_code, 0) << "the image has a shell";
  CommandResult size =
      RunToExit(Cat(kPodman, {"image", "inspect", "--format", "{{.Size}}", kImage}), seconds(30));
  ASSERT_EQ(size.exit_code, 0) << size.err;
  long long bytes = std::atoll(size.out.c_str());
  EXPECT_GT(bytes, 0) << size.out;
  EXPECT_LE(bytes, kMaxImageBytes) << "the image is " << bytes << " bytes";
  // Without arguments it starts on the embedded default config: every library it needs is there.
  CommandResult version = RunToExit(Cat(Cat(kPodman, {"run", "--rm", "--network=host"}),
                                        Cat(kLimits, {"--read-only", kImage, "--version"})),
                                    seconds(60));
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out.rfind("gatewatch ", 0), 0u) << version.out;
}

// The metrics port served over TLS by civetweb, which dlopen()s libssl.so and libcrypto.so: the
// image must carry those (unversioned) names, or it serves plain nothing.
TEST_F(ContainerTest, ServesItsMetricsOverTls) {
  ASSERT_NO_FATAL_FAILURE(MakeCertificates());
  std::ofstream(dir_.path() + "/web.yml")
      << "tls_server_config: {cert_file: server.crt, key_file: server.key}\n";
  auto scrape = [&] {
    return RunToExit({kCurl, "-sS", "--max-time", "5", "--cacert", dir_.path() + "/ca.crt",
                      "https://localhost:" + std::to_string(port_) + "/metrics"},
                     seconds(10));
  };
  ASSERT_NO_FATAL_FAILURE(StartContainer("checks: []\n", dir_.path(),
                                         {"--web.config.file=/etc/gatewatch/web.yml"},
                                         [&] { return scrape().exit_code == 0; }));
  CommandResult metrics;
  ASSERT_TRUE(WaitFor([&] { return (metrics = scrape()).exit_code == 0; }, seconds(20)))
      << metrics.err << container_->Stderr();
  EXPECT_NE(metrics.out.find("gatewatch_build_info"), std::string::npos) << metrics.out;
  // Plain http on the TLS port gets no metrics.
  EXPECT_NE(Get("/metrics").status, 200);
}

TEST_F(ContainerTest, RunsReadOnlyAsNonRootNextToNginxAndStopsCleanly) {
  int edge = FreeTcpPort(), upstream = FreeTcpPort(), api = FreeTcpPort(), tls = FreeTcpPort();
  RefusingPort dead, gone;
  ASSERT_NO_FATAL_FAILURE(MakeCertificates());
  // https on nginx with a certificate from the test's own CA.
  NginxInstance nginx(NginxBlock(edge, upstream, api, dead.port(), gone.port()) +
                      "  server { listen 127.0.0.1:" + std::to_string(tls) +
                      " ssl; access_log off;\n    ssl_certificate " + dir_.path() +
                      "/server.crt;\n    ssl_certificate_key " + dir_.path() +
                      "/server.key;\n    location / { return 200 \"ok\\n\"; }\n  }\n");
  Dnsmasq dns({"--address=/www.example.test/10.0.0.1"});
  // The log folder nginx writes and the container reads (mounted read-only).
  std::string logs = nginx.dir() + "/logs";
  ASSERT_EQ(::mkdir(logs.c_str(), 0755), 0);
  std::string error;
  ASSERT_TRUE(nginx.Start(&error)) << error;
  ASSERT_TRUE(dns.Start(&error)) << error;

  std::string e = "http://127.0.0.1:" + std::to_string(edge);
  std::string https = "https://localhost:" + std::to_string(tls) + "/";
  std::string config = "defaults: {interval: 1s, timeout: 900ms}\nchecks:\n";
  config += "  - {name: edge-ok, type: http, url: \"" + e + "/healthz\"}\n";
  config += "  - {name: edge-dead, type: http, url: \"" + e + "/dead\"}\n";
  config +=
      "  - {name: edge-log, type: proxy_log, format: upstream, "
      "access_log: /var/log/nginx/access.log, error_log: /var/log/nginx/error.log}\n";
  // Verified against the local CA (mounted), and the same server without it: the image's CA
  // bundle does not trust the test's CA, so certificates are verified, not waved through.
  config +=
      "  - {name: tls-ca, type: http, url: \"" + https + "\", ca_file: /etc/gatewatch/ca.crt}\n";
  config += "  - {name: tls-untrusted, type: http, url: \"" + https + "\"}\n";
  config +=
      "  - {name: dns-www, type: dns, query: {name: www.example.test, type: A}, resolvers: [\"" +
      dns.server() + "\"], expect: [\"10.0.0.1\"]}\n";
  ASSERT_NO_FATAL_FAILURE(StartContainer(config, logs));

  std::string metrics;
  ASSERT_TRUE(WaitFor(
      [&] {
        metrics = Get("/metrics").body;
        return Sample(metrics, R"(gatewatch_check_success{check="edge-ok",type="http"})") == 1 &&
               Sample(metrics, R"(gatewatch_check_success{check="edge-dead",type="http"})") == 0 &&
               // The log check's first run opened both logs at their end.
               Sample(metrics, R"(gatewatch_check_success{check="edge-log",type="proxy_log"})") !=
                   -1 &&
               Sample(metrics, R"(gatewatch_check_success{check="tls-ca",type="http"})") == 1 &&
               Sample(metrics, R"(gatewatch_check_success{check="tls-untrusted",type="http"})") ==
                   0 &&
               Sample(metrics, R"(gatewatch_check_success{check="dns-www",type="dns"})") == 1;
      },
      seconds(20)))
      << metrics << container_->Stderr();
  EXPECT_GE(Sample(metrics, R"(gatewatch_check_failures_total{check="tls-untrusted",)"
                            R"(reason="tls_certificate",type="http"})"),
            1)
      << metrics;
  // It runs as nobody (the image's USER), seen from the host.
  CommandResult pid =
      RunToExit(Cat(kPodman, {"inspect", "--format", "{{.State.Pid}}", name_}), seconds(30));
  ASSERT_EQ(pid.exit_code, 0) << pid.err;
  std::string proc_status = ReadFile("/proc/" + pid.out.substr(0, pid.out.find('\n')) + "/status");
  EXPECT_NE(proc_status.find("\nUid:\t65534\t65534\t65534\t65534\n"), std::string::npos)
      << proc_status;
  // The probe through nginx saw nginx's own 502 for the dead upstream, classified.
  EXPECT_GE(Sample(metrics, R"(gatewatch_http_responses_total{check="edge-dead",code="502"})"), 1)
      << metrics;
  EXPECT_GE(
      Sample(metrics,
             R"(gatewatch_check_failures_total{check="edge-dead",reason="http_502",type="http"})"),
      1);

  // Real traffic, read by the container from nginx's logs: counted exactly, per upstream.
  constexpr int kOk = 10, kGone = 4;
  for (int i = 0; i < kOk; ++i) ASSERT_EQ(HttpGet(e + "/api").status, 200);
  for (int i = 0; i < kGone; ++i) ASSERT_EQ(HttpGet(e + "/gone").status, 502);
  auto series = [](const std::string& name, const std::string& label, int port) {
    return name + "{check=\"edge-log\"," + label + ",upstream=\"127.0.0.1:" + std::to_string(port) +
           "\"}";
  };
  std::string ok_series = series("gatewatch_proxy_responses_total", "code=\"2xx\"", api);
  std::string gone_series = series("gatewatch_proxy_responses_total", "code=\"502\"", gone.port());
  std::string refused_series =
      series("gatewatch_proxy_upstream_errors_total", "reason=\"connection_refused\"", gone.port());
  ASSERT_TRUE(WaitFor(
      [&] {
        metrics = Get("/metrics").body;
        return Sample(metrics, ok_series) >= kOk && Sample(metrics, gone_series) >= kGone &&
               Sample(metrics, refused_series) >= kGone;
      },
      seconds(20)))
      << metrics << container_->Stderr();
  EXPECT_EQ(Sample(metrics, ok_series), kOk);
  EXPECT_EQ(Sample(metrics, gone_series), kGone);
  EXPECT_EQ(Sample(metrics, refused_series), kGone);

  EXPECT_EQ(Get("/-/ready").status, 200);
  EXPECT_EQ(Get("/-/healthy").status, 200);

  // podman stop sends SIGTERM and SIGKILLs after 2 s: exit status 0 means gatewatch stopped by
  // itself within those 2 s (a kill would be 137).
  auto start = std::chrono::steady_clock::now();
  CommandResult stop = RunToExit(Cat(kPodman, {"stop", "-t", "2", name_}), seconds(30));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(stop.exit_code, 0) << stop.err;
  int status = 0;
  ASSERT_TRUE(container_->WaitExit(seconds(30), &status));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "container exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1) << "\n"
      << container_->Stderr();
  EXPECT_NE(container_->Stderr().find("gatewatch stopped"), std::string::npos);
  std::cout << "[ figure ] podman stop took " << took << " s\n";
}

}  // namespace
}  // namespace gatewatch::testing
