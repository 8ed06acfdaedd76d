#!/usr/bin/env python
"""What `--precision auto` decides for scene prediction on this machine, and why: for the shipped demo models and a
fresh `swin_t`, `predictor.choose_precision` times fp32 and bf16 on one window (alternately, three rounds, the fastest call of
each counting) and compares the class maps. With --runs N the whole check repeats N times, each run kept.

    .venv/bin/python bench/bf16_auto.py --tile 512 --json bench/results/bf16_auto.json
"""
import argparse, json, sys
from pathlib import Path
from types import SimpleNamespace

import torch

from sar_lulc.checkpoint import default_model_path
from sar_lulc.core import has_native_bf16
from sar_lulc.predictor import choose_precision, device_name, make_predictor
from sar_lulc.schemes import get_scheme
from sar_lulc.segmenter import Segmenter, segmenter_config


def _cpu_name() -> str: return device_name("cpu")


def bench_models(presets) -> dict:
    "The shipped demo models (paths) and fresh models of `presets` (seed 0), by name."
    models = {f"demo {t}": default_model_path(t) for t in ("lulc", "water")}
    for p in presets:
        torch.manual_seed(0)
        models[f"fresh {p}"] = SimpleNamespace(model=Segmenter(segmenter_config(p, task="lulc")).eval(), task="lulc",
                                               scheme=get_scheme("jp9"), norm=dict(mean=-10.4, std=5.8), meta={})
    return models


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--presets", nargs="*", default=["swin_t"], help="fresh models of these presets as well")
    ap.add_argument("--runs", type=int, default=2, help="repeat the whole check (timings on shared machines vary)")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    models = bench_models(a.presets)
    out = dict(device=a.device, tile=a.tile, threads=torch.get_num_threads(), torch=torch.__version__,
               cpu=_cpu_name(), native_bf16=has_native_bf16(a.device), runs=[])
    preds = {name: make_predictor(m, device=a.device) for name, m in models.items()}
    for r in range(a.runs):
        out["runs"].append({})
        for name, pred in preds.items():
            prec, why = choose_precision(pred, tile=a.tile, reps=a.reps)
            out["runs"][-1][name] = dict(choice=prec, why=why)
            print(f"run {r + 1}: {name:14s} -> {prec}: {why}", flush=True)
    if a.json: a.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
