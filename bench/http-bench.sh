#!/usr/bin/env bash
# Host overhead: requests/s and p50/p99 latency of POST /v1/images/generations against the
# zero-delay test pipeline (64x64 b64 PNG) at concurrency 1, 8 and 64, with wrk.
# Usage: bench/http-bench.sh [seconds per run, default 10]   (needs a built tree and wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
build=${FLX_BUILD_DIR:-build}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
port_file=$(mktemp)
export FLX_PLUGIN_DIR=$PWD/$build/plugins
"$build/bin/fluxserve" serve --config bench/http-bench.yaml --port-file "$port_file" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$port_file"' EXIT
for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.1; done
port=$(cat "$port_file")
url="http://127.0.0.1:$port/v1/images/generations"
curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
  -d '{"prompt":"warm","size":"64x64"}' "$url"
echo "machine: $(nproc) cores; server pid $server on port $port; ${seconds}s per run"
printf "%-12s %-14s %-10s %-10s %s\n" concurrency requests/s p50_ms p99_ms errors
for c in 1 8 64; do
  threads=$(( c < $(nproc) ? c : $(nproc) ))
  line=$(wrk -t "$threads" -c "$c" -d "${seconds}s" --latency -s bench/post-generation.lua "$url" |
         grep '^RESULT')
  eval "${line#RESULT }"
  printf "%-12s %-14s %-10s %-10s %s\n" "$c" "$requests_per_s" "$p50_ms" "$p99_ms" "$errors"
done
