// Prometheus alerting rules generated from gatewatch's `alerts:` config, so the thresholds live in
// one place: the agent evaluates them itself and Prometheus fires the same alerts from gatewatch's
// counters.
//
// Generated alerts carry labels `severity`, `service`, `check` and `gatewatch_kind` (ratio, slo,
// upstream_down), and an annotation `reason` with the dominant failure reason of the source, so a
// page says why. For every service an `UpstreamDown` alert fires when a source check fails with
// connection_refused or no_live_upstreams; Alertmanager inhibits the service's ratio and SLO
// alerts while it fires (deploy/alertmanager/alertmanager.yml).
#pragma once

#include <string>
#include <vector>

#include "exporters/alert_spec.h"

namespace gatewatch {

// A Prometheus rule file: `groups: [{name: gatewatch, rules: [...]}]`.
std::string RenderRuleFile(const std::vector<AlertSpec>& alerts);

// The same groups as a prometheus-operator PrometheusRule manifest.
std::string RenderPrometheusRule(const std::vector<AlertSpec>& alerts, const std::string& name,
                                 const std::string& ns);

}  // namespace gatewatch
