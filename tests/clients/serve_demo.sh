# Sourced by the client tests' run.sh: start_demo_server BIN_DIR PLUGIN_DIR WORK_DIR writes
# the demo FLUX model into WORK_DIR, serves it with fluxserve on a free port as model "demo"
# (and the test pipeline, which draws edits, as model "pattern") and sets `port` and
# `server_pid` once /readyz answers 200; stop_demo_server stops it.
start_demo_server() {
  local bin_dir=$1 plugin_dir=$2 work=$3
  "$bin_dir/fluxserve-make-demo-model" "$work/demo" --seed 3 >"$work/demo.log" 2>&1
  cat >"$work/graph.yaml" <<YAML
version: 1
server: { listen: "127.0.0.1:0", output_dir: "$work/out" }
plugin_paths: ["$plugin_dir"]
stages:
  - { id: queue, kind: scheduler, library: flx_scheduler, type: fifo, config: { max_concurrent: 1 } }
  - { id: flux, kind: pipeline, library: flx_pipeline_flux, type: flux,
      config: { model: "$work/demo", dtype: float32, threads: 2, warmup: false } }
  - { id: pattern, kind: pipeline, library: flx_test_pipeline, type: test }
models:
  demo: [queue, flux]
  pattern: [pattern]
YAML
  "$bin_dir/fluxserve" serve --config "$work/graph.yaml" --port-file "$work/port" \
    >"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    [ -s "$work/port" ] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; return 1; }
    sleep 0.1
  done
  port=$(cat "$work/port")
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && return 0
    sleep 0.1
  done
  echo "the demo server never became ready" >&2
  return 1
}

stop_demo_server() {
  if [ -n "${server_pid:-}" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
}

# Installs the folder's pinned npm packages (package-lock.json) when they are missing.
ensure_npm_packages() {
  local dir=$1
  command -v node >/dev/null || { echo "node is not installed (scripts/install-deps.sh installs it)" >&2; return 1; }
  if [ ! -d "$dir/node_modules" ]; then
    echo "[clients] npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund >/dev/null)
  fi
}
