// The status page in a real browser: Debian's chromium, headless, loads `/` and a check's page
// from a running agent whose checks are in several states, and the rendered text says what a
// person needs (failing first, reason and cause in words, evidence). Screenshots are kept as test
// artifacts in the build directory (status-page.png, status-page-phone.png,
// status-page-check.png); docs/status-page.png is a copy.
//
// Skipped when /usr/bin/chromium is absent, unless GATEWATCH_REQUIRE_BROWSER_TEST=1.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/testlib/fake_http_server.h"
#include "tests/testlib/gatewatch_process.h"
#include "tests/testlib/http_client.h"
#include "tests/testlib/process.h"
#include "tests/testlib/temp_dir.h"

namespace gatewatch::testing {
namespace {

using std::chrono::seconds;

constexpr char kChromium[] = "/usr/bin/chromium";

class StatusPageBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access(kChromium, X_OK) != 0) {
      const char* require = std::getenv("GATEWATCH_REQUIRE_BROWSER_TEST");
      if (require != nullptr && std::string(require) == "1") {
        FAIL() << kChromium << " is missing (Debian package chromium; deploy/setup.sh installs it)";
      }
      GTEST_SKIP() << kChromium << " is missing (Debian package chromium)";
    }
  }

  std::vector<std::string> Chromium(std::vector<std::string> args) {
    std::vector<std::string> argv = {kChromium,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-background-networking",
                                     "--disable-component-update",
                                     "--disable-sync",
                                     "--no-first-run",
                                     "--hide-scrollbars",
                                     "--user-data-dir=" + profile_.path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // The DOM after the page was rendered by the browser.
  std::string DumpDom(const std::string& url) {
    CommandResult r = RunToExit(Chromium({"--dump-dom", url}), seconds(60));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  void Screenshot(const std::string& url, const std::string& file, const std::string& size) {
    std::remove(file.c_str());
    CommandResult r =
        RunToExit(Chromium({"--screenshot=" + file, "--window-size=" + size, url}), seconds(60));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::ifstream in(file, std::ios::binary);
    std::string head(8, '\0');
    in.read(head.data(), 8);
    EXPECT_EQ(head, "\x89PNG\r\n\x1a\n") << file;
    in.seekg(0, std::ios::end);
    EXPECT_GT(static_cast<long>(in.tellg()), 5000) << file << " looks empty";
  }

  TempDir dir_;
  TempDir profile_;
};

TEST_F(StatusPageBrowserTest, RendersChecksInSeveralStatesFailingFirst) {
  FakeHttpServer up(FakeHttpServer::Behaviour::kOk);
  FakeHttpServer bad_gateway(FakeHttpServer::Behaviour::kOk, 502);
  FakeHttpServer hang(FakeHttpServer::Behaviour::kHang);
  RefusingPort dead;
  auto url = [](int port) { return "http://127.0.0.1:" + std::to_string(port) + "/"; };
  std::string config = dir_.path() + "/gatewatch.yml";
  std::ofstream(config) << "defaults: {interval: 1s, timeout: 300ms}\n"
                           "checks:\n"
                           "  - {name: shop-api, type: http, url: '"
                        << url(up.port())
                        << "'}\n"
                           "  - {name: checkout, type: http, url: '"
                        << url(bad_gateway.port())
                        << "'}\n"
                           "  - {name: payments, type: http, url: '"
                        << url(dead.port())
                        << "'}\n"
                           "  - {name: search, type: http, url: '"
                        << url(hang.port())
                        << "'}\n"
                           // Two services (docs/diagnosis.md): shop's probes fail (a verdict at
                           // the top of the page), catalog's pass (healthy, one line).
                           "services:\n"
                           "  - {name: shop, checks: [checkout, payments]}\n"
                           "  - {name: catalog, checks: [shop-api]}\n";
  auto started = StartGatewatch(
      {GATEWATCH_BINARY, "--config.file=" + config, "--web.listen-address=127.0.0.1:0"});
  ASSERT_NE(started.port, 0) << started.process->Stderr();
  const std::string base = "http://127.0.0.1:" + std::to_string(started.port);
  // Every check has run at least twice.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto j = nlohmann::json::parse(HttpGet(base + "/api/v1/checks").body, nullptr, false);
        if (!j.is_object()) return false;
        for (const auto& c : j["checks"]) {
          if (c["runs_total"].get<int>() < 2) return false;
        }
        return j["checks"].size() == 4;
      },
      seconds(15)));

  std::string dom = DumpDom(base + "/");
  EXPECT_NE(dom.find("1 service with a verdict, 3 failing, 1 ok, 0 not run yet"), std::string::npos)
      << dom;
  // shop's verdict heads the page, before every check: cause (why), since, confidence and the
  // evidence of its failing probes; catalog is listed as healthy.
  size_t verdict = dom.find("upstream_down (");
  ASSERT_NE(verdict, std::string::npos) << dom;
  EXPECT_NE(dom.find("confidence 0."), std::string::npos);
  EXPECT_NE(dom.find("<b>payments</b> (probe) payments connection_refused: connect() to"),
            std::string::npos)
      << dom;
  EXPECT_NE(dom.find("Healthy (no verdict): catalog."), std::string::npos);
  // The checks' own headings (their names also appear in the verdict's evidence).
  auto heading = [&](const std::string& name) {
    return dom.find("href=\"/checks/" + name + "\">" + name + "<");
  };
  size_t checkout = heading("checkout"), payments = heading("payments"), search = heading("search"),
         shop = heading("shop-api");
  ASSERT_NE(checkout, std::string::npos) << dom;
  ASSERT_NE(payments, std::string::npos);
  ASSERT_NE(search, std::string::npos);
  ASSERT_NE(shop, std::string::npos);
  EXPECT_LT(verdict, checkout);  // the services' verdicts before the checks
  EXPECT_LT(checkout, shop);     // failing first (by name among them), the ok one last
  EXPECT_LT(payments, shop);
  EXPECT_LT(search, shop);
  EXPECT_LT(checkout, payments);
  EXPECT_NE(dom.find("the connection was refused: nothing listens on the port"), std::string::npos);
  EXPECT_NE(dom.find("the response was 502 Bad Gateway"), std::string::npos);
  EXPECT_NE(dom.find("connected, but the response did not complete before the deadline"),
            std::string::npos);
  EXPECT_NE(dom.find("the upstream is down"), std::string::npos);
  EXPECT_NE(dom.find("the upstream is overloaded"), std::string::npos);
  EXPECT_NE(dom.find("failing since"), std::string::npos);
  EXPECT_NE(dom.find("href=\"/metrics\""), std::string::npos);

  std::string check = DumpDom(base + "/checks/checkout");
  EXPECT_NE(check.find("Recent failures"), std::string::npos) << check;
  EXPECT_NE(check.find("response_head"), std::string::npos);
  EXPECT_NE(check.find("HTTP/1.1 502"), std::string::npos);
  EXPECT_NE(DumpDom(base + "/checks/nope").find("No check named nope"), std::string::npos);

  const std::string artifacts = GATEWATCH_ARTIFACT_DIR;
  Screenshot(base + "/", artifacts + "/status-page.png", "1100,900");
  Screenshot(base + "/", artifacts + "/status-page-phone.png", "400,1000");
  Screenshot(base + "/checks/checkout", artifacts + "/status-page-check.png", "1100,1200");
}

}  // namespace
}  // namespace gatewatch::testing
