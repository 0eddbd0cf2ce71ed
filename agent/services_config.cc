#include "agent/services_config.h"

#include <optional>
#include <set>

#include "agent/base/units.h"

namespace gatewatch {
namespace {

// The role a check plays by its type; nullopt for a type that says nothing about a service.
std::optional<ServiceRole> RoleOfType(const std::string& type) {
  if (type == "http") return ServiceRole::kProbe;
  if (type == "proxy_log") return ServiceRole::kProxyLog;
  if (type == "dns") return ServiceRole::kDns;
  if (type == "host") return ServiceRole::kHost;
  if (type == "cdn_origin") return ServiceRole::kCdnOrigin;
  return std::nullopt;
}

bool ValidServiceName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

}  // namespace

std::vector<ServiceSpec> ParseServices(const ConfigNode& node,
                                       const std::map<std::string, std::string>& check_types) {
  std::vector<ServiceSpec> services;
  if (!node.IsDefined()) {
    bool proxied = false;
    for (const auto& [name, type] : check_types) {
      proxied = proxied || type == "proxy_log" || type == "cdn_origin";
    }
    if (!proxied) return services;
    ServiceSpec s;
    s.name = "default";
    s.implicit = true;
    for (const auto& [name, type] : check_types) {
      if (auto role = RoleOfType(type)) s.checks.push_back({name, *role});
    }
    services.push_back(std::move(s));
    return services;
  }
  if (!node.IsSequence()) node.Fail("must be a list");
  std::set<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    ConfigNode n = node.At(i);
    if (!n.IsMap()) n.Fail("must be a map");
    ServiceSpec s;
    ConfigNode name = n.Required("name");
    s.name = name.AsString();
    if (!ValidServiceName(s.name))
      name.Fail("must match [a-zA-Z0-9_.-]{1,128} (got \"" + s.name + "\")");
    if (!names.insert(s.name).second) name.Fail("duplicate service name \"" + s.name + "\"");
    ConfigNode checks = n.Required("checks");
    if (!checks.IsSequence() || checks.size() == 0) checks.Fail("must be a non-empty list");
    std::set<std::string> seen;
    for (size_t j = 0; j < checks.size(); ++j) {
      ConfigNode c = checks.At(j);
      std::optional<ServiceRole> role;
      // Never assign one ConfigNode to another: yaml-cpp's Node assignment writes through.
      std::string check;
      if (c.IsMap()) {
        check = c.Required("check").AsString();
        ConfigNode r = c.Child("role");
        if (r.IsDefined()) {
          role = ParseRole(r.AsString());
          if (!role) {
            r.Fail("unknown role \"" + r.AsString() +
                   "\" (known: probe, proxy_log, dns, host, cdn_origin, agent_path)");
          }
        }
        c.RejectUnknownKeys();
      } else {
        check = c.AsString();
      }
      auto type = check_types.find(check);
      if (type == check_types.end()) c.Fail("no check named \"" + check + "\"");
      if (!role) role = RoleOfType(type->second);
      if (!role) {
        c.Fail("check \"" + check + "\" is of type " + type->second +
               "; give its role ({check: " + check + ", role: agent_path})");
      }
      if (!seen.insert(check).second) c.Fail("check \"" + check + "\" is listed twice");
      s.checks.push_back({check, *role});
    }
    ConfigNode upstreams = n.Child("upstreams");
    if (upstreams.IsDefined()) s.upstreams = upstreams.AsStringList();
    n.RejectUnknownKeys();
    services.push_back(std::move(s));
  }
  return services;
}

DiagnosisOptions ParseDiagnosisOptions(const ConfigNode& node) {
  DiagnosisOptions o;
  if (!node.IsDefined()) return o;
  node.ExpectMap();
  o.window = node.DurationOr("window", o.window);
  o.hold = node.DurationOr("hold", o.hold);
  if (o.window < std::chrono::seconds(1)) node.Child("window").Fail("must be at least 1s");
  if (o.hold < Duration::zero()) node.Child("hold").Fail("must not be negative");
  node.RejectUnknownKeys();
  return o;
}

}  // namespace gatewatch
