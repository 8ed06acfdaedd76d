#!/usr/bin/env python
"""Model benchmark: parameters, GFLOPs per 256 x 256 chip, forward and forward+backward time per chip in fp32 and
bf16 autocast, and the achieved FLOP rate as a fraction of a large matmul's rate measured in the same run.

    python bench/bench_models.py                       # CPU, presets tiny and swin_t
    python bench/bench_models.py --device cuda --batch 16 --reps 20 --json bench_models.json

FLOPs are counted with torch.utils.flop_counter.FlopCounterMode (matmuls and convolutions, 2 FLOPs per
multiply-add; elementwise work, norms and softmax are not counted), for one chip through the full
segmenter (encoder + UPerNet + head, the preset's default switches unless --hr-inject/--head are given).
Times are medians of individually timed calls. Forward time is measured in eval mode under torch.no_grad (inference); forward+backward in train mode
with the focal + Dice loss (the optimiser step is not included). The reference rate is the best of two timings (start and end of the run) of a square matmul
(--matmul-n; default 8192 on CUDA, on CPU 2048 for fp32 and 512 for bf16) timed in the same precision; "% peak" = model FLOP
rate / matmul FLOP rate. On CUDA, fp32 matmuls run in full fp32 (TF32 off) unless --tf32 is given.
"""
from __future__ import annotations
import argparse, json, os, sys, time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sar_lulc.segmenter import Segmenter, segmenter_config
from sar_lulc.losses import FocalDiceLoss
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine


def sync(device):
    if device.type == "cuda": torch.cuda.synchronize(device)


