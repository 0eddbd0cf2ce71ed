#!/usr/bin/env bash
# Benchmark harness (issue 8): gatewatch against prometheus-blackbox-exporter and
# prometheus-node-exporter on the same work, in one run, measured from the outside.
#
#   tests/bench/run.sh            full run (~14 min): N = 100, 1,000, 10,000 HTTP and DNS checks at
#                                 100/s and 1,000/s; writes docs/bench/results.{csv,json}
#   tests/bench/run.sh --smoke    seconds: one tiny row of each kind; asserts only that every row was
#                                 produced (CI), never a timing
# Options: --build-dir DIR (default build), --out DIR (default docs/bench; smoke: a temp dir),
#          --gatewatch BIN (another gatewatch binary, e.g. a "before" build),
#          --ns "100 1000" --rates "100" --window S --warmup S (full-run overrides),
#          --ingest-only [--ingest-lines N] (only the log_ingest row; 2,000,000 lines by default),
#          --rows "tcp nginx_upstreams diagnosis" (only these workloads; default all),
#          --upstreams "100 1000" (servers in the nginx_upstreams row's nginx config).
#
# What is measured, per process, from /proc and the processes' own endpoints:
#   cpu_ms_per_check  utime+stime over the window / runs completed in it (= CPU s per 1,000 checks);
#                     gatewatch: runs from its own gatewatch_check_runs_total; blackbox_exporter:
#                     /probe answers completed, driven by tests/bench/bench_driver (its CPU not counted)
#   rss_mb            VmRSS at the end of the window (one /metrics scrape has happened by then)
#   lag p50/p99       gatewatch_scheduler_lag_seconds over the window, interpolated like
#                     histogram_quantile()
#   scrape            wall time and bytes of GET /metrics, CPU per exposed sample (gatewatch: the
#                     web-server threads only, so running checks are not counted; node_exporter:
#                     the whole process)
#   startup_ms        exec to the first 200 from /-/ready (gatewatch), /-/healthy (blackbox),
#                     /metrics (node_exporter)
# Rows: http (N checks vs blackbox's http prober), tcp (N `type: tcp` checks sending an HTTP/1.0
# request and expecting its status line, against the same nginx ports, vs blackbox's tcp prober with
# the same query_response: beside the http row, the cost of the same exchange without libcurl),
# dns (vs its dns prober), host (one host check at
# 10/s vs node_exporter scraped back to back, whose cost per scrape includes its collection; the
# node_exporter row carries the same n and rate only to pair with it), idle (no checks),
# log_ingest (N `format: upstream` access log lines read from a file by one proxy_log check with
# the default settings, vs mtail --one_shot with tests/bench/nginx.mtail on the same file:
# cpu_ms_per_check is CPU ms per 1,000 lines; the note has lines per CPU second, and for gatewatch
# the rate its default read_budget/interval keeps up with), nginx_upstreams (a real nginx whose
# config has N upstream servers in groups of 10, each group behind a proxy_pass; one `type: nginx`
# check discovers them from that config and probes every one every 2 s: cpu_ms_per_check is CPU
# ms per round (discovery + N probes), rate the servers probed per second, the note has the
# discovery alone from tests/bench/nginx_discovery_bench, the round's wall time and the servers
# found up), diagnosis (tests/bench/diagnosis_bench: 100 services of 10 checks each, results as
# the agent feeds them, evaluated once a second: cpu_ms_per_check is CPU ms per evaluation as the
# agent pays it (engine + publishing), rss_mb the heap the diagnosis holds; no process, no peer).
# Targets are local: nginx and dnsmasq on 127.0.0.1, high ports, a temp dir; all stopped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
root=$PWD

smoke=0
ingest_only=0
ingest_lines_arg=""
build=build
gw_override=""
out=""
ns="100 1000 10000"
rates="100 1000"
ingest_lines=2000000
window=20
warmup=5
only_rows=all
upstream_ns="100 1000"
upstream_interval_ms=2000
diagnosis_evals=600
scrape_secs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --build-dir) build=$2; shift ;;
    --gatewatch) gw_override=$2; shift ;;
    --out) out=$2; shift ;;
    --ns) ns=$2; shift ;;
    --rates) rates=$2; shift ;;
    --window) window=$2; shift ;;
    --warmup) warmup=$2; shift ;;
    --ingest-only) ingest_only=1 ;;
    --rows) only_rows=$2; shift ;;
    --upstreams) upstream_ns=$2; shift ;;
    --ingest-lines) ingest_lines_arg=$2; shift ;;
    *) echo "usage: $0 [--smoke] [--build-dir DIR] [--out DIR] [--ns LIST] [--rates LIST]" >&2; exit 2 ;;
  esac
  shift
done
if [ $smoke = 1 ]; then
  ns="20"; rates="40"; window=2; warmup=1; scrape_secs=1; ingest_lines=20000
  upstream_ns="20"; upstream_interval_ms=1000; diagnosis_evals=20
