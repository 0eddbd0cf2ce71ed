#include "agent/base/units.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>

namespace gatewatch {

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  // Prometheus reads a lone "0" as zero too; any other bare number is refused (unit unclear).
  if (text == "0") return Duration::zero();
  using namespace std::chrono;
  Duration total{};
  size_t i = 0;
  // Units must come in decreasing order, each at most once (like Prometheus).
  int last_rank = 100;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start) return std::nullopt;
    uint64_t n = 0;
    auto [ptr, ec] = std::from_chars(text.data() + start, text.data() + i, n);
    if (ec != std::errc()) return std::nullopt;
    // The unit is everything up to the next digit, so the two-byte "µ" is one unit too.
    size_t unit_start = i;
    while (i < text.size() && !std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    Duration unit_size;
    int rank;
    if (unit == "h")
      unit_size = hours(1), rank = 6;
    else if (unit == "m")
      unit_size = minutes(1), rank = 5;
    else if (unit == "s")
      unit_size = seconds(1), rank = 4;
    else if (unit == "ms")
      unit_size = milliseconds(1), rank = 3;
    else if (unit == "us" || unit == "µs")
      unit_size = microseconds(1), rank = 2;
    else if (unit == "ns")
      unit_size = nanoseconds(1), rank = 1;
    else
      return std::nullopt;
    if (rank >= last_rank) return std::nullopt;
    last_rank = rank;
    // Refuse what does not fit in int64 nanoseconds (~292 years) instead of overflowing.
    uint64_t room = static_cast<uint64_t>((Duration::max() - total).count() / unit_size.count());
    if (n > room) return std::nullopt;
    total += unit_size * static_cast<int64_t>(n);
  }
  return total;
}

std::string FormatDuration(Duration d) {
  using namespace std::chrono;
  if (d == Duration::zero()) return "0s";
  std::string out;
  // Never produced by a parsed config, but a negative value must not print as "".
  if (d < Duration::zero()) {
    if (d == Duration::min()) return "-" + std::to_string(d.count()) + "ns";
    out = "-";
    d = -d;
  }
  auto take = [&](auto unit, const char* suffix) {
    auto n = duration_cast<decltype(unit)>(d);
    if (n.count() > 0) {
      out += std::to_string(n.count()) + suffix;
      d -= duration_cast<Duration>(n);
    }
  };
  take(hours(1), "h");
  take(minutes(1), "m");
  take(seconds(1), "s");
  take(milliseconds(1), "ms");
  take(microseconds(1), "us");
  take(nanoseconds(1), "ns");
  return out;
}

bool IsPrometheusName(std::string_view name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

std::optional<uint64_t> ParseBytes(std::string_view text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return std::nullopt;
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + i, n);
  if (ec != std::errc()) return std::nullopt;
  std::string_view unit = text.substr(i);
  uint64_t mult;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "KiB")
    mult = 1ULL << 10;
  else if (unit == "MiB")
    mult = 1ULL << 20;
  else if (unit == "GiB")
    mult = 1ULL << 30;
  else if (unit == "KB" || unit == "kB")
    mult = 1000;
  else if (unit == "MB")
    mult = 1000 * 1000;
  else if (unit == "GB")
    mult = 1000 * 1000 * 1000;
  else
    return std::nullopt;
  if (n > std::numeric_limits<uint64_t>::max() / mult) return std::nullopt;
  return n * mult;
}

std::string FormatFixed(double v, int digits) {
  // to_chars, not printf: several of these per run, and printf's locale and format parsing cost
  // more than the rest of the report. Both round the exact binary value half to even.
  char buf[400];  // DBL_MAX in fixed notation is 309 digits, plus sign, point and decimals
  digits = std::clamp(digits, 0, 60);
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, digits);
  if (r.ec != std::errc()) return "nan";
  return std::string(buf, r.ptr);
}

std::string FormatMillis(Duration d, int digits) {
  return FormatFixed(std::chrono::duration<double, std::milli>(d).count(), digits);
}

std::string FormatGeneral(double v, int precision) {
  char buf[64];  // 60 significant digits at most, sign, point, "e+308"
  precision = std::clamp(precision, 1, 40);
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, precision);
  if (r.ec != std::errc()) return "nan";
  return std::string(buf, r.ptr);
}

std::string FormatHex64(uint64_t v) {
  char buf[16];
  auto r = std::to_chars(buf, buf + sizeof buf, v, 16);
  size_t n = static_cast<size_t>(r.ptr - buf);
  return std::string(16 - n, '0') + std::string(buf, n);
}

std::string FormatUtc(std::chrono::system_clock::time_point t, const char* format) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

}  // namespace gatewatch
