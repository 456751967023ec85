#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time on a scratch copy of its seed
# corpus (so new inputs never land in the source tree).
#   run_fuzzer.sh BINARY SEED_DIR SECONDS
set -euo pipefail
binary=$1 seeds=$2 seconds=$3
if [[ ! -x $binary ]]; then
  echo "fuzz target $binary is not built (./setup.sh test builds it)" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$seeds"/. "$work"/
"$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work" 2>&1 | tail -n 20
status=${PIPESTATUS[0]}
if ((status != 0)); then
  for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [[ -e $f ]] && { echo "failing input ($f):"; od -A d -c "$f" | head -n 20; }
  done
fi
exit "$status"
