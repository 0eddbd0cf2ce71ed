// nginx log lines as 1.22 writes them, for the proxy_log tests, and the sum of a run's
// observations of one series.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "checks/api/result.h"

namespace gatewatch::testing {

// An access-log line in the recommended `upstream` format (deploy/nginx/gatewatch-log-format.conf).
inline std::string UpstreamLogLine(int status, const std::string& addr, const std::string& ustatus,
                                   const std::string& utime, const std::string& rt = "0.010") {
  return "127.0.0.1 - - [25/Nov/2026:02:10:01 +0000] \"GET / HTTP/1.1\" " + std::to_string(status) +
         " 10 \"-\" \"curl/7.88.1\" rt=" + rt + " ua=\"" + addr + "\" us=\"" + ustatus +
         "\" urt=\"" + utime + "\"";
}

// The error-log line of a refused connection to `addr`.
inline std::string RefusedErrorLine(const std::string& addr) {
  return "2026/11/25 02:10:01 [error] 7#7: *3 connect() failed (111: Connection refused) while "
         "connecting to upstream, client: 127.0.0.1, server: , request: \"GET / HTTP/1.1\", "
         "upstream: \"http://" +
         addr + "/\", host: \"127.0.0.1\"";
}

// Sum of the observations of `name` whose labels are `labels` (all of them, in order), or -1 when
// there is none.
inline double ObservedSum(const Result& r, std::string_view name,
                          const std::vector<std::string>& labels) {
  double sum = 0;
  bool found = false;
  for (const auto& o : r.observations) {
    if (o.desc->name == name && o.label_values == labels) {
      sum += o.value;
      found = true;
    }
  }
  return found ? sum : -1;
}

}  // namespace gatewatch::testing
