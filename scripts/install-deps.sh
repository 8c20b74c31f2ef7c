#!/usr/bin/env bash
# Installs the Debian 12 packages fluxserve builds and runs with. Idempotent: packages that are
# already installed are left alone and apt is not called at all when nothing is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev            # pipeline-flux (CPU libtorch 1.13)
  libopenblas0-openmp     # without it libtorch's fp32 matmul uses reference BLAS (~20x slower)
  libpoco-dev libyaml-cpp-dev libspdlog-dev libsentencepiece-dev libjpeg-dev zlib1g-dev
  libpng-dev              # decoding uploaded PNGs (POST /v1/images/edits)
  libwebp-dev             # output_format: webp
  libgtest-dev libgmock-dev
  curl                    # the README's examples and the HTTP benchmark script
  wrk                     # HTTP load generator for bench/http-bench.sh
  prometheus              # promtool: the metrics test checks /metrics with a real parser
  python3-numpy           # ../shared/golden/compare.py (optional tensor comparisons)
  clang-16 libclang-rt-16-dev libfuzzer-16-dev  # scripts/fuzz.sh, scripts/test.sh --sanitize
  llvm-16                 # llvm-symbolizer: sanitizer reports with file:line
  chromium                # the web playground's browser test (headless, driven by puppeteer-core)
  redis-server libhiredis-dev  # the scale-out queue (issue 14): its client and real-server tests
)

# Node.js and npm run the tests that drive fluxserve with the npm `openai` client; a machine
# that already has them (NodeSource's nodejs bundles npm) keeps its own.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  packages+=(nodejs npm)
fi


missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# The npm packages the client tests pin (package-lock.json), into their own folder.
install_npm_packages() {
  local dir
  for dir in tests/clients/*/; do
    [ -f "$dir/package-lock.json" ] || continue
    if [ -d "$dir/node_modules" ]; then
      echo "[deps] npm packages of $dir already installed"
    else
      echo "[deps] npm ci in $dir"
      (cd "$dir" && npm ci --no-audit --no-fund)
    fi
  done
}
cd "$(dirname "$0")/.."

if [ ${#missing[@]} -eq 0 ]; then
  echo "[deps] all ${#packages[@]} packages already installed"
  install_npm_packages
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "[deps] need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "[deps] installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
install_npm_packages
echo "[deps] done"
