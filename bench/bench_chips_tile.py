#!/usr/bin/env python
"""`sar-lulc chips` over a whole 12000 x 12000 HRLULC v23.12 tile: peak RSS, time, and the label histogram check.

JAXA's label tiles come without SAR, so a SAR raster is made on the tile's own grid (EPSG:4326, 1/12000 deg),
strip by strip: each class's typical dB plus noise, as uint16 DN. Then `sar-lulc chips` runs in a child process
(its peak RSS measured by the kernel), and the label histogram of all written chips is compared with the
histogram of the tile mapped to jp9 over the same windows: they must be equal.

    .venv/bin/python bench/bench_chips_tile.py                        # the first v23.12 tile in ../shared
    .venv/bin/python bench/bench_chips_tile.py --tile LC_N41E141.tif --chip 512
Results: bench/results/chips_tile.json. Targets (issue 13): peak RSS < 2 GB, histograms equal.
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sar_lulc.core import shared_dir
from sar_lulc.io import db_to_dn
from sar_lulc.schemes import IGNORE_INDEX, JP9

CLASS_DB = np.array([-22, -4, -14, -11, -13, -7, -16, -8, -2], np.float32)   # a level per jp9 class (dB)

def make_sar(tile: Path, out: Path, strip: int = 500) -> Path:
    "uint16 DN on the tile's grid, written strip by strip (memory: a few strips)."
    with rasterio.open(tile) as src:
        prof = dict(driver="GTiff", width=src.width, height=src.height, count=1, dtype="uint16", crs=src.crs,
                    transform=src.transform, nodata=0, tiled=True, blockxsize=512, blockysize=512, compress="deflate")
        rng = np.random.default_rng(0)
        with rasterio.open(out, "w", **prof) as dst:
            for r in range(0, src.height, strip):
                h = min(strip, src.height - r)
                j9 = JP9.encode(src.read(1, window=Window(0, r, src.width, h)))
                db = np.where(j9 == IGNORE_INDEX, np.nan, CLASS_DB[np.minimum(j9, 8)]) + rng.normal(0, 2, j9.shape)
                dst.write(db_to_dn(db.astype(np.float32)), 1, window=Window(0, r, src.width, h))
    return out

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tile", default=None, help="an HRLULC v23.12 tile (default: the first in ../shared)")
    p.add_argument("--chip", type=int, default=256)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "chips_tile.json"))
    a = p.parse_args(argv)
    tiles = sorted((shared_dir() / "data" / "jaxa_hrlulc" / "v23.12_10m").glob("LC_*.tif")) if shared_dir() else []
    tile = Path(a.tile) if a.tile else (tiles[0] if tiles else None)
    if tile is not None and not tile.exists(): tile = next((t for t in tiles if t.name == a.tile), None)
    if tile is None: print("no HRLULC tile found (set SAR_LULC_SHARED)"); return 2
    with tempfile.TemporaryDirectory() as d:
        d = Path(d); t0 = time.perf_counter()
        sar = make_sar(tile, d / "sar.tif"); t_make = time.perf_counter() - t0
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "sar_lulc.cli", "--json", "chips", "--sar", str(sar), "--labels", str(tile),
                            "--scheme", "jp9", "--out", str(d / "ds"), "--chip", str(a.chip), "--min-valid", "0.01"],
                           capture_output=True, text=True)
        t_chips = time.perf_counter() - t0
        if r.returncode: print(r.stderr); return 1
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        man = json.loads((d / "ds" / "manifest.json").read_text())
        got, want = np.zeros(256, np.int64), np.zeros(256, np.int64)
        with rasterio.open(tile) as src:
            for items in man["splits"].values():
                for it in items:
                    with rasterio.open(d / "ds" / it["label"]) as lf: got += np.bincount(lf.read(1).ravel(), minlength=256)
                    r0, c0, h, w = it["window"]
                    j9 = np.full((h, w), IGNORE_INDEX, np.uint8)
                    hh, ww = min(h, src.height - r0), min(w, src.width - c0)
                    j9[:hh, :ww] = JP9.encode(src.read(1, window=Window(c0, r0, ww, hh)))
                    want += np.bincount(j9.ravel(), minlength=256)
    res = dict(tile=tile.name, size=[12000, 12000], chip=a.chip, chips=sum(len(v) for v in man["splits"].values()),
               make_sar_s=round(t_make, 1), chips_s=round(t_chips, 1), peak_rss_mb=round(peak_mb, 1),
               histogram_equal=bool((got == want).all()),
               class_pixels={n: int(got[i]) for i, n in enumerate(JP9.names)}, nodata_pixels=int(got[IGNORE_INDEX]),
               cpu=os.cpu_count())
    print(json.dumps(res, indent=1))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    return 0 if res["histogram_equal"] and peak_mb < 2048 else 1

if __name__ == "__main__":
    sys.exit(main())