fi
[ $ingest_only = 0 ] || only_rows=log_ingest
# Whether workload $1 is run (--rows).
want_row() { [ "$only_rows" = all ] || [[ " $only_rows " == *" $1 "* ]]; }
[ -z "$ingest_lines_arg" ] || ingest_lines=$ingest_lines_arg

case "$build" in /*) ;; *) build=$root/$build ;; esac
gw_bin=$build/gatewatch
driver=$build/tests/bench/bench_driver
parse_bench=$build/tests/bench/nginx_log_parse_bench
discovery_bench=$build/tests/bench/nginx_discovery_bench
diagnosis_bench=$build/tests/bench/diagnosis_bench
[ -x "$gw_bin" ] && [ -x "$driver" ] && [ -x "$parse_bench" ] && [ -x "$discovery_bench" ] &&
  [ -x "$diagnosis_bench" ] ||
  cmake --build "$build" --target gatewatch bench_driver nginx_log_parse_bench \
    nginx_discovery_bench diagnosis_bench >/dev/null
[ -z "$gw_override" ] || gw_bin=$(realpath "$gw_override")
blackbox=/usr/bin/prometheus-blackbox-exporter
node_exporter=/usr/bin/prometheus-node-exporter
hz=$(getconf CLK_TCK)

dir=$(mktemp -d /tmp/gw-bench.XXXXXX)
chmod 755 "$dir"
[ -n "$out" ] || out=$([ $smoke = 1 ] || [ "$only_rows" != all ] && echo "$dir/out" || echo "$root/docs/bench")
mkdir -p "$out"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

# ----- helpers ---------------------------------------------------------------------------------

# A free port on 127.0.0.1, high but below the ephemeral range (32768+), which thousands of new
# connections per second would collide with.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    ss -Hltn "sport = :$p" | grep -q . || ss -Hlun "sport = :$p" | grep -q . || { echo $p; return; }
  done
}
now_ns() { date +%s%N; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU of every thread but the main one (gatewatch: the web-server threads that render /metrics).
other_thread_ticks() {
  local pid=$1 t s=0
  for t in /proc/"$pid"/task/*; do
    [ "${t##*/}" = "$pid" ] && continue
    s=$((s + $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0)))
  done
  echo $s
}
rss_mb() { awk '/^VmRSS/{printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
# Milliseconds from "$2" (start, ns) until URL $1 answers 200, or fail after 60 s or when process
# $3 has exited.
wait_ready() {
  local url=$1 start=$2 pid=$3 i
  for i in $(seq 1 6000); do
    if curl -sf -o /dev/null "$url"; then echo $((($(now_ns) - start) / 1000000)); return; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.005
  done
  echo "bench: $url did not come up; logs:" >&2
  tail -n 5 "$dir"/*.log >&2 || true
  return 1
}
stop() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
# Sum of a metric's samples whose line starts with $2 in the text file $1.
msum() { awk -v p="$2" 'index($0, p) == 1 {s += $NF} END {printf "%d", s}' "$1"; }
# Quantile $3 of gatewatch_scheduler_lag_seconds between two scrapes, in ms.
lag_quantile() {
  awk -v q="$3" '
    FNR == 1 { f++ }
    /^gatewatch_scheduler_lag_seconds_bucket/ {
      match($0, /le="[^"]*"/); le = substr($0, RSTART + 4, RLENGTH - 5)
      if (f == 1) a[le] = $NF; else { b[le] = $NF; order[++n] = le }
    }
    END {
      total = b["+Inf"] - a["+Inf"]
      if (total <= 0) { print "nan"; exit }
      rank = q * total; prev_le = 0; prev_c = 0
      for (i = 1; i <= n; i++) {
        le = order[i]; c = b[le] - a[le]
        if (c >= rank) {
          if (le == "+Inf") { printf "%.3f", prev_le * 1000; exit }
          printf "%.3f", (prev_le + (le - prev_le) * (c > prev_c ? (rank - prev_c) / (c - prev_c) : 0)) * 1000
          exit
        }
        prev_le = le; prev_c = c
      }
    }' "$1" "$2"
}
# Scrapes URL $1 for $scrape_secs s. Prints "scrapes mean_ms bytes samples"; the body is kept in $2.
scrape_loop() {
  local url=$1 body=$2 k=0 total=0 t deadline=$(($(now_ns) + scrape_secs * 1000000000))
  while [ "$(now_ns)" -lt $deadline ] || [ $k -lt 2 ]; do
    t=$(curl -s -o "$body" -w '%{time_total}' "$url")
    total=$(awk -v a="$total" -v b="$t" 'BEGIN{print a + b}')
    k=$((k + 1))
  done
  echo "$k $(awk -v t="$total" -v k=$k 'BEGIN{printf "%.2f", t / k * 1000}') $(wc -c <"$body") $(grep -vc '^#' "$body")"
}

# One CSV row per measurement; columns as in the header.
csv=$dir/rows.csv
echo "workload,n,rate,process,cpu_ms_per_check,rss_mb,lag_p50_ms,lag_p99_ms,completed,failed,skipped,scrape_ms,scrape_bytes,samples,us_per_sample,startup_ms,note" >"$csv"
row() { local IFS=,; echo "$*" >>"$csv"; }

# ----- targets: nginx (4 ports, paths spread over them; 10 more for the upstreams of the
# nginx_upstreams row) and dnsmasq -------------------------------------------------------------------
nginx_ports=()
for i in 0 1 2 3; do nginx_ports+=("$(free_port)"); done
upstream_ports=()
for i in $(seq 0 9); do upstream_ports+=("$(free_port)"); done
listen=""
for p in "${nginx_ports[@]}" "${upstream_ports[@]}"; do listen+="listen 127.0.0.1:$p backlog=4096; "; done
cat >"$dir/nginx.conf" <<CONF
daemon off; worker_processes 1; pid $dir/nginx.pid; error_log $dir/nginx-error.log warn;
events { worker_connections 8192; }
http { access_log off; client_body_temp_path $dir/cb; proxy_temp_path $dir/p; fastcgi_temp_path $dir/f;
  uwsgi_temp_path $dir/u; scgi_temp_path $dir/s;
  server { $listen location / { return 200 "ok\n"; } } }
CONF
/usr/sbin/nginx -p "$dir/" -c "$dir/nginx.conf" &
pids+=($!)
dns_port=$(free_port)
dnsmasq --keep-in-foreground --conf-file=/dev/null --port="$dns_port" --listen-address=127.0.0.1 \
  --bind-interfaces --no-resolv --no-hosts --local=/example.test/ --address=/www.example.test/10.0.0.1 \
  --pid-file= --cache-size=1000 2>"$dir/dnsmasq.log" &
pids+=($!)
wait_ready "http://127.0.0.1:${nginx_ports[0]}/" "$(now_ns)" "${pids[0]}" >/dev/null

target_url() { echo "http://127.0.0.1:${nginx_ports[$(($1 % 4))]}/p$1"; }

# ----- gatewatch -------------------------------------------------------------------------------
gw_port=$(free_port)
gw_pid=0
start_gatewatch() {  # config file; sets gw_pid and startup_ms
  local t0
  t0=$(now_ns)
  "$gw_bin" --config.file="$1" --web.listen-address=127.0.0.1:$gw_port --log.level=warn 2>>"$dir/gw.log" &
  gw_pid=$!
  pids+=($gw_pid)
  startup_ms=$(wait_ready "http://127.0.0.1:$gw_port/-/ready" "$t0" $gw_pid)
}
# gatewatch under load: N checks spread evenly so that the aggregate rate is `rate` per second.
bench_gatewatch() {  # workload n rate check-yaml-function
  local workload=$1 n=$2 rate=$3 gen=$4 interval_ms timeout_ms i t1 t2 r1 r2 cfg=$dir/gw-$1-$2-$3.yml
  interval_ms=$((n * 1000 / rate))
  timeout_ms=$((interval_ms / 2 < 2000 ? interval_ms / 2 : 2000))
  {
    echo "defaults: {interval: ${interval_ms}ms, timeout: ${timeout_ms}ms}"
    echo "scheduler: {max_in_flight: 10000}"
    echo "checks:"
    for i in $(seq 0 $((n - 1))); do "$gen" "$i"; done
  } >"$cfg"
  start_gatewatch "$cfg"
  sleep "$warmup"
  curl -s "http://127.0.0.1:$gw_port/metrics" >"$dir/m1"
  t1=$(cpu_ticks $gw_pid)
  sleep "$window"
  t2=$(cpu_ticks $gw_pid)
  local rss
  rss=$(rss_mb $gw_pid)
  curl -s "http://127.0.0.1:$gw_port/metrics" >"$dir/m2"
  r1=$(msum "$dir/m1" gatewatch_check_runs_total)
  r2=$(msum "$dir/m2" gatewatch_check_runs_total)
  local runs=$((r2 - r1))
  local failed=$(($(awk '/^gatewatch_check_runs_total/ && /result="failure"/ {s += $NF} END {printf "%d", s}' "$dir/m2") -
    $(awk '/^gatewatch_check_runs_total/ && /result="failure"/ {s += $NF} END {printf "%d", s}' "$dir/m1")))
  local skipped=$(($(msum "$dir/m2" gatewatch_check_skipped_total) - $(msum "$dir/m1" gatewatch_check_skipped_total)))
  local cpu_ms
  cpu_ms=$(awk -v t=$((t2 - t1)) -v hz="$hz" -v r=$runs 'BEGIN{printf "%.4f", (r > 0 ? t / hz / r * 1000 : 0)}')
  # Exposition: CPU of the web-server threads over back-to-back scrapes.
  local e1 e2 s k ms bytes samples
  e1=$(other_thread_ticks $gw_pid)
  s=$(scrape_loop "http://127.0.0.1:$gw_port/metrics" "$dir/m3")
  e2=$(other_thread_ticks $gw_pid)
  read -r k ms bytes samples <<<"$s"
  local us
  us=$(awk -v t=$((e2 - e1)) -v hz="$hz" -v k="$k" -v n="$samples" 'BEGIN{printf "%.3f", t / hz / (k * n) * 1e6}')
  row "$workload" "$n" "$rate" gatewatch "$cpu_ms" "$rss" "$(lag_quantile "$dir/m1" "$dir/m2" 0.5)" \
    "$(lag_quantile "$dir/m1" "$dir/m2" 0.99)" "$runs" "$failed" "$skipped" "$ms" "$bytes" "$samples" "$us" \
    "$startup_ms" "achieved=$(awk -v r=$runs -v w="$window" 'BEGIN{printf "%.0f", r / w}')/s"
  stop $gw_pid
}
http_check_yaml() { echo "  - {name: c$1, type: http, url: '$(target_url "$1")'}"; }
# One resolver per check, as blackbox's dns prober asks one server per probe.
dns_check_yaml() {
  echo "  - {name: d$1, type: dns, query: {name: www.example.test, type: A}, resolvers: ['127.0.0.1:$dns_port']}"
}
# The same exchange as the http row's (GET over a new connection, status line checked), by hand.
tcp_check_yaml() {
  echo "  - {name: t$1, type: tcp, address: '$(tcp_target "$1")', send: \"GET / HTTP/1.0\\r\\n\\r\\n\", expect: '^HTTP/1\\.[01] 200'}"
}
tcp_target() { echo "127.0.0.1:${nginx_ports[$(($1 % 4))]}"; }
# The host check with its defaults (every file it reads), against node_exporter's collection.
host_check_yaml() { echo "  - {name: h$1, type: host}"; }
type_supported() {  # type check-yaml-function -> 0 if gatewatch accepts such a config
  local cfg=$dir/probe-$1.yml err
  { echo "checks:"; "$2" 0; } >"$cfg"
  if err=$("$gw_bin" --config.file="$cfg" --config.check 2>&1); then return 0; fi
  case "$err" in *"unknown check type"*) ;; *) echo "bench: $1 config in run.sh needs updating: $err" >&2 ;; esac
  return 1
}

# ----- blackbox_exporter, driven at the same rate on the same targets ----------------------------
bb_port=$(free_port)
cat >"$dir/blackbox.yml" <<CONF
modules:
  http_2xx:
    prober: http
    timeout: 2s
    http: {preferred_ip_protocol: ip4, ip_protocol_fallback: false}
  tcp_exchange:
    prober: tcp
    timeout: 2s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      # blackbox ends each send with a newline: the request is "GET / HTTP/1.0\r\n\r\n".
      query_response:
        - send: "GET / HTTP/1.0\r\n\r"
        - expect: '^HTTP/1\.[01] 200'
  dns_a:
    prober: dns
    timeout: 2s
    dns: {query_name: www.example.test, query_type: A, transport_protocol: udp, preferred_ip_protocol: ip4, ip_protocol_fallback: false}
CONF
bench_blackbox() {  # workload n rate module target-function
  local workload=$1 n=$2 rate=$3 module=$4 gen=$5 t0 pid urls=$dir/urls-$1-$2 i
  for i in $(seq 0 $((n - 1))); do
    echo "http://127.0.0.1:$bb_port/probe?module=$module&target=$("$gen" "$i")"
  done >"$urls"
  t0=$(now_ns)
  $blackbox --config.file="$dir/blackbox.yml" --web.listen-address=127.0.0.1:$bb_port --log.level=warn \
    2>>"$dir/blackbox.log" &
  pid=$!
  pids+=($pid)
  startup_ms=$(wait_ready "http://127.0.0.1:$bb_port/-/healthy" "$t0" $pid)
  local res
  res=$("$driver" --urls "$urls" --rate "$rate" --seconds "$window" --warmup "$warmup" --pid $pid \
    --expect "probe_success 1")
  local rss
  rss=$(rss_mb $pid)
  local completed ok failed cpu
  completed=$(echo "$res" | sed 's/.*"completed":\([0-9]*\).*/\1/')
  ok=$(echo "$res" | sed 's/.*"ok":\([0-9]*\).*/\1/')
  failed=$(echo "$res" | sed 's/.*"failed":\([0-9]*\).*/\1/')
  cpu=$(echo "$res" | sed 's/.*"cpu_seconds":\([0-9.]*\).*/\1/')
  row "$workload" "$n" "$rate" blackbox_exporter \
    "$(awk -v c="$cpu" -v r="$completed" 'BEGIN{printf "%.4f", (r > 0 ? c / r * 1000 : 0)}')" "$rss" "" "" \
    "$completed" "$failed" "" "" "" "" "" "$startup_ms" \
    "achieved=$(awk -v r="$completed" -v w="$window" 'BEGIN{printf "%.0f", r / w}')/s ok=$ok"
  stop $pid
}
dns_target() { echo "127.0.0.1:$dns_port"; }

# ----- node_exporter: host collection and exposition ------------------------------------------
bench_node_exporter() {
  local port t0 pid c1 c2 s k ms bytes samples
  port=$(free_port)
  t0=$(now_ns)
  $node_exporter --web.listen-address=127.0.0.1:$port --log.level=warn 2>>"$dir/node.log" &
  pid=$!
  pids+=($pid)
  startup_ms=$(wait_ready "http://127.0.0.1:$port/metrics" "$t0" $pid)
  c1=$(cpu_ticks $pid)
  s=$(scrape_loop "http://127.0.0.1:$port/metrics" "$dir/node.txt")
  c2=$(cpu_ticks $pid)
  read -r k ms bytes samples <<<"$s"
  # node_exporter collects on every scrape: its "check" is one scrape (collection + exposition).
  row host 1 10 node_exporter \
    "$(awk -v t=$((c2 - c1)) -v hz="$hz" -v k="$k" 'BEGIN{printf "%.4f", t / hz / k * 1000}')" \
    "$(rss_mb $pid)" "" "" "$k" "" "" "$ms" "$bytes" "$samples" \
    "$(awk -v t=$((c2 - c1)) -v hz="$hz" -v k="$k" -v n="$samples" 'BEGIN{printf "%.3f", t / hz / (k * n) * 1e6}')" \
    "$startup_ms" "cpu per scrape (collection + exposition)"
  stop $pid
}

# ----- idle: no check due --------------------------------------------------------------------
bench_idle() {
  local t1 t2 secs=$((window / 2 > 1 ? window / 2 : 1))
  echo "checks: []" >"$dir/gw-idle.yml"
  start_gatewatch "$dir/gw-idle.yml"
  sleep "$warmup"
  t1=$(cpu_ticks $gw_pid)
  sleep "$secs"
  t2=$(cpu_ticks $gw_pid)
  row idle 0 0 gatewatch "" "$(rss_mb $gw_pid)" "" "" "" "" "" "" "" "" "" "$startup_ms" \
    "cpu_ms_per_s=$(awk -v t=$((t2 - t1)) -v hz="$hz" -v s="$secs" 'BEGIN{printf "%.2f", t / hz / s * 1000}')"
  stop $gw_pid
}

# ----- log ingestion: one proxy_log check with default settings vs mtail, on the same file -------
# The loop thread's CPU (the main thread: reading and parsing happen there), per line.
main_thread_ticks() { awk '{print $14 + $15}' "/proc/$1/task/$1/stat"; }
bench_log_ingest() {
  local lines=$1 file=$dir/ingest.log c0 c1 parsed=0 i runs
  "$parse_bench" --write "$file" "$lines"
  cat >"$dir/gw-ingest.yml" <<CONF
checks:
  - {name: ingest, type: proxy_log, interval: 5s, timeout: 1s, format: upstream, start_at: beginning, access_log: '$file'}
CONF
  start_gatewatch "$dir/gw-ingest.yml"
  c0=$(main_thread_ticks $gw_pid)
  for i in $(seq 1 600); do  # the first run comes within one interval; at most 60 s
    curl -s "http://127.0.0.1:$gw_port/metrics" >"$dir/mi"
    parsed=$(msum "$dir/mi" 'gatewatch_proxy_log_lines_total{check="ingest",log="access",result="parsed"}')
    [ "$parsed" -ge "$lines" ] && break
    sleep 0.1
  done
  c1=$(main_thread_ticks $gw_pid)
  runs=$(msum "$dir/mi" 'gatewatch_check_runs_total{check="ingest"')
  local cpu_s
  cpu_s=$(awk -v t=$((c1 - c0)) -v hz="$hz" 'BEGIN{printf "%.3f", t / hz}')
  # What the default read_budget (1s of CPU) every interval (5s) keeps up with at this cost per line.
  row log_ingest "$lines" 0 gatewatch \
    "$(awk -v c="$cpu_s" -v n="$parsed" 'BEGIN{printf "%.4f", (n > 0 ? c / n * 1e6 : 0)}')" \
    "$(rss_mb $gw_pid)" "" "" "$parsed" "" "" "" "" "" "" "$startup_ms" \
    "$(awk -v c="$cpu_s" -v n="$parsed" -v r="$runs" 'BEGIN{
      if (c > 0) printf "lines_per_cpu_s=%.0f us_per_line=%.3f keeps_up_with=%.0f/s runs=%d", n / c, c / n * 1e6, n / c * 1 / 5, r
      else printf "lines_per_cpu_s=n/a (under one tick) runs=%d", r }')"
  stop $gw_pid
  if [ -x /usr/bin/mtail ] && [ -x /usr/bin/time ]; then
    local out=$dir/mtail.out t wall user sys rss_kb counted
    /usr/bin/time -o "$dir/mtail.time" -f "%e %U %S %M" /usr/bin/mtail --one_shot \
      --one_shot_format prometheus --progs "$root/tests/bench/nginx.mtail" --logs "$file" \
      --logtostderr >"$out" 2>"$dir/mtail.log"
    read -r wall user sys rss_kb <"$dir/mtail.time"
    counted=$(msum "$out" 'proxy_responses_total{')
    row log_ingest "$lines" 0 mtail \
      "$(awk -v u="$user" -v s="$sys" -v n="$counted" 'BEGIN{printf "%.4f", (n > 0 ? (u + s) / n * 1e6 : 0)}')" \
      "$(awk -v k="$rss_kb" 'BEGIN{printf "%.1f", k / 1024}')" "" "" "$counted" "" "" "" "" "" "" "" \
      "$(awk -v u="$user" -v s="$sys" -v w="$wall" -v n="$counted" 'BEGIN{
        c = u + s; printf "lines_per_cpu_s=%s lines_per_s_wall=%.0f one_shot", (c > 0 ? sprintf("%.0f", n / c) : "n/a"), (w > 0 ? n / w : 0) }')"
  else
    row log_ingest "$lines" 0 mtail "" "" "" "" "" "" "" "" "" "" "" "" "TODO: mtail or /usr/bin/time not installed (apt-get install mtail time)"
  fi
  rm -f "$file"
}

