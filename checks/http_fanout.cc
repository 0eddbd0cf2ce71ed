#include "checks/http_fanout.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>

#include "checks/reason_vote.h"

namespace gatewatch {

FanoutAddresses SelectBackends(const std::vector<ResolvedAddress>& addresses) {
  // Binary form sorts numerically ("127.0.0.10" after "127.0.0.2"); the family byte puts v4 first.
  std::vector<std::pair<std::array<unsigned char, 17>, std::string>> keyed;
  for (const auto& a : addresses) {
    std::array<unsigned char, 17> key{};
    key[0] = a.family == AF_INET ? 4 : 6;
    if (inet_pton(a.family, a.address.c_str(), key.data() + 1) != 1) continue;
    keyed.emplace_back(key, a.address);
  }
  std::sort(keyed.begin(), keyed.end());
  keyed.erase(std::unique(keyed.begin(), keyed.end()), keyed.end());
  FanoutAddresses out;
  for (const auto& [key, address] : keyed) {
    if (out.probe.size() == kMaxFanoutBackends) {
      ++out.not_probed;
    } else {
      out.probe.push_back(address);
    }
  }
  return out;
}

FanoutVerdict CombineBackends(const std::vector<BackendResult>& backends, size_t not_probed) {
  FanoutVerdict v;
  ReasonVote votes;
  std::string down;
  size_t listed = 0;
  for (size_t i = 0; i < backends.size(); ++i) {
    const BackendResult& b = backends[i];
    if (b.reason == Reason::kNone) {
      ++v.up;
      continue;
    }
    if (v.representative < 0) v.representative = static_cast<int>(i);
    votes.Add(b.reason);
    if (listed++ < 3) {
      down += (down.empty() ? "" : "; ") + b.address + " " + std::string(ReasonName(b.reason)) +
              ": " + b.detail;
    } else if (listed == 4) {
      down += "; ...";
    }
  }
  v.reason = votes.Winner(Reason::kNone);
  if (v.representative < 0 && !backends.empty()) v.representative = 0;
  std::string total = std::to_string(backends.size());
  std::string rest =
      not_probed > 0 ? " (" + std::to_string(not_probed) + " more addresses not probed)" : "";
  if (backends.empty()) {
    v.reason = Reason::kDnsNodata;
    v.detail = "no addresses to probe";
  } else if (v.reason == Reason::kNone) {
    v.detail = total + "/" + total + " backends up" + rest;
  } else {
    v.detail = std::to_string(backends.size() - v.up) + "/" + total + " backends down" + rest +
               ": " + down;
  }
  return v;
}

}  // namespace gatewatch
