#include "checks/api/reason.h"

#include <array>

namespace gatewatch {
namespace {

struct ReasonInfo {
  std::string_view name;
  Cause cause;
};

constexpr std::array<ReasonInfo, kReasonCount> kReasons = {{
#define GATEWATCH_REASON_INFO(e, name, cause) {name, Cause::cause},
    GATEWATCH_REASONS(GATEWATCH_REASON_INFO)
#undef GATEWATCH_REASON_INFO
}};

}  // namespace

std::string_view ReasonName(Reason r) { return kReasons[static_cast<size_t>(r)].name; }

Cause ReasonCause(Reason r) { return kReasons[static_cast<size_t>(r)].cause; }

std::string_view CauseName(Cause c) {
  switch (c) {
    case Cause::kNone:
      return "none";
    case Cause::kUpstreamDown:
      return "upstream_down";
    case Cause::kOverloaded:
      return "overloaded";
    case Cause::kDns:
      return "dns";
    case Cause::kNetwork:
      return "network";
    case Cause::kMisconfiguration:
      return "misconfiguration";
    case Cause::kCdnPath:
      return "cdn_path";
    case Cause::kResources:
      return "resources";
    case Cause::kAgent:
      return "agent";
  }
  return "agent";
}

std::optional<Reason> ParseReason(std::string_view name) {
  for (size_t i = 0; i < kReasons.size(); ++i) {
    if (kReasons[i].name == name) return static_cast<Reason>(i);
  }
  return std::nullopt;
}

}  // namespace gatewatch
