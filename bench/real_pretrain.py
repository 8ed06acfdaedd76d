#!/usr/bin/env python
"""Pretraining on real unlabelled SAR, and whether it pays on real labels (issue 26; chapter `mixmae`).

1. **Corpus**: every pixel of the real AIRSAR Flevoland scene (HH, HV and VV as three single-channel images, labelled
   or not), the real PALSAR-2 tile's land and coast (the 256 px windows with most land), and SynthALOS-2/JP scenes
   made from the JAXA HRLULC layouts, all as dB GeoTIFFs in one unlabelled dataset (`OUT/corpus`).
2. **Pretraining**: the `tiny` Swin encoder, once per arm, through `sar-lulc pretrain` (each arm resumes from its
   last.pt): the paper's form (raw pixels, per-patch normalised, SAR-W s = 1 min-max) and speckle-robust targets.
3. **Label efficiency on real labels**: `bench/real_flevoland.py --blocks` fine-tunes the `tiny` model of the `real`
   recipe on the training fields of 1, 2 or 4 image blocks of a spatial fold (drawn per seed, nested) and on all of
   them, from scratch and from each pretrained encoder, and scores the fold's test fields.
4. **Report**: `bench/results/real_pretrain.json` (the pretraining runs: steps, hours, their loss against the trivial
   predictors) and the paired-by-seed table of mIoU differences against scratch (printed, and in the JSON).

    python bench/real_pretrain.py --out runs/real_pre --jobs 2 --arms paper gradient gradient_ml9   # fold 0, every
                                                                        # budget (CPU: ~1.5 h on 2 cores)
    python bench/real_pretrain.py --out runs/real_pre --folds 1 2 --blocks 1 --arms paper gradient   # 2 more folds
    python bench/real_pretrain.py --out runs/real_pre --folds 0 1 2 --blocks 1 --seeds 3 4 5 --arms gradient paper
                                                                        # 3 more seeds at the smallest budget
    python bench/real_pretrain.py --out runs/real_pre --arms gradient_abs multilook15_abs --folds 0 1 2 --blocks 1
                                                                        # absolute targets, 2000 steps (~45 min)
    python bench/real_pretrain.py --out runs/real_pre --exclude-fold 1 2 --arms gradient --blocks 1   # inductive
    python bench/real_pretrain.py --out runs/real_pre --arms gradient_long --folds 0 1 2 --blocks 1 --seeds 0 1 2 3 4 5
                                                                        # 4000 steps (~1.3 h on one thread), 6 seeds
    python bench/real_pretrain.py --out runs/real_pre --arms hog --folds 0 1 2 --blocks 1 --seeds 0 1 2 3 4 5 --no-scratch
                                                                        # FG-MAE's HOG target at the smallest budget
    python bench/real_pretrain.py --out runs/real_pre --report          # only the report of what has finished

Interrupted? Run the same command again: the corpus, finished pretraining and fine-tuning runs are read back.
"""
from __future__ import annotations
import argparse, concurrent.futures as cf, hashlib, json, subprocess, sys, time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from label_efficiency import write_manifest                         # one home for dataset manifests
from synth_study import run_cli, summarise
from machine import machine

ROOT = Path(__file__).resolve().parents[1]
ARMS = {  # name -> pretraining flags; the fine-tuning arm is `pre_<name>` beside `tiny_real` (scratch)
    "paper": [],                                                        # the paper's form, unchanged
    "gradient": ["--target", "gradient"],                               # multi-scale log-ratio edges
    "gradient_ml9": ["--target", "gradient", "--set", "multilook=9"],   # ... of input multilooked as fine-tuning sees it
    # absolute targets (no per-patch standardisation), twice as long: a patch's level is predictable from its
    # context where its speckle-free texture inside 32 px is not
    "gradient_abs": ["--target", "gradient", "--set", "patch_norm=false", "--epochs", "20"],
    "multilook15_abs": ["--target", "multilook", "--set", "target_looks=15", "--set", "patch_norm=false",
                        "--epochs", "20"],
    "gradient_long": ["--target", "gradient", "--epochs", "40"],       # the shipped target, 4x the steps
    "hog": ["--target", "hog"],                                         # FG-MAE's oriented ratio-edge histograms
}
PRETRAIN = ["--preset", "tiny", "--chip", "128", "--batch-size", "16", "--epochs", "10", "--chips-per-epoch", "1600",
            "--set", "warmup_epochs=1", "--save-every", "50", "--seed", "0"]
BLOCKS = [1, 0, 2, 4]            # label budgets in image blocks (0 = all), the smallest first


