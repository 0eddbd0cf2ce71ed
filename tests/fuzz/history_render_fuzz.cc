// The history's way out: results with arbitrary bytes in the detail and every report key and value
// (the response head and body a target sent) go into a HistoryStore, through the --storage.path
// file and back (exporters/history_file.h), and out as the status page, a check's page and the
// history API. Every output must be valid UTF-8, the JSON must parse, and no byte of evidence may
// reach the HTML unescaped: the pages rendered from the evidence as given and from the same
// evidence with < > & " ' replaced by letters must have the same number of '<' (only the page's
// own tags). The services' verdicts at the top of "/" quote the same bytes (a verdict's why,
// upstreams and evidence lines), under the same rule. The input's tail is also decoded as a
// history file of its own (a hostile file).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/base/clock.h"
#include "checks/api/check.h"
#include "exporters/history.h"
#include "exporters/history_api.h"
#include "exporters/history_file.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

class FixedClock final : public gatewatch::Clock {
 public:
  gatewatch::TimePoint Now() const override { return now_; }
  std::chrono::system_clock::time_point WallNow() const override {
    return std::chrono::system_clock::time_point(std::chrono::hours(490'000) +
                                                 now_.time_since_epoch());
  }
  void Step() { now_ += std::chrono::seconds(15); }

 private:
  gatewatch::TimePoint now_ = gatewatch::TimePoint(std::chrono::hours(1));
};

std::string Defanged(std::string s) {
  for (char& c : s) {
    if (c == '<' || c == '>' || c == '&' || c == '"' || c == '\'') c = 'x';
  }
  return s;
}

size_t CountOpen(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '<';
  return n;
}

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Everything the pages and the API render for `store`, concatenated per kind.
struct Rendered {
  std::string html, json;
};

// A run's evidence as a service's verdict: its detail the why and a fact, its report's keys the
// upstreams and checks of facts, the values their lines.
gatewatch::ServiceVerdictView VerdictOf(const gatewatch::Result& r, int64_t at_ms) {
  gatewatch::ServiceVerdictView v;
  v.service = "shop";
  v.healthy = r.success;
  v.cause = "upstream_down";
  v.why = r.detail;
  v.confidence = 0.8;
  v.since_ms = at_ms;
  v.evidence.push_back({at_ms, "fuzz", "probe", "http_502", r.detail});
  for (const auto& [key, value] : r.report) {
    v.upstreams.push_back(key);
    v.evidence.push_back({at_ms, key, "proxy_log", key, value});
  }
  return v;
}

Rendered RenderAll(const gatewatch::HistoryStore& store, const gatewatch::Clock& clock,
                   const std::string& name,
                   const std::vector<gatewatch::ServiceVerdictView>& verdicts) {
  Rendered out;
  for (const char* path : {"/", "/checks/"}) {
    std::string p = path;
    if (p == "/checks/") p += name;
    auto r = gatewatch::RouteHistory(store, clock, p, "", [&] { return verdicts; });
    Check(r.has_value());
    out.html += r->body;
  }
  for (const std::string& p : {std::string("/api/v1/checks"), "/api/v1/checks/" + name,
                               "/api/v1/checks/" + name + "/history"}) {
    for (const char* query : {"", "failures=1"}) {
      auto r = gatewatch::RouteHistory(store, clock, p, query);
      Check(r.has_value() && r->status == 200);
      Check(nlohmann::json::accept(r->body));
      out.json += r->body;
    }
  }
  Check(gatewatch::fuzz::IsValidUtf8(out.html));
  Check(gatewatch::fuzz::IsValidUtf8(out.json));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gatewatch::fuzz::FuzzInput in(data, size);
  gatewatch::CheckSpec spec;
  spec.name = "fuzz";  // config names are validated; evidence is what a target sends
  spec.type = "http";

  // Two stores fed the same runs: one with the evidence as given, one defanged.
  FixedClock clock;
  gatewatch::HistoryStore raw(clock, {.runs = 8, .failures = 4, .changes = 4});
  gatewatch::HistoryStore tame(clock, {.runs = 8, .failures = 4, .changes = 4});
  raw.OnConfig({&spec});
  tame.OnConfig({&spec});
  std::vector<gatewatch::ServiceVerdictView> raw_verdicts, tame_verdicts;
  for (int run = 0; run < 4 && !in.empty(); ++run) {
    uint8_t flags = in.Byte();
    gatewatch::Result r =
        (flags & 1)
            ? gatewatch::Result::Success()
            : gatewatch::Result::Failure(
                  static_cast<gatewatch::Reason>(1 + (flags >> 1) % (gatewatch::kReasonCount - 1)),
                  "");
    r.detail = in.Field();
    r.duration = std::chrono::microseconds(in.Byte() * 1000);
    for (int i = 0; i < 3 && !in.empty(); ++i) {
      std::string key = in.Field();
      r.report.emplace_back(std::move(key), in.Field());
    }
    gatewatch::Result t = r;
    t.detail = Defanged(t.detail);
    for (auto& [k, v] : t.report) {
      k = Defanged(k);
      v = Defanged(v);
    }
    clock.Step();
    raw.OnResult(spec, r);
    tame.OnResult(spec, t);
    raw_verdicts.push_back(VerdictOf(r, 1000 * run));
    tame_verdicts.push_back(VerdictOf(t, 1000 * run));
  }
  Rendered a = RenderAll(raw, clock, spec.name, raw_verdicts);
  Rendered b = RenderAll(tame, clock, spec.name, tame_verdicts);
  Check(CountOpen(a.html) == CountOpen(b.html));

  // Through the storage file and back: the same pages.
  gatewatch::HistoryFileEncoder encoder;
  Check(encoder.Add(*raw.Snapshot(spec.name)));
  auto decoded = gatewatch::DecodeHistoryFile(encoder.Finish());
  Check(decoded.ok());
  gatewatch::HistoryStore restored(clock, {.runs = 8, .failures = 4, .changes = 4});
  restored.Restore(std::move(*decoded));
  restored.OnConfig({&spec});
  Rendered c = RenderAll(restored, clock, spec.name, raw_verdicts);
  Check(c.html == a.html && c.json == a.json);

  // The rest as a file: an error or checks that render like any others.
  auto hostile = gatewatch::DecodeHistoryFile(in.Rest());
  if (hostile.ok()) {
    gatewatch::HistoryStore from_file(clock);
    from_file.Restore(std::move(*hostile));
    for (const auto& name : from_file.Names()) {
      auto h = from_file.Snapshot(name);
      Check(h.has_value());
      gatewatch::HistoryFileEncoder again;
      again.Add(*h);
    }
  }
  return 0;
}
