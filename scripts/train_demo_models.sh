#!/usr/bin/env bash
# Train the shipped models (data_samples/models) from scratch on a CPU with this project's own commands, and
# export them as float16 safetensors. About 70 minutes on 2 CPU cores (fp32; see the model card).
#   bash scripts/train_demo_models.sh [RUN_DIR]        (default runs/demo_models; the exports overwrite data_samples/models)
#   TASKS=lulc bash scripts/train_demo_models.sh       (one model only: lulc, water or lulc_scene)
# The LULC model also trains on SynthALOS-2/JP, rendered on the real JAXA HRLULC tiles of the project's shared
# data ($SAR_LULC_SHARED, default ../shared: data/jaxa_hrlulc/*/LC_*.tif).
set -euo pipefail
SHARED=${SAR_LULC_SHARED:+$(realpath "$SAR_LULC_SHARED")}      # resolved before the cd below
cd "$(dirname "$0")/.."
R=${1:-runs/demo_models}
S=.venv/bin/sar-lulc
TASKS=${TASKS:-lulc water lulc_scene}
SHARED=${SHARED:-../shared}
for t in $TASKS; do [[ $t == lulc || $t == water || $t == lulc_scene ]] || { echo "TASKS takes lulc, water and/or lulc_scene, not '$t'" >&2; exit 2; }; done
if [[ " $TASKS " == *" lulc "* || " $TASKS " == *" lulc_scene "* ]]; then
  shopt -s nullglob; tiles=("$SHARED"/data/jaxa_hrlulc/*/LC_*.tif); shopt -u nullglob     # synth sorts them
  if [ ${#tiles[@]} -eq 0 ]; then
    echo "no JAXA HRLULC tiles under $SHARED/data/jaxa_hrlulc: SynthALOS-2/JP needs them (set SAR_LULC_SHARED)" >&2; exit 1
  fi
fi
# LULC: the SynthALOS-2 study's data (16/4/4 scenes of 512², 4 looks) and SynthALOS-2/JP (3 windows of 512² per
# HRLULC tile, split geographically), merged into one dataset folder
if [[ " $TASKS " == *" lulc "* ]]; then
  $S synth "$R/data" --n-train 16 --n-val 4 --n-test 4 --size 512 --overwrite
  $S synth "$R/jp_data" --layouts "${tiles[@]}" --per-tile 3 --size 512 --overwrite
  $S merge "$R/lulc_data" "$R/data" "$R/jp_data" --overwrite
fi
# lulc_scene (for other sensors): the same seeds with landscapes (a third of the procedural scenes farmland plains, a
# sixth cities), a fifth open sea and street grids (built-up blocks bright only near-aligned with the sensor), on
# both generators, trained with --scene-norm (each scene normalised by its own statistics)
if [[ " $TASKS " == *" lulc_scene "* ]]; then
  $S synth "$R/scene_data" --n-train 16 --n-val 4 --n-test 4 --size 512 --farmland 0.35 --city 0.15 --open-sea 0.2 \
      --street-grids --overwrite
  $S synth "$R/jp_scene_data" --layouts "${tiles[@]}" --per-tile 3 --size 512 --street-grids --overwrite
  $S merge "$R/lulc_scene_data" "$R/scene_data" "$R/jp_scene_data" --overwrite
fi
# water: the same seeds with some open-sea scenes (--open-sea 0.25 picks 2 of the 16 training scenes)
# and 4-8 looks per scene, closer to real coastal scenes
[[ " $TASKS " == *" water "* ]] && \
  $S synth "$R/water_data" --n-train 16 --n-val 4 --n-test 4 --size 512 --looks 4:8 --open-sea 0.25 --overwrite
# the full model (all three refinements), demo recipe, 15 epochs of 512 random 256² chips, fp32, seed 0.
# LULC: the recommended resnet18 preset (the refinements on a timm ResNet-18; the peer benchmark in the study
# chapter) with no layer-wise LR decay, as benchmarked (it trains from scratch); water: the tiny Swin preset, as
# shipped before (layer decay 0.9, the demo recipe's). Alpha 0.75 for water: the open sea makes water 12 % of the pixels, and a
# stronger tempering keeps the up-weighting of (thin) water close to what alpha 0.5 gives at 4 %
for task in $TASKS; do
  data="$R/lulc_data"; alpha=0.5; preset=resnet18; ld=1.0; extra=(); name=${task}_$preset
  [ "$task" = water ] && data="$R/water_data" && alpha=0.75 && preset=tiny && ld=0.9 && name=water_tiny
  [ "$task" = lulc_scene ] && data="$R/lulc_scene_data" && extra=(--scene-norm) && name=lulc_resnet18_scene
  $S train --task "${task%_scene}" --data "$data" --out "$R/$task" --recipe demo --preset "$preset" --layer-decay "$ld" \
      --epochs 15 --seed 0 --hr-inject s4+s2 --head progressive --alpha "$alpha" ${extra[@]+"${extra[@]}"} --overwrite
  $S export "$R/$task" --out "data_samples/models/$name.safetensors" --dtype float16 --overwrite
done
