#include "checks/host_parsers.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "checks/text_fields.h"

namespace gatewatch {

namespace {

// Calls fn(line) for each line of `text`, without the newline.
template <typename Fn>
void ForEachLine(std::string_view text, Fn fn) {
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    fn(line);
  }
}

std::optional<uint64_t> ToU64(std::string_view s) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> ToDouble(std::string_view s) {
  // strtod needs a terminated string; the fields are short.
  std::string copy(s);
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  if (copy.empty() || end != copy.c_str() + copy.size()) return std::nullopt;
  return v;
}

// /proc/*/mounts escapes space, tab, newline and backslash as \ooo.
std::string DecodeOctalEscapes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
        s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  ProcStat stat;
  bool have_total = false;
  ForEachLine(text, [&](std::string_view line) {
    if (line.substr(0, 3) != "cpu") return;
    auto f = BlankSeparatedFields(line);
    if (f.empty()) return;
    if (f[0] != "cpu") {
      if (ToU64(f[0].substr(3))) ++stat.cpus;
      return;
    }
    // Kernels before 2.6.11 lack steal; every field after idle is optional.
    if (f.size() < 5) return;
    uint64_t* dst[] = {&stat.cpu.user,   &stat.cpu.nice, &stat.cpu.system,  &stat.cpu.idle,
                       &stat.cpu.iowait, &stat.cpu.irq,  &stat.cpu.softirq, &stat.cpu.steal};
    for (size_t i = 0; i < 8 && i + 1 < f.size(); ++i) {
      auto v = ToU64(f[i + 1]);
      if (!v) return;
      *dst[i] = *v;
    }
    have_total = true;
  });
  if (!have_total) return std::nullopt;
  return stat;
}

std::optional<CpuUsage> ComputeCpuUsage(const CpuTimes& a, const CpuTimes& b) {
  const uint64_t* pa[] = {&a.user,   &a.nice, &a.system,  &a.idle,
                          &a.iowait, &a.irq,  &a.softirq, &a.steal};
  const uint64_t* pb[] = {&b.user,   &b.nice, &b.system,  &b.idle,
                          &b.iowait, &b.irq,  &b.softirq, &b.steal};
  for (size_t i = 0; i < 8; ++i) {
    // iowait may decrease on some kernels (it is an estimate); anything else is a reset.
    if (*pb[i] < *pa[i] && pa[i] != &a.iowait) return std::nullopt;
  }
  auto d = [](uint64_t x, uint64_t y) { return y > x ? double(y - x) : 0.0; };
  double user = d(a.user, b.user) + d(a.nice, b.nice);
  double system = d(a.system, b.system) + d(a.irq, b.irq) + d(a.softirq, b.softirq);
  double idle = d(a.idle, b.idle);
  double iowait = d(a.iowait, b.iowait);
  double steal = d(a.steal, b.steal);
  double total = user + system + idle + iowait + steal;
  if (total <= 0) return std::nullopt;
  CpuUsage u;
  u.user = user / total;
  u.system = system / total;
  u.iowait = iowait / total;
  u.steal = steal / total;
  u.busy = (user + system + steal) / total;
  return u;
}

std::optional<std::array<double, 3>> ParseLoadavg(std::string_view text) {
  auto f = BlankSeparatedFields(text.substr(0, text.find('\n')));
  if (f.size() < 3) return std::nullopt;
  std::array<double, 3> out{};
  for (size_t i = 0; i < 3; ++i) {
    auto v = ToDouble(f[i]);
    if (!v || *v < 0) return std::nullopt;
    out[i] = *v;
  }
  return out;
}

std::optional<MemInfo> ParseMeminfo(std::string_view text) {
  std::optional<uint64_t> total, available, free, buffers, cached, swap_total, swap_free;
  ForEachLine(text, [&](std::string_view line) {
    auto f = BlankSeparatedFields(line);
    if (f.size() < 2) return;
    auto v = ToU64(f[1]);
    if (!v) return;
    // Values are in KiB when the unit is "kB"; a few lines (HugePages_*) have no unit.
    uint64_t bytes = f.size() >= 3 && f[2] == "kB" ? *v * 1024 : *v;
    std::string_view key = f[0];
    if (key == "MemTotal:") total = bytes;
    if (key == "MemAvailable:") available = bytes;
    if (key == "MemFree:") free = bytes;
    if (key == "Buffers:") buffers = bytes;
    if (key == "Cached:") cached = bytes;
    if (key == "SwapTotal:") swap_total = bytes;
    if (key == "SwapFree:") swap_free = bytes;
  });
  if (!total || *total == 0) return std::nullopt;
  MemInfo m;
  m.total = *total;
  // Before 3.14 there is no MemAvailable: free's own fallback estimate.
  m.available =
      available ? *available : free.value_or(0) + buffers.value_or(0) + cached.value_or(0);
  if (m.available > m.total) m.available = m.total;
  m.swap_total = swap_total.value_or(0);
  m.swap_free = std::min(swap_free.value_or(0), m.swap_total);
  return m;
}

std::vector<MountEntry> ParseMounts(std::string_view text) {
  std::vector<MountEntry> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = BlankSeparatedFields(line);
    if (f.size() < 3) return;
    out.push_back({DecodeOctalEscapes(f[0]), DecodeOctalEscapes(f[1]), std::string(f[2])});
  });
  return out;
}

