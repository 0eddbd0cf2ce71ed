// Blocking HTTP for tests (libcurl easy), plus a bounded wait for a condition.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace gatewatch::testing {

struct HttpResponse {
  long status = 0;  // 0: no response (refused, timed out)
  std::string body;
};

HttpResponse HttpGet(const std::string& url,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));
HttpResponse HttpPost(const std::string& url,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Polls `pred` every 20 ms until it holds or `limit` passes; returns whether it held. A bound on
// waiting for a state, never an assertion on how fast it came.
bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds limit);

}  // namespace gatewatch::testing
