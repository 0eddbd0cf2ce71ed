// tests/testlib/gatewatch_process.h: the port comes from the start-up line only, in both log
// formats, and a half-written or malformed line gives 0 (keep waiting), never a wrong port.
#include "tests/testlib/gatewatch_process.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace gatewatch::testing {
namespace {

TEST(GatewatchProcessTest, BoundPortFromLog) {
  struct Case {
    std::string log;
    int port;
  };
  std::vector<Case> cases = {
      {"ts=x level=info msg=\"gatewatch started\" checks=2 listen=127.0.0.1:39409 "
       "metrics=http://127.0.0.1:39409/metrics\n",
       39409},
      {"{\"msg\":\"gatewatch started\",\"listen\":\"127.0.0.1:36541\",\"metrics\":\"x\"}\n", 36541},
      {"msg=\"gatewatch started\" listen=[::1]:9142\n", 9142},
      {"msg=other listen=127.0.0.1:1\nmsg=\"gatewatch started\" listen=127.0.0.1:2\n", 2},
      {"msg=\"gatewatch started\" listen=127.0.0.1:39409", 0},  // no newline yet
      {"msg=\"invalid config\" file=x\n", 0},
      {"msg=\"gatewatch started\" listen=127.0.0.1:\n", 0},
      {"msg=\"gatewatch started\" listen=127.0.0.1:99999\n", 0},
      {"msg=\"gatewatch started\" listen=127.0.0.1:80x\n", 0},
      {"", 0},
  };
  for (const auto& c : cases) EXPECT_EQ(BoundPortFromLog(c.log), c.port) << c.log;
}

}  // namespace
}  // namespace gatewatch::testing
