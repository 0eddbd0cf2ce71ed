#!/usr/bin/env python3
"""Writes deploy/grafana/gatewatch-dashboard.json and its ConfigMap for the Grafana sidecar
(deploy/kubernetes/grafana-dashboard.yaml). Edit the panels here, run it, commit both outputs;
tests/integration/deploy_manifests_test.cc checks that every queried metric is documented."""
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
DS = {"type": "prometheus", "uid": "${datasource}"}
panels = []
pid = [0]
y = [0]
def row(title):
    pid[0] += 1
    panels.append({"id": pid[0], "type": "row", "title": title, "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y[0]}, "panels": []})
    y[0] += 1
x = [0]
def panel(title, kind, targets, w=12, h=8, unit=None, desc=None, extra=None):
    pid[0] += 1
    if x[0] + w > 24:
        x[0] = 0; y[0] += h
    p = {"id": pid[0], "type": kind, "title": title, "datasource": DS,
         "gridPos": {"h": h, "w": w, "x": x[0], "y": y[0]},
         "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": e, "legendFormat": l}
                     for i, (e, l) in enumerate(targets)]}
    if desc: p["description"] = desc
    fc = {"defaults": {}, "overrides": []}
    if unit: fc["defaults"]["unit"] = unit
    p["fieldConfig"] = fc
    if extra: p.update(extra)
    panels.append(p)
    x[0] += w
    if x[0] >= 24:
        x[0] = 0; y[0] += h
def endrow():
    if x[0] != 0:
        x[0] = 0; y[0] += 8

SEL = 'instance=~"$instance"'
row("Checks: status and reasons")
panel("Failing checks", "stat", [(f'count(gatewatch_check_success{{{SEL}}} == 0) or vector(0)', "failing")], w=6,
      desc="Checks whose last run failed.")
panel("Checks configured", "stat", [(f'sum(gatewatch_checks_configured{{{SEL}}})', "checks")], w=6)
panel("Failure reasons (runs/s)", "timeseries",
      [(f'sum by (reason) (rate(gatewatch_check_failures_total{{{SEL}, check=~"$check"}}[$__rate_interval]))', "{{reason}}")],
      w=12, unit="ops", desc="Why checks fail, from the fixed reason taxonomy (docs/reasons.md).")
panel("Check status", "table",
      [(f'gatewatch_check_success{{{SEL}, check=~"$check"}}', "{{check}}")], w=12,
      desc="1 = last run succeeded, 0 = failed.", extra={"options": {"showHeader": True}})
panel("Failing checks by reason (15m)", "table",
      [(f'sum by (check, reason) (increase(gatewatch_check_failures_total{{{SEL}, check=~"$check"}}[15m])) > 0', "{{check}} {{reason}}")], w=12)
panel("Probe duration", "timeseries",
      [(f'gatewatch_check_duration_seconds{{{SEL}, check=~"$check"}}', "{{check}}")], w=12, unit="s")
panel("Time per HTTP phase", "timeseries",
      [(f'gatewatch_http_phase_seconds{{{SEL}, check=~"$check"}}', "{{check}} {{phase}}")], w=12, unit="s",
      desc="resolve / connect / tls / processing (upstream think time) / transfer.")
endrow()

row("502 / 504: probes and real traffic")
panel("502/504 share of probes", "timeseries",
      [(f'sum by (check, code) (increase(gatewatch_http_responses_total{{{SEL}, check=~"$check", code=~"502|504"}}[$__range_interval_or_5m])) / ignoring(code) group_left sum by (check) (increase(gatewatch_check_runs_total{{{SEL}, check=~"$check", type="http"}}[$__range_interval_or_5m]))', "{{check}} {{code}}")],
      w=12, unit="percentunit")
