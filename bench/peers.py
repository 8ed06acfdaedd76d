#!/usr/bin/env python
"""The peer benchmark (issue 14): this toolkit's segmenter against the standard models a user could pick instead,
segmentation-models-pytorch (smp) U-Net and UPerNet with ResNet-18 encoders (random init, never re-implemented
here), trained by the same `finetune` (same chips, focal+dice loss with alpha 0.5, AdamW, warmup + cosine), over
seeds, on procedural SynthALOS-2 and SynthALOS-2/JP; one record per run in OUT/peers.json.

    pip install segmentation-models-pytorch          # a bench dependency, not the library's
    python bench/peers.py --out runs/peers --jobs 2                          # CPU protocol
    python bench/peers.py --out runs/peers_gpu --protocol gpu --device cuda --jobs 4

Two phases per benchmark: **equal steps** (every arch the same optimiser steps), then **equal time**: the toolkit's
models again with their steps scaled so that their median training time matches each peer's median. Interrupted?
Run the same command again: finished runs with the same settings are read back (runs of other settings run again;
runs finished before the settings were recorded are reused as they are). Params and GFLOPs are per 256² chip (FlopCounterMode).
"""
from __future__ import annotations
import argparse, concurrent.futures as cf, json, math, os, subprocess, sys, time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from synth_study import run_cli, summarise, metrics_of        # one home for running and summarising
from sar_lulc.core import shared_dir
from sar_lulc.segmenter import reflect_pad

FULL = dict(hr_inject="s4+s2", head="progressive", alpha=0.5)
NONE = dict(hr_inject="none", head="simple", alpha=0.0)
ARCHS = {  # name: (TrainConfig overrides, role): a toolkit arch also runs at each slower peer's time; an ablation does not
    "toolkit tiny (full)": (dict(arch="segmenter", preset="tiny", **FULL), "toolkit"),
    "toolkit resnet18 (full)": (dict(arch="segmenter", preset="resnet18", **FULL), "toolkit"),
    "toolkit resnet18 (no refinements)": (dict(arch="segmenter", preset="resnet18", **NONE), "ablation"),
    "smp U-Net ResNet-18": (dict(arch="smp_unet_resnet18", alpha=0.5), "peer"),
    "smp UPerNet ResNet-18": (dict(arch="smp_upernet_resnet18", alpha=0.5), "peer"),
}
PROTOCOLS = {
    "cpu": dict(seeds=[0, 1, 2], train=dict(chip=128, batch_size=16, epochs=6, chips_per_epoch=256, warmup_epochs=1,
                                            val_chip=256, layer_decay=1.0)),
    "gpu": dict(seeds=[0, 1, 2], train=dict(chip=256, batch_size=16, epochs=30, chips_per_epoch=1024, warmup_epochs=2,
                                            layer_decay=1.0)),
    "smoke": dict(seeds=[0], train=dict(chip=64, batch_size=4, epochs=1, chips_per_epoch=8, warmup_epochs=0.5,
                                        layer_decay=1.0)),
}

class SmpSegmenter(nn.Module):
    """An smp model behind this toolkit's segmenter interface: `forward(x, valid=None)` on normalised SAR of any
    size with NaN for no data -> logits at input size (no data set to 0, reflect-padded to a multiple of 32)."""
    def __init__(self, cfg: dict):
        super().__init__()
        import segmentation_models_pytorch as smp
        self.cfg = dict(cfg)
        self.net = getattr(smp, cfg["family"])(cfg["encoder"], encoder_weights=None, in_channels=int(cfg["in_chans"]),
                                               classes=int(cfg["num_classes"]))
    def forward(self, x, valid=None):
        ok = torch.isfinite(x).all(1)
        if valid is not None: ok = ok & valid.to(device=x.device, dtype=torch.bool).expand_as(ok)
        x = torch.where(ok[:, None], x, torch.zeros((), dtype=x.dtype, device=x.device))
        H, W = x.shape[-2:]
        return self.net(reflect_pad(x, (-H) % 32, (-W) % 32))[..., :H, :W]     # the segmenter's own padding

def register_peers():
    "Register the smp architectures with the toolkit (checkpoint.register_arch), so finetune/export/load know them."
    from sar_lulc.checkpoint import register_arch
    for name, fam in (("smp_unet_resnet18", "Unet"), ("smp_upernet_resnet18", "UPerNet")):
        register_arch(name, lambda c, fam=fam: SmpSegmenter({**c, "family": fam, "encoder": "resnet18"}))