bool IsPseudoFs(std::string_view t) {
  // node_exporter's default --collector.filesystem.fs-types-exclude, minus overlay: a
  // container's root is an overlay and is the disk a sidecar cares about.
  static constexpr std::string_view kPseudo[] = {
      "autofs",     "binfmt_misc",     "bpf",        "cgroup",     "cgroup2",
      "configfs",   "debugfs",         "devpts",     "devtmpfs",   "fusectl",
      "hugetlbfs",  "iso9660",         "mqueue",     "nsfs",       "proc",
      "procfs",     "pstore",          "rpc_pipefs", "securityfs", "selinuxfs",
      "squashfs",   "sysfs",           "tracefs",    "ramfs",      "efivarfs",
      "fuse.lxcfs", "fuse.gvfsd-fuse", "fuse.portal"};
  for (std::string_view p : kPseudo) {
    if (t == p) return true;
  }
  return false;
}

std::optional<Pressure> ParsePressure(std::string_view text) {
  std::optional<Pressure> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = BlankSeparatedFields(line);
    if (f.size() < 4 || f[0] != "some") return;
    Pressure p;
    static constexpr std::string_view kKeys[] = {"avg10=", "avg60=", "avg300="};
    for (size_t i = 0; i < 3; ++i) {
      if (f[i + 1].substr(0, kKeys[i].size()) != kKeys[i]) return;
      auto v = ToDouble(f[i + 1].substr(kKeys[i].size()));
      if (!v || *v < 0) return;
      p.some[i] = std::min(*v / 100.0, 1.0);
    }
    out = p;
  });
  return out;
}

std::optional<std::string> ParseCgroupV2Path(std::string_view text) {
  std::optional<std::string> out;
  ForEachLine(text, [&](std::string_view line) {
    if (line.substr(0, 3) == "0::" && line.size() > 3 && line[3] == '/') {
      out = std::string(line.substr(3));
    }
  });
  return out;
}

std::optional<uint64_t> ParseCgroupBytes(std::string_view text) {
  auto f = BlankSeparatedFields(text.substr(0, text.find('\n')));
  if (f.size() != 1) return std::nullopt;
  return ToU64(f[0]);  // "max" does not parse: no limit
}

std::optional<uint64_t> ParseKeyedValue(std::string_view text, std::string_view key) {
  std::optional<uint64_t> out;
  ForEachLine(text, [&](std::string_view line) {
    auto f = BlankSeparatedFields(line);
    if (f.size() == 2 && f[0] == key) out = ToU64(f[1]);
  });
  return out;
}

std::optional<CpuMax> ParseCpuMax(std::string_view text) {
  auto f = BlankSeparatedFields(text.substr(0, text.find('\n')));
  if (f.size() != 2) return std::nullopt;
  auto quota = ToU64(f[0]);
  auto period = ToU64(f[1]);
  if (!quota || !period || *period == 0) return std::nullopt;
  return CpuMax{*quota, *period};
}

CgroupCounters ParseCgroupCounters(std::optional<std::string_view> memory_events,
                                   std::optional<std::string_view> cpu_stat) {
  CgroupCounters c;
  if (memory_events) c.oom_kills = ParseKeyedValue(*memory_events, "oom_kill");
  if (cpu_stat) {
    c.cpu_stat = true;
    c.throttled_usec = ParseKeyedValue(*cpu_stat, "throttled_usec");
    c.nr_periods = ParseKeyedValue(*cpu_stat, "nr_periods");
    c.nr_throttled = ParseKeyedValue(*cpu_stat, "nr_throttled");
  }
  return c;
}

CgroupDeltas ComputeCgroupDeltas(const CgroupCounters& before, const CgroupCounters& now) {
  CgroupDeltas d;
  if (now.oom_kills) {
    d.new_oom_kills = before.oom_kills && *now.oom_kills >= *before.oom_kills
                          ? *now.oom_kills - *before.oom_kills
                          : 0;
  }
  if (now.throttled_usec && before.throttled_usec &&
      *now.throttled_usec >= *before.throttled_usec) {
    d.throttled_seconds = double(*now.throttled_usec - *before.throttled_usec) / 1e6;
  }
  const auto& periods = now.nr_periods;
  const auto& throttled = now.nr_throttled;
  if (periods && throttled && before.nr_periods && before.nr_throttled &&
      *periods > *before.nr_periods && *throttled >= *before.nr_throttled) {
    d.throttled_ratio = std::min(
        1.0, double(*throttled - *before.nr_throttled) / double(*periods - *before.nr_periods));
  } else if (periods && before.nr_periods && *periods == *before.nr_periods) {
    d.throttled_ratio = 0;
  }
  return d;
}

CgroupCounters CarryCgroupCounters(const CgroupCounters& before, const CgroupCounters& now) {
  CgroupCounters next = before;
  if (now.oom_kills) next.oom_kills = now.oom_kills;
  if (now.cpu_stat) {
    next.cpu_stat = true;
    next.throttled_usec = now.throttled_usec;
    next.nr_periods = now.nr_periods;
    next.nr_throttled = now.nr_throttled;
  }
  return next;
}

}  // namespace gatewatch
