#!/usr/bin/env python
"""Where scene prediction spends its time (issue 17, item 1): a wall-clock breakdown per stage, the model's
share of a same-run matmul rate, and a torch.profiler table of the model forward grouped by kind of operator.

    .venv/bin/python bench/profile_predict.py                  # the shipped lulc demo model, 4 Mpx synthetic scene
    .venv/bin/python bench/profile_predict.py --preset swin_t --mpx 1 --json bench/results/profile_swin_t.json
    .venv/bin/python bench/profile_predict.py --device cuda --precision bf16 --preset swin_t --mpx 16   # a GPU

Stages come from `predict_scene`'s own timings (read: waiting for the prefetching reader; model; blend:
accumulating windows; write: finished rows; finalize: COG conversion). Achieved GFLOP/s = the model's FLOPs
per window (torch's FlopCounterMode: matmuls and convolutions) x windows run / model seconds, as a fraction
of a 2048² fp32 matmul timed in the same process. The configurations (the baseline = the code path before
issue 17: batch 4, NCHW layout) run in one process, alternating, and their class maps are compared. Each run
starts with a warm-up window (reported as `warmup_s`: for `--compile` configurations, the compile time, which the
first round pays and later rounds and processes reuse from the cache). `model alone` is the predictor on a full
batch of windows already in memory (normalisation, model, softmax; no reading, blending or writing), scaled to the
scene's windows: each configuration's `of_model_alone` is the fraction of that rate the whole scene reaches (the
streaming target on a GPU). On CUDA, `--compile` uses CUDA graphs (inductor's reduce-overhead mode).
"""
from __future__ import annotations
import argparse, json, re, sys, tempfile, time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_models import matmul_rate
from bench_predict import synthetic_scene, build_bundle, model_spec
from machine import machine

GROUPS = [  # (group, regex over aten op names), first match wins
    ("matmul / linear", r"addmm|^aten::mm$|bmm|matmul|linear|baddbmm"),
    ("convolution", r"conv|mkldnn_convolution"),
    ("attention softmax", r"softmax"),
    ("normalisation", r"layer_norm|batch_norm|group_norm|native_norm"),
    ("upsampling / resize", r"upsample|interpolate|grid_sampler"),
    ("copies / layout / dtype", r"copy_|clone|contiguous|to_copy|_to_copy|cat|stack|roll|permute|pad|constant_pad|index|narrow|slice|empty|zeros|fill_"),
    ("activations", r"gelu|relu|silu|sigmoid|tanh"),
    ("elementwise", r"add|mul|div|sub|where|exp|log|sqrt|clamp|nan_to_num|mean|sum|max|min"),
]

CONFIGS = {  # name: (batch size, channels-last, write behind, compile); the first is the baseline (before issue 17)
    "baseline: batch 4, NCHW": (4, False, False, False),
    "batch 1, NCHW": (1, False, False, False),
    "batch 4, channels-last": (4, True, False, False),
    "batch auto (1), channels-last, writes in line": (None, True, False, False),
    "default: batch auto (1), channels-last, write behind": (None, True, True, False),
    "default + --compile (inductor, CUDA graphs on a GPU)": (None, True, True, True),
}

def slug(s: str) -> str: return "".join(c if c.isalnum() else "_" for c in s)

def class_map(path) -> np.ndarray:
    import rasterio
    with rasterio.open(path) as ds: return ds.read(1)

def group_of(name: str) -> str:
    for g, rx in GROUPS:
        if re.search(rx, name): return g
    return "other"

def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize(dev)

