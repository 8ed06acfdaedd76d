#!/usr/bin/env python
"""bf16 on bf16 weights against bf16 autocast (issue 29): one window of a synthetic scene through each shipped model
and a fresh `swin_t`, timed in alternation (`core.time_alternating`: a warm-up, then `--reps` rounds, the fastest
call of each counting) as fp32, as bf16 autocast over the fp32 model (the predictor's path before), and as the bf16
copy of the model on bf16 input (`predictor.bf16_model`, its path now); each bf16 class map is compared with fp32's.

    .venv/bin/python bench/bf16_weights.py --threads 1 --json bench/results/bf16_weights.json
"""
import argparse, json, sys
from pathlib import Path

import numpy as np
import torch

from sar_lulc.core import autocast, time_alternating
from sar_lulc.predictor import bf16_model, make_predictor
from sar_lulc.synth import synth_scene

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine
from bf16_auto import bench_models                                   # one home for the benchmarked models


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--presets", nargs="*", default=["swin_t"], help="fresh models of these presets as well")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    models = bench_models(a.presets)
    db = torch.from_numpy(synth_scene(0, size=a.tile).db.astype(np.float32))[None, None]
    out = dict(machine=machine("cpu", torch.get_num_threads()), tile=a.tile, reps=a.reps,
               command="python bench/bf16_weights.py " + " ".join(argv if argv is not None else sys.argv[1:]), models={})
    for name, m in models.items():
        pred = make_predictor(m, device="cpu")
        x = ((db - pred._m) / pred._s).contiguous(memory_format=pred.memory_format)
        def autocast_bf16():
            with autocast("cpu", "bf16"): return pred.model(x)
        fns = {"fp32": lambda: pred.model(x), "bf16 autocast": autocast_bf16,
               "bf16 weights": lambda: bf16_model(pred.model)(x.to(torch.bfloat16))}   # the cache lookup counts
        with torch.inference_mode():
            maps = {k: f().float().argmax(1) for k, f in fns.items()}
            t = time_alternating(fns, a.reps)
        r = {k: dict(seconds=round(t[k], 4), speedup=round(t["fp32"] / t[k], 3),
                     agreement=round(float((maps[k] == maps["fp32"]).float().mean()), 5)) for k in fns}
        out["models"][name] = r
        print(f"{name:14s} " + "  ".join(f"{k}: {v['seconds']:.3f} s {v['speedup']:.2f}x {100 * v['agreement']:.2f} %"
                                         for k, v in r.items()), flush=True)
    if a.json: a.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
