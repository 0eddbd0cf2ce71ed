#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/) and runs each for a bounded time from its
# committed seed corpus (tests/fuzz/corpus/<target>/; new inputs go to a scratch folder, the seeds
# are never changed). A crash, a leak, a sanitizer report or a timeout fails the step and leaves
# the input in build-fuzz/artifacts/. Then the /metrics text of the output target's last input
# must pass `promtool check metrics`.
#
#   tests/fuzz/run.sh [SECONDS_PER_TARGET]    default 20 (FUZZ_SECONDS)
#
# To replay a crash: build-fuzz/tests/fuzz/TARGET build-fuzz/artifacts/crash-...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
seconds=${1:-${FUZZ_SECONDS:-20}}
targets=(access_log_fuzz error_log_fuzz dns_reply_fuzz cache_status_fuzz host_parsers_fuzz
  config_fuzz result_output_fuzz history_render_fuzz nginx_conf_fuzz)
dir=build-fuzz
log=$dir.log
mkdir -p "$dir"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# MinSizeRel: in CI this is also the MinSizeRel build, and clang's warnings fail it as GCC's do.
werror=${GATEWATCH_WERROR:-OFF}
[ "${CI:-}" = true ] && werror=ON
cmake -S . -B "$dir" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=MinSizeRel \
  -DGATEWATCH_FUZZ=ON -DGATEWATCH_BUILD_TESTS=OFF -DGATEWATCH_WERROR=$werror "${launcher[@]}" >"$log" 2>&1 ||
  { tail -n 40 "$log"; echo "fuzz: configure failed" >&2; exit 1; }
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}" >>"$log" 2>&1 ||
  { grep -E "error" "$log" | head -n 40; echo "fuzz: build failed" >&2; exit 1; }

mkdir -p "$dir/artifacts"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for t in "${targets[@]}"; do
  scratch=$(mktemp -d)
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: memory must stay bounded.
  if ! "$dir/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=65536 -artifact_prefix="$dir/artifacts/$t-" -print_final_stats=1 \
    "$scratch" "tests/fuzz/corpus/$t" >"$dir/$t.log" 2>&1; then
    tail -n 60 "$dir/$t.log"
    echo "fuzz: $t failed (input in $dir/artifacts/)" >&2
    rm -rf "$scratch"
    exit 1
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$dir/$t.log" | grep -oE '[0-9]+$' || echo "?")
  echo "fuzz: $t ok ($runs inputs in ${seconds}s, $(ls "$scratch" | wc -l) new)"
  if [ "$t" = result_output_fuzz ]; then
    # The last input of a replay of everything found: its /metrics text must be valid exposition.
    metrics=$dir/result_output.prom
    GATEWATCH_FUZZ_METRICS_OUT=$metrics "$dir/tests/fuzz/$t" -runs=0 "$scratch" \
      "tests/fuzz/corpus/$t" >>"$dir/$t.log" 2>&1
    promtool check metrics <"$metrics" ||
      { echo "fuzz: promtool check metrics rejects the output target's /metrics text" >&2; exit 1; }
    echo "fuzz: promtool check metrics ok on the output target's last /metrics text"
  fi
  rm -rf "$scratch"
done
