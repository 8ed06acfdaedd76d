#!/usr/bin/env python
"""SynthALOS-2 realism report: synthetic open water next to the real PALSAR-2 ocean (N23W161, 2020 mosaic).

Median gamma-nought (dB) over water, and the speckle coefficient of variation (std/mean of the linear
intensity) over 16 x 16 windows entirely inside water (real tile: HH, mask == 50 ocean, calibrated as
10*log10(DN^2) - 83). ENL = 1/CV^2. The real row is skipped (with a message) when ../shared is absent.

    .venv/bin/python bench/synth_realism.py                     # 8 scenes, looks 4 (default), 6 and 8

With --classes, the class-by-class report of the `synth_checks` chapter (issue 25): SynthALOS-2 (procedural and
JP scenes, as the generator makes them) against the real AIRSAR L-band Flevoland scene, in five coarse classes, on
HH dB quantiles, speckle (ENL), texture, autocorrelation, edge density and brightness against range, with one
Wasserstein-1 distance per class (as is, and after the best common dB offset); bench/results/synth_realism.json.

    .venv/bin/python bench/synth_realism.py --classes           # needs SAR_LULC_SHARED (Flevoland, HRLULC tiles)
"""
import argparse, json, sys, tempfile, time
from pathlib import Path

import numpy as np

from sar_lulc.synth_checks import (COARSE_CLASSES, JP9_COARSE, class_samples, class_stats, format_realism,
                                   range_ramp, realism_distances, realism_report)

ROOT = Path(__file__).resolve().parents[1]
# Flevoland's 15 classes (codes 1..15) -> coarse: water, forest, 12 crop and grass classes, bare soil, buildings
FLEVO_COARSE = np.array([255, 0, 1, 2, 2, 2, 2, 2, 2, 2, 3, 2, 2, 2, 2, 4], np.uint8)


def flevoland(shared: Path):
    import rasterio
    d = shared / "data/airsar_flevoland"
    from sar_lulc.io import to_db
    with rasterio.open(d / "flevoland_HH.tif") as s: p = s.read(1)
    with rasterio.open(d / "flevoland_label.tif") as s: lab = s.read(1)
    db = to_db(p, "linear").astype(np.float64)
    return [(db, FLEVO_COARSE[lab])]


def hv_report(shared: Path) -> dict:
    """Flevoland's HV and HH/HV ratio per coarse class (dB quantiles; the ratio as the median of HH - HV per pixel):
    what a dual-pol SynthALOS-2 would have to match. SynthALOS-2 itself has no HV channel."""
    import rasterio
    from sar_lulc.io import to_db
    (hh, co), = flevoland(shared)
    with rasterio.open(shared / "data/airsar_flevoland/flevoland_HV.tif") as s: hv = to_db(s.read(1), "linear")
    bands = dict(HH=hh, HV=hv.astype(np.float64))
    out = {}
    for i, c in enumerate(COARSE_CLASSES):
        m = (co == i) & np.isfinite(bands["HH"]) & np.isfinite(bands["HV"])
        if m.sum() < 50: out[c] = dict(pixels=int(m.sum())); continue
        out[c] = dict(pixels=int(m.sum()), hv_q=np.percentile(bands["HV"][m], [5, 25, 50, 75, 95]).round(2).tolist(),
                      hh_minus_hv_db=round(float(np.median(bands["HH"][m] - bands["HV"][m])), 2))
    return out


def synthetic(n: int, size: int, looks: float):
    from sar_lulc.synth import synth_scene
    out = []
    for i in range(n):
        sc = synth_scene(i, size, looks)
        out.append((sc.db.astype(np.float64), np.where(sc.labels < 9, JP9_COARSE[np.minimum(sc.labels, 8)], 255)))
    return out


