#!/usr/bin/env python
"""What the default precision (`auto`, issue 29) buys a user of `sar-lulc predict` on this machine: for each shipped
model, the same scene is predicted through the CLI with the default precision and with `--precision fp32`, in
alternation. The first default run starts from an empty precision cache, so its time includes the probe; the later
ones read the remembered answer. Reports wall-clock seconds per run (the process, as a user waits for it), the
speed-up against fp32 (median of the runs of each kind, one run of each kind per round) and the class-map agreement.

    .venv/bin/python bench/precision_default.py --size 4096 --rounds 2 --json bench/results/precision_default.json
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import rasterio
import torch

from sar_lulc.checkpoint import default_model_path
from sar_lulc.core import has_native_bf16
from sar_lulc.io import db_to_dn, write_raster
from sar_lulc.synth import synth_scene

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine

CLI = [sys.executable, "-m", "sar_lulc.cli", "--json", "predict"]


def cpu() -> dict:
    m = machine("cpu", torch.get_num_threads())
    return dict(cpu=m["cpu"], flags=m["flags"], native_bf16=m["native_bf16"], threads=m["threads"])


def scene(path: Path, size: int) -> Path:
    "A SynthALOS-2 land-cover scene of size x size px as uint16 DN, tiled from 512 px scenes."
    tiles = [[synth_scene(r * 8 + c, size=512).db for c in range(size // 512)] for r in range(size // 512)]
    db = np.block(tiles)
    return write_raster(path, db_to_dn(db), crs="EPSG:32654", nodata=0, overwrite=True,
                        transform=rasterio.transform.from_origin(500000, 3900000, 25, 25))


def run(src, model, out, env, *flags) -> tuple[float, dict]:
    t0 = time.perf_counter()
    p = subprocess.run([*CLI, str(src), "--model", str(model), "--out", str(out), "--overwrite", "--no-progress",
                        *flags], capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode: sys.exit(p.stderr)
    return dt, json.loads(p.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=4096, help="scene side in px (a multiple of 512)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["lulc", "water"])
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="precision_default_"))
    src = scene(tmp / "scene.tif", a.size)
    res = dict(machine=cpu(), torch=torch.__version__, size=a.size, rounds=a.rounds, models={})
    for m in a.models:
        path = default_model_path(m)
        env = {k: v for k, v in os.environ.items() if k != "SAR_LULC_PRECISION"}
        env["SAR_LULC_CACHE_DIR"] = str(tmp / f"cache_{m}")           # empty: the first default run probes
        rows = []
        for r in range(a.rounds):
            order = ("default", "fp32") if r % 2 == 0 else ("fp32", "default")
            for kind in order:
                dt, s = run(src, path, tmp / f"{m}_{kind}.tif", env, *(["--precision", "fp32"] if kind == "fp32" else []))
                rows.append(dict(round=r, kind=kind, wall_s=round(dt, 2), precision=s["precision"],
                                 why=s["input"].get("precision_auto"), mpx_per_s=round(s["mpx_per_s"], 3)))
                print(m, rows[-1], flush=True)
            with rasterio.open(tmp / f"{m}_default.tif") as d, rasterio.open(tmp / f"{m}_fp32.tif") as f:
                rows[-1]["agreement"] = float((d.read(1) == f.read(1)).mean())
        med = lambda k, first=None: float(np.median([x["wall_s"] for x in rows if x["kind"] == k and
                                                      (first is None or (x["round"] == 0) == first)]))
        fp32 = med("fp32")
        res["models"][m] = dict(path=str(path), runs=rows,
                                speedup_first_with_probe=round(fp32 / med("default", True), 2),
                                speedup_cached=round(fp32 / med("default", False), 2) if a.rounds > 1 else None,
                                agreement=min(x["agreement"] for x in rows if "agreement" in x))
        print(m, {k: v for k, v in res["models"][m].items() if k != "runs"}, flush=True)
    if a.json: a.json.write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
