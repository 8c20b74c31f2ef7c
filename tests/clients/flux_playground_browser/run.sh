#!/usr/bin/env bash
# Serves the demo FLUX model and drives the web playground in headless Chromium
# (playground.mjs). Arguments: BIN_DIR PLUGIN_DIR SCREENSHOT_PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../serve_demo.sh"
command -v "${CHROMIUM:-chromium}" >/dev/null || [ -x "${CHROMIUM:-/usr/bin/chromium}" ] ||
  { echo "chromium is not installed (scripts/install-deps.sh installs it)" >&2; exit 1; }
ensure_npm_packages "$here"
work=$(mktemp -d)
trap 'stop_demo_server; rm -rf "$work"' EXIT
start_demo_server "${1:?bin dir}" "${2:?plugin dir}" "$work"
mkdir -p "$(dirname "${3:?screenshot path}")"
if ! FLUX_BASE_URL="http://127.0.0.1:$port" node "$here/playground.mjs" "$3"; then
  echo "--- server log ---" >&2
  tail -n 40 "$work/server.log" >&2
  exit 1
fi
