#!/usr/bin/env python
"""Self-training pilot on Flevoland (issue 24): can pseudo-labels on a scene's own unlabelled fields help a model
trained on a few labelled ones? Per fold, the `--init lulc` models of seeds 0-2 of bench/real_flevoland.py
(averaged, `sar-lulc predict` with three `--model`s) map the fold's *training* SAR, whose test fields and guard band
are no data, so no test pixel informs a pseudo-label. Of the pixels no field labels, the most confident `--keep` of
each predicted class become pseudo-labels beside the real ones; then `sar-lulc chips`, `sar-lulc train --recipe real
--init lulc` and `predict` on the whole scene, scored on the fold's test fields like every arm of the benchmark.
Records in bench/results/real_selftrain.json (merged as runs finish; a finished run is read back).

    python bench/real_selftrain.py --out runs/real --keep 0.3 --seeds 0 1 --jobs 2   # 6 runs, about 4 minutes each
"""
import argparse, concurrent.futures as cf, json, os, sys, time
from pathlib import Path

import numpy as np
import rasterio

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine
from real_flevoland import CLASSES, LABEL_MAP, run, scene_paths, score
from synth_study import sar_lulc_exe
from sar_lulc.core import shared_dir

INIT = str(Path(__file__).resolve().parents[1] / "data_samples/models/lulc_resnet18.safetensors")


def pseudo_labels(pred, conf, lab, keep: float) -> np.ndarray:
    "Real labels, plus the most confident `keep` of each predicted class's unlabelled pixels (codes 1..15)."
    out, cand = lab.copy(), (lab == 0) & (pred < len(CLASSES))
    for k in range(len(CLASSES)):
        m = cand & (pred == k)
        if m.sum() >= 50: out[m & (conf >= np.quantile(conf[m], 1 - keep))] = k + 1
    return out


def paths(a, f: int) -> tuple[Path, Path, Path, Path]:
    "Fold f's folder, this --keep's folder, its pseudo-label raster and its chips."
    od = a.out / "selftrain" / f"k{a.keep}"
    return a.out / "folds" / f"f{f}", od, od / f"f{f}_pseudo.tif", od / f"f{f}_chips"


def prepare(a, f: int) -> list[list[str]]:
    "Fold f's pseudo-labels and chips (made once, before runs go in parallel); the commands that made them."
    fd, od, pl, chips = paths(a, f)
    od.mkdir(parents=True, exist_ok=True)
    log = a.out / "logs" / f"selftrain_k{a.keep}_f{f}.log"
    members = [x for s in (0, 1, 2) for x in ("--model", str(a.out / f"runs/spatial_hh_init_lulc_f{f}_s{s}/run/model.safetensors"))]
    ens = ["predict", str(fd / "train_HH.tif"), *members, "--out", str(od / f"f{f}_ens.tif"), "--overwrite", "--device", "cpu",
           "--allow-nodata", "--no-progress"]
    if not pl.exists():
        run(sar_lulc_exe() + ens, log)
        pred, conf = (rasterio.open(od / f"f{f}_ens{s}.tif").read(1) for s in ("", "_confidence"))
        with rasterio.open(fd / "train_label.tif") as s: lab, prof = s.read(1), s.profile
        with rasterio.open(pl, "w", **{**prof, "compress": "deflate"}) as d: d.write(pseudo_labels(pred, conf, lab, a.keep), 1)
    ch = ["chips", "--sar", str(fd / "train_HH.tif"), "--labels", str(pl), "--label-map", LABEL_MAP, "--chip", "96",
          "--stride", "48", "--min-valid", "0.02", "--split", "1,0,0", "--out", str(chips)]
    if not (chips / "manifest.json").exists(): run(sar_lulc_exe() + ch, log)
    return [ens, ch]


def one(a, root: Path, f: int, seed: int, cmds: list) -> dict:
    fd, od, pl, chips = paths(a, f)
    rd = od / f"f{f}_s{seed}"; rd.mkdir(parents=True, exist_ok=True)
    if (rd / "record.json").exists(): return json.loads((rd / "record.json").read_text())
    log, cmds = a.out / "logs" / f"selftrain_k{a.keep}_f{f}_s{seed}.log", list(cmds)
    cmds.append(["train", "--data", str(chips), "--out", str(rd / "run"), "--overwrite", "--recipe", "real", "--seed", str(seed),
                 "--device", "cpu", "--init", INIT, "--no-progress"])
    t = time.time(); run(sar_lulc_exe() + cmds[-1], log); train_s = time.time() - t
    cmds.append(["predict", str(scene_paths(root)["HH"]), "--model", str(rd / "run/model.safetensors"), "--out",
                 str(rd / "pred.tif"), "--overwrite", "--device", "cpu", "--no-progress"])
    run(sar_lulc_exe() + cmds[-1], log)
    pred = rasterio.open(rd / "pred.tif").read(1)
    lab, truth = (rasterio.open(fd / n).read(1) for n in ("train_label.tif", "test_label.tif"))
    pseudo = rasterio.open(pl).read(1)
    rec = dict(arm=f"init_lulc_selftrain_k{a.keep}", protocol="spatial", inputs="hh", fold=f, seed=seed, keep=a.keep, train_s=round(train_s, 1),
               real_px=int((lab > 0).sum()), pseudo_px=int(((pseudo > 0) & (lab == 0)).sum()),
               commands=[" ".join(["sar-lulc"] + c) for c in cmds], **score(pred, truth, np.bincount(lab.ravel(), minlength=16)[1:].tolist()),
               fit_miou=score(pred, lab)["miou"])
    (rd / "record.json").write_text(json.dumps(rec, indent=1))
    print(f"fold {f} seed {seed}: mIoU {100 * rec['miou']:.1f} (coarse {100 * rec['coarse']['miou']:.1f}), "
          f"{rec['pseudo_px']} pseudo-labelled px beside {rec['real_px']} real", flush=True)
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/real"))
    ap.add_argument("--keep", type=float, default=0.3, help="fraction of each predicted class's unlabelled pixels kept")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--jobs", type=int, default=1, help="runs at a time (one CPU thread each)")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results/real_selftrain.json")
    a = ap.parse_args(argv)
    root = shared_dir()
    if root is None: sys.exit("no shared data folder (set SAR_LULC_SHARED)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    (a.out / "logs").mkdir(parents=True, exist_ok=True)
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        made = {f: prepare(a, f) for f in a.folds}
        for fut in cf.as_completed([ex.submit(one, a, root, f, s, made[f]) for s in a.seeds for f in a.folds]):
            rec = fut.result()                                          # merged as runs finish
            old = json.loads(a.json.read_text()) if a.json.exists() else dict(runs=[])
            runs = {(r["arm"], r["fold"], r["seed"]): r for r in old["runs"]}
            runs[rec["arm"], rec["fold"], rec["seed"]] = rec
            a.json.write_text(json.dumps(dict(runs=sorted(runs.values(), key=lambda r: (r["arm"], r["fold"], r["seed"])),
                                              machine=machine(threads=1)), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
