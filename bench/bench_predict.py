#!/usr/bin/env python
"""Benchmark scene prediction: streaming `predict_scene` vs the in-memory reference, fp32 vs bf16.

    .venv/bin/python bench/bench_predict.py                    # 4, 25, 100 Mpx synthetic + the real 20 Mpx tile
    .venv/bin/python bench/bench_predict.py --sizes 1,2 --no-real --precisions fp32
    .venv/bin/python bench/bench_predict.py --device cuda --json bench_predict.json

Synthetic scenes are square uint16 DN GeoTIFFs (EPSG:4326) made of SynthALOS-2 512 x 512 scenes
(`sar_lulc.synth.synth_scene`, a pool of 8 seeds, flipped and repeated) written block row by block row,
so that generating them stays small; they are cached in --workdir. The real tile is the PALSAR-2
N23W161 HH mosaic tile from the shared data (4500 x 4500, ~95 % no data, ~99.7 % ocean), predicted with
the water task and scored against its ocean mask (IoU of water).

Every configuration runs in its own subprocess, so its peak RSS (VmHWM from /proc/self/status; `ru_maxrss`
where that is missing) is that run's alone. Throughput is
scene pixels / wall time of `predict_scene` (reading, model, blending, writing, COG conversion), with the
model loaded and warmed up beforehand. `memory` is `predict_scene(engine='memory')`: the whole scene read
into RAM, all tiles predicted and stitched in a whole-scene accumulator, then written (same outputs).
The model is the shipped demo model when present, else a freshly initialised `tiny` Segmenter (random
weights: speeds and memory are meaningful, the maps are not); the table says which.
"""
from __future__ import annotations
import argparse, json, math, os, resource, subprocess, sys, time, warnings
from pathlib import Path

import numpy as np

from sar_lulc.core import peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
NORM_JP = dict(mean=-10.4327, std=5.8041)          # METHOD.md: Japan HH dB statistics


# ---------------------------------------------------------------- the model
def model_spec(task: str, model: str | None) -> dict:
    "Which model a child loads: an explicit path, the shipped demo weights, or a fresh tiny Segmenter."
    from sar_lulc.checkpoint import DEMO_MODELS
    if model: return dict(kind="file", path=str(model), label=f"{Path(model).name}")
    demo = ROOT / "data_samples" / "models" / DEMO_MODELS[task]
    if demo.is_file(): return dict(kind="file", path=str(demo), label=f"demo {demo.name}")
    return dict(kind="fresh", task=task, label=f"fresh tiny Segmenter ({task}, random weights)")

def build_bundle(spec: dict, device):
    from types import SimpleNamespace
    import torch
    if spec["kind"] == "file":
        from sar_lulc.checkpoint import load_model
        return load_model(spec["path"], device=str(device))
    from sar_lulc.segmenter import Segmenter, segmenter_config
    from sar_lulc.schemes import get_scheme
    torch.manual_seed(0)
    m = Segmenter(segmenter_config("tiny", task=spec["task"])).eval()
    return SimpleNamespace(model=m, task=spec["task"], scheme=get_scheme("water" if spec["task"] == "water" else "jp9"),
                           norm=NORM_JP, meta={"source": spec["label"]})


# ---------------------------------------------------------------- one configuration (child process)
def child(cfg: dict) -> dict:
    warnings.simplefilter("ignore")
    import torch
    from sar_lulc.core import get_device
    from sar_lulc.predict import predict_scene
    from sar_lulc.predictor import make_predictor
    if cfg.get("threads"): torch.set_num_threads(int(cfg["threads"]))
    dev = get_device(cfg["device"])
    bundle = build_bundle(cfg["model"], dev)
    pred = make_predictor(bundle, task=cfg["task"], device=dev, precision=cfg["precision"])
    tile = cfg["tile"]
    pred(np.full((cfg["batch_size"], tile, tile), -12.0, np.float32))               # warm-up (kernels, autotune)
    if dev.type == "cuda": torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    rss0 = peak_rss_mb()
    t = time.perf_counter()
    r = predict_scene(pred, cfg["src"], cfg["dst"], tile=tile, overlap=cfg["overlap"], batch_size=cfg["batch_size"],
                      precision=cfg["precision"], device=dev, engine=cfg["engine"], overwrite=True, progress=False,
                      write_probs=False)
    wall = time.perf_counter() - t
    out = dict(wall_s=wall, mpx=r.width * r.height / 1e6, mpx_per_s=r.width * r.height / 1e6 / wall,
               rss_mb=peak_rss_mb(), rss_before_mb=rss0, ru_maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               timings=r.timings, valid=r.valid_pixels, device=str(dev), path=str(r.paths["class"]),
               torch_threads=torch.get_num_threads())
    if dev.type == "cuda": out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out

