#!/usr/bin/env bash
# A quick load measurement (not part of the test run): N HTTP checks every INTERVAL s against a
# local nginx, CPU and RSS of gatewatch read from /proc, lag and outcomes from its /metrics.
# Usage: [GW_BIN=path/to/gatewatch] [NGINX_PORT=18080] [GW_PORT=19200] [INTERVAL=1]
#        [COALESCE=50ms] tests/bench/quick-load.sh [N=1000] [SECONDS=20]
#        (N checks every INTERVAL seconds, a whole number >= 1; COALESCE sets scheduler.coalesce,
#        0 for exact due times)
# Back-to-back runs of the same script reuse its fixed ports: leave a few seconds between them.
# The full harness against blackbox_exporter and node_exporter is tests/bench/run.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
n=${1:-1000}
secs=${2:-20}
nginx_port=${NGINX_PORT:-18080}
gw_port=${GW_PORT:-19200}
interval=${INTERVAL:-1}
coalesce=${COALESCE:-50ms}
dir=$(mktemp -d)
chmod 755 "$dir"
trap 'kill $gw $(cat "$dir/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$dir"' EXIT
cat >"$dir/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $dir/nginx.pid; error_log $dir/error.log warn;
events { worker_connections 4096; }
http { access_log off; client_body_temp_path $dir/cb; proxy_temp_path $dir/p; fastcgi_temp_path $dir/f;
  uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;
  server { listen 127.0.0.1:$nginx_port backlog=4096; location / { return 200 "ok\n"; } } }
CONF
/usr/sbin/nginx -p "$dir/" -c "$dir/nginx.conf" &
{
  echo "defaults: {interval: ${interval}s, timeout: 500ms}"
  echo "scheduler: {coalesce: $coalesce}"
  echo "checks:"
  for i in $(seq 0 $((n - 1))); do echo "  - {name: c$i, type: http, url: 'http://127.0.0.1:$nginx_port/p$i'}"; done
} >"$dir/gw.yml"
${GW_BIN:-build/gatewatch} --config.file="$dir/gw.yml" --web.listen-address=127.0.0.1:$gw_port 2>"$dir/gw.log" &
gw=$!
sleep 5
# utime and stime apart: user space is what a change to gatewatch moves, the kernel's loopback TCP
# work per new connection is the larger and noisier share.
ticks() { awk '{print $14, $15}' "/proc/$gw/stat"; }
runs() { curl -s 127.0.0.1:$gw_port/metrics | awk '/^gatewatch_check_runs_total/{s+=$2} END{print s+0}'; }
read -r u1 s1 < <(ticks)
r1=$(runs)
sleep "$secs"
read -r u2 s2 < <(ticks)
t1=$((u1 + s1))
t2=$((u2 + s2))
hz=$(getconf CLK_TCK)
metrics=$(curl -s 127.0.0.1:$gw_port/metrics)
runs=$(echo "$metrics" | awk '/^gatewatch_check_runs_total/{s+=$2} END{print s}')
awk -v t=$((t2 - t1)) -v hz="$hz" -v s="$secs" -v n="$n" -v iv="$interval" -v rss="$(awk '/VmRSS/{print $2}' /proc/$gw/status)" \
  -v anon="$(awk '/RssAnon/{print $2}' /proc/$gw/status)" \
  'BEGIN{printf "checks=%d rate=%d/s cpu=%.3f cores  cpu_per_check=%.1f us  rss=%.1f MB (anon %.1f MB)\n", n, n/iv, t/hz/s, t/hz/(s*n/iv)*1e6, rss/1024, anon/1024}'
awk -v u=$((u2 - u1)) -v s=$((s2 - s1)) -v r=$((runs - r1)) -v hz="$hz" \
  'BEGIN{printf "per run in the window (%d runs): user=%.1f us sys=%.1f us\n", r, u/hz/r*1e6, s/hz/r*1e6}'
echo "runs_total=$runs skipped=$(echo "$metrics" | awk '/^gatewatch_check_skipped_total/{s+=$2} END{print s}')" \
  "failures=$(echo "$metrics" | awk '/^gatewatch_check_runs_total.*failure/{s+=$2} END{print s}')"
echo "$metrics" | grep -E '^gatewatch_scheduler_lag_seconds_(count|bucket\{le="0.001"\}|bucket\{le="0.005"\})'
echo "metrics bytes: $(echo "$metrics" | wc -c)"
