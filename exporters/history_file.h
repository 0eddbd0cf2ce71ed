// The file `--storage.path` keeps the history in across restarts: a versioned binary format, pure
// encode and decode (the writing, atomically and off the loop, is agent/history_persister.h).
//
// Layout (integers little-endian):
//   header  "GWHISTRY" | u32 version (1) | u32 checks | u64 payload bytes | u64 FNV-1a 64 of
//   payload payload per check: str name | str type | u64 runs_total | u64 failures_total
//           | u32 n, n x run (i64 time_ms, u32 duration_us, u8 reason)
//           | u32 n, n x entry | u32 n, n x period (u8 ok, u8 reason, i64 start, i64 end, u64 runs)
//           | u8 has_last [entry]
//   entry   u64 seq | i64 time_ms | i64 duration_us | u8 reason | u8 has_evidence
//           [str detail | u32 n, n x (str key, str value)]
//   str     u32 length | bytes
// The decoder trusts nothing: a short, corrupt (checksum), foreign (magic), newer (version) or
// inconsistent file is an Error, never a crash or an allocation the file's size does not justify;
// strings are sanitised and capped again as when they first arrived.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/expected.h"
#include "exporters/history.h"

namespace gatewatch {

inline constexpr uint32_t kHistoryFileVersion = 1;
// Neither written nor read beyond this: at the default bounds 10,000 checks all failing with
// full evidence take less (docs/performance.md); a bigger file is not one of ours.
inline constexpr size_t kMaxHistoryFileBytes = size_t{512} << 20;

// Builds a file check by check, so that a store of 10,000 checks is never copied whole.
class HistoryFileEncoder {
 public:
  HistoryFileEncoder();
  // False (and nothing added) once the file would pass `max_bytes`.
  bool Add(const CheckHistory& check, size_t max_bytes = kMaxHistoryFileBytes);
  size_t checks() const { return checks_; }
  // The whole file. The encoder is spent afterwards.
  std::string Finish();

 private:
  std::string out_;
  uint32_t checks_ = 0;
};

// The checks in `bytes`, in file order.
Expected<std::vector<CheckHistory>> DecodeHistoryFile(std::string_view bytes);

}  // namespace gatewatch