def profile_forward(model, x, reps: int = 3, precision: str = "fp32") -> dict:
    "Self time (CPU, or the GPU's on CUDA) per operator group over `reps` forwards after a warm-up, as fractions."
    from torch.profiler import profile, ProfilerActivity
    cuda = x.device.type == "cuda"
    from sar_lulc.core import autocast
    with torch.inference_mode(), autocast(x.device, precision):
        model(x)
        with profile(activities=[ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])) as prof:
            for _ in range(reps): model(x)
            sync(x.device)
    by, ops = defaultdict(float), []
    for e in prof.key_averages():
        if not e.key.startswith("aten::"): continue
        t = e.self_device_time_total if cuda else e.self_cpu_time_total
        by[group_of(e.key)] += t
        ops.append((e.key, t, e.count))
    tot = sum(by.values()) or 1.0
    ops.sort(key=lambda o: -o[1])
    return dict(groups={g: round(v / tot, 4) for g, v in sorted(by.items(), key=lambda kv: -kv[1])},
                top_ops=[dict(op=k, share=round(t / tot, 4), calls_per_forward=c / reps) for k, t, c in ops[:12]])

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default=None, help="a fresh model of this preset (e.g. tiny, swin_t) instead of the shipped lulc demo model")
    ap.add_argument("--mpx", type=float, default=4.0)
    ap.add_argument("--tile", type=int, default=512); ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--configs", default="", help=f"a ;-separated subset of: {'; '.join(CONFIGS)}")
    ap.add_argument("--rounds", type=int, default=2, help="rounds over the configurations (the median is reported)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "fp16"))
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "sar_lulc_bench")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    from sar_lulc.predict import predict_scene
    from sar_lulc.predictor import auto_batch_size, make_predictor
    if a.threads: torch.set_num_threads(a.threads)
    from sar_lulc.core import get_device
    dev, prec = get_device(a.device), a.precision
    if a.preset:
        from types import SimpleNamespace
        from sar_lulc.segmenter import Segmenter, segmenter_config
        from sar_lulc.schemes import get_scheme
        torch.manual_seed(0)
        bundle = SimpleNamespace(model=Segmenter(segmenter_config(a.preset, task="lulc")).eval(), task="lulc",
                                 scheme=get_scheme("jp9"), norm=dict(mean=-10.4, std=5.8), meta={"source": f"fresh {a.preset}"})
        label = f"fresh {a.preset} (random weights)"
    else:
        spec = model_spec("lulc", None); bundle = build_bundle(spec, dev); label = spec["label"]
    a.workdir.mkdir(parents=True, exist_ok=True)
    src = synthetic_scene(a.workdir / f"synthetic_{a.mpx:g}mpx.tif", a.mpx)
    pred = make_predictor(bundle, task="lulc", device=dev, precision=prec)
    model = pred.model
    x1 = torch.zeros(1, pred.channels, a.tile, a.tile, device=dev)
    with FlopCounterMode(display=False) as fc, torch.inference_mode(): model(x1)
    flops_win = fc.get_total_flops()
    mm_prec = "fp32" if prec == "fp32" else "bf16"             # fp16 is referenced to the bf16 matmul (same rate on GPUs)
    mm = matmul_rate(dev, mm_prec, 8192 if dev.type == "cuda" else 2048, 5, 2)
    configs = {name: CONFIGS[name] for name in (a.configs.split(";") if a.configs else CONFIGS)}
    runs, maps = {}, {}
    for rep in range(a.rounds):                            # alternate the configurations: fair under load
        for name, (b, cl, wb, comp) in configs.items():
            pred = make_predictor(bundle, task="lulc", device=dev, precision=prec, channels_last=cl, compile=comp)
            t0 = time.perf_counter()
            for _ in range(3 if dev.type == "cuda" else 1):   # warm-up: compiles (CUDA graphs record on a later call)
                pred(np.full((b or auto_batch_size(dev), a.tile, a.tile), -12.0, np.float32))
            sync(dev); warm = time.perf_counter() - t0
            dst = a.workdir / f"profile_{slug(name)}.tif"
            r = predict_scene(pred, src, dst, tile=a.tile, overlap=a.overlap, batch_size=b, overwrite=True,
                              progress=False, write_probs=False, write_behind=wb)
            runs.setdefault(name, []).append({**r.timings, "warmup": warm, "compiled": pred.compiled})
            H, W, mpx = r.height, r.width, r.width * r.height / 1e6
            if rep == 0: maps[name] = class_map(dst)
    from sar_lulc.data import grid_offsets
    n_win = len(grid_offsets(H, a.tile, a.tile - a.overlap)) * len(grid_offsets(W, a.tile, a.tile - a.overlap))
    base = next(iter(configs))
    default = make_predictor(bundle, task="lulc", device=dev, precision=prec)      # the default layout and batch
    nb = auto_batch_size(dev)
    xb = np.random.default_rng(0).normal(-12, 4, (nb, a.tile, a.tile)).astype(np.float32)
    default(xb); sync(dev)                                                          # model alone: windows in memory
    reps = max(3, min(50, int(2 * n_win / nb)))
    t0 = time.perf_counter()
    for _ in range(reps): default(xb)
    sync(dev); t_win = (time.perf_counter() - t0) / (reps * nb)
    alone = mpx / (n_win * t_win)
    out = dict(model=label, device=str(dev), machine=machine(str(dev)), precision=prec, tile=a.tile, overlap=a.overlap,
               threads=torch.get_num_threads(), mpx=mpx, rounds=a.rounds, gflop_per_window=flops_win / 1e9,
               matmul_gflops=mm / 1e9, windows=n_win, baseline=base, model_alone_mpx_per_s=alone,
               model_alone_fraction_of_matmul=flops_win / t_win / mm, runs={})
    for name, ts in runs.items():
        t = {k: float(np.median([x.get(k, 0.0) for x in ts])) for k in ("read", "model", "blend", "write", "finalize", "total")}
        stages = {k: t[k] for k in ("read", "model", "blend", "write", "finalize")}
        model_rate = flops_win * n_win / max(t["model"], 1e-9)
        out["runs"][name] = dict(batch=configs[name][0], channels_last=configs[name][1], write_behind=configs[name][2],
                                 compile=ts[-1]["compiled"], warmup_s=[round(x["warmup"], 2) for x in ts],
                                 mpx_per_s=mpx / t["total"], of_model_alone=mpx / t["total"] / alone,
                                 stages_s=stages, total_s=t["total"],
                                 stage_share={k: round(v / t["total"], 4) for k, v in stages.items()},
                                 io_blend_vs_model=round((stages["read"] + stages["blend"] + stages["write"]) / max(stages["model"], 1e-9), 4),
                                 model_gflops=model_rate / 1e9, model_fraction_of_matmul=model_rate / mm,
                                 scene_fraction_of_matmul=flops_win * n_win / t["total"] / mm,
                                 agreement_with_baseline=float((maps[name] == maps[base]).mean()))
    b0 = out["runs"][base]["total_s"]
    for r in out["runs"].values(): r["speedup_vs_baseline"] = round(b0 / r["total_s"], 3)
    out["profile_batch1"] = profile_forward(default.model, x1.contiguous(memory_format=default.memory_format), precision=prec)
    print(f"{label} on {dev}, {prec}: {flops_win / 1e9:.2f} GFLOP per {a.tile}² window; {mm_prec} matmul "
          f"{mm / 1e9:.1f} GFLOP/s ({out['threads']} threads); {n_win} windows; model alone (batch {nb}, windows in "
          f"memory, eager: 'of model alone' compares every configuration with it) {alone:.2f} Mpx/s, "
          f"{100 * out['model_alone_fraction_of_matmul']:.0f} % of the matmul")
    print("| configuration | Mpx/s | speed-up | of model alone | read | model | blend | write | finalize | model GFLOP/s | model / matmul | scene / matmul | agreement |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in out["runs"].items():
        s = r["stage_share"]
        print(f"| {name} | {r['mpx_per_s']:.2f} | {r['speedup_vs_baseline']:.2f}x | {100 * r['of_model_alone']:.0f} % | "
              + " | ".join(f"{100 * s[k]:.1f} %" for k in ("read", "model", "blend", "write", "finalize"))
              + f" | {r['model_gflops']:.1f} | {100 * r['model_fraction_of_matmul']:.0f} % | {100 * r['scene_fraction_of_matmul']:.0f} %"
              + f" | {100 * r['agreement_with_baseline']:.2f} % |")
    print(f"\nmodel forward (batch 1), self {'GPU' if dev.type == 'cuda' else 'CPU'} time by operator group:")
    for g, v in out["profile_batch1"]["groups"].items(): print(f"  {g:26s} {100 * v:5.1f} %")
    print("top operators:", ", ".join(f"{o['op']} {100 * o['share']:.0f} %" for o in out["profile_batch1"]["top_ops"][:8]))
    if a.json: a.json.write_text(json.dumps(out, indent=1))
    return 0

if __name__ == "__main__":
    sys.exit(main())
