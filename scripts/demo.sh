#!/usr/bin/env bash
# Set up sar_lulc (scripts/setup.sh), map the shipped SynthALOS-2 sample scene with the shipped demo
# models, then start the Gradio demo on http://127.0.0.1:7860 (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_DISABLE_TELEMETRY=1
mkdir -p out
scene=data_samples/synth/test/s000_sar_dn.tif
.venv/bin/sar-lulc predict "$scene" --task lulc  --out out/sample_lulc.tif  --overwrite
.venv/bin/sar-lulc predict "$scene" --task water --out out/sample_water.tif --overwrite
echo "maps written to out/; starting the web demo (upload a GeoTIFF, e.g. $scene)"
exec .venv/bin/sar-lulc app "$@"
