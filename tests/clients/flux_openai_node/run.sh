#!/usr/bin/env bash
# Serves the demo FLUX model with fluxserve and runs client.mjs (the npm `openai` client)
# against it. Arguments: BIN_DIR PLUGIN_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../serve_demo.sh"
ensure_npm_packages "$here"
work=$(mktemp -d)
trap 'stop_demo_server; rm -rf "$work"' EXIT
start_demo_server "${1:?bin dir}" "${2:?plugin dir}" "$work"
if ! FLUX_BASE_URL="http://127.0.0.1:$port/v1" node "$here/client.mjs"; then
  echo "--- server log ---" >&2
  tail -n 40 "$work/server.log" >&2
  exit 1
fi
