#!/usr/bin/env python
"""Training throughput of one optimiser step (forward, focal+dice loss, backward, clipping, AdamW) for each preset,
precision and code-path configuration, with the FLOPs of a step (torch's flop counter) and the achieved FLOP rate as a
fraction of a same-precision matmul measured in the same run; configurations alternate round by round in one
process, so their ratio is fair on a shared, noisy machine.

Configurations (`--configs`, the first is the baseline every speed-up is against):
  nchw            the plain layout (the code path before channels-last training)
  channels_last   TrainConfig.channels_last: conv weights and activations channels-last (oneDNN / cuDNN native)
  compile         torch.compile (inductor) of the channels-last model: slow to start, measured after warm-up

    python bench/bench_train.py --threads 1                                    # tiny and resnet18, CPU, fp32
    python bench/bench_train.py --presets tiny swin_t --precisions fp32 bf16 --out bench/results/train_cpu.json
    python bench/bench_train.py --device cuda --presets swin_t swin_b --batch 32 --precisions fp32 bf16 fp16
    python bench/bench_train.py --model mixmae --presets tiny                  # the pretraining model (no layouts)
"""
import argparse, copy, json, os, resource, time
from pathlib import Path

import torch

from sar_lulc.core import autocast, get_device
from sar_lulc.losses import FocalDiceLoss
from sar_lulc.optim import param_groups

CONFIGS = ("nchw", "channels_last", "compile")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def build(model: str, preset: str, device):
    "(model, loss_fn(model, x, valid, y)) at a fixed seed."
    torch.manual_seed(0)
    if model == "segmenter":
        from sar_lulc.segmenter import Segmenter, segmenter_config
        m = Segmenter(segmenter_config(preset, num_classes=9)).to(device)
        crit = FocalDiceLoss(torch.ones(9)).to(device)
        return m, lambda mm, x, v, y: crit(mm(x, valid=v).float(), y)
    from sar_lulc.mixmae import MixMAE, mixmae_config
    m = MixMAE(mixmae_config(preset)).to(device)
    return m, lambda mm, x, v, y: mm(x, db=x * 5.8 - 10.4, valid=v)["loss"]


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
        loss_fn(model, *batch).backward()
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops()


class Arm:
    "One configuration: its own copy of the model (same initial weights), optimiser and step function."
    def __init__(self, name, base, loss_fn, precision, device):
        self.name, self.precision, self.device, self.loss_fn = name, precision, device, loss_fn
        self.model = copy.deepcopy(base)
        if name in ("channels_last", "compile"): self.model.to(memory_format=torch.channels_last)
        self.run = torch.compile(self.model) if name == "compile" else self.model
        self.opt = torch.optim.AdamW(param_groups(self.model, 0.05, 0.9, 1e-4), lr=1e-4)
        self.scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        self.times, self.first_loss = [], None

    def step(self, x, v, y, timed=True):
        if self.first_loss is None: torch.manual_seed(0)    # same dropout draws in every arm's first step (eager)
        sync(self.device); t = time.perf_counter()
        with autocast(self.device, self.precision): loss = self.loss_fn(self.run, x, v, y)
        self.scaler.scale(loss).backward(); self.scaler.unscale_(self.opt)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.scaler.step(self.opt); self.scaler.update(); self.opt.zero_grad(set_to_none=True)
        sync(self.device)
        if self.first_loss is None: self.first_loss = float(loss.detach())
        if timed: self.times.append(time.perf_counter() - t)


