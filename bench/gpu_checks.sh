#!/usr/bin/env bash
# The GPU checks of issue 17 as one prepared script, for a session that has a CUDA device (about 10 minutes on an
# H100/H200): the training loop's CUDA paths, what precision `auto` picks, and scene prediction with `tiny` and
# `swin_t` in fp32 and bf16, eager and with --compile (CUDA graphs), each configuration's throughput also as a fraction
# of the model alone. Results go to $OUT (default runs/gpu_checks) as JSON, with the printed tables in log.txt.
#   OUT=runs/gpu bash bench/gpu_checks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/gpu_checks}; mkdir -p "$OUT"
PY=${PY:-.venv/bin/python}
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device: nothing to check')"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  "$PY" bench/check_train_cuda.py --steps 8
  "$PY" bench/bf16_auto.py --device cuda --runs 2 --json "$OUT/bf16_auto_cuda.json"
  cfg="baseline: batch 4, NCHW;default: batch auto (1), channels-last, write behind;default + --compile (inductor, CUDA graphs on a GPU)"
  for prec in fp32 bf16; do
    "$PY" bench/profile_predict.py --device cuda --precision "$prec" --preset tiny --mpx 16 --rounds 2 --configs "$cfg" \
        --json "$OUT/profile_tiny_cuda_$prec.json"
    "$PY" bench/profile_predict.py --device cuda --precision "$prec" --preset swin_t --mpx 16 --rounds 2 --configs "$cfg" \
        --json "$OUT/profile_swin_t_cuda_$prec.json"
  done
  "$PY" bench/bench_train.py --device cuda --presets tiny swin_t --batch 32 --precisions fp32 bf16 \
      --configs nchw channels_last compile --out "$OUT/train_cuda.json"
} 2>&1 | tee "$OUT/log.txt"
