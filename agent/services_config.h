// The `services:` and `diagnosis:` sections of the config (docs/configuration.md, "Services"):
// which checks describe which proxied service, for the diagnosis engine (agent/diagnosis.h).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "agent/base/config_node.h"
#include "agent/diagnosis.h"

namespace gatewatch {

// `check_types`: every configured check's name and type. Throws ConfigError with the exact path
// (`services[0].checks[1]: no check named "x"`). Without a `services:` section, a config with a
// proxy_log or cdn_origin check gets one implicit service, "default", holding every http,
// proxy_log, dns, host and cdn_origin check; a config without one gets no service.
std::vector<ServiceSpec> ParseServices(const ConfigNode& node,
                                       const std::map<std::string, std::string>& check_types);

// `diagnosis: {window: 60s, hold: 30s}`.
DiagnosisOptions ParseDiagnosisOptions(const ConfigNode& node);

}  // namespace gatewatch
