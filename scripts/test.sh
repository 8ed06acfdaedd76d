#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite: the notebooks' tests, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_OFFLINE=1 MPLBACKEND=Agg
.venv/bin/nbdev-export
if ! git diff --quiet -- sar_lulc 2>/dev/null; then
  echo "warning: nbdev-export changed sar_lulc/ (the package was out of sync with nbs/)"; git --no-pager diff --stat -- sar_lulc
fi
.venv/bin/nbdev-test --n-workers 2 --timing
set +e
.venv/bin/pytest -q -ra tests
rc=$?
set -e
[ $rc -eq 5 ] && { echo "pytest collected no tests"; rc=0; }
exit $rc