def to_db_file(src: Path, dst: Path, blind: np.ndarray | None = None):
    "A linear-power GeoTIFF as float32 dB (NaN where not positive, and where `blind`)."
    import rasterio
    if dst.exists(): return dst
    from sar_lulc.io import to_db
    with rasterio.open(src) as s: p, prof = s.read(1), s.profile
    db = to_db(p, "linear")
    if blind is not None: db[blind] = np.nan
    with rasterio.open(dst, "w", **{**prof, "dtype": "float32", "nodata": float("nan"), "count": 1}) as d: d.write(db, 1)
    return dst


def fold_blind(out: Path, fold: int) -> np.ndarray:
    "Where fold `fold`'s test fields and guard band are (NaN in its training SAR, bench/real_flevoland.py)."
    import rasterio
    f = out / "flevoland" / "folds" / f"f{fold}" / "train_HH.tif"
    if not f.exists(): sys.exit(f"{f} is missing: run the fine-tuning of fold {fold} once first (it makes the folds)")
    with rasterio.open(f) as s: tr = s.read(1)
    return ~np.isfinite(tr)


def corpus(out: Path, shared: Path, exclude_fold: int | None = None) -> tuple[Path, dict]:
    """The unlabelled dataset (module docstring, 1.); returns its folder and what it holds. With `exclude_fold`, the
    Flevoland images lack that fold's test fields and guard band (inductive: the encoder never sees them)."""
    real = out / "corpus_real"; real.mkdir(parents=True, exist_ok=True)
    blind, tag = (None, "") if exclude_fold is None else (fold_blind(out, exclude_fold), f"_nof{exclude_fold}")
    if blind is not None:                     # the fold's blind area, plus what is no data anyway
        with __import__("rasterio").open(shared / "data/airsar_flevoland/flevoland_HH.tif") as s0:
            blind = blind & (s0.read(1) > 0)
    flevo = [to_db_file(shared / f"data/airsar_flevoland/flevoland_{b}.tif", real / f"flevoland_{b}_db{tag}.tif", blind)
             for b in ("HH", "HV", "VV")]
    palsar = palsar_windows(real, 12, 256)
    jp = out / "corpus_jp"
    tiles = sorted((shared / "data/jaxa_hrlulc").glob("*/LC_*.tif"))
    if tiles and not (jp / "manifest.json").exists():
        run_cli(["synth", str(jp), "--layouts", *map(str, tiles), "--per-tile", "3", "--size", "256", "--looks", "1:8",
                 "--split", "1,0,0", "--overwrite"], out / "logs" / "synth_jp.log")
    jm = json.loads((jp / "manifest.json").read_text()) if (jp / "manifest.json").exists() else {"splits": {}}
    jps = [jp / it["sar"] for it in jm["splits"].get("train", [])]
    held = jps[-2:]                                          # two scenes keep an eye on the validation loss
    what = dict(flevoland_images=len(flevo), palsar2_windows=len(palsar), synth_jp_scenes=len(jps) - len(held),
                megapixels=round(sum(_px(p) for p in flevo + palsar + jps[:-2]) / 1e6, 2),
                flevoland=("every pixel (transductive: test fields included, unlabelled)" if blind is None else
                           f"without fold {exclude_fold}'s test fields and guard band (inductive)"))
    return write_manifest(out / f"corpus{tag}", flevo + palsar + jps[:-2], held, [], scheme="jp9", generator=what), what