def size_of(overrides: dict, num_classes: int = 9) -> dict:
    "Parameters (M) and forward GFLOPs per 256² chip of an arch."
    from torch.utils.flop_counter import FlopCounterMode
    from sar_lulc.checkpoint import build_model
    from sar_lulc.segmenter import Segmenter, segmenter_config
    if overrides["arch"] == "segmenter":
        m = Segmenter(segmenter_config(overrides["preset"], hr_inject=overrides["hr_inject"], head=overrides["head"],
                                       num_classes=num_classes, in_chans=1))
    else: m = build_model(overrides["arch"], dict(num_classes=num_classes, in_chans=1))
    m.eval()
    with FlopCounterMode(display=False) as fc, torch.no_grad(): m(torch.zeros(2, 1, 256, 256))
    return dict(params_m=sum(p.numel() for p in m.parameters()) / 1e6, gflops_256=fc.get_total_flops() / 2e9)

def child(spec: dict) -> dict:
    "One training run in this process (the smp archs registered first); prints the summary as JSON."
    register_peers()
    from sar_lulc.train import finetune
    s = finetune("demo", data_dir=spec["data"], out_dir=spec["out"], overwrite=True, progress=False,
                 device=spec["device"], seed=spec["seed"], **spec["train"], **spec["arch"])
    return {k: s.get(k) for k in ("steps", "time_s", "best", "test", "test_iou")}

def run_child(spec: dict, log: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    t = time.time()
    p = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True, env=env)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"{json.dumps(spec)}\n{p.stdout}\n{p.stderr}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode or not lines: raise RuntimeError(f"run {spec['out']} failed; see {log}:\n{p.stderr[-1500:]}")
    r = json.loads(lines[-1]); r["wall_s"] = time.time() - t
    return r

