// What a test does when a real server it needs (nginx, dnsmasq) did not start.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

// Skips only where the server's binary is not installed (a machine that never ran deploy/setup.sh).
// Anything else (a config the server refuses, a port it cannot bind, no answer in time) fails the
// test: a skip there would hide a real regression in CI. Use in a test body or SetUp().
#define GW_SERVER_DID_NOT_START(binary, error)              \
  do {                                                      \
    if (access(binary, X_OK) != 0) GTEST_SKIP() << (error); \
    FAIL() << (error);                                      \
  } while (0)
