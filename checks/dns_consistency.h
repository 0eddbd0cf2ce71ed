// The authoritative consistency rule of the "dns" check: the NS servers of one zone must agree
// with each other, on the SOA serial first, then on the answer to the question.
//
// Pure: no I/O, no state. Table-tested in tests/unit/dns_consistency_test.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "checks/api/reason.h"
#include "checks/dns_answers.h"

namespace gatewatch {

// One NS server as the rule sees it. `answer` points into the caller's state (null: no reply
// could be read); it must stay valid during the call.
struct NsServerView {
  std::string label;               // the `resolver` label value
  std::optional<uint32_t> serial;  // SOA serial it reported, if any
  const DnsAnswerSet* answer = nullptr;
  std::string what;  // its answer or why there is none, as details show it (AnswerOrNote)
};

struct ConsistencyVerdict {
  Reason reason = Reason::kNone;  // kNone: consistent; else dns_inconsistent
  std::string detail;             // empty when consistent
  bool consistent() const { return reason == Reason::kNone; }
};

// Inconsistent when the servers reported more than one SOA serial (the detail lists every
// server's serial, or "no SOA"), or when two servers' answers differ (SameAnswer; servers with
// no answer do not count; the detail lists what each said). Servers in the order given.
ConsistencyVerdict AuthoritativeConsistency(const std::string& zone,
                                            const std::vector<NsServerView>& servers);

}  // namespace gatewatch
