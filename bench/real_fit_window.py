#!/usr/bin/env python
"""Fit against held-out by prediction window (issue 24's diagnosis): each finished run of an arm of
bench/real_flevoland.py predicts the whole Flevoland scene with windows of the training chip size (96 px) and of
the default (512 px), and each map is scored on the fold's own training fields (fit) and on its test fields
(held-out). Segmenters with pyramid pooling see context in proportion to the window, so a model trained on 96 px
chips sees other context in a 512 px window. Results in bench/results/real_fit_window.json.

    python bench/real_fit_window.py --out runs/real --arm init_lulc          # seeds 0-2: 9 runs x 2 windows, about 3 minutes
"""
import argparse, json, sys
from pathlib import Path

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine
from real_flevoland import CHIP, run, scene_files, scene_paths, score
from synth_study import sar_lulc_exe
from sar_lulc.core import shared_dir


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/real"))
    ap.add_argument("--arm", default="init_lulc")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--tiles", type=int, nargs="+", default=[CHIP, 512])
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results/real_fit_window.json")
    a = ap.parse_args(argv)
    root = shared_dir()
    if root is None: sys.exit("no shared data folder (set SAR_LULC_SHARED)")
    scene = scene_files(scene_paths(root), a.out, "hh")
    runs = [(f, s, a.out / "runs" / f"spatial_hh_{a.arm}_f{f}_s{s}") for f in range(3) for s in a.seeds]
    missing = [str(r) for _, _, r in runs if not (r / "run" / "model.safetensors").is_file()]
    if missing: sys.exit(f"no trained model in {', '.join(missing)}: run bench/real_flevoland.py --arms {a.arm} first")
    rows = []
    for f, s, rd in runs:
        fd = a.out / "folds" / f"f{f}"
        train, test = (rasterio.open(fd / n).read(1) for n in ("train_label.tif", "test_label.tif"))
        counts = np.bincount(train.ravel(), minlength=16)[1:].tolist()
        for t in a.tiles:
            out = a.out / "fit_window" / f"{rd.name}_tile{t}.tif"
            out.parent.mkdir(parents=True, exist_ok=True)
            cmd = ["predict", *scene, "--model", str(rd / "run" / "model.safetensors"), "--out", str(out), "--overwrite",
                   "--device", "cpu", "--tile", str(t), "--overlap", str(t // 3), "--no-progress"]
            run(sar_lulc_exe() + cmd, a.out / "logs" / f"{out.stem}.log")
            pred = rasterio.open(out).read(1)
            rows.append(dict(arm=a.arm, protocol="spatial", inputs="hh", fold=f, seed=s, tile=t, overlap=t // 3, command=" ".join(["sar-lulc"] + cmd),
                             fit_miou=score(pred, train)["miou"], miou=score(pred, test, counts)["miou"]))
            print(f"{rd.name} tile {t}: fit {100 * rows[-1]['fit_miou']:.1f}  held-out {100 * rows[-1]['miou']:.1f}", flush=True)
    a.json.write_text(json.dumps(dict(rows=rows, machine=machine(), what=__doc__.split("\n\n")[0]), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
