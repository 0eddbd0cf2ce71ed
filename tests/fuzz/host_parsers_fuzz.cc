// /proc and cgroup files as the kernel (or a hostile mount) presents them, through every host
// parser; the first byte picks the parser.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "checks/host_parsers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 9) {
    case 0:
      if (auto s = gatewatch::ParseProcStat(text)) {
        if (auto u = gatewatch::ComputeCpuUsage(s->cpu, s->cpu)) (void)u;
      }
      break;
    case 1:
      (void)gatewatch::ParseLoadavg(text);
      break;
    case 2:
      if (auto m = gatewatch::ParseMeminfo(text)) (void)m->used();
      break;
    case 3:
      for (const auto& m : gatewatch::ParseMounts(text)) (void)gatewatch::IsPseudoFs(m.fs_type);
      break;
    case 4:
      (void)gatewatch::ParsePressure(text);
      break;
    case 5:
      (void)gatewatch::ParseCgroupV2Path(text);
      break;
    case 6:
      (void)gatewatch::ParseCgroupBytes(text);
      break;
    case 7:
      (void)gatewatch::ParseKeyedValue(text, "oom_kill");
      break;
    case 8:
      if (auto c = gatewatch::ParseCpuMax(text)) {
        if (std::isnan(c->cores())) __builtin_trap();
      }
      break;
  }
  return 0;
}
