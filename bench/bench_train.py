#!/usr/bin/env python
"""Training throughput (chips/s) of one optimiser step (forward, focal+dice loss, backward, AdamW) for fp32 vs bf16
autocast (and fp16 + grad scaler on CUDA), with the FLOPs of a step (torch's flop counter) and the achieved FLOP rate
as a fraction of a large matmul's rate measured in the same run.

    .venv/bin/python bench/bench_train.py                      # tiny preset, CPU, 256 px chips
    .venv/bin/python bench/bench_train.py --device cuda --preset swin_t --batch 32
    .venv/bin/python bench/bench_train.py --model mixmae       # the pretraining model
"""
import argparse, json, math, os, sys, time

import torch

from sar_lulc.core import autocast, get_device
from sar_lulc.losses import FocalDiceLoss
from sar_lulc.optim import param_groups


def build(model: str, preset: str, device):
    if model == "segmenter":
        from sar_lulc.segmenter import Segmenter, segmenter_config
        m = Segmenter(segmenter_config(preset, num_classes=9)).to(device)
        crit = FocalDiceLoss(torch.ones(9)).to(device)
        return m, lambda x, v, y: crit(m(x, valid=v).float(), y)
    from sar_lulc.mixmae import MixMAE, mixmae_config
    m = MixMAE(mixmae_config(preset)).to(device)
    return m, lambda x, v, y: m(x, db=x * 5.8 - 10.4, valid=v)["loss"]


def sync(device):
    if device.type == "cuda": torch.cuda.synchronize()


def matmul_rate(device, dtype, budget_s=1.0, n_max=None):
    "FLOP/s of a square matmul, growing n until one product takes >= 20 ms (CPUs without bf16 units are slow)."
    n_max = n_max or (8192 if device.type == "cuda" else 2048)
    n = 256
    while True:
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        a @ b; sync(device); t = time.perf_counter(); a @ b; sync(device); dt = time.perf_counter() - t
        if dt >= 0.02 or n >= n_max: break
        n *= 2
    reps = max(2, min(50, int(budget_s / max(dt, 1e-6))))
    sync(device); t = time.perf_counter()
    for _ in range(reps): a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t)


def step_flops(model, loss_fn, batch):
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc:
        loss_fn(*batch).backward()
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=("segmenter", "mixmae"), default="segmenter")
    p.add_argument("--preset", default="tiny", help="tiny | swin_t | swin_b")
    p.add_argument("--device", default="cpu")
    p.add_argument("--chip", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=5, help="timed steps per precision")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--precisions", default=None, help="comma list (default fp32,bf16 on CPU; fp32,bf16,fp16 on CUDA)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)
    device = get_device(a.device)
    precs = (a.precisions or ("fp32,bf16,fp16" if device.type == "cuda" else "fp32,bf16")).split(",")
    torch.manual_seed(0)
    model, loss_fn = build(a.model, a.preset, device)
    opt = torch.optim.AdamW(param_groups(model, 0.05, 0.9, 1e-4), lr=1e-4)
    x = torch.randn(a.batch, 1, a.chip, a.chip, device=device)
    v = torch.ones(a.batch, a.chip, a.chip, dtype=torch.bool, device=device)
    y = torch.randint(0, 9, (a.batch, a.chip, a.chip), device=device)
    flops = step_flops(model, loss_fn, (x, v, y))
    dts = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    peak = {p: matmul_rate(device, dts[p]) for p in precs}
    rows = []
    for prec in precs:
        scaler = torch.amp.GradScaler("cuda", enabled=prec == "fp16")
        times = []
        for i in range(a.warmup + a.steps):
            sync(device); t = time.perf_counter()
            with autocast(device, prec): loss = loss_fn(x, v, y)
            scaler.scale(loss).backward(); scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            scaler.step(opt); scaler.update(); opt.zero_grad(set_to_none=True)
            sync(device); times.append(time.perf_counter() - t)
        print(f"{prec}: step times {[round(t, 3) for t in times]}", file=sys.stderr)
        dt = sorted(times[a.warmup:])[len(times[a.warmup:]) // 2]          # median step time
        rows.append(dict(precision=prec, step_s=dt, chips_per_s=a.batch / dt, gflop_per_step=flops / 1e9,
                         achieved_gflops=flops / dt / 1e9, matmul_gflops=peak[prec] / 1e9,
                         fraction=flops / dt / peak[prec], loss=float(loss.detach())))
    info = dict(model=a.model, preset=a.preset, device=str(device), chip=a.chip, batch=a.batch, threads=torch.get_num_threads(),
                params_m=sum(p.numel() for p in model.parameters()) / 1e6, torch=torch.__version__,
                cpu=os.cpu_count(), gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None)
    if a.json: print(json.dumps(dict(**info, rows=rows))); return
    print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()))
    print(f"{'precision':<10}{'s/step':>9}{'chips/s':>10}{'GFLOP/step':>12}{'GFLOP/s':>10}{'matmul GFLOP/s':>16}{'fraction':>10}")
    for r in rows:
        print(f"{r['precision']:<10}{r['step_s']:>9.3f}{r['chips_per_s']:>10.2f}{r['gflop_per_step']:>12.1f}"
              f"{r['achieved_gflops']:>10.1f}{r['matmul_gflops']:>16.1f}{r['fraction']:>10.1%}")
    base = rows[0]["chips_per_s"]
    for r in rows[1:]: print(f"{r['precision']} / {rows[0]['precision']} speed-up: {r['chips_per_s'] / base:.2f}x")


if __name__ == "__main__":
    main()
