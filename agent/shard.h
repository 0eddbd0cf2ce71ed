// Scale-out: N agents share one config, each running the checks whose name hashes into its shard.
//
// The hash is FNV-1a 64 over the bytes of the check name, taken modulo N: the same on every
// platform and build, so every agent of a fleet agrees where a check lives without talking to the
// others. Adding or removing a check never moves other checks; changing N moves most of them.
// Pure functions, no I/O (ShardFromFlag takes the hostname as an argument).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "agent/base/fnv.h"

namespace gatewatch {

struct Shard {
  uint32_t index = 0;  // 0-based, < count
  uint32_t count = 1;  // 1: unsharded, every check runs
  bool operator==(const Shard&) const = default;
  // "I/N" as in the flag and the `shard` label.
  std::string ToString() const;
};

// The shard a check named `name` belongs to among `count` shards.
uint32_t ShardOf(std::string_view check_name, uint32_t count);

inline bool InShard(std::string_view check_name, const Shard& shard) {
  return ShardOf(check_name, shard.count) == shard.index;
}

// Parses `--shard` ("I/N", or "auto/N" taking I from the ordinal suffix of `hostname`, as a
// StatefulSet pod "gatewatch-prober-2" has). On error returns nullopt and sets *error to the
// message to print (naming the flag and the value).
std::optional<Shard> ShardFromFlag(const std::string& flag, const std::string& hostname,
                                   std::string* error);

// `--location`: 1 to 64 of [A-Za-z0-9._-], so the label stays short and bounded.
bool ValidLocation(std::string_view location);

}  // namespace gatewatch
