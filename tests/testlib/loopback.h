// Loopback sockets and a bounded loop driver for the io tests: a bound UDP socket or a listening
// TCP socket on 127.0.0.1 with a port the kernel picked (a TCP listener that never accepts is a
// server that takes connections and never answers), and a loop run until a flag is set.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>

#include "agent/base/clock.h"
#include "agent/base/fd.h"
#include "agent/io/event_loop.h"

namespace gatewatch::testing {

// SOCK_DGRAM: bound; SOCK_STREAM: bound and listening. *port receives the kernel's port.
inline UniqueFd BindLoopback(int type, int* port) {
  UniqueFd fd(socket(AF_INET, type | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  if (type == SOCK_STREAM) {
    EXPECT_EQ(listen(fd.get(), 16), 0);
  }
  socklen_t len = sizeof addr;
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

// Runs `loop` until `done` is set or `limit` passes on the loop's clock.
inline void RunUntil(EventLoop& loop, const bool& done, Duration limit = std::chrono::seconds(10)) {
  TimePoint end = loop.clock().Now() + limit;
  while (!done && loop.clock().Now() < end) loop.RunOnce(std::chrono::milliseconds(50));
}

}  // namespace gatewatch::testing
