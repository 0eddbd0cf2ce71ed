#include "checks/dns_consistency.h"

#include <set>

namespace gatewatch {

ConsistencyVerdict AuthoritativeConsistency(const std::string& zone,
                                            const std::vector<NsServerView>& servers) {
  std::set<uint32_t> serials;
  for (const NsServerView& s : servers) {
    if (s.serial) serials.insert(*s.serial);
  }
  bool answers_differ = false;
  const DnsAnswerSet* first = nullptr;
  for (const NsServerView& s : servers) {
    if (s.answer == nullptr) continue;
    if (first == nullptr) {
      first = s.answer;
    } else if (!SameAnswer(*first, *s.answer)) {
      answers_differ = true;
    }
  }
  ConsistencyVerdict verdict;
  if (serials.size() <= 1 && !answers_differ) return verdict;
  std::string what;
  for (const NsServerView& s : servers) {
    if (!what.empty()) what += ", ";
    what += s.label + " " +
            (serials.size() > 1
                 ? (s.serial ? "serial " + std::to_string(*s.serial) : std::string("no SOA"))
                 : s.what);
  }
  verdict.reason = Reason::kDnsInconsistent;
  verdict.detail = "authoritative servers of " + zone + " disagree: " + what;
  return verdict;
}

}  // namespace gatewatch
