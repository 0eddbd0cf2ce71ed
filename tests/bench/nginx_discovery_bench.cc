// CPU time of one upstream discovery of `type: nginx` (issue 19): reading nginx's config from disk
// with its includes (LoadNginxConf) and extracting the upstream groups, servers and proxy settings
// (ExtractNginxTopology), what every run of the check does before it probes. tests/bench/run.sh
// gives it the config of the nginx it runs for its nginx_upstreams row.
// Usage: nginx_discovery_bench CONFIG [repeats] [expected-servers]. One line, key=value, on stdout;
// exits 1 when the config does not load or the servers found are not the expected count.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "checks/nginx_conf.h"

namespace {

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace gatewatch;
  if (argc < 2) {
    std::fprintf(stderr, "usage: nginx_discovery_bench CONFIG [repeats] [expected-servers]\n");
    return 2;
  }
  const std::string path = argv[1];
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 100;
  const long expected = argc > 3 ? std::atol(argv[3]) : -1;
  const NginxConfLimits limits;
  const NginxConfFiles files = DiskNginxConfFiles(limits.max_bytes);
  size_t directives = 0, groups = 0, servers = 0, passes = 0, warnings = 0;
  double t0 = CpuSeconds();
  for (int i = 0; i < repeats; ++i) {
    NginxConfParse parse = LoadNginxConf(path, files, limits);
    if (parse.error) {
      std::fprintf(stderr, "nginx_discovery_bench: %s\n", parse.error->Text().c_str());
      return 1;
    }
    NginxTopology topology = ExtractNginxTopology(parse.directives);
    directives = parse.directives.size();
    groups = topology.upstreams.size();
    servers = 0;
    for (const NginxUpstream& u : topology.upstreams) servers += u.servers.size();
    passes = topology.passes.size();
    warnings = topology.warnings.size();
  }
  double cpu = CpuSeconds() - t0;
  std::printf(
      "repeats=%d top_directives=%zu groups=%zu servers=%zu passes=%zu warnings=%zu "
      "us_per_discovery=%.1f\n",
      repeats, directives, groups, servers, passes, warnings, cpu / repeats * 1e6);
  if (expected >= 0 && servers != static_cast<size_t>(expected)) {
    std::fprintf(stderr, "nginx_discovery_bench: %zu servers found, expected %ld\n", servers,
                 expected);
    return 1;
  }
  return 0;
}
