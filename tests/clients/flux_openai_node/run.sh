#!/usr/bin/env bash
# Serves the demo FLUX model with fluxserve and runs client.mjs (the npm `openai` client)
# against it. Arguments: FLUXSERVE_BIN_DIR PLUGIN_DIR. Installs the client's pinned package
# (package-lock.json) into this folder's node_modules when missing.
set -euo pipefail
bin_dir=${1:?bin dir}
plugin_dir=${2:?plugin dir}
here=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "node is not installed (scripts/install-deps.sh installs it)" >&2; exit 1; }
if [ ! -d "$here/node_modules/openai" ]; then
  echo "[openai-node] npm ci in $here"
  (cd "$here" && npm ci --no-audit --no-fund >/dev/null)
fi
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$bin_dir/fluxserve-make-demo-model" "$work/demo" --seed 3 >"$work/demo.log" 2>&1
cat >"$work/graph.yaml" <<YAML
version: 1
server: { listen: "127.0.0.1:0", output_dir: "$work/out" }
plugin_paths: ["$plugin_dir"]
stages:
  - { id: queue, kind: scheduler, library: flx_scheduler, type: fifo, config: { max_concurrent: 1 } }
  - { id: flux, kind: pipeline, library: flx_pipeline_flux, type: flux,
      config: { model: "$work/demo", dtype: float32, threads: 2, warmup: false } }
models:
  demo: [queue, flux]
YAML
"$bin_dir/fluxserve" serve --config "$work/graph.yaml" --port-file "$work/port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
  [ -s "$work/port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.1
done
port=$(cat "$work/port")
for _ in $(seq 1 600); do
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break
  sleep 0.1
done
if ! FLUX_BASE_URL="http://127.0.0.1:$port/v1" node "$here/client.mjs"; then
  echo "--- server log ---" >&2
  tail -n 40 "$work/server.log" >&2
  exit 1
fi
