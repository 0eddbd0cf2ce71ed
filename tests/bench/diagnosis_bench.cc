// CPU per evaluation and memory of the diagnosis engine (agent/diagnosis.h, issue 18 part 6),
// measured on a simulated agent: S services of 10 checks each (4 public probes, 1 proxy_log, 2 dns,
// 1 host, 1 cdn_origin, 1 agent-path canary), every check run every 10 s (staggered, so each second
// brings S results), the engine evaluated once a second as the agent's housekeeping does. The mix:
// 10% of the services failing with upstream errors in the proxy's logs (5% refused, 5% timeouts,
// each with a failing probe and 502/504 responses from one of its upstreams), the rest healthy
// (their proxy_log runs still count 2xx responses per upstream, their dns runs answer).
//
// Timed with the process's CPU clock (user+sys, less disturbed by a busy machine than wall time):
//   engine   DiagnosisEngine::Evaluate() alone
//   sink     DiagnosisSink::Evaluate(), what the agent calls: the engine plus publishing the JSON
//            of /api/v1/diagnosis and the metric rows when results came
//   results  OnResult() per result (the engine's share of every check run)
// Memory: heap bytes in use (mallinfo2) held by the sink at steady state (after the window filled).
// Usage: diagnosis_bench [services] [evaluations] (default 100 600). One line, key=value, on
// stdout.
#include <malloc.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "agent/diagnosis.h"
#include "agent/diagnosis_sink.h"
#include "checks/api/check.h"

namespace gatewatch {
namespace {

class StepClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::time_point(now_.time_since_epoch());
  }
  void Step() { now_ += std::chrono::seconds(1); }