def _read_split(d) -> list:
    from sar_lulc.data import load_dataset_dir
    import rasterio
    out = []
    for it in load_dataset_dir(d).items("train"):
        with rasterio.open(it["sar"][0] if isinstance(it["sar"], list) else it["sar"]) as s: db = s.read(1).astype(np.float64)
        with rasterio.open(it["label"]) as s: lab = s.read(1)
        out.append((db, np.where(lab < 9, JP9_COARSE[np.minimum(lab, 8)], 255)))
    return out


def synthetic_jp(shared: Path, size: int, looks, randomise=None):
    from sar_lulc.layouts import make_jp_benchmark
    tiles = sorted((shared / "data/jaxa_hrlulc").glob("*/LC_*.tif"))
    with tempfile.TemporaryDirectory() as d:
        make_jp_benchmark(d, tiles, size=size, per_tile=1, looks=looks, split=(1, 0, 0), randomise=randomise)
        return _read_split(d)


def synthetic_randomised(n: int, size: int, looks, randomise):
    "Procedural scenes as `sar-lulc synth --randomise ... --looks ...` writes them."
    from sar_lulc.synth import make_benchmark
    with tempfile.TemporaryDirectory() as d:
        make_benchmark(d, n, 0, 0, size, looks=looks, randomise=randomise)
        return _read_split(d)


def _round(v, n: int):
    return None if v is None else round(v, n)


