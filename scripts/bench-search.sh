#!/usr/bin/env bash
# The costs of full-text search (docs/PERFORMANCE.md, Search): the index alone
# (confab-search-bench: size, CPU per message, rebuild, search p50/p99 over
# --messages in --rooms), then the rooms knee with confabd --search true and
# false in turn (--runs pairs), confabd on CPU 0, the bench on CPU 1.
# Usage: scripts/bench-search.sh [--messages N] [--rooms N] [--runs N] [--out DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
messages=1000000 rooms=1000 runs=2 out=$root/build/bench-search
while [[ $# -gt 0 ]]; do
  case $1 in
    --messages) messages=$2; shift 2 ;;
    --rooms) rooms=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
cd "$root"
TARGETS="confabd confab-bench confab-search-bench" scripts/build.sh >&2
mkdir -p "$out"
build/bin/confab-search-bench --messages "$messages" --rooms "$rooms" --dir "$out/index" | tee "$out/index.json"
for ((i = 0; i < runs; i++)); do
  for search in true false; do
    dir=$out/rooms-$search-$i; rm -rf "$dir"; mkdir -p "$dir"
    port=$((18700 + RANDOM % 500)); token=bench-admin-token-$RANDOM$RANDOM
    (ulimit -n 20000 2>/dev/null || true
     exec taskset -c 0 build/bin/confabd --bind 127.0.0.1 --http-port "$port" --data-dir "$dir/data" --admin-token "$token" \
       --actor-threads 1 --io-threads 1 --log-level warn --rate-per-s 1000000 --rate-burst 1000000 --search "$search" \
       >"$dir/stdout" 2>"$dir/stderr") &
    pid=$!
    if ! timeout 60 grep -m1 -q '^confabd ready' <(tail -n +1 -F --pid="$pid" "$dir/stdout" 2>/dev/null); then
      echo "confabd did not start: $(cat "$dir/stderr")" >&2; kill -KILL "$pid" 2>/dev/null || true; exit 1
    fi
    taskset -c 1 build/bin/confab-bench --url "http://127.0.0.1:$port" --admin-token "$token" --server-pid "$pid" \
      --label "search-$search" --workload rooms --rooms 100 --members 50 --rate max --start-rate 200 --factor 1.4 \
      --duration 10 --warmup 3 --drain 20 --max-steps 16 >"$dir/bench.out" 2>&1 || true
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -rf "$dir/data"
    grep '^{' "$dir/bench.out" | tail -1 >"$out/rooms-$search-$i.json" || true
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); k=d['knee']; print('search', sys.argv[2], 'knee', k['delivered_per_s'], 'deliveries/s, p99', k['p99_ms'], 'ms,', round(k['server_us_per_delivery'], 2), 'us/delivery')" "$out/rooms-$search-$i.json" "$search"
  done
done