def benchmarks(out: Path, which: list[str], log: Path) -> dict:
    "Dataset folders: procedural SynthALOS-2 (8/2/2 scenes) and SynthALOS-2/JP (the shared HRLULC tiles)."
    data = {}
    if "synth" in which:
        d = out / "data/synth"
        if not (d / "manifest.json").exists():
            run_cli(["synth", str(d), "--n-train", "8", "--n-val", "2", "--n-test", "2", "--size", "512", "--overwrite"],
                    log / "synth.log")
        data["SynthALOS-2"] = d
    sd = shared_dir()
    tiles = sorted((sd / "data/jaxa_hrlulc").glob("*/LC_*.tif")) if sd else []
    if "jp" in which and tiles:
        d = out / "data/jp"
        if not (d / "manifest.json").exists():
            run_cli(["synth", str(d), "--layouts", *map(str, tiles), "--per-tile", "3", "--size", "512", "--overwrite"],
                    log / "synth_jp.log")
        data["SynthALOS-2/JP"] = d
    elif "jp" in which: print("no HRLULC tiles in the shared data (set SAR_LULC_SHARED): SynthALOS-2/JP skipped", flush=True)
    return data

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--protocol", default="cpu", choices=sorted(PROTOCOLS))
    ap.add_argument("--benchmarks", nargs="+", default=["synth", "jp"], choices=["synth", "jp"])
    ap.add_argument("--seeds", type=int, nargs="+")
    ap.add_argument("--no-equal-time", action="store_true", help="only the equal-steps phase")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(json.loads(a.child)), default=str)); return 0
    if a.out is None: ap.error("--out is required")
    try: import segmentation_models_pytorch  # noqa: F401
    except ImportError: sys.exit("the peers come from segmentation-models-pytorch: pip install segmentation-models-pytorch")
    register_peers()
    p = PROTOCOLS[a.protocol]; seeds = a.seeds or p["seeds"]
    out = a.out; out.mkdir(parents=True, exist_ok=True); log = out / "logs"
    t0 = time.time()
    data = benchmarks(out, a.benchmarks, log)
    sizes = {name: size_of(ov) for name, (ov, _) in ARCHS.items()}

    def one(job):
        bench, name, seed, epochs, phase = job
        train = {**p["train"], "epochs": epochs}
        tag = f"{bench}_{name}_{phase}_s{seed}".replace("/", "_")
        run = out / "runs" / "".join(c if c.isalnum() else "_" for c in tag)
        done = run / "peer_summary.json"
        spec = dict(data=str(data[bench]), out=str(run), device=a.device, seed=seed, train=train, arch=ARCHS[name][0])
        r = json.loads(done.read_text()) if done.exists() else None
        if r is not None and r.get("spec", spec) != spec:      # another protocol or step count: run again
            print(f"{run.name}: the finished run had other settings; running it again", flush=True); r = None
        if r is None:
            r = {**run_child(spec, log / f"{run.name}.log"), "spec": spec}
            done.write_text(json.dumps(r, default=str))
        m = metrics_of(r)
        print(f"done {bench:15s} {name:24s} {phase:12s} seed {seed}: mIoU {m.get('miou') or float('nan'):.3f} "
              f"in {r['time_s']:.0f} s", flush=True)
        return dict(arch=name, peer=ARCHS[name][1] == "peer", role=ARCHS[name][1], benchmark=bench, phase=phase, seed=seed, steps=r["steps"],
                    train_s=r["time_s"], **sizes[name], config={**train, **ARCHS[name][0]}, metrics=m)

    results, failures = [], []
    def run_all(jobs):
        with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
            for fut in cf.as_completed([ex.submit(one, j) for j in jobs]):
                try: results.append(fut.result())
                except Exception as e: failures.append(str(e)); print("FAILED:", str(e)[:400], flush=True)
                (out / "partial.json").write_text(json.dumps(dict(results=results, failures=failures), indent=1))
    E = p["train"]["epochs"]
    run_all([(b, n, s, E, "equal steps") for b in data for s in seeds for n in ARCHS])
    if not a.no_equal_time:                      # the toolkit again, as long as each peer trained (median time)
        jobs = []
        for b in data:
            med = lambda n: sorted(r["train_s"] for r in results if r["benchmark"] == b and r["arch"] == n
                                   and r["phase"] == "equal steps")
            for n, (_, role) in ARCHS.items():
                if role != "toolkit": continue
                own = med(n)
                for peer, (_, prole) in ARCHS.items():
                    if prole != "peer" or not med(peer) or not own: continue
                    ratio = med(peer)[len(med(peer)) // 2] / own[len(own) // 2]
                    if ratio <= 1: continue                  # the peer is faster: the equal-steps run is the comparison
                    e = max(E + 1, round(E * ratio))
                    jobs += [(b, n, s, e, f"time of {peer.split()[1]}") for s in seeds]
        run_all(jobs)
    res = dict(protocol=a.protocol, config=p, seeds=seeds, device=a.device, torch=torch.__version__,
               threads_per_run=int(os.environ.get("OMP_NUM_THREADS", "1")), data={k: str(v) for k, v in data.items()},
               wall_s=time.time() - t0, results=sorted(results, key=lambda r: (r["benchmark"], r["arch"], r["phase"], r["seed"])),
               failures=failures)
    (out / "peers.json").write_text(json.dumps(res, indent=1, default=str))
    md = report(res); (out / "peers.md").write_text(md); print(md)
    return 1 if failures else 0

def report(res: dict) -> str:
    lines = [f"Peer benchmark, protocol `{res['protocol']}`, seeds {res['seeds']}, {res['threads_per_run']} thread(s) per run on "
             f"`{res['device']}`. Mean ± std over seeds, in %; train time in s (median over seeds).", ""]
    for b in sorted({r["benchmark"] for r in res["results"]}):
        lines += [f"**{b}**", "", "| arch | phase | params (M) | GFLOP / 256² | steps | train s | mIoU | boundary F1 | thin IoU | rare IoU |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        groups = sorted({(r["arch"], r["phase"]) for r in res["results"] if r["benchmark"] == b},
                        key=lambda g: (g[1] != "equal steps", list(ARCHS).index(g[0]) if g[0] in ARCHS else 99, g[1]))
        for arch, phase in groups:
            rs = [r for r in res["results"] if r["benchmark"] == b and r["arch"] == arch and r["phase"] == phase]
            ts = sorted(r["train_s"] for r in rs)
            cells = []
            for k in ("miou", "boundary_f1", "thin_iou", "rare_iou"):
                m, s, _ = summarise([r["metrics"].get(k) for r in rs])
                cells.append("n/a" if math.isnan(m) else f"{100 * m:.1f} ± {100 * s:.1f}" if not math.isnan(s) else f"{100 * m:.1f}")
            lines.append(f"| {arch} | {phase} | {rs[0]['params_m']:.2f} | {rs[0]['gflops_256']:.2f} | {rs[0]['steps']} | "
                         f"{ts[len(ts) // 2]:.0f} | " + " | ".join(cells) + " |")
        lines.append("")
    if res.get("failures"): lines += [f"{len(res['failures'])} run(s) failed; see the logs.", ""]
    lines.append(f"Wall time {res['wall_s'] / 60:.1f} min.")
    return "\n".join(lines) + "\n"

if __name__ == "__main__":
    sys.exit(main())
