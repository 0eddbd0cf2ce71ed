// nginx access-log lines in every format gatewatch compiles: parse, then split the upstream lists.
// The first byte picks the format; the rest is one line.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "checks/nginx_log_parse.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using gatewatch::AccessLogFormat;

std::vector<std::unique_ptr<AccessLogFormat>> CompileFormats() {
  std::vector<std::unique_ptr<AccessLogFormat>> formats;
  for (const char* spec :
       {"combined", "upstream", "json",
        "$remote_addr [$time_local] \"$request\" $status $request_time ua=$upstream_addr "
        "us=$upstream_status ut=$upstream_response_time"}) {
    std::string error;
    formats.push_back(AccessLogFormat::Compile(spec, &error));
    if (!formats.back()) __builtin_trap();  // the built-in formats must compile
  }
  return formats;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::vector<std::unique_ptr<AccessLogFormat>> formats = CompileFormats();
  gatewatch::fuzz::FuzzInput in(data, size);
  AccessLogFormat& format = *formats[in.Byte() % formats.size()];
  std::string line(in.Rest());
  gatewatch::AccessRecord record;
  if (!format.Parse(line, &record)) return 0;
  // What the proxy_log check relies on: a parsed status is an HTTP status, times are finite.
  if (record.status != 0 && (record.status < 100 || record.status > 599)) __builtin_trap();
  std::vector<gatewatch::UpstreamAttempt> attempts;
  gatewatch::SplitUpstreams(record, &attempts);
  return 0;
}