panel("502/504 share of requests per upstream (access log)", "timeseries",
      [(f'sum by (upstream, code) (rate(gatewatch_proxy_responses_total{{{SEL}, code=~"502|504"}}[$__rate_interval])) / ignoring(code) group_left sum by (upstream) (rate(gatewatch_proxy_responses_total{{{SEL}}}[$__rate_interval]))', "{{upstream}} {{code}}")],
      w=12, unit="percentunit", desc="Every request nginx logged, per $upstream_addr.")
panel("Upstream failures by reason (error log)", "timeseries",
      [(f'sum by (upstream, reason) (rate(gatewatch_proxy_upstream_errors_total{{{SEL}}}[$__rate_interval]))', "{{upstream}} {{reason}}")],
      w=12, unit="ops", desc="nginx error.log lines classified: connection_refused, upstream_timeout, ...")
panel("Upstream response time p99 (access log)", "timeseries",
      [(f'histogram_quantile(0.99, sum by (le, upstream) (rate(gatewatch_proxy_upstream_response_seconds_bucket{{{SEL}}}[$__rate_interval])))', "{{upstream}}")],
      w=12, unit="s")
endrow()

row("DNS propagation")
panel("Propagation ratio", "timeseries",
      [(f'gatewatch_dns_propagation_ratio{{{SEL}, check=~"$check"}}', "{{check}}")], w=12, unit="percentunit",
      desc="Share of resolvers giving the expected (or majority) answer.")
panel("Resolver answers match", "state-timeline",
      [(f'gatewatch_dns_resolver_match{{{SEL}, check=~"$check"}}', "{{check}} {{resolver}}")], w=12,
      desc="Per resolver: 1 = answer matches, 0 = stale or different.")
panel("Resolver up", "state-timeline",
      [(f'gatewatch_dns_resolver_up{{{SEL}, check=~"$check"}}', "{{check}} {{resolver}}")], w=12)
panel("Query time per resolver", "timeseries",
      [(f'gatewatch_dns_query_duration_seconds{{{SEL}, check=~"$check"}}', "{{check}} {{resolver}}")], w=12, unit="s")
endrow()

row("CDN vs origin")
panel("Verdict", "state-timeline",
      [(f'max by (check, verdict) (gatewatch_cdn_verdict{{{SEL}, check=~"$check"}}) == 1', "{{check}}: {{verdict}}")], w=12,
      desc="ok, edge_fault, origin_fault, both_down, content_mismatch.")
panel("Cache status", "timeseries",
      [(f'sum by (check, status) (rate(gatewatch_cdn_cache_status_total{{{SEL}, check=~"$check"}}[$__rate_interval]))', "{{check}} {{status}}")],
      w=12, unit="ops")
panel("Status code: edge and origin", "timeseries",
      [(f'gatewatch_cdn_status_code{{{SEL}, check=~"$check"}}', "{{check}} {{side}}")], w=12)
panel("Content match", "state-timeline",
      [(f'gatewatch_cdn_content_match{{{SEL}, check=~"$check"}}', "{{check}}")], w=12)
endrow()

row("Host and container pressure")
panel("CPU usage", "timeseries",
      [(f'gatewatch_host_cpu_usage_ratio{{{SEL}, mode=~"busy|iowait|steal"}}', "{{instance}} {{mode}}")], w=8, unit="percentunit")
panel("Memory used", "timeseries",
      [(f'gatewatch_host_memory_used_ratio{{{SEL}}}', "host {{instance}}"),
       (f'gatewatch_container_memory_used_ratio{{{SEL}}}', "container {{instance}}")], w=8, unit="percentunit")
panel("Pressure stall (PSI)", "timeseries",
      [(f'gatewatch_host_pressure_ratio{{{SEL}, window="60s"}}', "{{instance}} {{resource}}")], w=8, unit="percentunit")
panel("Disk used", "timeseries",
      [(f'gatewatch_host_disk_used_ratio{{{SEL}}}', "{{instance}} {{mountpoint}}")], w=8, unit="percentunit")
