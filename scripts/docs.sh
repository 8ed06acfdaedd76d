#!/usr/bin/env bash
# Build the documentation site from nbs/ into _docs/ (gitignored), offline.
#   bash scripts/docs.sh            # the site: index, tutorials (nbs/tutorials/), API chapters (nbs/NN_*.ipynb)
#   bash scripts/docs.sh --readme   # README.md from nbs/index.ipynb
#   bash scripts/docs.sh --out DIR  # the site elsewhere
# Renders with Quarto (via nbdev-docs) when a working `quarto` is on PATH, else with smalldocs (the `docs`
# extra, pure Python). Notebooks are not executed, except the exported cells and imports that nbdev runs
# to build the API tables. Serve the site with: python -m http.server -d _docs 8000
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
if ! .venv/bin/python -c "import nbdev, smalldocs" 2>/dev/null; then
  echo "installing the docs extra (pip install -e '.[docs]')"
  .venv/bin/pip install -q -e ".[docs]"
fi
export PATH="$PWD/.venv/bin:$PATH" MPLBACKEND=Agg GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
exec .venv/bin/python scripts/build_docs.py "$@"