def palsar_windows(out: Path, n: int, size: int) -> list[Path]:
    """The real PALSAR-2 HH tile as dB windows of `size` px: of those at least 90 % valid (most of the tile is no
    data), the `n` with most land, i.e. the island and its coast, then open ocean."""
    import rasterio
    from sar_lulc.core import real_tile_paths
    from sar_lulc.io import read_sar, write_raster
    tp = real_tile_paths()
    if tp is None: return []
    with rasterio.open(tp["mask"]) as m: mk = m.read(1)
    H, W = mk.shape
    wins = [(r, c) for r in range(0, H - size + 1, size // 2) for c in range(0, W - size + 1, size // 2)]
    stats = [((mk[r:r + size, c:c + size] > 0).mean(), (mk[r:r + size, c:c + size] == 255).mean()) for r, c in wins]
    order = sorted((i for i, (v, _) in enumerate(stats) if v >= 0.9), key=lambda i: -stats[i][1])
    paths = []
    for i in order[:n]:
        r, c = wins[i]
        p = out / f"palsar2_N23W161_HH_r{r}_c{c}_db.tif"
        if not p.exists():
            db, prof = read_sar(tp["hh"], window=((r, r + size), (c, c + size)), units="dn")
            write_raster(p, db, crs=prof["crs"], transform=prof["transform"], nodata=float("nan"), overwrite=True)
        paths.append(p)
    return paths


def _px(p: Path) -> int:
    import rasterio
    with rasterio.open(p) as s: return s.width * s.height


def pretrain(out: Path, data: Path, arm: str, tag: str = "") -> dict:
    "One arm's pretraining run (resumes from its last.pt); returns its summary."
    run = out / "pretrain" / f"{arm}{tag}"
    done = run / "bench_summary.json"
    if done.exists(): return json.loads(done.read_text())
    go = ["--resume", str(run / "last.pt")] if (run / "last.pt").exists() else ["--overwrite"]
    print(f"pretraining {arm} ({' '.join(go)})", flush=True)
    t = time.time()
    s = run_cli(["pretrain", "--data", str(data), "--out", str(run), *go, *PRETRAIN, *ARMS[arm]],
                out / "logs" / f"pretrain_{arm}{tag}.log")
    s.update(arm=arm, flags=ARMS[arm], command=" ".join(["sar-lulc pretrain --data", str(data), "--out", str(run), *PRETRAIN, *ARMS[arm]]),
             wall_s_last_leg=round(time.time() - t, 1))
    done.write_text(json.dumps(s, indent=1))
    return s


def trivial_ratio(run: Path, last: int = 10) -> dict:
    "The loss against the trivial predictors over the run's last `last` logged batches (steps.csv)."
    import csv
    rows = list(csv.DictReader(open(run / "steps.csv")))
    rows = [r for r in rows if r.get("loss_vs_trivial")]
    tail = rows[-last:]
    f = lambda k: float(np.mean([float(r[k]) for r in tail]))
    return dict(steps=int(rows[-1]["step"]), loss=f("loss"), trivial_mean=f("trivial_mean"), trivial_box=f("trivial_box"),
                loss_vs_trivial=f("loss_vs_trivial"), first_loss_vs_trivial=float(rows[0]["loss_vs_trivial"]),
                curve=[[int(r["step"]), round(float(r["loss_vs_trivial"]), 4)] for r in rows])   # for the mixmae chapter


def finetune(out: Path, encoders: dict, seeds: list[int], folds: list[int], jobs: int, results: Path,
             blocks: list[int] = BLOCKS, scratch: bool = True) -> int:
    """Fine-tune scratch (unless `scratch` is False: its records in `results` are reused) and every pretrained arm
    at every label budget through bench/real_flevoland.py."""
    variants = []
    for arm, enc in encoders.items():
        sha = hashlib.sha256(enc.read_bytes()).hexdigest()[:16]        # a new encoder is a new run
        variants += ["--variant", f"pre_{arm}=" + json.dumps({"base": "tiny_real", "extra": ["--pretrained", str(enc)],
                                                                 "encoder_sha256": sha})]
    cmd = [sys.executable, str(ROOT / "bench/real_flevoland.py"), "--out", str(out / "flevoland"),
           "--arms", *(["tiny_real"] if scratch else []), *[f"pre_{a}" for a in encoders], *variants, "--blocks", *map(str, blocks),
           "--seeds", *map(str, seeds), "--only-folds", *map(str, folds), "--jobs", str(jobs), "--json", str(results)]
    print("$", " ".join(cmd[:14]), "...", flush=True)
    return subprocess.run(cmd).returncode


def paired(runs: list, arm: str, blocks, base: str = "tiny_real") -> dict:
    "Mean, standard error and n of the per-seed mIoU difference arm - base (same fold, seed and labelled blocks)."
    key = lambda r: (r["fold"], r["seed"])
    pick = lambda a: {key(r): r["miou"] for r in runs if r["arm"] == a and (r.get("blocks") or 0) == blocks
                      and r["miou"] is not None}
    a, b = pick(arm), pick(base)
    both = sorted(set(a) & set(b))                     # the means too are over the pairs, like the difference
    m, s, n = summarise([a[k] - b[k] for k in both])
    return dict(diff=m, se=s / np.sqrt(n) if n > 1 else float("nan"), n=n, arm=summarise([a[k] for k in both])[0],
                scratch=summarise([b[k] for k in both])[0])


def report(out: Path, results: Path, what: dict | None, old: dict | None = None) -> dict:
    """The report of every arm: those pretrained in `out`, and those of an `old` report whose pretraining runs are
    gone from this checkout (their pretraining record kept; their fine-tuning records are in `results`)."""
    res = json.loads(results.read_text()) if results.exists() else {"runs": []}
    here = [d.name for d in sorted((out / "pretrain").iterdir(), key=lambda d: (len(d.name), d.name))
            if (d / "bench_summary.json").exists()] if (out / "pretrain").exists() else []
    pre = {**(old or {}).get("pretraining", {}),
           **{a: dict(json.loads((out / "pretrain" / a / "bench_summary.json").read_text()), **trivial_ratio(out / "pretrain" / a))
              for a in here}}
    runs = list(pre)
    table = {f"pre_{a}": {str(b): paired(res["runs"], f"pre_{a}", b) for b in BLOCKS} for a in runs}
    # the inductive check: the same arm pretrained without the fold's test fields, against the one that saw them
    inductive = {f"pre_{a}": {str(b): paired(res["runs"], f"pre_{a}", b, base=f"pre_{a.split('_nof')[0]}") for b in BLOCKS}
                 for a in runs if "_nof" in a}
    # the smallest budget fold by fold, and the inductive arms pooled: pre_<arm>_nofF on fold F against scratch
    folds = sorted({r["fold"] for r in res["runs"]})
    on = lambda f: [r for r in res["runs"] if r["fold"] == f]
    per_fold = {f"pre_{a}": {str(f): paired(on(f), f"pre_{a}", 1) for f in folds} for a in runs}
    base = sorted({a.split("_nof")[0] for a in runs if "_nof" in a})
    pooled = {}
    for b in base:
        sub = [dict(r, arm=f"pre_{b}_inductive") for r in res["runs"] if r["arm"] == f"pre_{b}_nof{r['fold']}"]
        scratch = [r for r in res["runs"] if r["arm"] == "tiny_real"]
        pooled[f"pre_{b}_inductive"] = {str(k): paired(sub + scratch, f"pre_{b}_inductive", k) for k in BLOCKS}
    rep = dict(machine=machine("cpu", 1), corpus=what, pretraining=pre, label_efficiency=table,
               smallest_budget_by_fold=per_fold, inductive_pooled=pooled,
               inductive_minus_transductive=inductive,
               note="mIoU over the classes learnable at each budget (fold's test fields); differences paired by fold and "
                    "seed; blocks 0 = every training block; arms without _nofF pretrained on every Flevoland pixel "
                    "(transductive), pre_<arm>_nofF without fold F's test fields and guard band (inductive)")
    lines = ["| arm | pretraining loss / best trivial | " + " | ".join(f"{b or 'all'} blocks: arm - scratch" for b in BLOCKS) + " |",
             "|---|---|" + "---|" * len(BLOCKS)]
    for a in runs:
        tr = pre.get(a, {}).get("loss_vs_trivial")
        cells = [table[f"pre_{a}"][str(b)] for b in BLOCKS]
        lines.append(f"| {a} | {'-' if tr is None else f'{tr:.3f}'} | " + " | ".join(
            "-" if not c["n"] else f"{100 * c['diff']:+.1f} ± {100 * c['se']:.1f} (n {c['n']}; {100 * c['arm']:.1f} vs {100 * c['scratch']:.1f})"
            for c in cells) + " |")
    print("\n".join(lines))
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/real_pre"))
    ap.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--folds", type=int, nargs="+", default=[0], help="spatial folds of bench/real_flevoland.py")
    ap.add_argument("--blocks", type=int, nargs="+", default=BLOCKS, help="label budgets in image blocks (0 = all)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--report", action="store_true", help="only report what has finished")
    ap.add_argument("--exclude-fold", type=int, nargs="+", help="inductive check: pretrain without each fold's "
                    "test fields (arms pre_<arm>_nofF), fine-tune on that fold only")
    ap.add_argument("--json", type=Path, default=ROOT / "bench/results/real_pretrain.json")
    ap.add_argument("--no-scratch", action="store_true", help="do not rerun scratch (tiny_real): reuse its records "
                    "(fine-tuning is deterministic on a CPU: a rerun gives the same numbers)")
    a = ap.parse_args(argv)
    from sar_lulc.core import shared_dir
    shared = shared_dir()
    if shared is None: sys.exit("no shared data folder (set SAR_LULC_SHARED)")
    results = a.json.with_name("real_label_efficiency.json")
    (a.out / "logs").mkdir(parents=True, exist_ok=True)
    data, what = corpus(a.out, shared)
    print(f"corpus: {what}", flush=True)
    if not a.report:
        # (tag, corpus, folds to fine-tune on): every pixel, or one inductive corpus per excluded fold
        plan = ([("", data, a.folds)] if a.exclude_fold is None else
                [(f"_nof{f}", corpus(a.out, shared, f)[0], [f]) for f in a.exclude_fold])
        runs = [(arm, tag, d) for tag, d, _ in plan for arm in a.arms]
        with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
            list(ex.map(lambda r: pretrain(a.out, r[2], r[0], r[1]), runs))
        for tag, _, folds in plan:
            encoders = {f"{arm}{tag}": a.out / "pretrain" / f"{arm}{tag}" / "encoder.safetensors" for arm in a.arms}
            finetune(a.out, encoders, a.seeds, folds, a.jobs, results, a.blocks, scratch=not a.no_scratch)
    rep = report(a.out, results, what, json.loads(a.json.read_text()) if a.json.exists() else None)
    a.json.write_text(json.dumps(rep, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
