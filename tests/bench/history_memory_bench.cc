// Memory of the per-check history (exporters/history.h), measured: heap bytes in use
// (mallinfo2().uordblks) before and after filling a HistoryStore of N checks with full rings, for
// three workloads: every run ok; every run failing with a typical HTTP 502 report and 512 + 512
// bytes of response head and body evidence; and the worst case (every report at its 4 KiB cap).
// Prints bytes per check, and the size of the --storage.path file for the same store
// (exporters/history_file.h). Usage: history_memory_bench [checks] (default 10000).
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "exporters/history.h"
#include "exporters/history_file.h"

namespace gatewatch {
namespace {

class StepClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::time_point(now_.time_since_epoch());
  }
  void Step() { now_ += std::chrono::seconds(15); }

 private:
  TimePoint now_ = TimePoint(std::chrono::hours(500'000));
};

Result HttpOk() {
  Result r = Result::Success();
  r.duration = std::chrono::milliseconds(3);
  r.report = {{"url", "http://127.0.0.1:8080/healthz"},
              {"address", "127.0.0.1:8080"},
              {"status", "200"},
              {"resolve_ms", "0.012"},
              {"connect_ms", "0.101"},
              {"processing_ms", "1.234"},
              {"transfer_ms", "0.040"},
              {"redirects", "0"},
              {"body_bytes", "3"},
              {"reason", "none"}};
  return r;
}

Result Http502() {
  Result r = HttpOk();
  r.success = false;
  r.reason = Reason::kHttp502;
  r.detail = "status 502 from 127.0.0.1:8080 (expected 2xx)";
  r.report[2].second = "502";
  r.report.back().second = "http_502";
  r.report.emplace_back("response_head", std::string(512, 'h'));
  r.report.emplace_back("response_body", std::string(512, 'b'));
  return r;
}

Result Worst() {
  Result r = Http502();
  r.detail = std::string(1024, 'd');
  r.report.clear();
  for (int i = 0; i < 8; ++i)
    r.report.emplace_back("k" + std::to_string(i), std::string(1022, 'v'));  // 4 x 1024 B: the cap
  return r;
}

size_t HeapInUse() {
  malloc_trim(0);
  return mallinfo2().uordblks;
}

void Measure(const char* name, size_t n, const Result& result) {
  std::vector<CheckSpec> specs(n);
  std::vector<const CheckSpec*> ptrs;
  for (size_t i = 0; i < n; ++i) {
    specs[i].name = "check-" + std::to_string(i);
    specs[i].type = "http";
    ptrs.push_back(&specs[i]);
  }
  StepClock clock;
  size_t before = HeapInUse();
  {
    HistoryStore store(clock);  // defaults: runs 100, failures 20, changes 20
    store.OnConfig(ptrs);
    size_t configured = HeapInUse();
    for (int run = 0; run < 120; ++run) {  // more than the rings hold
      clock.Step();
      for (const CheckSpec& s : specs) store.OnResult(s, result);
    }
    size_t full = HeapInUse();
    size_t file_bytes = 0;
    {
      HistoryFileEncoder encoder;
      for (const auto& check : store.Names()) encoder.Add(*store.Snapshot(check));
      file_bytes = encoder.Finish().size();
    }
    std::printf(
        "%-8s checks=%zu empty=%zu B/check full=%zu B/check (history only, excl. names) "
        "total=%.1f MB file=%zu B/check\n",
        name, n, (configured - before) / n, (full - configured) / n,
        static_cast<double>(full - before) / 1e6, file_bytes / n);
  }
}

}  // namespace
}  // namespace gatewatch

int main(int argc, char** argv) {
  size_t n = argc > 1 ? static_cast<size_t>(std::atol(argv[1])) : 10000;
  gatewatch::Measure("ok", n, gatewatch::HttpOk());
  gatewatch::Measure("502", n, gatewatch::Http502());
  gatewatch::Measure("worst", n, gatewatch::Worst());
  return 0;
}
