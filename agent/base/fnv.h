// FNV-1a 64 (offset basis 0xcbf29ce484222325, prime 0x100000001b3): a stable, platform-independent
// hash for shard placement, body hashes and answer-set hashes. Not for security.
#pragma once

#include <cstdint>
#include <string_view>

namespace gatewatch {

inline constexpr uint64_t kFnv1a64Offset = 0xcbf29ce484222325ULL;

// Continues a hash over `bytes`: Fnv1a64(b, Fnv1a64(a)) == Fnv1a64(a + b), so data that arrives in
// chunks hashes the same as the whole.
constexpr uint64_t Fnv1a64(std::string_view bytes, uint64_t h = kFnv1a64Offset) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace gatewatch
