// --shard and --location: the hash every agent of a fleet must agree on, and the flag's errors.
#include "agent/shard.h"

#include <gtest/gtest.h>

#include <set>

namespace gatewatch {
namespace {

TEST(ShardTest, Fnv1a64MatchesTheReferenceVectors) {
  // Vectors of the FNV reference (isthe.com/chongo/tech/comp/fnv): a different hash, byte order
  // or seed would move checks between agents built differently.
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ULL);
  // A body arriving in chunks hashes as the whole (cdn_origin compares body hashes).
  EXPECT_EQ(Fnv1a64("bar", Fnv1a64("foo")), Fnv1a64("foobar"));
}

TEST(ShardTest, EveryCheckBelongsToExactlyOneShardAndSharesAreBalanced) {
  constexpr uint32_t kShards = 3;
  int per_shard[kShards] = {};
  for (int i = 0; i < 3000; ++i) {
    std::string name = "check-" + std::to_string(i);
    int owners = 0;
    for (uint32_t s = 0; s < kShards; ++s) owners += InShard(name, Shard{s, kShards});
    ASSERT_EQ(owners, 1) << name;
    ++per_shard[ShardOf(name, kShards)];
  }
  for (int n : per_shard) {
    EXPECT_GT(n, 800);  // 1000 expected; a broken modulo would put everything in one shard
    EXPECT_LT(n, 1200);
  }
}

TEST(ShardTest, UnshardedRunsEverything) {
  EXPECT_TRUE(InShard("anything", Shard{}));
  EXPECT_EQ(Shard{}.ToString(), "0/1");
}

struct FlagCase {
  const char* flag;
  const char* hostname;
  std::optional<Shard> want;
  const char* error;
};

TEST(ShardTest, ParsesTheFlagWithExactErrors) {
  const FlagCase cases[] = {
      {"0/3", "", Shard{0, 3}, ""},
      {"2/3", "", Shard{2, 3}, ""},
      {"0/1", "", Shard{0, 1}, ""},
      {"auto/3", "gatewatch-prober-2", Shard{2, 3}, ""},
      {"auto/3", "web-0", Shard{0, 3}, ""},
      {"3/3", "", std::nullopt,
       "--shard: I must be below N (shards are numbered from 0) (got \"3/3\")"},
      {"1", "", std::nullopt, "--shard: must be I/N or auto/N, e.g. 0/3 (got \"1\")"},
      {"0/0", "", std::nullopt, "--shard: N must be a whole number from 1 to 100000 (got \"0/0\")"},
      {"0/x", "", std::nullopt, "--shard: N must be a whole number from 1 to 100000 (got \"0/x\")"},
      {"-1/3", "", std::nullopt,
       "--shard: I must be a whole number from 0 to N-1, or auto (got \"-1/3\")"},
      {" 1/3", "", std::nullopt,
       "--shard: I must be a whole number from 0 to N-1, or auto (got \" 1/3\")"},
      {"auto/3", "myhost", std::nullopt,
       "--shard: auto needs a hostname ending in -ORDINAL like a StatefulSet pod's, not "
       "\"myhost\" (got \"auto/3\")"},
      {"auto/3", "", std::nullopt,
       "--shard: auto needs a hostname ending in -ORDINAL like a StatefulSet pod's, not \"\" "
       "(got \"auto/3\")"},
      {"auto/3", "prober-3", std::nullopt,
       "--shard: the ordinal of hostname \"prober-3\" must be below N (got \"auto/3\")"},
  };
  for (const auto& c : cases) {
    std::string error;
    auto got = ShardFromFlag(c.flag, c.hostname, &error);
    EXPECT_EQ(got, c.want) << c.flag;
    EXPECT_EQ(error, c.error) << c.flag;
  }
}

TEST(ShardTest, LocationIsShortAndBounded) {
  EXPECT_TRUE(ValidLocation("eu-west-1"));
  EXPECT_TRUE(ValidLocation("fra1.dc_2"));
  EXPECT_FALSE(ValidLocation(""));
  EXPECT_FALSE(ValidLocation("eu west"));
  EXPECT_FALSE(ValidLocation("a\"b"));
  EXPECT_FALSE(ValidLocation(std::string(65, 'a')));
}

}  // namespace
}  // namespace gatewatch
