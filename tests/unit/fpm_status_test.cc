// php-fpm's status JSON (real php-fpm 8.2 bodies of pm.status_path?json) and the judgement of
// its figures: listen_queue_full, pool_saturated, hostile bodies.
#include "checks/fpm_status.h"

#include <gtest/gtest.h>

#include <string>

namespace gatewatch {
namespace {

// Verbatim from php-fpm 8.2.36 (Debian 12) for /status?json: a dynamic pool on TCP, one child
// (answering this request), the backlog at somaxconn.
constexpr char kRealTcp[] =
    R"({"pool":"www","process manager":"dynamic","start time":1796613928,"start since":1,)"
    R"("accepted conn":1,"listen queue":0,"max listen queue":0,"listen queue len":4096,)"
    R"("idle processes":0,"active processes":1,"total processes":1,"max active processes":1,)"
    R"("max children reached":0,"slow requests":0})";
// The same shape with a saturated pool's figures on a unix socket (no backlog size there).
constexpr char kDynamicUnix[] =
    R"({"pool":"www","process manager":"dynamic","start time":1765078397,"start since":60,)"
    R"("accepted conn":1234,"listen queue":3,"max listen queue":7,"listen queue len":0,)"
    R"("idle processes":2,"active processes":3,"total processes":5,"max active processes":5,)"
    R"("max children reached":4,"slow requests":2})";

TEST(FpmStatusTest, ParsesRealBodies) {
  std::string error;
  auto a = ParseFpmStatusJson(kRealTcp, &error);
  ASSERT_TRUE(a) << error;
  EXPECT_EQ(a->pool, "www");
  EXPECT_EQ(a->process_manager, "dynamic");
  EXPECT_EQ(a->accepted_conn, 1);
  EXPECT_EQ(a->listen_queue_len, 4096);
  EXPECT_EQ(a->active_processes, 1);
  EXPECT_EQ(a->idle_processes, 0);
  EXPECT_EQ(a->total_processes, 1);

  auto b = ParseFpmStatusJson(kDynamicUnix, &error);
  ASSERT_TRUE(b) << error;
  EXPECT_EQ(b->process_manager, "dynamic");
  EXPECT_EQ(b->listen_queue, 3);
  EXPECT_EQ(b->max_listen_queue, 7);
  EXPECT_EQ(b->listen_queue_len, 0);
  EXPECT_EQ(b->idle_processes, 2);
  EXPECT_EQ(b->active_processes, 3);
  EXPECT_EQ(b->total_processes, 5);
  EXPECT_EQ(b->max_active_processes, 5);
  EXPECT_EQ(b->max_children_reached, 4);
  EXPECT_EQ(b->slow_requests, 2);
}

TEST(FpmStatusTest, HostileBodiesAreErrorsNamingTheKey) {
  struct Case {
    std::string body;
    std::string error;
  };
  std::string deep(100000, '[');
  const Case cases[] = {
      {"", "not JSON"},
      {"pool:                 www\nprocess manager:      dynamic\n", "not JSON"},  // the text form
      {"[1,2]", "not an object"},
      {"\"x\"", "not an object"},
      {R"({"pool":"www"})", "no \"accepted conn\""},
      {std::string(kRealTcp).replace(std::string(kRealTcp).find("\"listen queue\":0"), 16,
                                     "\"listen queue\":\"0\""),
       "\"listen queue\" is not an integer"},
      {std::string(kRealTcp).replace(std::string(kRealTcp).find("\"slow requests\":0"), 17,
                                     "\"slow requests\":-1"),
       "\"slow requests\" is negative"},
      {std::string(kRealTcp).replace(std::string(kRealTcp).find("\"idle processes\":0"), 18,
                                     "\"idle processes\":1.5"),
       "\"idle processes\" is not an integer"},
      {std::string(kRealTcp).replace(std::string(kRealTcp).find("\"idle processes\":0"), 18,
                                     "\"idle processes\":18446744073709551615"),
       "\"idle processes\" is not an integer"},
      {R"({"pool":"www")", "not JSON"},
      {deep.substr(0, 60000), "nested deeper"},
      {std::string(70000, ' ') + kRealTcp, "larger than 64 KiB"},
  };
  for (const Case& c : cases) {
    std::string error;
    EXPECT_FALSE(ParseFpmStatusJson(c.body, &error)) << c.body.substr(0, 80);
    EXPECT_NE(error.find(c.error), std::string::npos) << error << " for " << c.body.substr(0, 80);
  }
  // Unknown keys (newer php-fpm's "memory peak") and a long pool name are fine.
  std::string body = kRealTcp;
  body.replace(body.find("\"pool\":\"www\""), 12,
               "\"memory peak\":2097152,\"pool\":\"" + std::string(1000, 'p') + "\"");
  std::string error;
  auto s = ParseFpmStatusJson(body, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->pool, std::string(256, 'p'));
  std::string control = kRealTcp;
  control.replace(control.find("\"pool\":\"www\""), 12, "\"pool\":\"w\\u0000\\n\"");
  s = ParseFpmStatusJson(control, &error);
  ASSERT_TRUE(s) << error;
  EXPECT_EQ(s->pool, "w??");
}

TEST(FpmStatusTest, Judgement) {
  std::string error;
  FpmPoolStatus base = *ParseFpmStatusJson(kRealTcp, &error);
  struct Case {
    const char* name;
    int64_t listen_queue, listen_queue_len, max_children_reached;
    std::optional<int64_t> previous;
    std::optional<int64_t> max_listen_queue;
    bool fail_on_max_children = true;
    Reason want;
    const char* detail;
  };
  const Case cases[] = {
      {"healthy", 0, 511, 0, 0, std::nullopt, true, Reason::kNone, ""},
      {"first run: no baseline", 0, 511, 9, std::nullopt, std::nullopt, true, Reason::kNone, ""},
      {"counter grew", 0, 511, 3, 1, std::nullopt, true, Reason::kPoolSaturated,
       "reached pm.max_children 2 time(s)"},
      {"counter grew, not asked", 0, 511, 3, 1, std::nullopt, false, Reason::kNone, ""},
      {"php-fpm restarted: counter went down", 0, 511, 0, 5, std::nullopt, true, Reason::kNone, ""},
      {"backlog full", 8, 8, 0, 0, std::nullopt, true, Reason::kListenQueueFull,
       "8 connections wait, the backlog holds 8"},
      {"unknown backlog size is not full", 8, 0, 0, 0, std::nullopt, true, Reason::kNone, ""},
      {"over max_listen_queue", 6, 0, 0, 0, 5, true, Reason::kListenQueueFull,
       "over max_listen_queue 5"},
      {"at max_listen_queue", 5, 0, 0, 0, 5, true, Reason::kNone, ""},
      {"queue full wins over saturation", 8, 8, 3, 1, std::nullopt, true, Reason::kListenQueueFull,
       "backlog holds 8"},
  };
  for (const Case& c : cases) {
    FpmPoolStatus s = base;
    s.listen_queue = c.listen_queue;
    s.listen_queue_len = c.listen_queue_len;
    s.max_children_reached = c.max_children_reached;
    FpmThresholds limits;
    limits.max_listen_queue = c.max_listen_queue;
    limits.fail_on_max_children_reached = c.fail_on_max_children;
    FpmVerdict v = JudgeFpmStatus(s, limits, c.previous);
    EXPECT_EQ(v.reason, c.want) << c.name << ": " << v.detail;
    EXPECT_NE(v.detail.find(c.detail), std::string::npos) << c.name << ": " << v.detail;
    if (c.want != Reason::kNone) {
      EXPECT_NE(v.detail.find("pool www: active 1, idle 0, total 1"), std::string::npos)
          << v.detail;
    }
  }
}

}  // namespace
}  // namespace gatewatch
