// Raw DNS replies as a resolver sends them, for each question type gatewatch asks, through the
// reply parser and the query-result mapping the dns check uses.
#include <cstddef>
#include <cstdint>
#include <string>

#include "checks/dns_answers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // A, AAAA, CNAME, MX, TXT, NS, SOA, SRV, PTR, CAA
  static constexpr int kTypes[] = {1, 28, 5, 15, 16, 2, 6, 33, 12, 257};
  int qtype = kTypes[data[0] % (sizeof kTypes / sizeof kTypes[0])];
  std::string error;
  auto answer = gatewatch::ParseDnsReply(data + 1, size - 1, qtype, &error);
  if (answer) {
    if (!answer->capped && answer->records.size() != answer->count) __builtin_trap();
    (void)gatewatch::DescribeAnswer(*answer);
  }
  (void)gatewatch::ReadQueryReply(0, data + 1, static_cast<int>(size - 1), qtype);
  return 0;
}