def timeit(fn, device, reps, warmup, limit=None):
    """Median seconds per call over `reps` individually timed calls after `warmup` untimed ones (the median resists
    the load spikes of a shared machine). The first call is always timed on its own: when it exceeds `limit`
    seconds (e.g. bf16 on a CPU without bf16 units) it is the measurement (1 call)."""
    def once():
        sync(device); t0 = time.perf_counter(); fn(); sync(device)
        return time.perf_counter() - t0
    first = once()
    if limit is not None and first > limit: return first, 1
    for _ in range(max(warmup - 1, 0)): fn()
    ts = sorted(once() for _ in range(reps))
    return ts[len(ts) // 2] if len(ts) % 2 else 0.5 * (ts[len(ts) // 2 - 1] + ts[len(ts) // 2]), reps


def amp(device, precision):
    import contextlib
    if precision == "fp32": return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def matmul_rate(device, precision, n, reps, warmup):
    "FLOP/s of an n x n x n matmul in `precision` (bf16 inputs for bf16)."
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    t, _ = timeit(lambda: a @ b, device, reps, warmup)
    return 2 * n**3 / t


def count_flops(model, x, y, crit, backward: bool) -> int:
    with FlopCounterMode(display=False) as fc:
        if backward:
            crit(model(x), y).backward()
        else:
            with torch.no_grad(): model(x)
    model.zero_grad(set_to_none=True)
    return fc.get_total_flops()


def bench_preset(preset, args, device, mm):
    overrides = {}
    if args.hr_inject: overrides["hr_inject"] = args.hr_inject
    if args.head: overrides["head"] = args.head
    cfg = segmenter_config(preset, **overrides)
    torch.manual_seed(0)
    model = Segmenter(cfg).to(device)
    crit = FocalDiceLoss()
    n_params = sum(p.numel() for p in model.parameters())
    n_enc = sum(p.numel() for p in model.encoder.parameters())
    S, B = args.size, args.batch
    x1 = torch.randn(1, cfg.in_chans, S, S, device=device)
    y1 = torch.randint(0, cfg.num_classes, (1, S, S), device=device)
    model.eval(); f_fwd = count_flops(model, x1, y1, crit, backward=False)
    model.train(); f_fb = count_flops(model, x1, y1, crit, backward=True)
    x = torch.randn(B, cfg.in_chans, S, S, device=device)
    y = torch.randint(0, cfg.num_classes, (B, S, S), device=device)
    row = dict(preset=preset, hr_inject=cfg.hr_inject, head=cfg.head, params_M=n_params / 1e6, encoder_params_M=n_enc / 1e6,
               gflops_fwd=f_fwd / 1e9, gflops_fwd_bwd=f_fb / 1e9, batch=B, size=S)
    for prec in args.precisions:
        def fwd():
            with torch.no_grad(), amp(device, prec): model(x)
        def fwd_bwd():
            with amp(device, prec): loss = crit(model(x), y)
            loss.backward()
            model.zero_grad(set_to_none=True)
        model.eval(); t_f, r_f = timeit(fwd, device, args.reps, args.warmup, args.time_limit); t_f /= B
        model.train(); t_fb, r_fb = timeit(fwd_bwd, device, args.reps, args.warmup, args.time_limit); t_fb /= B
        row[f"{prec}_single_call"] = [r_f == 1 and args.reps > 1, r_fb == 1 and args.reps > 1]
        row[f"{prec}_fwd_ms"] = 1e3 * t_f
        row[f"{prec}_fwd_bwd_ms"] = 1e3 * t_fb
        row[f"{prec}_fwd_tflops"] = f_fwd / t_f / 1e12
        row[f"{prec}_fwd_bwd_tflops"] = f_fb / t_fb / 1e12
        row[f"{prec}_fwd_frac"] = f_fwd / t_f / mm[prec]
        row[f"{prec}_fwd_bwd_frac"] = f_fb / t_fb / mm[prec]
    del model
    if device.type == "cuda": torch.cuda.empty_cache()
    return row


def table(rows, mm, precisions):
    lines = ["reference matmul: " + ", ".join(f"{p} {mm[p] / 1e9:.1f} GFLOP/s" for p in precisions)]
    hdr = f"{'preset':8} {'params M':>9} {'GFLOP fwd':>10} {'GFLOP f+b':>10}"
    for p in precisions: hdr += f" | {p+' fwd ms':>12} {'%peak':>6} {p+' f+b ms':>12} {'%peak':>6}"
    lines += [hdr, "-" * len(hdr)]
    ms = lambda v, single: f"{v:11.1f}{'*' if single else ' '}"
    for r in rows:
        s = f"{r['preset']:8} {r['params_M']:9.2f} {r['gflops_fwd']:10.2f} {r['gflops_fwd_bwd']:10.2f}"
        for p in precisions:
            sf, sb = r[f"{p}_single_call"]
            s += (f" | {ms(r[f'{p}_fwd_ms'], sf)} {100 * r[f'{p}_fwd_frac']:6.1f} "
                  f"{ms(r[f'{p}_fwd_bwd_ms'], sb)} {100 * r[f'{p}_fwd_bwd_frac']:6.1f}")
        lines.append(s)
    lines.append("times are per 256 x 256 chip (batch time / batch size); %peak = model FLOP rate / matmul FLOP rate "
                 "of the same precision")
    if any(any(r[f"{p}_single_call"]) for r in rows for p in precisions):
        lines.append("* one call only: the first call took longer than --time-limit")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--presets", nargs="+", default=["tiny", "swin_t"], help="segmenter presets (default: tiny swin_t)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    ap.add_argument("--batch", type=int, default=None, help="chips per batch (default 2 on CPU, 16 on CUDA)")
    ap.add_argument("--size", type=int, default=256, help="chip size (default 256)")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (default 3 on CPU, 20 on CUDA)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed warm-up calls (default 1 on CPU, 5 on CUDA)")
    ap.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    ap.add_argument("--matmul-n", type=int, default=None,
                    help="reference matmul size (default 8192 on CUDA; on CPU 2048 for fp32, 512 for bf16)")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="if one call takes longer than this (s), report that single call (default 20 on CPU, none on CUDA)")
    ap.add_argument("--hr-inject", default=None, help="override the switches (default: the preset's, s4+s2)")
    ap.add_argument("--head", default=None, help="override the head (default: the preset's, progressive)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--tf32", action="store_true", help="allow TF32 for fp32 matmuls/convs on CUDA")
    ap.add_argument("--json", nargs="?", const="-", default=None, metavar="PATH",
                    help="also write the results as JSON to PATH (or stdout with no PATH)")
    args = ap.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available(): ap.error("--device cuda but CUDA is not available")
    cuda = device.type == "cuda"
    args.batch = args.batch or (16 if cuda else 2)
    args.reps = args.reps or (20 if cuda else 3)
    args.warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    if args.time_limit is None and not cuda: args.time_limit = 20.0
    sizes = {p: args.matmul_n or (8192 if cuda else (2048 if p == "fp32" else 512)) for p in args.precisions}
    if args.threads: torch.set_num_threads(args.threads)
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = True
    rate = lambda p: matmul_rate(device, p, sizes[p], max(args.reps, 3), max(args.warmup, 1))
    mm = {p: rate(p) for p in args.precisions}
    rows = [bench_preset(p, args, device, mm) for p in args.presets]
    mm_end = {p: rate(p) for p in args.precisions}          # again at the end: the best rate seen is the reference
    if any(mm_end[p] > mm[p] for p in args.precisions):
        for r in rows:
            for p in args.precisions:
                for k in ("fwd_frac", "fwd_bwd_frac"): r[f"{p}_{k}"] *= mm[p] / max(mm[p], mm_end[p])
        mm = {p: max(mm[p], mm_end[p]) for p in args.precisions}
    m = machine(str(device), torch.get_num_threads())
    info = dict(device=m["device"] if cuda else f"cpu ({m['cpu']}, {m['threads']} threads)", machine=m, torch=torch.__version__, matmul_n=sizes, tf32=bool(args.tf32 and cuda),
                batch=args.batch, reps=args.reps, matmul_tflops={p: mm[p] / 1e12 for p in args.precisions})
    print(f"device: {info['device']}, torch {info['torch']}, batch {args.batch}, reps {args.reps}, matmul n={sizes}")
    print(table(rows, mm, args.precisions))
    if args.json:
        out = json.dumps(dict(info=info, results=rows), indent=1)
        if args.json == "-": print(out)
        else: Path(args.json).write_text(out + "\n")
    return rows


if __name__ == "__main__":
    main()
