// Issue 18: "no verdict at all during a clean run of several minutes". Three minutes of a healthy
// service behind a real nginx, checks every 300 ms (about 600 probes), the test's own requests
// through nginx next to the probe's, the diagnosis polled every 200 ms: never a verdict, never
// unhealthy. Its own ctest label (soak): three minutes of one ctest slot (tests/integration/
// CMakeLists.txt says where it runs). GATEWATCH_SOAK_SECONDS shortens or lengthens it.
#include <cstdlib>

#include "tests/integration/diagnosis_fixture.h"

namespace gatewatch::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class DiagnosisSoakTest : public DiagnosisFixture {};

TEST_F(DiagnosisSoakTest, CleanRunOfMinutesHasNoVerdictEver) {
  int soak_seconds = 180;
  if (const char* env = std::getenv("GATEWATCH_SOAK_SECONDS")) soak_seconds = std::atoi(env);
  ASSERT_GT(soak_seconds, 0);
  interval_ = "300ms";
  timeout_ = "250ms";
  window_ = "3s";
  ASSERT_NO_FATAL_FAILURE(StartAgent());
  nlohmann::json s;
  ASSERT_TRUE(WaitFor(
      [&] {
        s = Shop();
        return s.is_object() && s["healthy"] == true && Runs("shop") >= 1;
      },
      seconds(10)))
      << s.dump(1) << agent_->Stderr();
  const double probe_runs = Runs("shop");
  const double log_runs = Runs("nginx");
  const std::string site = "http://127.0.0.1:" + std::to_string(proxy_port_) + "/";

  // Bounded in time and in count (one poll and one request per 200 ms).
  const auto until = std::chrono::steady_clock::now() + seconds(soak_seconds);
  const int max_polls = soak_seconds * 5 + 5;
  int polls = 0, served = 0;
  while (std::chrono::steady_clock::now() < until && polls < max_polls) {
    s = Shop();
    ASSERT_TRUE(s.is_object()) << "the agent stopped answering after " << polls << " polls";
    ASSERT_TRUE(s["verdict"].is_null()) << "a verdict in a clean run, poll " << polls << ":\n"
                                        << s.dump(1);
    ASSERT_EQ(s["healthy"], true) << s.dump(1);
    if (HttpGet(site).status == 200) ++served;
    ++polls;
    std::this_thread::sleep_for(milliseconds(200));
  }
  // It really ran: the probe and the log check kept running, the traffic went through.
  const double probes = Runs("shop") - probe_runs;
  const double log_reads = Runs("nginx") - log_runs;
  std::printf(
      "clean run: %d s, %d polls, %d requests served through nginx, %.0f probes, %.0f log "
      "reads, no verdict\n",
      soak_seconds, polls, served, probes, log_reads);
  EXPECT_GE(polls, soak_seconds * 3);
  EXPECT_EQ(served, polls) << "every request of the test went through nginx";
  EXPECT_GE(probes, soak_seconds * 2);  // every 300 ms: about 3.3 a second
  EXPECT_GE(log_reads, soak_seconds * 2);
  HttpResponse metrics = HttpGet(Url() + "/metrics");
  EXPECT_NE(metrics.body.find("gatewatch_diagnosis{service=\"shop\",cause=\"none\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.body.find("gatewatch_check_runs_total{check=\"shop\",result=\"success\""),
            std::string::npos);
  CommandResult cli = Diagnose("clean run");
  EXPECT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("VERDICT      none (healthy)"), std::string::npos) << cli.out;
}

}  // namespace
}  // namespace gatewatch::testing
