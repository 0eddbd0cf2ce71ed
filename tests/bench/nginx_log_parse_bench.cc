// Parsing throughput of the proxy_log check, in lines per CPU second (not part of the test run;
// ctest label "bench"). Each case feeds generated nginx lines through the same per-line path a
// run uses (parse, upstream lists, bounded labels, per-run aggregation); the last one reads them
// from a file through the FileTailer, as a run does.
//
// Usage: build/tests/bench/nginx_log_parse_bench [LINES=500000]
//        build/tests/bench/nginx_log_parse_bench --write FILE LINES   (the `format: upstream`
//        lines, for tests/bench/run.sh's log_ingest row against mtail)
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "checks/proxy_log_check.h"

namespace gatewatch {
namespace {

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A realistic mix: 64 upstreams, 1 in 20 responses a 502 after a retry, sub-second times.
std::string AccessLine(size_t i, bool json) {
  std::string up = "10.0." + std::to_string(i % 64 / 16) + "." + std::to_string(i % 16) + ":8080";
  bool retried = i % 20 == 0;
  std::string addr = retried ? "10.0.9.9:8080, " + up : up;
  std::string ustatus = retried ? "502, 502" : "200";
  std::string utime = retried ? "0.000, 0.003" : "0.0" + std::to_string(10 + i % 80);
  int status = retried ? 502 : 200;
  if (json) {
    return R"({"time":"2026-11-25T02:10:01+00:00","remote_addr":"192.0.2.)" +
           std::to_string(i % 250) + R"(","request":"GET /api/items/)" + std::to_string(i) +
           R"( HTTP/1.1","status":)" + std::to_string(status) +
           R"(,"body_bytes_sent":612,"request_time":0.012,"upstream_addr":")" + addr +
           R"(","upstream_status":")" + ustatus + R"(","upstream_response_time":")" + utime +
           R"(","http_user_agent":"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"})";
  }
  return "192.0.2." + std::to_string(i % 250) +
         " - - [25/Nov/2026:02:10:01 +0000] \"GET /api/items/" + std::to_string(i) +
         " HTTP/1.1\" " + std::to_string(status) +
         " 612 \"https://shop.example/\" \"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0\" "
         "rt=0.012 ua=\"" +
         addr + "\" us=\"" + ustatus + "\" urt=\"" + utime + "\" rid=- cid=" + std::to_string(i);
}

std::string ErrorLine(size_t i) {
  static const char* kMessages[] = {
      "connect() failed (111: Connection refused) while connecting to upstream",
      "upstream timed out (110: Connection timed out) while reading response header from upstream",
      "recv() failed (104: Connection reset by peer) while reading response header from upstream",
      "upstream prematurely closed connection while reading response header from upstream",
  };
  return "2026/11/25 02:10:01 [error] 4242#4242: *" + std::to_string(i) + " " + kMessages[i % 4] +
         ", client: 192.0.2.7, server: shop, request: \"GET /api HTTP/1.1\", upstream: "
         "\"http://10.0.0." +
         std::to_string(i % 16) + ":8080/api\", host: \"shop.example\"";
}

void Report(const char* name, size_t lines, size_t bytes, double cpu) {
  std::printf("%-34s %9zu lines %7.1f MB  %7.3f cpu s  %10.0f lines/cpu s  %6.1f MB/cpu s\n", name,
              lines, static_cast<double>(bytes) / 1e6, cpu, static_cast<double>(lines) / cpu,
              static_cast<double>(bytes) / 1e6 / cpu);
}

template <typename Feed>
void Measure(const char* name, const std::vector<std::string>& lines, Feed feed) {
  size_t bytes = 0;
  for (const auto& l : lines) bytes += l.size() + 1;
  double start = CpuSeconds();
  feed(lines);
  Report(name, lines.size(), bytes, CpuSeconds() - start);
}

int Main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--write") {
    std::ofstream out(argv[2]);
    size_t lines = std::strtoul(argv[3], nullptr, 10);
    for (size_t i = 0; i < lines; ++i) out << AccessLine(i, false) << '\n';
    return out ? 0 : 1;
  }
  size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 500000;
  std::vector<std::string> text, json, errors;
  for (size_t i = 0; i < n; ++i) {
    text.push_back(AccessLine(i, false));
    json.push_back(AccessLine(i, true));
    errors.push_back(ErrorLine(i));
  }
  auto monitor = [](const std::string& format) {
    auto cfg = std::make_shared<ProxyLogConfig>();
    cfg->access_log = "/nonexistent";
    cfg->format = format;
    cfg->start_at_end = false;
    return std::make_unique<ProxyLogMonitor>(cfg);
  };
  // One Finish per 10,000 lines, like a busy proxy's 5 s runs.
  auto feed_access = [](ProxyLogMonitor& m, const std::vector<std::string>& lines) {
    for (size_t i = 0; i < lines.size(); ++i) {
      m.OnAccessLine(lines[i]);
      if (i % 10000 == 9999) m.Finish(TimePoint(std::chrono::seconds(i / 10000)), nullptr, nullptr);
    }
  };
  std::printf("nginx log parsing, %zu lines per case\n", n);
  {
    auto m = monitor("upstream");
    Measure("access, format: upstream", text, [&](const auto& l) { feed_access(*m, l); });
  }
  {
    auto m = monitor("json");
    Measure("access, format: json", json, [&](const auto& l) { feed_access(*m, l); });
  }
  {
    auto m = monitor("combined");
    std::vector<std::string> combined;
    for (const auto& l : text) combined.push_back(l.substr(0, l.find(" rt=")));
    Measure("access, format: combined", combined, [&](const auto& l) { feed_access(*m, l); });
  }
  {
    auto m = monitor("upstream");
    Measure("error log classification", errors, [&](const auto& lines) {
      for (const auto& l : lines) m->OnErrorLine(l);
    });
  }
  {
    // End to end through the tailer with the default settings: a run reads until it has caught
    // up or spent read_budget.
    char path[] = "/tmp/gatewatch-bench-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
    {
      std::ofstream out(path);
      for (const auto& l : text) out << l << '\n';
    }
    auto cfg = std::make_shared<ProxyLogConfig>();
    cfg->access_log = path;
    cfg->format = "upstream";
    cfg->start_at_end = false;
    TailRegistry tails;  // outlives the monitor, which leaves its position there
    ProxyLogMonitor m(cfg);
    double parsed = 0;
    Measure("file + tailer + upstream, per run", text, [&](const auto&) {
      for (int run = 0; run < 100000; ++run) {
        Result r = m.Run(TimePoint(std::chrono::seconds(run)), tails);
        double got = 0;
        for (const auto& o : r.observations) {
          if (o.desc->name == "proxy_log_lines_total" && o.label_values[1] == "parsed")
            got = o.value;
        }
        if (got == 0) break;
        parsed += got;
      }
    });
    if (parsed != static_cast<double>(text.size())) {
      std::printf("error: the tailer case parsed %.0f of %zu lines\n", parsed, text.size());
      return 1;
    }
    unlink(path);
  }
  return 0;
}

}  // namespace
}  // namespace gatewatch

int main(int argc, char** argv) { return gatewatch::Main(argc, argv); }