def bench_one(a, preset, precision, device, peak):
    base, loss_fn = build(a.model, preset, device)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(a.batch, 1, a.chip, a.chip, generator=g).to(device)
    v = torch.ones(a.batch, a.chip, a.chip, dtype=torch.bool, device=device)
    y = torch.randint(0, 9, (a.batch, a.chip, a.chip), generator=g).to(device)
    flops = step_flops(base, loss_fn, (x, v, y))
    configs = [c for c in a.configs if a.model == "segmenter" or c == "nchw"]
    arms = [Arm(c, base, loss_fn, precision, device) for c in configs]
    for arm in arms:                                       # warm-up: first steps (and compilation) untimed
        for _ in range(a.warmup): arm.step(x, v, y, timed=False)
    for _ in range(a.rounds):                              # alternate: noise hits every arm alike
        for arm in arms:
            for _ in range(a.steps): arm.step(x, v, y)
    rows, base_t = [], None
    for arm in arms:
        dt = sorted(arm.times)[len(arm.times) // 2]
        base_t = base_t or dt
        rows.append(dict(preset=preset, precision=precision, config=arm.name, step_s=dt, chips_per_s=a.batch / dt,
                         gflop_per_step=flops / 1e9, achieved_gflops=flops / dt / 1e9, matmul_gflops=peak[precision] / 1e9,
                         fraction=flops / dt / peak[precision], speedup=base_t / dt,
                         first_loss_rel_diff=abs(arm.first_loss - arms[0].first_loss) / max(abs(arms[0].first_loss), 1e-12)))
    return rows


def data_rate(a, workers: int, batches: int = 12) -> dict:
    "Seconds per batch of the training chip pipeline (random chips, augmentation, labels) on a dataset folder."
    from torch.utils.data import DataLoader
    from sar_lulc.data import ChipDataset, load_dataset_dir
    info = load_dataset_dir(a.data)
    ds = ChipDataset(info.items("train"), chip=a.chip, mode="random", chips_per_epoch=a.batch * (batches + 2),
                     norm=info.norm, augment=True, scheme=info.scheme, units=info.units, cf=info.cf)
    it = iter(DataLoader(ds, batch_size=a.batch, num_workers=workers))
    next(it); next(it)                                     # workers started, files opened
    t = time.perf_counter()
    for _ in range(batches): next(it)
    dt = (time.perf_counter() - t) / batches
    return dict(workers=workers, s_per_batch=dt, chips_per_s=a.batch / dt)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=("segmenter", "mixmae"), default="segmenter")
    p.add_argument("--presets", nargs="+", default=["tiny", "resnet18"], help="tiny | resnet18 | swin_t | swin_b")
    p.add_argument("--preset", help=argparse.SUPPRESS)                      # the old single-preset flag
    p.add_argument("--configs", nargs="+", default=["nchw", "channels_last"], choices=CONFIGS)
    p.add_argument("--device", default="cpu")
    p.add_argument("--chip", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=2, help="timed steps per configuration and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--precisions", nargs="+", default=["fp32"], choices=sorted(DTYPES))
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--data", type=Path, help="a dataset folder: also time the chip pipeline (DataLoader, --workers) per batch")
    p.add_argument("--workers", type=int, nargs="+", default=[0], help="DataLoader workers to time with --data")
    p.add_argument("--out", type=Path, help="also write the results as JSON here")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.preset: a.presets = [a.preset]
    if a.model == "mixmae":                                # SAR-W-MixMAE pretrains Swin encoders only
        from sar_lulc.segmenter import preset_family
        a.presets = [q for q in a.presets if getattr(preset_family(q), "mixmae", True)] or ["tiny"]
    if a.threads: torch.set_num_threads(a.threads)
    device = get_device(a.device)
    peak = {q: matmul_rate(device, DTYPES[q]) for q in a.precisions}
    rows = [r for preset in a.presets for q in a.precisions for r in bench_one(a, preset, q, device, peak)]
    data = [data_rate(a, w) for w in a.workers] if a.data else []
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    info = dict(model=a.model, device=str(device), chip=a.chip, batch=a.batch, threads=torch.get_num_threads(),
                rounds=a.rounds, steps=a.steps, torch=torch.__version__, cpu=os.cpu_count(), peak_rss_mb=rss_mb,
                gpu=torch.cuda.get_device_name(device) if device.type == "cuda" else None)
    res = dict(**info, rows=rows, data=data)
    if a.out: a.out.parent.mkdir(parents=True, exist_ok=True); a.out.write_text(json.dumps(res, indent=1))
    if a.json: print(json.dumps(res)); return
    print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in info.items()))
    print(f"{'preset':<10}{'prec':<6}{'config':<15}{'s/step':>8}{'chips/s':>9}{'GFLOP/step':>11}{'GFLOP/s':>9}"
          f"{'matmul':>8}{'fraction':>9}{'speed-up':>9}{'loss diff':>10}")
    for r in rows:
        print(f"{r['preset']:<10}{r['precision']:<6}{r['config']:<15}{r['step_s']:>8.3f}{r['chips_per_s']:>9.2f}"
              f"{r['gflop_per_step']:>11.1f}{r['achieved_gflops']:>9.1f}{r['matmul_gflops']:>8.1f}{r['fraction']:>9.1%}"
              f"{r['speedup']:>8.2f}x{r['first_loss_rel_diff']:>10.1e}")
    for d in data:
        share = ", ".join(f"{r['preset']} {r['config']} {d['s_per_batch'] / r['step_s']:.1%}" for r in rows if r["precision"] == "fp32")
        print(f"chip pipeline, {d['workers']} worker(s): {d['s_per_batch']:.3f} s per batch of {a.batch} "
              f"({d['chips_per_s']:.1f} chips/s); as a share of a step: {share}")
    print(f"peak RSS of the process: {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