# ----- N upstream servers discovered from a real nginx's config by one `type: nginx` check -------
# The proxy nginx's config: N servers in groups of 10 (the last one smaller), each group behind a
# proxy_pass of its own, spread over the 10 upstream ports of the target nginx.
bench_nginx_upstreams() {
  local n=$1 d=$dir/proxy-$1 port g k i groups t1 t2 interval_ms=$upstream_interval_ms
  mkdir -p "$d"
  port=$(free_port)
  groups=$(((n + 9) / 10))
  {
    echo "daemon off; worker_processes 1; pid $d/nginx.pid; error_log $d/error.log warn;"
    echo "events { worker_connections 1024; }"
    echo "http { access_log off; client_body_temp_path $d/cb; proxy_temp_path $d/p;"
    echo "  fastcgi_temp_path $d/f; uwsgi_temp_path $d/u; scgi_temp_path $d/s;"
    echo "  proxy_connect_timeout 2s; proxy_read_timeout 2s;"
    i=0
    for g in $(seq 0 $((groups - 1))); do
      echo "  upstream app$g {"
      for k in $(seq 0 9); do
        [ $i -lt "$n" ] || break
        echo "    server 127.0.0.1:${upstream_ports[$k]} max_fails=3 fail_timeout=10s;"
        i=$((i + 1))
      done
      echo "    keepalive 16;"
      echo "  }"
    done
    echo "  server { listen 127.0.0.1:$port;"
    echo "    location = /nginx_status { stub_status; }"
    for g in $(seq 0 $((groups - 1))); do
      echo "    location /app$g/ { proxy_pass http://app$g/; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
    done
    echo "  }"
    echo "}"
  } >"$d/nginx.conf"
  local proxy_pid
  /usr/sbin/nginx -p "$d/" -c "$d/nginx.conf" 2>>"$dir/proxy-nginx.log" &
  proxy_pid=$!
  pids+=($proxy_pid)
  wait_ready "http://127.0.0.1:$port/app0/" "$(now_ns)" $proxy_pid >/dev/null
  # Discovery alone (load + extract), in-process, CPU time.
  local disc repeats=$((n >= 1000 ? 50 : 200))
  [ $smoke = 0 ] || repeats=20
  disc=$("$discovery_bench" "$d/nginx.conf" "$repeats" "$n")
  local disc_us=${disc##*us_per_discovery=}
  cat >"$dir/gw-upstreams-$n.yml" <<CONF
scheduler: {max_in_flight: 10000}
checks:
  - {name: upstreams, type: nginx, interval: ${interval_ms}ms, timeout: $((interval_ms * 3 / 4))ms, config_file: '$d/nginx.conf',
     status_url: 'http://127.0.0.1:$port/nginx_status', max_servers: 1024, health_path: /}
CONF
  start_gatewatch "$dir/gw-upstreams-$n.yml"
  sleep "$warmup"
  curl -s "http://127.0.0.1:$gw_port/metrics" >"$dir/m1"
  t1=$(cpu_ticks $gw_pid)
  sleep "$window"
  t2=$(cpu_ticks $gw_pid)
  local rss
  rss=$(rss_mb $gw_pid)
  curl -s "http://127.0.0.1:$gw_port/metrics" >"$dir/m2"
  local runs failed up round_ms
  runs=$(($(msum "$dir/m2" gatewatch_check_runs_total) - $(msum "$dir/m1" gatewatch_check_runs_total)))
  failed=$(($(awk '/^gatewatch_check_runs_total/ && /result="failure"/ {s += $NF} END {printf "%d", s}' "$dir/m2") -
    $(awk '/^gatewatch_check_runs_total/ && /result="failure"/ {s += $NF} END {printf "%d", s}' "$dir/m1")))
  up=$(msum "$dir/m2" 'gatewatch_nginx_upstream_server_up{')
  round_ms=$(awk '/^gatewatch_check_duration_seconds\{/ && /check="upstreams"/ {printf "%.1f", $NF * 1000}' "$dir/m2")
  local cpu_ms
  cpu_ms=$(awk -v t=$((t2 - t1)) -v hz="$hz" -v r=$runs 'BEGIN{printf "%.3f", (r > 0 ? t / hz / r * 1000 : 0)}')
  local e1 e2 sc k ms bytes samples us
  e1=$(other_thread_ticks $gw_pid)
  sc=$(scrape_loop "http://127.0.0.1:$gw_port/metrics" "$dir/m3")
  e2=$(other_thread_ticks $gw_pid)
  read -r k ms bytes samples <<<"$sc"
  us=$(awk -v t=$((e2 - e1)) -v hz="$hz" -v k="$k" -v n="$samples" 'BEGIN{printf "%.3f", t / hz / (k * n) * 1e6}')
  row nginx_upstreams "$n" $((n * 1000 / interval_ms)) gatewatch "$cpu_ms" "$rss" \
    "$(lag_quantile "$dir/m1" "$dir/m2" 0.5)" "$(lag_quantile "$dir/m1" "$dir/m2" 0.99)" "$runs" \
    "$failed" "" "$ms" "$bytes" "$samples" "$us" "$startup_ms" \
    "discovery_us=$disc_us us_per_server=$(awk -v c="$cpu_ms" -v n="$n" 'BEGIN{printf "%.1f", c / n * 1000}') round_ms=$round_ms servers_up=$up/$n groups=$groups"
  stop $gw_pid
  stop $proxy_pid
}

# ----- the diagnosis engine: 100 services of 10 checks, in-process (tests/bench/diagnosis_bench) ---
bench_diagnosis() {
  local res
  res=$("$diagnosis_bench" 100 "$diagnosis_evals")
  v() { echo "$res" | tr ' ' '\n' | sed -n "s/^$1=//p"; }  # field $1 of its key=value line
  row diagnosis "$(v services)" 1 gatewatch \
    "$(awk -v u="$(v sink_us_per_eval)" 'BEGIN{printf "%.4f", u / 1000}')" \
    "$(awk -v k="$(v heap_kb)" 'BEGIN{printf "%.1f", k / 1024}')" "" "" "$(v evaluations)" "" "" "" "" "" "" "" \
    "checks=$(v checks) engine_us_per_eval=$(v engine_us_per_eval) sink_us_per_eval=$(v sink_us_per_eval) us_per_result=$(v us_per_result) heap_kb=$(v heap_kb) verdicts=$(v verdicts) cpu_clock"
}

# ----- the run -------------------------------------------------------------------------------
if [ "$only_rows" = all ]; then
  echo "bench: $([ $smoke = 1 ] && echo smoke || echo full) run, N in {$ns}, rates {$rates}/s, window ${window}s" >&2
else
  echo "bench: rows {$only_rows}, N in {$ns}, rates {$rates}/s, window ${window}s" >&2
fi
! want_row idle || bench_idle
for kind in http tcp; do
  want_row $kind || continue
  for n in $ns; do
    for rate in $rates; do
      echo "bench: $kind n=$n rate=$rate/s" >&2
      if [ $kind = http ]; then
        bench_gatewatch http "$n" "$rate" http_check_yaml
        bench_blackbox http "$n" "$rate" http_2xx target_url
      else
        if type_supported tcp tcp_check_yaml; then
          bench_gatewatch tcp "$n" "$rate" tcp_check_yaml
        else
          row tcp "$n" "$rate" gatewatch "" "" "" "" "" "" "" "" "" "" "" "" "TODO: type tcp not on this build"
        fi
        bench_blackbox tcp "$n" "$rate" tcp_exchange tcp_target
      fi
    done
  done
done
for n in $ns; do
  want_row dns || break
  for rate in $rates; do
    echo "bench: dns n=$n rate=$rate/s" >&2
    if type_supported dns dns_check_yaml; then
      bench_gatewatch dns "$n" "$rate" dns_check_yaml
    else
      row dns "$n" "$rate" gatewatch "" "" "" "" "" "" "" "" "" "" "" "" "type dns not on this build"
    fi
    bench_blackbox dns "$n" "$rate" dns_a dns_target
  done
done
# At its minimum interval (100ms), so a window holds enough runs for CPU ticks of 10 ms to resolve
# ~0.5 ms per run.
if want_row host; then
  echo "bench: host (1 host check at 10/s) vs node_exporter" >&2
  if type_supported host host_check_yaml; then
    bench_gatewatch host 1 10 host_check_yaml
  else
    row host 1 10 gatewatch "" "" "" "" "" "" "" "" "" "" "" "" "TODO: type host not on this build"
  fi
  bench_node_exporter
fi
if want_row log_ingest; then
  echo "bench: log_ingest ($ingest_lines lines) vs mtail" >&2
  bench_log_ingest "$ingest_lines"
fi
if want_row nginx_upstreams; then
  for n in $upstream_ns; do
    echo "bench: nginx_upstreams ($n servers discovered from nginx's config)" >&2
    bench_nginx_upstreams "$n"
  done
fi
if want_row diagnosis; then
  echo "bench: diagnosis (100 services x 10 checks, $diagnosis_evals evaluations)" >&2
  bench_diagnosis
fi

# ----- report: table with ratios, CSV, JSON -----------------------------------------------------
awk -F, -v OFS=, '
  NR == 1 { print $0, "ratio_cpu", "ratio_rss", "ratio_us_per_sample"; next }
  { line[NR] = $0; for (i = 1; i <= NF; i++) f[NR, i] = $i; rows = NR
    if ($4 != "gatewatch") peer[$1 "/" $2 "/" $3] = NR
    if ($4 == "node_exporter") node = NR }
  END {
    for (r = 2; r <= rows; r++) {
      rc = rr = rs = ""
      key = f[r, 1] "/" f[r, 2] "/" f[r, 3]
      if (f[r, 4] == "gatewatch" && (key in peer)) {
        p = peer[key]
        if (f[p, 5] > 0 && f[r, 5] != "") rc = sprintf("%.3f", f[r, 5] / f[p, 5])
        if (f[p, 6] > 0 && f[r, 6] != "") rr = sprintf("%.3f", f[r, 6] / f[p, 6])
      }
      if (f[r, 4] == "gatewatch" && f[r, 15] != "" && node && f[node, 15] > 0)
        rs = sprintf("%.3f", f[r, 15] / f[node, 15])
      print line[r], rc, rr, rs
    }
  }' "$csv" >"$out/results.csv"
awk -F, '
  NR == 1 { for (i = 1; i <= NF; i++) h[i] = $i; n = NF; printf "["; next }
  { printf "%s\n  {", (NR > 2 ? "," : "")
    for (i = 1; i <= n; i++) {
      v = $i
      if (v == "" || v == "nan") v = "null"
      else if (v !~ /^-?[0-9]+(\.[0-9]+)?$/) { gsub(/"/, "\\\"", v); v = "\"" v "\"" }
      printf "%s\"%s\": %s", (i > 1 ? ", " : ""), h[i], v
    }
    printf "}" }
  END { print "\n]" }' "$out/results.csv" >"$out/results.json"

awk -F, '
  BEGIN { printf "%-15s %6s %5s %-17s %9s %7s %7s %7s %7s %6s %5s %9s %9s %7s %8s %7s %7s %7s %7s  %s\n",
      "workload", "n", "rate", "process", "cpu_ms/ck", "rss_MB", "lag50ms", "lag99ms", "done", "failed",
      "skip", "scrape_ms", "bytes", "samples", "us/sampl", "start_ms", "x_cpu", "x_rss", "x_us/s", "note" }
  NR > 1 { printf "%-15s %6s %5s %-17s %9s %7s %7s %7s %7s %6s %5s %9s %9s %7s %8s %7s %7s %7s %7s  %s\n",
      $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $18, $19, $20, $17 }
' "$out/results.csv"
echo "bench: wrote $out/results.csv and $out/results.json (x_* = gatewatch / peer on the same work)" >&2

# Smoke: every row was produced (and measured where the row is not a TODO hook); no timing asserted.
if [ $smoke = 1 ]; then
  fail=0
  want=("idle,0,0,gatewatch" "http,20,40,gatewatch" "http,20,40,blackbox_exporter" "tcp,20,40,gatewatch"
    "tcp,20,40,blackbox_exporter" "dns,20,40,gatewatch" "dns,20,40,blackbox_exporter"
    "host,1,10,gatewatch" "host,1,10,node_exporter" "log_ingest,$ingest_lines,0,gatewatch"
    "log_ingest,$ingest_lines,0,mtail" "nginx_upstreams,$upstream_ns,20,gatewatch" "diagnosis,100,1,gatewatch")
  for w in "${want[@]}"; do
    grep -q "^$w," "$out/results.csv" || { echo "bench smoke: missing row $w" >&2; fail=1; }
  done
  awk -F, 'NR > 1 && $17 !~ /^TODO/ && $1 != "idle" && ($9 == "" || $9 == 0 || $5 == "") {
      print "bench smoke: row without completed work: " $0; bad = 1 } END { exit bad }' "$out/results.csv" >&2 || fail=1
  awk -F, 'NR > 1 && $4 == "gatewatch" && $17 !~ /^TODO/ && $1 != "idle" && $1 != "log_ingest" && $1 != "diagnosis" && ($14 == "" || $14 == 0 || $7 == "nan") {
      print "bench smoke: gatewatch row without exposition or lag: " $0; bad = 1 } END { exit bad }' \
    "$out/results.csv" >&2 || fail=1
  # The discovered upstreams were all found and probed (the target nginx answers every one).
  awk -F, 'NR > 1 && $1 == "nginx_upstreams" && $17 !~ ("servers_up=" $2 "/" $2 " ") {
      print "bench smoke: not every discovered upstream probed up: " $0; bad = 1 } END { exit bad }' \
    "$out/results.csv" >&2 || fail=1
  [ $fail = 0 ] && echo "bench smoke: ok" >&2
  exit $fail
fi
