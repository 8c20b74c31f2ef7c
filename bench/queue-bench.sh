#!/usr/bin/env bash
# Shared job queue: jobs/s and latency of synchronous POST /v1/images/generations through
# Redis (job_queue: redis) against the in-process queue, with 1, 2 and 3 replicas, on the test
# pipeline (64x64 b64 PNG, one job at a time per replica). Three sets: one client per replica
# and no pipeline delay (p50 = a job's whole round trip, so the difference between the rows is
# the latency Redis adds), four clients per replica and no delay (the jobs/s the host and Redis
# can pass), and four clients with a 50 ms delay (how throughput scales with replicas: the
# delay is a sleep, so replicas on one machine do not compete for CPU). Each replica gets its
# own wrk; jobs/s is the sum, p50 the mean of theirs.
# Usage: bench/queue-bench.sh [seconds per run, default 5]  (a built tree, wrk, redis-server)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
build=${FLX_BUILD_DIR:-build}
for tool in wrk redis-server; do
  command -v $tool >/dev/null || { echo "$tool is not installed (scripts/install-deps.sh)" >&2; exit 1; }
done
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
redis_port=$(( 20000 + RANDOM % 20000 ))
redis-server --port $redis_port --bind 127.0.0.1 --dir "$work" --appendonly yes \
  --appendfsync everysec --save "" --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p $redis_port ping >/dev/null 2>&1 && break; sleep 0.1; done
export FLX_PLUGIN_DIR=$PWD/$build/plugins FLX_BENCH_REDIS_URL=redis://127.0.0.1:$redis_port/0

# Starts replica $1 of the current setting; sets $port.
start_replica() {
  local port_file=$work/port-$1-$RANDOM
  "$build/bin/fluxserve" serve --config bench/queue-bench.yaml --port-file "$port_file" \
    > "$work/replica-$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$port_file" ] && break; sleep 0.1; done
  port=$(cat "$port_file")
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.1; done
}

# One row: queue ($1: redis or in-process), replicas ($2), pipeline delay ($3 ms), clients
# per replica ($4).
run() {
  local queue=$1 replicas=$2 delay=$3 clients=$4 ports=() outputs=() wrk_pids=()
  export FLX_BENCH_DELAY_MS=$delay FLX_BENCH_QUEUE=$([ "$queue" = redis ] && echo shared || echo "")
  redis-cli -p $redis_port flushall >/dev/null
  local first=${#pids[@]}
  for r in $(seq "$replicas"); do start_replica "$r"; ports+=("$port"); done
  for port in "${ports[@]}"; do
    curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
      -d '{"prompt":"warm","size":"64x64"}' "http://127.0.0.1:$port/v1/images/generations"
  done
  for port in "${ports[@]}"; do
    out=$(mktemp -p "$work")
    outputs+=("$out")
    wrk -t 1 -c "$clients" -d "${seconds}s" --latency -s bench/post-generation.lua \
      "http://127.0.0.1:$port/v1/images/generations" > "$out" &
    wrk_pids+=($!)
  done
  wait "${wrk_pids[@]}"
  # Sums the replicas' jobs/s and errors, averages their p50s.
  read -r total p50 failed < <(grep -h '^RESULT' "${outputs[@]}" | tr '=' ' ' |
    awk -v n="$replicas" '{ rps += $3; p50 += $5 / n; errs += $9 }
                          END { printf "%.1f %.2f %d\n", rps, p50, errs }')
  printf "%-12s %-9s %-8s %-9s %-10s %-10s %s\n" "$queue" "$replicas" "$clients" "$delay" \
    "$total" "$p50" "$failed"
  for pid in "${pids[@]:$first}"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done
  pids=("${pids[@]:0:$first}")
}

echo "machine: $(nproc) cores; ${seconds}s per run"
printf "%-12s %-9s %-8s %-9s %-10s %-10s %s\n" queue replicas clients delay_ms jobs/s p50_ms errors
for set in "1 0" "4 0" "4 50"; do
  read -r clients delay <<< "$set"
  run in-process 1 "$delay" "$clients"
  for replicas in 1 2 3; do run redis "$replicas" "$delay" "$clients"; done
done