panel("CPU throttled (container)", "timeseries",
      [(f'rate(gatewatch_container_cpu_throttled_seconds_total{{{SEL}}}[$__rate_interval])', "{{instance}}")], w=8, unit="percentunit",
      desc="Seconds throttled per second by the cgroup CPU quota.")
panel("OOM kills (container)", "timeseries",
      [(f'increase(gatewatch_container_oom_kills_total{{{SEL}}}[$__rate_interval])', "{{instance}}")], w=8)
endrow()

row("gatewatch itself")
panel("Agents (version, shard, location)", "table",
      [(f'gatewatch_build_info{{{SEL}}}', "{{instance}}")], w=12,
      desc="One row per agent: a sharded fleet shows every shard I/N once.")
panel("Runs in flight and skipped runs", "timeseries",
      [(f'sum by (instance) (gatewatch_runs_in_flight{{{SEL}}})', "in flight {{instance}}"),
       (f'sum by (instance) (rate(gatewatch_check_skipped_total{{{SEL}}}[$__rate_interval]))', "skipped/s {{instance}}")], w=12)
panel("Scheduler lag p99", "timeseries",
      [(f'histogram_quantile(0.99, sum by (le, instance) (rate(gatewatch_scheduler_lag_seconds_bucket{{{SEL}}}[$__rate_interval])))', "{{instance}}")],
      w=12, unit="s", desc="How late due runs start: the agent's loop falling behind.")
panel("Config reload successful", "stat",
      [(f'min(gatewatch_config_last_reload_successful{{{SEL}}})', "reload ok")], w=6)
panel("Alerts firing inside gatewatch", "stat",
      [(f'sum(gatewatch_alert_firing{{{SEL}}}) or vector(0)', "firing")], w=6)
endrow()

dash = {
    "uid": "gatewatch",
    "title": "gatewatch: why the proxy says 502",
    "tags": ["gatewatch"],
    "timezone": "browser",
    "schemaVersion": 38,
    "version": 1,
    "editable": True,
    "refresh": "30s",
    "time": {"from": "now-6h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus"},
        {"name": "instance", "label": "Agent", "type": "query", "datasource": DS,
         "query": {"query": "label_values(gatewatch_build_info, instance)", "refId": "instance"},
         "definition": "label_values(gatewatch_build_info, instance)",
         "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2},
        {"name": "check", "label": "Check", "type": "query", "datasource": DS,
         "query": {"query": "label_values(gatewatch_check_info{instance=~\"$instance\"}, check)", "refId": "check"},
         "definition": "label_values(gatewatch_check_info{instance=~\"$instance\"}, check)",
         "includeAll": True, "multi": True, "allValue": ".*", "refresh": 2},
    ]},
    "panels": panels,
}
s = json.dumps(dash, indent=2)
s = s.replace("$__range_interval_or_5m", "5m")
open(os.path.join(ROOT, "deploy/grafana/gatewatch-dashboard.json"), "w").write(s + "\n")
# ConfigMap for the Grafana sidecar (label grafana_dashboard: "1").
ind = "".join("    " + l for l in (s + "\n").splitlines(True))
cm = ('# The gatewatch dashboard for the Grafana sidecar (kube-prometheus-stack / grafana chart), which\n'
      '# loads every ConfigMap labelled grafana_dashboard: "1". The JSON is deploy/grafana/gatewatch-dashboard.json\n'
      '# (a test keeps them equal). Generated by deploy/grafana/make-dashboard.py: edit that, not this.\n'
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gatewatch-dashboard\n  namespace: monitoring\n'
      '  labels:\n    grafana_dashboard: "1"\n  annotations:\n    grafana_folder: gatewatch\n'
      'data:\n  gatewatch-dashboard.json: |\n' + ind)
open(os.path.join(ROOT, "deploy/kubernetes/grafana-dashboard.yaml"), "w").write(cm)
