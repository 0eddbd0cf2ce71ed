#include "agent/base/utf8.h"

#include <cstdint>

namespace gatewatch {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "...";

// The length of the well-formed character at the start of `s` (1-4), or 0 if it does not start
// with one; then *bad is the length of the maximal invalid subpart (at least 1) to replace.
size_t CharLength(std::string_view s, size_t* bad) {
  auto b0 = static_cast<uint8_t>(s[0]);
  if (b0 < 0x80) return 1;
  size_t need;
  uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte (Unicode table 3-7)
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    *bad = 1;  // a continuation byte, C0/C1 (always overlong) or F5-FF
    return 0;
  }
  size_t i = 1;
  for (; i < need && i < s.size(); ++i) {
    auto b = static_cast<uint8_t>(s[i]);
    if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
  }
  if (i == need) return need;
  *bad = i;  // the lead byte and the continuation bytes that were right so far
  return 0;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t bad = 0;
    size_t n = CharLength(s.substr(i), &bad);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

void AppendSanitizedUtf8(std::string& out, std::string_view in, size_t max_bytes) {
  // Fast path: ASCII or valid text within the cap is copied as is.
  if (in.size() <= max_bytes && IsValidUtf8(in)) {
    out += in;
    return;
  }
  // Append character by character; `mark` is the last character boundary at which "..." still
  // fits. If the whole text fits the cap it is kept; otherwise it is cut back to `mark`.
  const size_t start = out.size();
  const size_t ellipsis = max_bytes >= kEllipsis.size() ? kEllipsis.size() : 0;
  size_t mark = start;
  for (size_t i = 0; i < in.size();) {
    size_t bad = 0;
    size_t n = CharLength(in.substr(i), &bad);
    std::string_view piece = n > 0 ? in.substr(i, n) : kReplacement;
    if (out.size() - start + piece.size() > max_bytes) {
      out.resize(mark);
      out += kEllipsis.substr(0, ellipsis);
      return;
    }
    out += piece;
    if (out.size() - start + ellipsis <= max_bytes) mark = out.size();
    i += n > 0 ? n : bad;
  }
}

std::string SanitizedUtf8Prefix(std::string_view in, size_t max_bytes, bool* cut) {
  std::string out;
  if (cut != nullptr) *cut = false;
  for (size_t i = 0; i < in.size();) {
    size_t bad = 0;
    size_t n = CharLength(in.substr(i), &bad);
    std::string_view piece = n > 0 ? in.substr(i, n) : kReplacement;
    if (out.size() + piece.size() > max_bytes) {
      if (cut != nullptr) *cut = true;
      break;
    }
    out += piece;
    i += n > 0 ? n : bad;
  }
  return out;
}

std::string SanitizeUtf8(std::string_view in, size_t max_bytes) {
  std::string out;
  AppendSanitizedUtf8(out, in, max_bytes);
  return out;
}

}  // namespace gatewatch
