#!/usr/bin/env bash
# README command 1: install dependencies, build, write the embedded demo model (random
# weights: its images are noise) to models/demo once, and serve it on 127.0.0.1:8080
# (override with FLUX_LISTEN=HOST:PORT). Idempotent; Ctrl-C stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[demo] step 1/4: dependencies"
scripts/install-deps.sh
echo "[demo] step 2/4: build"
# Only what serving the demo needs: the host, its plugins and the demo-model tool (command 2,
# scripts/test.sh, builds the rest).
FLX_BUILD_TARGETS="fluxserve flx_scheduler flx_recovery flx_metrics flx_pipeline_flux fluxserve-make-demo-model" \
  scripts/build.sh
if [ -f models/demo/model_index.json ]; then
  echo "[demo] step 3/4: demo model already at models/demo"
else
  echo "[demo] step 3/4: writing the demo model to models/demo"
  build/bin/fluxserve make-demo-model models/demo
fi
echo "[demo] step 4/4: serving configs/demo.yaml (try: curl http://127.0.0.1:8080/v1/models)"
exec build/bin/fluxserve serve --config configs/demo.yaml "$@"
