#!/usr/bin/env python
"""Peak memory of `sar-lulc predict` as the scene grows at a fixed width (issue 17, item 4).

Mosaics of the real PALSAR-2 N23W161 HH tile (a 2000-column strip through the islands, repeated down the
rows) of 2000 x 2000 (4 Mpx), 2000 x 18000 (36 Mpx) and 2000 x 54000 (108 Mpx) uint16 DN GeoTIFFs are
predicted with the shipped water model and the CLI defaults, each under `/usr/bin/time -v` in a fresh
process: its "Maximum resident set size" is the peak RSS. Streaming prediction should need memory that
depends on the width and the tile only, so the ratios to the 4 Mpx run are what to read.

    .venv/bin/python bench/bench_memory.py [--heights 2000,18000,54000] [--json bench/results/memory.json]
    .venv/bin/python bench/bench_memory.py --extra=--no-cog        # any extra `sar-lulc predict` flags
"""
from __future__ import annotations
import argparse, json, os, re, shutil, subprocess, sys, time
from pathlib import Path
import numpy as np

from sar_lulc.core import real_tile_paths

def mosaic(dst: Path, height: int, width: int = 2000, col0: int = 1500) -> Path:
    "The real tile's columns col0..col0+width, repeated down to `height` rows, written block row by block row."
    import rasterio
    from rasterio.transform import Affine
    if dst.exists(): return dst
    with rasterio.open(real_tile_paths()["hh"]) as src:
        strip = src.read(1, window=((0, src.height), (col0, col0 + width)))
        t = src.transform * Affine.translation(col0, 0)
        prof = dict(driver="GTiff", dtype="uint16", count=1, width=width, height=height, crs=src.crs, transform=t,
                    nodata=src.nodata, tiled=True, blockxsize=512, blockysize=512, compress="deflate")
    tmp = dst.with_suffix(".part.tif")
    with rasterio.open(tmp, "w", **prof) as out:
        for y in range(0, height, 512):
            h = min(512, height - y)
            rows = np.arange(y, y + h) % strip.shape[0]
            out.write(strip[rows][None], window=((y, y + h), (0, width)))
    tmp.rename(dst)
    return dst

def run(scene: Path, out: Path, extra: list[str]) -> dict:
    exe = Path(sys.executable).with_name("sar-lulc")
    cmd = ["/usr/bin/time", "-v", str(exe), "predict", str(scene), "--task", "water", "--out", str(out),
           "--overwrite", "--json", "--no-progress"] + extra
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode: raise RuntimeError(f"{' '.join(cmd)} failed:\n{p.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    summ = json.loads([l for l in p.stdout.splitlines() if l.startswith("{")][-1])
    return dict(peak_rss_mb=rss_kb / 1024, wall_s=wall, summary=summ)

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heights", default="2000,18000,54000")
    ap.add_argument("--width", type=int, default=2000)
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("SAR_LULC_BENCH_DIR", "/tmp/sar_lulc_bench")))
    ap.add_argument("--extra", default="", help="extra `sar-lulc predict` flags, space-separated")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    if real_tile_paths() is None:
        print("the real PALSAR-2 tile was not found (set SAR_LULC_SHARED)"); return 1
    a.workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for h in map(int, a.heights.split(",")):
        scene = mosaic(a.workdir / f"mosaic_{a.width}x{h}.tif", h, a.width)
        out = a.workdir / f"mosaic_{a.width}x{h}_out"
        shutil.rmtree(out, ignore_errors=True)
        r = run(scene, out, a.extra.split())
        rows.append(dict(height=h, width=a.width, mpx=h * a.width / 1e6, peak_rss_mb=round(r["peak_rss_mb"], 1),
                         wall_s=round(r["wall_s"], 1), extra=a.extra))
        print(f"{a.width} x {h:6d} ({h * a.width / 1e6:5.1f} Mpx): peak RSS {r['peak_rss_mb']:7.1f} MB, {r['wall_s']:.1f} s", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    base = rows[0]["peak_rss_mb"]
    for r in rows: r["rss_ratio_to_first"] = round(r["peak_rss_mb"] / base, 3)
    print("ratios to the first:", [r["rss_ratio_to_first"] for r in rows])
    if a.json: a.json.write_text(json.dumps(dict(rows=rows, tile=str(real_tile_paths()["hh"])), indent=1))
    return 0

if __name__ == "__main__":
    sys.exit(main())
