#!/usr/bin/env bash
# gatewatch set-up: installs what is missing from Debian 12 packages, builds, and runs the agent or
# the tests. Idempotent, for root on a fresh or a used machine; quiet unless something fails.
#
#   deploy/setup.sh run              install, build, run the agent (embedded default config)
#   deploy/setup.sh test             install, build, run every test (ctest; benchmark and package excluded)
#   deploy/setup.sh test --sanitize  the same with an ASan+UBSan build (build-asan/)
#   deploy/setup.sh test --tsan      the concurrency tests (label tsan) in a ThreadSanitizer build
#                                    (build-tsan/)
#   deploy/setup.sh deps | build     only install / only install and build
#
# Extra arguments after `run` are passed to gatewatch (e.g. --config.file=...).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
LOG=${GATEWATCH_SETUP_LOG:-/tmp/gatewatch-setup.log}
: >"$LOG"

# Build: compiler, CMake and the libraries gatewatch links.
BUILD_PACKAGES=(build-essential cmake pkg-config ca-certificates git
  libcurl4-openssl-dev libc-ares-dev prometheus-cpp-dev libcivetweb-dev nlohmann-json3-dev
  libyaml-cpp-dev libgtest-dev libgmock-dev libcli11-dev libre2-dev
  libssl-dev libcrypt-dev)  # civetweb dlopen()s libssl.so (TLS); bcrypt via libcrypt
# Tests: the real servers the tests start on 127.0.0.1, and promtool/amtool.
TEST_PACKAGES=(nginx-light dnsmasq-base prometheus prometheus-alertmanager curl openssl procps iproute2
  prometheus-blackbox-exporter prometheus-node-exporter)
# The container test (label "container"): podman with runc (crun fails on cgroups hybrid hosts),
# netavark as its network backend, debootstrap for the base image (deploy/container/).
TEST_PACKAGES+=(podman runc netavark debootstrap)
# The libFuzzer targets (tests/fuzz/run.sh): clang and its fuzzer runtime.
TEST_PACKAGES+=(clang libclang-rt-14-dev)
# The status page in a real browser (status_page_browser_test): headless chromium.
TEST_PACKAGES+=(chromium)
# Upstreams in their own protocols (issue 20): php-fpm for the fastcgi check, gRPC health for grpc.
TEST_PACKAGES+=(php8.2-fpm python3-grpcio)
# The benchmark's log_ingest row compares the proxy_log check with mtail (tests/bench/run.sh).
# /usr/bin/time (package time, not in a minimal Debian) measures mtail's CPU and peak RSS there.
TEST_PACKAGES+=(mtail time)

fail() {
  echo "gatewatch setup: $1 (log: $LOG)" >&2
  tail -n 40 "$LOG" >&2 || true
  exit 1
}

missing_packages() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

install_packages() {
  local missing
  missing=$(missing_packages "$@")
  [ -z "$missing" ] && return 0
  [ "$(id -u)" = 0 ] || fail "missing packages ($(echo $missing)); run as root to install them"
  # Package installs must not start system services (nginx on :80, prometheus on :9090): the
  # tests start their own instances. policy-rc.d is Debian's switch for that.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
  fi
  {
    apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  } >>"$LOG" 2>&1 || { [ $created_policy = 1 ] && rm -f "$policy"; fail "apt-get install failed"; }
  [ $created_policy = 1 ] && rm -f "$policy"
  return 0
}

build() {
  local dir=$1
  shift
  # CI (.ci/run sets GATEWATCH_WERROR=ON) builds with -Werror; a user's machine builds even where
  # a newer compiler warns.
  local werror=${GATEWATCH_WERROR:-OFF}
  [ "${CI:-}" = true ] && werror=ON
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGATEWATCH_WERROR=$werror "$@" >>"$LOG" 2>&1 ||
    fail "cmake configure failed"
  cmake --build "$dir" -j"$(nproc)" --target "${BUILD_TARGET:-all}" >>"$LOG" 2>&1 || fail "build failed"
}

mode=${1:-run}
shift || true
case "$mode" in
  deps)
    install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    ;;
  build)
    install_packages "${BUILD_PACKAGES[@]}"
    build build -DGATEWATCH_BUILD_TESTS=ON
    ;;
  run)
    install_packages "${BUILD_PACKAGES[@]}"
    build build -DGATEWATCH_BUILD_TESTS=OFF
    listen=":9142"
    for arg in "$@"; do
      case "$arg" in --web.listen-address=*) listen=${arg#*=} ;; esac
    done
    host=${listen%:*}
    if [ -z "$host" ] || [ "$host" = "0.0.0.0" ]; then host=127.0.0.1; fi
    config="embedded default config"
    for arg in "$@"; do
      case "$arg" in --config.file=*) config=${arg#*=} ;; esac
    done
    echo "gatewatch: metrics at http://$host:${listen##*:}/metrics, status at http://$host:${listen##*:}/api/v1/status ($config); Ctrl-C stops"
    exec build/gatewatch "$@"
    ;;
  test)
    install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    if [ "${1:-}" = "--sanitize" ]; then
      # Debug (at -O1, see CMakeLists.txt): this pass is also the Debug build CI builds with -Werror.
      build build-asan -DCMAKE_BUILD_TYPE=Debug -DGATEWATCH_SANITIZE=ON -DGATEWATCH_BUILD_TESTS=ON
      export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
      export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
      dir=build-asan
      # The container test checks the image, built without sanitizers, and the three-minute clean
      # run of the diagnosis (label soak) only waits: once each, in the plain pass.
      exclude="bench|container|package|soak"
    elif [ "${1:-}" = "--tsan" ]; then
      # Release: this pass is also the Release build (-O3) that CI builds with -Werror.
      BUILD_TARGET=tsan_tests build build-tsan -DCMAKE_BUILD_TYPE=Release -DGATEWATCH_TSAN=ON \
        -DGATEWATCH_BUILD_TESTS=ON
      # A race report fails the process (exit 66) at once, in the tests and in the agents they run.
      export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1"
      ctest --test-dir build-tsan --output-on-failure -j2 -L tsan
      exit
    else
      build build -DGATEWATCH_BUILD_TESTS=ON
      dir=build
    fi
    ctest --test-dir "$dir" --output-on-failure -j2 -LE "${exclude:-bench|package}"
    ;;
  *)
    echo "usage: deploy/setup.sh run|test [--sanitize]|deps|build" >&2
    exit 2
    ;;
esac