 private:
  TimePoint now_ = TimePoint(std::chrono::hours(500'000));
};

// Same names as the proxy_log check's descriptors: the engine reads them by name.
const MetricDesc kErrors{
    "proxy_upstream_errors_total", MetricKind::kCounter, "", {"upstream", "reason"}};
const MetricDesc kResponses{
    "proxy_responses_total", MetricKind::kCounter, "", {"upstream", "code"}};

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

size_t HeapInUse() {
  malloc_trim(0);
  return mallinfo2().uordblks;
}

std::string UpstreamHost(int service, int k) {
  return "10." + std::to_string(service / 200) + "." + std::to_string(service % 200) + "." +
         std::to_string(10 + k);
}
std::string Upstream(int service, int k) { return UpstreamHost(service, k) + ":8080"; }

enum class Health { kOk, kRefused, kTimeout };

// The result of check `role_index` (0..9) of `service` at this run.
Result MakeResult(int service, int role_index, Health h) {
  const std::string bad = Upstream(service, 1);
  if (role_index < 4) {  // public probes through the proxy
    if (h == Health::kOk) {
      Result r = Result::Success();
      r.detail = "200 from 127.0.0.1:443 in 3.1 ms";
      r.report = {{"status", "200"}, {"connect_ms", "0.101"}, {"processing_ms", "2.9"}};
      return r;
    }
    Reason reason = h == Health::kRefused ? Reason::kHttp502 : Reason::kHttp504;
    Result r =
        Result::Failure(reason, "status " + std::string(h == Health::kRefused ? "502" : "504") +
                                    " from 127.0.0.1:443 (expected 2xx)");
    r.report = {{"status", h == Health::kRefused ? "502" : "504"}};
    return r;
  }
  if (role_index == 4) {  // proxy_log: responses per upstream, errors of the bad one
    Result r = h == Health::kOk ? Result::Success()
                                : Result::Failure(Reason::kConnectionRefused, "5xx above 5%");
    if (h == Health::kTimeout) r.reason = Reason::kUpstreamTimeout;
    for (int k = 0; k < 4; ++k)
      r.observations.push_back({&kResponses, {Upstream(service, k), "2xx"}, 250});
    if (h != Health::kOk) {
      r.observations.push_back({&kResponses, {bad, h == Health::kRefused ? "502" : "504"}, 37});
      r.observations.push_back(
          {&kErrors, {bad, h == Health::kRefused ? "connection_refused" : "upstream_timeout"}, 37});
    }
    return r;
  }
  if (role_index < 7) {  // dns of the upstream names
    Result r = Result::Success();
    r.report = {{"query", "backend-" + std::to_string(service) + ".test A"},
                {"127.0.0.1:53", "NOERROR " + UpstreamHost(service, 0) + " " +
                                     UpstreamHost(service, 1) + " " + UpstreamHost(service, 2) +
                                     " " + UpstreamHost(service, 3) + " ttl=30 (0.4 ms) match"}};
    return r;
  }
  Result r = Result::Success();  // host, cdn_origin, canary
  r.report = {{"cpu", "0.31"}, {"memory", "0.54"}};
  return r;
}

int Run(int n_services, int evaluations) {
  const char* kRoles[10] = {"probe", "probe", "probe", "probe",      "proxy_log",
                            "dns",   "dns",   "host",  "cdn_origin", "agent_path"};
  std::vector<CheckSpec> specs(static_cast<size_t>(n_services) * 10);
  std::vector<ServiceSpec> services;
  for (int s = 0; s < n_services; ++s) {
    ServiceSpec svc;
    svc.name = "service-" + std::to_string(s);
    for (int c = 0; c < 10; ++c) {
      CheckSpec& spec = specs[static_cast<size_t>(s) * 10 + c];
      spec.name = svc.name + "-" + kRoles[c] + "-" + std::to_string(c);
      svc.checks.push_back({spec.name, *ParseRole(kRoles[c])});
    }
    services.push_back(std::move(svc));
  }
  auto health = [](int s) {
    return s % 20 == 0 ? Health::kRefused : s % 20 == 10 ? Health::kTimeout : Health::kOk;
  };
  // Results prepared once: the check runs' own cost is not the engine's.
  std::vector<Result> results(specs.size());
  for (int s = 0; s < n_services; ++s)
    for (int c = 0; c < 10; ++c)
      results[static_cast<size_t>(s) * 10 + c] = MakeResult(s, c, health(s));

  StepClock clock;
  size_t heap0 = HeapInUse();
  auto sink = std::make_unique<DiagnosisSink>(clock);
  sink->Configure(services, DiagnosisOptions{});
  DiagnosisEngine engine(clock);
  engine.Configure(services, DiagnosisOptions{});

  double engine_cpu = 0, sink_cpu = 0, result_cpu = 0;
  long results_fed = 0;
  const int warmup = 120;  // two windows: the deques are full and verdicts are held
  for (int second = 0; second < warmup + evaluations; ++second) {
    clock.Step();
    // Every check runs every 10 s: check i at seconds where (second + i) % 10 == 0.
    double t0 = CpuSeconds();
    for (size_t i = 0; i < specs.size(); ++i) {
      if ((second + static_cast<int>(i)) % 10 != 0) continue;
      engine.OnResult(specs[i].name, results[i]);
      ++results_fed;
    }
    double t1 = CpuSeconds();
    engine.Evaluate();
    double t2 = CpuSeconds();
    for (size_t i = 0; i < specs.size(); ++i) {
      if ((second + static_cast<int>(i)) % 10 != 0) continue;
      sink->OnResult(specs[i], results[i]);
    }
    double t3 = CpuSeconds();
    sink->Evaluate();
    double t4 = CpuSeconds();
    if (second == warmup - 1) results_fed = 0;
    if (second >= warmup) {
      result_cpu += t1 - t0;
      engine_cpu += t2 - t1;
      sink_cpu += t4 - t3;
    }
  }
  size_t verdicts = engine.Verdicts().size();
  // Memory: the sink alone (the engine above held the same amount; drop it first).
  engine.Configure({}, DiagnosisOptions{});
  size_t heap1 = HeapInUse();
  std::printf(
      "services=%d checks=%zu evaluations=%d verdicts=%zu engine_us_per_eval=%.1f "
      "sink_us_per_eval=%.1f us_per_result=%.3f heap_kb=%.1f bytes_per_check=%.0f\n",
      n_services, specs.size(), evaluations, verdicts, engine_cpu / evaluations * 1e6,
      sink_cpu / evaluations * 1e6, results_fed > 0 ? result_cpu / results_fed * 1e6 : 0.0,
      static_cast<double>(heap1 - heap0) / 1024.0,
      static_cast<double>(heap1 - heap0) / static_cast<double>(specs.size()));
  // Every failing service has its verdict: a bench of an engine that judges nothing is no bench.
  size_t want = 0;
  for (int s = 0; s < n_services; ++s) want += health(s) != Health::kOk;
  if (verdicts != want) {
    std::fprintf(stderr, "diagnosis_bench: %zu verdicts, expected %zu\n", verdicts, want);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace gatewatch

int main(int argc, char** argv) {
  int services = argc > 1 ? std::atoi(argv[1]) : 100;
  int evaluations = argc > 2 ? std::atoi(argv[2]) : 600;
  if (services < 1 || evaluations < 1) {
    std::fprintf(stderr, "usage: diagnosis_bench [services] [evaluations]\n");
    return 2;
  }
  return gatewatch::Run(services, evaluations);
}
