#!/usr/bin/env bash
# Ariadne's one entry point on a Debian 12 machine (run as root, or with sudo
# available for the package install):
#   ./setup.sh run    install what is missing, build, start the server
#   ./setup.sh test   install what is missing, build, run every test (the C++
#                     tests twice, once under ASan and UBSan; the integration
#                     tests against the sanitized binary; the fuzz targets for
#                     a bounded time)
#   ./setup.sh build  install what is missing and build
#   ./setup.sh bench  build and run the ingest benchmark
# Environment: BUILD_DIR (default build), JOBS (default: number of cores),
# FUZZ_SECONDS (per fuzz target in `test`, default 15), ARIADNE_DATA_DIR.
set -euo pipefail
cd "$(dirname "$0")"

BUILD_DIR=${BUILD_DIR:-build}
FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
ASAN_DIR=${ASAN_DIR:-build-asan}
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-15}

# Debian packages the build and the tests need.
PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libprotozero-dev libsimdjson-dev rapidjson-dev libboost-dev libboost-system-dev
  libzstd-dev liblz4-dev libxxhash-dev zlib1g-dev libabsl-dev
  libcli11-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  nodejs npm
  prometheus prometheus-alertmanager
  chromium
  clickhouse-server clickhouse-client
  librdkafka-dev
)

log() { printf '\n==> %s\n' "$*" >&2; }

install_packages() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # A machine may carry its own Node.js; then Debian's is not needed.
  if command -v node >/dev/null && command -v npm >/dev/null; then
    local keep=()
    for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || keep+=("$p"); done
    missing=("${keep[@]+"${keep[@]}"}")
  fi
  if ((${#missing[@]} == 0)); then
    log "all packages present"
    return
  fi
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  log "installing: ${missing[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  # Debian's prometheus package enables and starts a system-wide daemon on :9090.
  # The tests start their own (ephemeral port, temporary storage), so a daemon
  # this install brought up is stopped and disabled; one that was there before
  # is left alone.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [[ -d /run/systemd/system ]] \
      && command -v systemctl >/dev/null; then
    $sudo systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
  # Likewise prometheus-alertmanager (:9093, clustering on :9094 on every
  # interface): the tests start their own.
  if [[ " ${missing[*]} " == *" prometheus-alertmanager "* ]] && [[ -d /run/systemd/system ]] \
      && command -v systemctl >/dev/null; then
    $sudo systemctl disable --now prometheus-alertmanager.service >/dev/null 2>&1 || true
  fi
  # Likewise clickhouse-server (ports 8123/9000): the ClickHouse tests and
  # build/bench/store_bench start their own on free loopback ports with a
  # temporary data directory.
  if [[ " ${missing[*]} " == *" clickhouse-server "* ]] && [[ -d /run/systemd/system ]] \
      && command -v systemctl >/dev/null; then
    $sudo systemctl disable --now clickhouse-server.service >/dev/null 2>&1 || true
  fi
}

build() {
  log "building into $BUILD_DIR ($JOBS jobs)"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DARIADNE_FUZZ_BUILD_DIR="$PWD/$FUZZ_DIR" -DARIADNE_FUZZ_SECONDS="$FUZZ_SECONDS" >/dev/null
  cmake --build "$BUILD_DIR" -j "$JOBS"
}

# The web UI (ui/, TypeScript + Vite) into ui/dist, which `ariadne serve` serves.
build_ui() {
  log "building the web UI into ui/dist"
  if [[ -f ui/package-lock.json ]]; then
    npm --prefix ui ci --no-audit --no-fund
  else
    npm --prefix ui install --no-audit --no-fund
  fi
  npm --prefix ui run build
}

# The unit and integration tests again, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (Debug, its own directory; no benchmarks, and the
# evaluations on data sets, label eval, run only in the optimized build).
build_sanitized() {
  log "building with ASan and UBSan into $ASAN_DIR"
  cmake -S . -B "$ASAN_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DARIADNE_BENCH=OFF \
    -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
  cmake --build "$ASAN_DIR" -j "$JOBS"
}

build_fuzzers() {
  log "building fuzz targets into $FUZZ_DIR (clang, libFuzzer, ASan, UBSan)"
  cmake -S . -B "$FUZZ_DIR" -G Ninja -DARIADNE_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
  cmake --build "$FUZZ_DIR" -j "$JOBS"
}

case "${1:-}" in
  run)
    install_packages
    build
    build_ui
    data_dir=${ARIADNE_DATA_DIR:-$PWD/data}
    log "starting ariadne: OTLP gRPC :4317, OTLP HTTP :4318, Zipkin :9411, query :16686 (data in $data_dir)"
    exec "$BUILD_DIR/ariadne" serve --data-dir "$data_dir" "${@:2}"
    ;;
  test)
    install_packages
    build_fuzzers
    build_sanitized
    build
    build_ui
    log "running the unit and integration tests under ASan and UBSan"
    (cd "$ASAN_DIR" && ctest --output-on-failure --timeout 900 -j "$JOBS" -LE 'ui|eval')
    # The integration and ClickHouse tests ran above against the sanitized
    # binary; this pass runs the rest against the optimized one: unit
    # (evaluations included), UI and fuzz.
    log "running the unit, evaluation, UI and fuzz tests"
    cd "$BUILD_DIR"
    exec ctest --output-on-failure --timeout 900 -j "$JOBS" -LE 'integration|clickhouse'
    ;;
  build)
    install_packages
    build
    build_ui
    ;;
  bench)
    install_packages
    build
    exec "$BUILD_DIR/ariadne" bench ingest "${@:2}"
    ;;
  *)
    echo "usage: $0 run|test|build|bench" >&2
    exit 2
    ;;
esac
