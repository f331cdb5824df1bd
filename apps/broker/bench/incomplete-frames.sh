#!/bin/sh
# RSS of a real karman-broker process under a flood of unfinished 16 MiB frames: four runs, each on
# a fresh broker with an empty store, {40 × 15 MiB, 10,000 × 64 KiB} × {the default 64 MiB
# incomplete-frame budget, no budget}. The flood and the measurements are
# packages/protocol/bench/incomplete-frames.bench.ts (BENCH_TARGET mode); this script only starts
# and stops the broker. Run from apps/broker: `pnpm bench:incomplete-frames`.
set -e
ulimit -n "$(ulimit -Hn)"
here=$(cd "$(dirname "$0")/.." && pwd)
port=${BENCH_PORT:-31911}
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
for only in large many; do
  for mode in budget unbounded; do
    extra=""
    if [ "$mode" = unbounded ]; then extra="--set maxBufferedIncompleteFrameBytes=1099511627776 --set frameCompleteTimeoutMillis=86400000"; fi
    rm -rf "$store"/* "$store"/.[!.]* 2>/dev/null || true
    log="$store.log"
    # maxConnections 10100: the reference connections, the flood and the probes all fit.
    (cd "$here" && exec node --conditions=@karman/source --import tsx src/main.ts --listen "127.0.0.1:$port" --store "$store" --set maxConnections=10100 $extra >"$log" 2>&1) &
    broker=$!
    tries=0
    until grep -q listening "$log"; do
      tries=$((tries + 1))
      if [ $tries -gt 120 ]; then echo "the broker did not start; see $log" >&2; kill "$broker"; exit 1; fi
      sleep 0.5
    done
    (cd "$here/../../packages/protocol" && BENCH_TARGET="127.0.0.1:$port" BENCH_TARGET_PID=$broker BENCH_TARGET_MODE=$mode BENCH_ONLY=$only \
      node --conditions=@karman/source --import tsx bench/incomplete-frames.bench.ts | grep '^| [0-9]')
    kill "$broker"
    wait "$broker" 2>/dev/null || true
    rm -f "$log"
  done
done
