#!/usr/bin/env bash
# CPU time of one host collection: gatewatch's `type: host` check vs node_exporter with the same
# collectors (cpu, meminfo, filesystem, loadavg, pressure). Not part of the test run.
#
#   gatewatch collect: K host checks at the minimum interval (100ms), no scrapes: CPU / runs.
#   gatewatch scrape:  one host check, /metrics scraped back to back by wrk: CPU / scrapes.
#   node_exporter:     collects on every scrape; scraped back to back by wrk: CPU / scrapes.
# CPU is utime+stime of the process from /proc/PID/stat (the load generator is not counted).
# Usage: tests/bench/host-collect.sh [SECONDS=20] [K=20]   (after ./deploy/setup.sh build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
secs=${1:-20}
k=${2:-20}
hz=$(getconf CLK_TCK)
dir=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sum_metric() { curl -s "$1" | awk -v m="$2" 'index($0, m) == 1 {s += $NF} END {print s + 0}'; }
wait_http() { for _ in $(seq 1 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }
# wrk prints "N requests in ..."
wrk_requests() { wrk -t1 -c1 -d"${secs}s" "$1" | awk '/requests in/ {print $1}'; }

# --- gatewatch: collection only ---
{
  echo "checks:"
  for i in $(seq 1 "$k"); do echo "  - {name: host$i, type: host, interval: 100ms, timeout: 90ms}"; done
} >"$dir/collect.yml"
build/gatewatch --config.file="$dir/collect.yml" --web.listen-address=127.0.0.1:19301 2>"$dir/gw1.log" &
gw=$!
pids+=("$gw")
wait_http http://127.0.0.1:19301/-/ready
sleep 2
runs() { sum_metric http://127.0.0.1:19301/metrics 'gatewatch_check_runs_total{'; }
r1=$(runs) t1=$(ticks "$gw")
sleep "$secs"
r2=$(runs) t2=$(ticks "$gw")
kill "$gw"
awk -v t=$((t2 - t1)) -v hz="$hz" -v n=$((r2 - r1)) \
  'BEGIN {printf "gatewatch     collect: %6d collections  cpu %.2fs  %7.1f us/collection\n", n, t/hz, t/hz/n*1e6}'

# --- gatewatch: scrape of one host check's series (render + HTTP) ---
echo "checks: [{name: host, type: host, interval: 10s, timeout: 5s}]" >"$dir/scrape.yml"
build/gatewatch --config.file="$dir/scrape.yml" --web.listen-address=127.0.0.1:19302 2>"$dir/gw2.log" &
gw=$!
pids+=("$gw")
wait_http http://127.0.0.1:19302/-/ready
for _ in $(seq 1 150); do curl -s http://127.0.0.1:19302/metrics | grep -q '^gatewatch_host_memory_used_ratio' && break; sleep 0.1; done
gw_series=$(curl -s http://127.0.0.1:19302/metrics | grep -cE '^gatewatch_(host|container)_')
t1=$(ticks "$gw")
n=$(wrk_requests http://127.0.0.1:19302/metrics)
t2=$(ticks "$gw")
kill "$gw"
awk -v t=$((t2 - t1)) -v hz="$hz" -v n="$n" \
  'BEGIN {printf "gatewatch     scrape:  %6d scrapes      cpu %.2fs  %7.1f us/scrape\n", n, t/hz, t/hz/n*1e6}'

# --- node_exporter with the peer collectors: one scrape = one collection ---
prometheus-node-exporter --web.listen-address=127.0.0.1:19303 --web.disable-exporter-metrics \
  --collector.disable-defaults --collector.cpu --collector.meminfo --collector.filesystem \
  --collector.loadavg --collector.pressure 2>"$dir/ne.log" &
ne=$!
pids+=("$ne")
wait_http http://127.0.0.1:19303/metrics
curl -s http://127.0.0.1:19303/metrics >/dev/null
t1=$(ticks "$ne")
n=$(wrk_requests http://127.0.0.1:19303/metrics)
t2=$(ticks "$ne")
awk -v t=$((t2 - t1)) -v hz="$hz" -v n="$n" \
  'BEGIN {printf "node_exporter scrape:  %6d collections  cpu %.2fs  %7.1f us/collection\n", n, t/hz, t/hz/n*1e6}'
echo "series per collection: gatewatch host check $gw_series," \
  "node_exporter $(curl -s http://127.0.0.1:19303/metrics | grep -vc '^#')"