def run_child(cfg: dict, timeout: int) -> dict:
    p = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)], capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    if p.returncode != 0:
        return dict(error=(p.stderr.strip().splitlines() or ["?"])[-1][:300])
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- scenes
def synthetic_scene(path: Path, mpx: float, block: int = 512, pool: int = 8) -> Path:
    "A square uint16 DN scene of about `mpx` megapixels tiled from a pool of SynthALOS-2 scenes, written by block rows."
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window
    from sar_lulc.synth import synth_scene
    side = max(64, int(round(math.sqrt(mpx * 1e6) / 16)) * 16)
    if path.is_file():
        with rasterio.open(path) as ds:
            if ds.shape == (side, side): return path
    tiles = [synth_scene(1000 + i, size=block).dn for i in range(pool)]
    tmp = path.with_suffix(".part.tif")
    prof = dict(driver="GTiff", width=side, height=side, count=1, dtype="uint16", nodata=0, crs="EPSG:4326",
                transform=from_origin(138.0, 37.0, 1 / 4500, 1 / 4500), tiled=True, blockxsize=512, blockysize=512,
                compress="deflate")
    with rasterio.open(tmp, "w", **prof) as ds:
        for by, y0 in enumerate(range(0, side, block)):
            h = min(block, side - y0)
            row = np.empty((h, side), np.uint16)
            for bx, x0 in enumerate(range(0, side, block)):
                t = tiles[(by * 5 + bx * 3) % pool]
                t = t[::-1] if (by + bx) % 2 else t
                t = t[:, ::-1] if (by // 2 + bx) % 3 == 0 else t
                w = min(block, side - x0)
                row[:, x0:x0 + w] = t[:h, :w]
            ds.write(row[None], window=Window(0, y0, side, h))
    os.replace(tmp, path)
    return path

def agreement(a_path, b_path, rows: int = 512) -> float:
    "Fraction of pixels valid in both class maps whose classes agree (read by row bands)."
    import rasterio
    from rasterio.windows import Window
    same = tot = 0
    with rasterio.open(a_path) as a, rasterio.open(b_path) as b:
        for y in range(0, a.height, rows):
            w = Window(0, y, a.width, min(rows, a.height - y))
            x, z = a.read(1, window=w), b.read(1, window=w)
            v = (x != 255) & (z != 255)
            same += int((x[v] == z[v]).sum()); tot += int(v.sum())
    return same / tot if tot else float("nan")


# ---------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="4,25,100", help="synthetic scene sizes in Mpx (comma-separated)")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0, help="torch threads per run (0 = torch's default)")
    ap.add_argument("--model", default=None, help="lulc model for the synthetic scenes (default: demo, else fresh)")
    ap.add_argument("--water-model", default=None, help="water model for the real tile (default: demo, else fresh)")
    ap.add_argument("--no-real", action="store_true", help="skip the real PALSAR-2 tile")
    ap.add_argument("--no-reference", action="store_true", help="skip the in-memory reference runs")
    ap.add_argument("--workdir", default=os.environ.get("SAR_LULC_BENCH_DIR", "/tmp/sar_lulc_bench"))
    ap.add_argument("--timeout", type=int, default=7200, help="seconds per configuration")
    ap.add_argument("--json", default=None, help="also save the results to this JSON file")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(json.loads(a.child)))); return 0

    work = Path(a.workdir); (work / "out").mkdir(parents=True, exist_ok=True)
    precs = [p for p in a.precisions.split(",") if p]
    scenes = []
    for s in [float(x) for x in a.sizes.split(",") if x]:
        t = time.perf_counter()
        p = synthetic_scene(work / f"synth_{s:g}mpx.tif", s)
        scenes.append(dict(name=f"synthetic {s:g} Mpx", src=str(p), task="lulc", model=model_spec("lulc", a.model)))
        print(f"scene {p.name} ready ({time.perf_counter() - t:.1f} s)", file=sys.stderr)
    if not a.no_real:
        sys.path.insert(0, str(ROOT))
        from sar_lulc.core import real_tile_paths
        tp = real_tile_paths()
        if tp is None: print("real tile absent (no shared data): skipped", file=sys.stderr)
        else: scenes.append(dict(name="real PALSAR-2 N23W161", src=str(tp["hh"]), task="water", mask=str(tp["mask"]),
                                 model=model_spec("water", a.water_model)))

    rows = []
    for sc in scenes:
        runs = [("stream", p) for p in precs] + ([] if a.no_reference else [("memory", precs[0])])
        res = {}
        for engine, prec in runs:
            tag = f"{Path(sc['src']).stem}_{engine}_{prec}"
            cfg = dict(src=sc["src"], dst=str(work / "out" / f"{tag}.tif"), task=sc["task"], model=sc["model"],
                       precision=prec, device=a.device, engine=engine, tile=a.tile, overlap=a.overlap,
                       batch_size=a.batch_size, threads=a.threads)
            print(f"running {sc['name']}: {engine} {prec} ...", file=sys.stderr, flush=True)
            r = run_child(cfg, a.timeout)
            res[(engine, prec)] = r
            row = dict(scene=sc["name"], engine=engine, precision=prec, model=sc["model"]["label"], **r)
            if "error" not in r and sc.get("mask"):
                import rasterio
                from sar_lulc.metrics import water_iou_vs_mask
                with rasterio.open(r["path"]) as d, rasterio.open(sc["mask"]) as m:
                    row["iou_water"] = water_iou_vs_mask(d.read(1), m.read(1))["iou_water"]
            rows.append(row)
        base = res.get(("stream", "fp32"))
        for (engine, prec), r in res.items():
            if engine == "stream" and prec != "fp32" and base and "error" not in base and "error" not in r:
                agr = agreement(base["path"], r["path"])
                for row in rows:
                    if row["scene"] == sc["name"] and row["engine"] == engine and row["precision"] == prec:
                        row["agree_vs_fp32"] = agr

    # ---- the table
    print()
    print(f"device: {rows[0].get('device', '?') if rows else '?'}; tile {a.tile}, overlap {a.overlap}, batch {a.batch_size}; "
          f"models: " + "; ".join(sorted({r['model'] for r in rows})))
    hdr = f"{'scene':<24}{'engine':<8}{'prec':<6}{'Mpx':>7}{'wall s':>9}{'Mpx/s':>8}{'RSS MB':>9}{'GPU MB':>8}{'agree':>9}{'IoU':>8}"
    print(hdr); print("-" * len(hdr))
    for r in rows:
        if "error" in r:
            print(f"{r['scene']:<24}{r['engine']:<8}{r['precision']:<6}  ERROR: {r['error']}"); continue
        agr = f"{100 * r['agree_vs_fp32']:.3f}%" if "agree_vs_fp32" in r else ""
        iou = f"{r['iou_water']:.4f}" if "iou_water" in r else ""
        gpu = f"{r['gpu_peak_mb']:.0f}" if "gpu_peak_mb" in r else ""
        print(f"{r['scene']:<24}{r['engine']:<8}{r['precision']:<6}{r['mpx']:>7.1f}{r['wall_s']:>9.1f}{r['mpx_per_s']:>8.2f}"
              f"{r['rss_mb']:>9.0f}{gpu:>8}{agr:>9}{iou:>8}")

    # ---- the targets
    ok = [r for r in rows if "error" not in r]
    syn = sorted({r["mpx"] for r in ok if r["scene"].startswith("synthetic")})
    print()
    if len(syn) >= 2:
        for prec in precs:
            rs = {r["mpx"]: r["rss_mb"] for r in ok if r["scene"].startswith("synthetic") and r["engine"] == "stream"
                  and r["precision"] == prec}
            if syn[0] in rs and syn[-1] in rs:
                print(f"peak RSS {syn[-1]:.0f} Mpx / {syn[0]:.0f} Mpx (stream, {prec}): {rs[syn[-1]] / rs[syn[0]]:.3f}x (target <= 1.25x)")
    for r in ok:
        if r["engine"] == "stream" and r["precision"] == "bf16":
            f = next((x for x in ok if x["scene"] == r["scene"] and x["engine"] == "stream" and x["precision"] == "fp32"), None)
            if f: print(f"{r['scene']}: bf16 / fp32 throughput {r['mpx_per_s'] / f['mpx_per_s']:.2f}x (target >= 1.8x), "
                        f"agreement {100 * r.get('agree_vs_fp32', float('nan')):.3f}% (target >= 99.5%)")
        if r["engine"] == "memory":
            f = next((x for x in ok if x["scene"] == r["scene"] and x["engine"] == "stream" and x["precision"] == r["precision"]), None)
            if f: print(f"{r['scene']}: stream / in-memory throughput {f['mpx_per_s'] / r['mpx_per_s']:.2f}x (target >= 1), "
                        f"peak RSS stream {f['rss_mb']:.0f} MB vs in-memory {r['rss_mb']:.0f} MB")
    if a.json:
        Path(a.json).write_text(json.dumps(dict(args=vars(a), rows=rows), indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
