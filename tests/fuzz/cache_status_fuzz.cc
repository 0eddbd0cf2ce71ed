// CDN cache-status headers (Cache-Status, X-Cache, CF-Cache-Status, Age/Via...) as an edge sends
// them, through every parser and the classifier over a whole header block; and what the hop in
// front says (Proxy-Status, Cloudflare's marks, Cache-Status fwd-status) over the same headers.
#include <cstddef>
#include <cstdint>
#include <string>

#include "checks/cache_status.h"
#include "checks/http_transfer.h"
#include "checks/proxy_status.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gatewatch::fuzz::FuzzInput in(data, size);
  std::string a = in.Field(), b = in.Field();
  (void)gatewatch::ParseCacheStatusField(a);
  (void)gatewatch::ParseCacheStatusWord(a);
  (void)gatewatch::ParseXCache(a);
  (void)gatewatch::CacheStatusFromAge(a, b);
  (void)gatewatch::DescribeProxyStatus(gatewatch::ParseProxyStatus(a));
  gatewatch::ResponseHeaders headers;
  headers.OnLine("HTTP/1.1 200 OK\r\n");
  while (!in.empty()) headers.OnLine(in.Field());
  (void)gatewatch::CacheStatusName(gatewatch::ClassifyCacheStatus(headers));
  (void)gatewatch::CacheForwardStatus(headers);
  for (long status : {502L, 521L}) (void)gatewatch::AttributeHopFailure(status, headers);
  return 0;
}