def class_report(n: int, size: int, looks: float) -> dict:
    from sar_lulc.core import shared_dir
    shared = shared_dir()
    if shared is None: sys.exit("no shared data folder (set SAR_LULC_SHARED)")
    sources = {"AIRSAR Flevoland (real)": flevoland(shared), f"SynthALOS-2 ({n} scenes, {looks:g} looks)": synthetic(n, size, looks),
               f"SynthALOS-2/JP ({looks:g} looks)": synthetic_jp(shared, size, looks)}
    # the transfer preset, 1-12 looks: the `transfer` arm of bench/synth_transfer.py
    from sar_lulc.synth import RANDOMISATIONS
    rz, L = RANDOMISATIONS["transfer"], (1, 12)
    sources.update({f"SynthALOS-2, transfer ({n} scenes, 1-12 looks)": synthetic_randomised(n, size, L, rz),
                    "SynthALOS-2/JP, transfer (1-12 looks)": synthetic_jp(shared, size, L, rz)})
    # incidence only: a range ramp, water's steeper one and wind-roughened water (scene_norm_incidence arms)
    from sar_lulc.synth import randomisation
    ri = randomisation("none", ramp_db=10, water_ramp_db=8, water_wind_db=8)
    sources.update({f"SynthALOS-2, incidence ({n} scenes, {looks:g} looks)": synthetic_randomised(n, size, looks, ri),
                    f"SynthALOS-2/JP, incidence ({looks:g} looks)": synthetic_jp(shared, size, looks, ri)})
    # geometry: street-grid double bounce by orientation, relief 1-2.5x with layover and shadow (scene_norm_geometry arm)
    rg = randomisation("none", street_grids=True, relief=(1, 2.5))
    sources.update({f"SynthALOS-2, geometry ({n} scenes, {looks:g} looks)": synthetic_randomised(n, size, looks, rg),
                    f"SynthALOS-2/JP, geometry ({looks:g} looks)": synthetic_jp(shared, size, looks, rg)})
    # street grids alone: the shipped lulc_resnet18_scene's generator (scene_norm_streets_sea arm)
    rs = randomisation("none", street_grids=True)
    sources.update({f"SynthALOS-2, street grids ({n} scenes, {looks:g} looks)": synthetic_randomised(n, size, looks, rs),
                    f"SynthALOS-2/JP, street grids ({looks:g} looks)": synthetic_jp(shared, size, looks, rs)})
    rep = dict(sources={}, distances={}, classes=list(COARSE_CLASSES), size=size, looks=looks)
    for name, scenes in sources.items():
        db = np.concatenate([s[0].ravel() for s in scenes]); co = np.concatenate([s[1].ravel() for s in scenes])
        # statistics per scene, pooled by pixel weight (windows never straddle two scenes)
        per = [{COARSE_CLASSES[c]: class_stats(d, k, c) for c in range(len(COARSE_CLASSES))} for d, k in scenes]
        classes = {}
        for c in COARSE_CLASSES:
            rows = [p[c] for p in per if "q" in p[c]]
            if not rows: classes[c] = dict(pixels=0); continue
            w = np.array([r["pixels"] for r in rows], float)
            def avg(f):                      # over the scenes that have windows for it, by pixels
                ok = [i for i, r in enumerate(rows) if f(r) is not None and np.isfinite(f(r))]
                return float(np.average([f(rows[i]) for i in ok], weights=w[ok])) if ok else None
            classes[c] = dict(pixels=int(w.sum()), q=np.percentile(db[co == COARSE_CLASSES.index(c)], [5, 25, 50, 75, 95]).round(2).tolist(),
                              enl=avg(lambda r: r["enl"]), nsm15=avg(lambda r: r["nsm15"]),
                              autocorr={k: _round(avg(lambda r: r["autocorr"][k]), 3) for k in rows[0]["autocorr"]},
                              edge_density=_round(avg(lambda r: r["edge_density"]), 4))
        water = classes["water"].get("q", [None] * 5)[2]
        for c, v in classes.items():
            if "q" in v and water is not None: v["contrast_to_water_db"] = round(v["q"][2] - water, 2)
        ramps = [range_ramp(d, k) for d, k in scenes]
        rep["sources"][name] = dict(scenes=len(scenes), classes=classes,
                                    ramp={a: round(float(np.mean([r[a] for r in ramps if r[a] is not None])), 2) for a in ("columns", "rows")})
    rep["hv"] = {"AIRSAR Flevoland (real)": hv_report(shared), "SynthALOS-2": "no HV channel (single-pol HH only)"}
    real = class_samples(sources["AIRSAR Flevoland (real)"])
    for name, scenes in sources.items():
        if "real" not in name: rep["distances"][name] = realism_distances(real, class_samples(scenes))
    return rep

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-scenes", type=int, default=8); p.add_argument("--size", type=int, default=512)
    p.add_argument("--seed", type=int, default=0); p.add_argument("--win", type=int, default=16)
    p.add_argument("--looks", type=float, nargs="+", default=[4, 6, 8])
    p.add_argument("--json", action="store_true")
    p.add_argument("--classes", action="store_true", help="the class-by-class report against AIRSAR Flevoland")
    a = p.parse_args(argv)
    if a.classes:
        from machine import machine
        t0 = time.perf_counter()
        rep = class_report(a.n_scenes, a.size, a.looks[0])
        rep.update(machine=machine(), seconds=round(time.perf_counter() - t0, 1))
        (ROOT / "bench/results/synth_realism.json").write_text(json.dumps(rep, indent=1))
        for name, d in rep["distances"].items():
            print(f"{name}: offset {d['offset_db']:+.1f} dB; mean W1 {d['mean_w1_db']:.2f} dB as is, "
                  f"{d['mean_w1_aligned_db']:.2f} dB aligned; " + ", ".join(f"{c} {v['w1_aligned_db']:.2f}" for c, v in d["classes"].items()))
        return 0
    t0 = time.perf_counter()
    rep = realism_report(a.n_scenes, a.size, a.seed, tuple(a.looks), a.win)
    print(f"SynthALOS-2 open water vs the real PALSAR-2 ocean ({a.n_scenes} scenes of {a.size}x{a.size}, "
          f"{a.win}x{a.win} windows; synthetic 1/12000 deg ~10 m, real 1/4500 deg ~25 m)")
    print(format_realism(rep))
    print(f"({time.perf_counter() - t0:.1f} s)")
    if a.json: print(json.dumps(rep))
    return 0

if __name__ == "__main__":
    sys.exit(main())
