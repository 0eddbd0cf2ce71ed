// The "most frequent reason" vote shared by checks that combine several sub-results into one
// (http fan-out backends, DNS resolver lists): every vote is counted first, then the winner is the
// reason with the highest count that was voted first, so a tie goes to the reason of the earliest
// voter in configured order ([refused, timeout, timeout, refused] -> refused), not to the reason
// that happened to reach the top count first.
//
// Header-only value type; not thread-safe (one instance per combine call).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "checks/api/reason.h"

namespace gatewatch {

class ReasonVote {
 public:
  void Add(Reason r) {
    for (auto& [reason, count] : votes_) {
      if (reason == r) {
        ++count;
        return;
      }
    }
    votes_.emplace_back(r, 1);  // kept in order of first vote: the tie-break order
  }

  // The winner, or `none` when nobody voted.
  Reason Winner(Reason none) const {
    Reason best = none;
    size_t best_count = 0;
    for (const auto& [reason, count] : votes_) {
      if (count > best_count) {  // strictly greater: an earlier reason keeps a tie
        best = reason;
        best_count = count;
      }
    }
    return best;
  }

 private:
  // Few distinct reasons per call (a handful), so a linear scan beats a map.
  std::vector<std::pair<Reason, size_t>> votes_;
};

}  // namespace gatewatch
