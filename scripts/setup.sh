#!/usr/bin/env bash
# Set up sar_lulc in ./.venv: torch (pinned here to the build that lies on this kind of machine's
# disk; override with TORCH_SPEC), the package with its development extras, and Debian's Chromium
# for the browser test when apt is available. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -c "import torch, torchvision" 2>/dev/null || .venv/bin/pip install -q $TORCH_SPEC
.venv/bin/pip install -q -e ".[dev]"
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 ||
   (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium chromium-driver >/dev/null 2>&1)) ||
   echo "note: could not install Debian's chromium; the browser test will be skipped"
fi
echo "sar_lulc is set up in .venv"
