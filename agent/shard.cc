#include "agent/shard.h"

#include <charconv>

namespace gatewatch {
namespace {

// A whole decimal number without sign or spaces, fitting uint32_t.
std::optional<uint32_t> ParseIndex(std::string_view s) {
  uint32_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Generous but bounded: more shards than this is a typo, not a fleet.
constexpr uint32_t kMaxShards = 100000;

}  // namespace

std::string Shard::ToString() const { return std::to_string(index) + "/" + std::to_string(count); }

uint32_t ShardOf(std::string_view check_name, uint32_t count) {
  return count <= 1 ? 0 : static_cast<uint32_t>(Fnv1a64(check_name) % count);
}

std::optional<Shard> ShardFromFlag(const std::string& flag, const std::string& hostname,
                                   std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Shard> {
    *error = "--shard: " + why + " (got \"" + flag + "\")";
    return std::nullopt;
  };
  auto slash = flag.find('/');
  if (slash == std::string::npos) return fail("must be I/N or auto/N, e.g. 0/3");
  std::string_view index_part = std::string_view(flag).substr(0, slash);
  auto count = ParseIndex(std::string_view(flag).substr(slash + 1));
  if (!count || *count < 1 || *count > kMaxShards) {
    return fail("N must be a whole number from 1 to " + std::to_string(kMaxShards));
  }
  std::optional<uint32_t> index;
  if (index_part == "auto") {
    auto dash = hostname.rfind('-');
    index = dash == std::string::npos ? std::nullopt
                                      : ParseIndex(std::string_view(hostname).substr(dash + 1));
    if (!index) {
      return fail("auto needs a hostname ending in -ORDINAL like a StatefulSet pod's, not \"" +
                  hostname + "\"");
    }
    if (*index >= *count) {
      return fail("the ordinal of hostname \"" + hostname + "\" must be below N");
    }
  } else {
    index = ParseIndex(index_part);
    if (!index) return fail("I must be a whole number from 0 to N-1, or auto");
    if (*index >= *count) return fail("I must be below N (shards are numbered from 0)");
  }
  return Shard{*index, *count};
}

bool ValidLocation(std::string_view location) {
  if (location.empty() || location.size() > 64) return false;
  for (char c : location) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace gatewatch
