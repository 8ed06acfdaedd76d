#!/usr/bin/env python
"""The real land-cover benchmark (issue 24): NASA/JPL AIRSAR L-band over Flevoland, 15 crop and cover classes, in
an honest spatial protocol, every arm run as a user would run it (`sar-lulc chips`, `train`, `predict`), scored on
whole fields the model never saw. One record per run in bench/results/real_flevoland.json (--json; arm, fold, seed,
inputs, steps, train seconds, the full commands, per-class IoU, mIoU, OA, kappa, on the 15 classes and on a coarse
grouping), merged as runs finish. Needs the shared data (SAR_LULC_SHARED) and `pip install -e ".[bench]"`.

    python bench/real_flevoland.py --out runs/real --jobs 2             # every arm but the ablations, HH, 3 folds x 3 seeds
    python bench/real_flevoland.py --out runs/real --arms recommended_no_refinements --seeds 0      # an ablation
    python bench/real_flevoland.py --out runs/real --inputs hhhv --arms gaussian_ml random_forest recommended
    python bench/real_flevoland.py --out runs/real --inputs hhtex --arms recommended     # + a texture band (explore)
    python bench/real_flevoland.py --out runs/real --protocol random    # the literature's random-pixel protocol
    python bench/real_flevoland.py --out runs/real --zero-shot          # the shipped land-cover model as it is
    python bench/real_flevoland.py --out runs/real --maps recommended random_forest smp_upernet   # the chapter's maps
    python bench/real_flevoland.py --out runs/real --ensemble recommended          # its seeds averaged (predict)
    python bench/real_flevoland.py --out runs/real --ensemble recommended --tta --ensemble-size 1 3   # ... with TTA

The chapter's numbers came from these commands with the seeds and folds it states (a CPU budget: the smp U-Net,
`--init`, `--pretrained` and the ablations at one seed). Every deep arm trains 300 steps of 8 x 96 px chips.

**Spatial protocol.** The 87 labelled fields (connected components of one class) are grouped by the 125 x 128 px
image block their centroid falls in; the 48 blocks are dealt to K folds by a seeded search that maximises, first,
the number of classes each fold holds in both its test and its training set (>= 200 px each), then the smallest
training set. A fold's test set is its fields, whole. Its training set is every other field except those within the
guard band (16 px) of a test field; in its training SAR the test fields and the guard band are no data, so no
training chip (hence no receptive field) ever sees a test pixel. Prediction runs over the whole scene (unlabelled
SAR is fair context) and is scored on the test fields only. mIoU is the mean over the classes present in both the
fold's training and test labels ("learnable": no arm can learn a class it never saw); the mean over all classes of
the test set is kept beside it (`miou_test_classes`). `fit_miou` scores the same map on the fold's own training
fields: how well an arm fits what it was taught (a low one is underfitting, not failing to generalise).

**Random-pixel protocol** (literature, inflated, for comparison only): 5 % of the labelled pixels of every field
train, the rest test (train and test pixels share fields): classical arms only.

Interrupted? Run the same command again: finished runs (same settings) are read back from OUT/runs/*/record.json.
"""
from __future__ import annotations
import argparse, concurrent.futures as cf, hashlib, json, math, os, subprocess, sys, time
from pathlib import Path

import numpy as np
import rasterio
from scipy import ndimage as ndi

sys.path.insert(0, str(Path(__file__).parent))
from synth_study import sar_lulc_exe, summarise                  # one home for running the CLI and summarising
from machine import machine
from sar_lulc.core import shared_dir
from sar_lulc.metrics import confusion_metrics

SCENE = "data/airsar_flevoland"
CLASSES = ("water", "forest", "lucerne", "grass", "rapeseed", "beet", "potatoes", "peas", "stem beans", "bare soil",
           "wheat", "wheat 2", "wheat 3", "barley", "buildings")           # codes 1..15
LABEL_MAP = ",".join(f"{i + 1}:{n}" for i, n in enumerate(CLASSES))
COARSE = ("water", "forest", "crops and grass", "bare soil", "buildings")  # a national LULC map's grouping
TO_COARSE = np.array([0, 1, 2, 2, 2, 2, 2, 2, 2, 3, 2, 2, 2, 2, 4])       # 15-class index -> coarse index
BLOCK, GUARD, MIN_PX = (125, 128), 16, 200
CHIP = 96                                     # chips of every fold's dataset (`sar-lulc chips --chip 96 --stride 48`)
# the `demo` recipe at the `real` recipe's budget (300 steps of 8 x 96 px, schedule ending there): equal steps
DEMO_BUDGET = dict(chip=CHIP, batch_size=8, epochs=8, chips_per_epoch=300, warmup_epochs=1)

MODELS = Path(__file__).resolve().parents[1] / "data_samples/models"
INIT = ["--init", str(MODELS / "lulc_resnet18.safetensors")]
PRETRAINED = ["--pretrained", str(MODELS / "encoder_tiny.safetensors")]
ARMS = {  # name -> kind, recipe, flags; "recommended" is what the README recommends for real data
    "gaussian_ml": dict(kind="classical"),
    "random_forest": dict(kind="classical"),
    "recommended": dict(kind="cli", recipe="real"),                                   # resnet18, multilook 9, balance 1
    "tiny_real": dict(kind="cli", recipe="real", train=dict(preset="tiny")),
    "resnet18_demo": dict(kind="cli", train=dict(preset="resnet18", layer_decay=1.0, **DEMO_BUDGET)),   # before
    "tiny_demo": dict(kind="cli", train=dict(preset="tiny", **DEMO_BUDGET)),
    "init_lulc": dict(kind="cli", recipe="real", extra=INIT),
    "tiny_pretrained": dict(kind="cli", recipe="real", train=dict(preset="tiny"), extra=PRETRAINED),
    "smp_unet": dict(kind="peer", recipe="real", train=dict(arch="smp_unet_resnet18")),
    "smp_upernet": dict(kind="peer", recipe="real", train=dict(arch="smp_upernet_resnet18")),
    "recommended_no_multilook": dict(kind="cli", recipe="real", train=dict(multilook=1)),      # ablations
    "recommended_no_balance": dict(kind="cli", recipe="real", train=dict(balance=0.0)),
    "recommended_no_refinements": dict(kind="cli", recipe="real", train=dict(hr_inject="none", head="simple")),
}

INPUTS = {"hh": ["HH"], "hhhv": ["HH", "HV"],
          # exploratory: HH and a texture band whose multilooked "power" is the local variance of HH in dB
          "hhtex": ["HH", "TEX"]}
TEX_BOX = 7                                   # the local mean that the texture band's deviations are taken from

def _flags(d: dict) -> list[str]:
    return [x for k, v in d.items() for x in (f"--{k.replace('_', '-')}", str(v))]

# ---------------------------------------------------------------------------------------------------------- data
def scene_paths(root: Path) -> dict:
    d = root / SCENE
    p = {b: d / f"flevoland_{b}.tif" for b in ("HH", "HV", "VV", "label")}
    missing = [str(v) for v in p.values() if not v.exists()]
    if missing: sys.exit(f"the Flevoland scene is missing ({missing[0]}); set SAR_LULC_SHARED to the shared folder")
    return p

def fields(lab: np.ndarray) -> tuple[np.ndarray, int]:
    "Connected components of one class (8-connected): int32 field ids, 0 = unlabelled."
    comp, n = np.zeros(lab.shape, np.int32), 0
    for c in range(1, len(CLASSES) + 1):
        l, k = ndi.label(lab == c, structure=np.ones((3, 3)))
        comp[l > 0] = l[l > 0] + n; n += k
    return comp, n

def fold_sets(lab, comp, field_fold, fold: int, guard: int = GUARD):
    "Boolean (test, train, blind) masks of one fold; blind = test fields and their guard band (no data in training)."
    ids = np.nonzero(field_fold == fold)[0] + 1
    test = np.isin(comp, ids)
    blind = ndi.maximum_filter(test, size=2 * guard + 1)
    touching = np.unique(comp[blind & (comp > 0)])
    train = (lab > 0) & ~np.isin(comp, touching)
    return test, train, blind

def choose_folds(lab, k: int, tries: int = 300) -> dict:
    "Deal the image blocks to k folds (module docstring); returns the assignment and how it was chosen."
    comp, n = fields(lab)
    H, W = lab.shape; nr, nc = H // BLOCK[0], W // BLOCK[1]
    cy, cx = np.array(ndi.center_of_mass(np.ones_like(comp), comp, range(1, n + 1))).T
    fblock = (np.clip(cy // BLOCK[0], 0, nr - 1) * nc + np.clip(cx // BLOCK[1], 0, nc - 1)).astype(int)
    best = None
    for s in range(tries):
        blocks = np.random.default_rng(s).permutation(np.arange(nr * nc) % k)
        counts = []
        for f in range(k):
            test, train, _ = fold_sets(lab, comp, blocks[fblock], f)
            counts.append((np.bincount(lab[test], minlength=16)[1:], np.bincount(lab[train], minlength=16)[1:]))
        score = (min(int(((t >= MIN_PX) & (r >= MIN_PX)).sum()) for t, r in counts), min(int(r.sum()) for _, r in counts))
        if best is None or score > best[0]: best = (score, s, blocks, counts)
    score, s, blocks, counts = best
    return dict(k=k, search_seed=s, tries=tries, block=BLOCK, guard=GUARD, n_fields=n, blocks=blocks.tolist(),
                field_fold=blocks[fblock].tolist(), min_learnable_classes=score[0], min_train_px=score[1],
                test_px=[c[0].tolist() for c in counts], train_px=[c[1].tolist() for c in counts])

def write_like(path: Path, arr, src_profile, dtype, nodata):
    prof = {**src_profile, "dtype": dtype, "count": 1, "nodata": nodata, "compress": "deflate"}
    with rasterio.open(path, "w", **prof) as dst: dst.write(arr.astype(dtype), 1)

def prepare_folds(paths: dict, out: Path, k: int) -> dict:
    "Choose the folds once (folds.json) and write each fold's training SAR, training labels and test labels."
    fj = out / "folds.json"
    with rasterio.open(paths["label"]) as s: lab, prof = s.read(1), s.profile
    if fj.exists() and json.loads(fj.read_text()).get("k") == k: info = json.loads(fj.read_text())
    else:
        print(f"choosing {k} spatial folds ...", flush=True)
        info = choose_folds(lab, k); out.mkdir(parents=True, exist_ok=True); fj.write_text(json.dumps(info, indent=1))
    comp, _ = fields(lab)
    for f in range(k):
        d = out / "folds" / f"f{f}"
        if (d / "test_label.tif").exists(): continue
        d.mkdir(parents=True, exist_ok=True)
        test, train, blind = fold_sets(lab, comp, np.array(info["field_fold"]), f)
        for b in ("HH", "HV"):
            with rasterio.open(paths[b]) as s: sar = s.read(1)
            write_like(d / f"train_{b}.tif", np.where(blind, np.nan, sar), prof, "float32", float("nan"))
        write_like(d / "train_label.tif", np.where(train, lab, 0), prof, "uint8", 0)
        write_like(d / "test_label.tif", np.where(test, lab, 0), prof, "uint8", 0)
    return info

def texture(hh: np.ndarray, box: int = TEX_BOX) -> np.ndarray:
    """A band of squared deviations of HH in dB from its local `box` mean, scaled by 0.01 (so that its values read as
    linear power, not DN): as a "power" band, its multilook is the local variance of dB (a texture cue that
    multilooking HH removes), and its dB the log of that variance."""
    db = 10 * np.log10(np.maximum(np.nan_to_num(hh.astype(np.float64), nan=np.nanmedian(hh)), 1e-10))
    return (0.01 * (db - ndi.uniform_filter(db, box)) ** 2 + 1e-5).astype(np.float32)

def tex_files(paths: dict, out: Path, fold: int | None = None) -> list[Path]:
    """The scene's (fold None) or a fold's training files of the `hhtex` input: HH and its texture band. `sar-lulc`
    pairs one scene's channels by their polarisation names only, so the texture band is written as `tex/..._VV.tif`
    beside a link `tex/..._HH.tif` to the HH file: a pilot's stand-in, not a polarisation."""
    d = out / "tex" if fold is None else out / "folds" / f"f{fold}" / "tex"
    d.mkdir(parents=True, exist_ok=True)
    stem = "scene" if fold is None else "train"
    hh = paths["HH"] if fold is None else out / "folds" / f"f{fold}" / "train_HH.tif"
    link = d / f"{stem}_HH.tif"
    if link.is_symlink() and not link.exists(): link.unlink()                   # dangling: made anew
    if not link.exists(): link.symlink_to(Path(hh).resolve())
    scene = out / "tex" / "scene_VV.tif"
    if not scene.exists():
        with rasterio.open(paths["HH"]) as s: v, prof = s.read(1), s.profile
        write_like(scene, texture(v), prof, "float32", float("nan"))
    if fold is not None and not (d / "train_VV.tif").exists():
        with rasterio.open(hh) as s: blind = np.isnan(s.read(1))
        with rasterio.open(scene) as s: tex, prof = s.read(1), s.profile
        write_like(d / "train_VV.tif", np.where(blind, np.nan, tex), prof, "float32", float("nan"))
    return [d / f"{stem}_HH.tif", d / f"{stem}_VV.tif"]

def scene_files(paths: dict, out: Path, inputs: str) -> list[str]:
    "What `predict` gets for the whole scene: one file per band, paired by their polarisation names."
    return [str(p) for p in tex_files(paths, out)] if inputs == "hhtex" else [str(paths[n]) for n in INPUTS[inputs]]

def budget_label(out: Path, lab: np.ndarray, info: dict, fold: int, blocks: int, seed: int) -> str:
    """A label budget: the fold's training fields in `blocks` of its image blocks, drawn per seed (nested: a seed's
    2 blocks hold its 1), written once as folds/fN/train_label_bK_sS.tif; returns that file's name."""
    name = f"train_label_b{blocks}_s{seed}.tif"
    path = out / "folds" / f"f{fold}" / name
    if path.exists(): return name
    comp, n = fields(lab)
    H, W = lab.shape; nr, nc = H // BLOCK[0], W // BLOCK[1]
    cy, cx = np.array(ndi.center_of_mass(np.ones_like(comp), comp, range(1, n + 1))).T
    fblock = (np.clip(cy // BLOCK[0], 0, nr - 1) * nc + np.clip(cx // BLOCK[1], 0, nc - 1)).astype(int)
    with rasterio.open(out / "folds" / f"f{fold}" / "train_label.tif") as s: train, prof = s.read(1), s.profile
    have = np.unique(fblock[np.unique(comp[train > 0]) - 1])
    if blocks > len(have): raise ValueError(f"fold {fold} has {len(have)} labelled training blocks, not {blocks}")
    chosen = np.random.default_rng([seed, fold]).permutation(have)[:blocks]
    keep = np.isin(comp, np.nonzero(np.isin(fblock, chosen))[0] + 1) & (train > 0)
    tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
    write_like(tmp, np.where(keep, train, 0), prof, "uint8", 0)
    os.replace(tmp, path)                      # whole or not at all
    return name

# ------------------------------------------------------------------------------------------------------ scoring
def score(pred15: np.ndarray, truth: np.ndarray, train_counts=None) -> dict:
    "Metrics of a 15-class map (indices 0..14) against raw codes (1..15, 0 = not scored), fine and coarse."
    m = truth > 0
    K = len(CLASSES)
    t, p = truth[m].astype(np.int64) - 1, pred15[m].astype(np.int64)
    p = np.where((p >= 0) & (p < K), p, K)                 # no prediction (255): an extra column, so an error
    cm = np.bincount(t * (K + 1) + p, minlength=(K + 1) ** 2).reshape(K + 1, K + 1)
    fine = confusion_metrics(cm)                           # the extra class has no ground truth: not in the means
    present = np.asarray(fine["present"][:K])
    learn = present & (np.asarray(train_counts) >= MIN_PX) if train_counts is not None else present
    iou = np.asarray(fine["iou"][:K])
    tc, pc = TO_COARSE[t], np.append(TO_COARSE, 5)[p]
    coarse = confusion_metrics(np.bincount(tc * 6 + pc, minlength=36).reshape(6, 6))
    r = lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else round(float(v), 5)
    return dict(miou=r(iou[learn].mean()), miou_test_classes=r(fine["miou"]), oa=r(fine["oa"]), kappa=r(fine["kappa"]),
                learnable=[CLASSES[i] for i in np.nonzero(learn)[0]],
                iou={CLASSES[i]: r(iou[i]) for i in range(K) if present[i]},
                coarse=dict(miou=r(coarse["miou"]), oa=r(coarse["oa"]), kappa=r(coarse["kappa"]),
                            iou={COARSE[i]: r(v) for i, v in enumerate(coarse["iou"][:5]) if coarse["present"][i]}),
                n_test_px=int(m.sum()))

# ---------------------------------------------------------------------------------------------------- classical
def features(bands: list[np.ndarray], sizes=(1, 3, 7, 15)) -> np.ndarray:
    """Per-pixel features a remote-sensing analyst would use: per band, the multilooked (box-averaged in power)
    intensity in dB at several window sizes and the local contrast (std of dB) at the larger ones; (H, W, F)."""
    out = []
    for b in bands:
        b = np.nan_to_num(b.astype(np.float64), nan=np.nanmedian(b))
        db = 10 * np.log10(np.maximum(b, 1e-10))
        for s in sizes:
            out.append(10 * np.log10(np.maximum(ndi.uniform_filter(b, s), 1e-10)) if s > 1 else db)
            if s >= 7:
                m = ndi.uniform_filter(db, s); out.append(np.sqrt(np.maximum(ndi.uniform_filter(db * db, s) - m * m, 0)))
    if len(bands) == 2: out.append(out[1] - out[len(out) // 2 + 1])          # HH/HV ratio of the 3x3 looks
    return np.stack(out, -1).astype(np.float32)

def classical(arm: str, feats, train_lab, seed: int, max_px: int = 30000) -> np.ndarray:
    "Fit on (a class-balanced sample of) the training pixels, predict every pixel: 15-class indices."
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.ensemble import RandomForestClassifier
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(train_lab.ravel() > 0)
    y = train_lab.ravel()[idx]
    per = max(1, max_px // max(1, len(np.unique(y))))
    keep = np.concatenate([rng.permutation(idx[y == c])[:per] for c in np.unique(y)])
    X, Y = feats.reshape(-1, feats.shape[-1])[keep], train_lab.ravel()[keep] - 1
    if arm == "gaussian_ml":      # maximum-likelihood Gaussian per class (equal priors: the sample is balanced)
        clf = QuadraticDiscriminantAnalysis(reg_param=1e-3)
    else: clf = RandomForestClassifier(n_estimators=200, min_samples_leaf=5, max_features="sqrt", n_jobs=1, random_state=seed)
    clf.fit(X, Y)
    flat = feats.reshape(-1, feats.shape[-1])
    pred = np.concatenate([clf.predict(flat[i:i + 200000]) for i in range(0, len(flat), 200000)])
    return pred.reshape(train_lab.shape).astype(np.uint8)

# ------------------------------------------------------------------------------------------------------- deep
def run(cmd: list[str], log: Path, env=None) -> str:
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    with open(log, "a") as f: f.write(f"$ {' '.join(cmd)}\n({time.time() - t:.0f} s, rc {p.returncode})\n{p.stdout}\n{p.stderr}\n")
    if p.returncode: raise RuntimeError(f"{' '.join(cmd[:3])} failed ({p.returncode}); see {log}:\n{p.stderr[-1500:]}")
    return p.stdout

def chips_for(fold_dir: Path, inputs: str, chip: int, log: Path, label: str = "train_label.tif") -> tuple[Path, list[str]]:
    """The fold's training dataset, made once per (inputs, chip, label raster) by `sar-lulc chips` (all of it trains:
    no val/test)."""
    tag = label[len("train_label"):-len(".tif")]                # "" or a label budget's "_b2_s0"
    d = fold_dir / f"chips_{inputs}_{chip}{tag}"
    sar = ([str(fold_dir / "tex" / f"train_{p}.tif") for p in ("HH", "VV")] if inputs == "hhtex" else
           [str(fold_dir / f"train_{b}.tif") for b in INPUTS[inputs]])
    cmd = ["chips", "--sar", *sar, "--labels", str(fold_dir / label), "--label-map", LABEL_MAP,
           "--chip", str(chip), "--stride", str(chip // 2), "--min-valid", "0.02", "--split", "1,0,0", "--out", str(d)]
    if not (d / "manifest.json").exists():
        run(sar_lulc_exe() + cmd + ["--overwrite"], log)
    return d, cmd

def deep(arm: str, spec: dict, fold_dir: Path, run_dir: Path, scene: list[str], seed: int, inputs: str, log: Path,
         env, label: str = "train_label.tif") -> tuple[np.ndarray, dict]:
    "Train through the CLI (peers through the library, their archs registered), predict the whole scene; 15-class map."
    a = ARMS[arm]; recipe = spec.get("recipe", a.get("recipe", "demo"))
    t = {**a.get("train", {}), **spec.get("train", {}), "seed": seed, "device": "cpu"}
    data, chips_cmd = chips_for(fold_dir, inputs, CHIP, log, label)
    sets = {k: t.pop(k) for k in list(t) if k not in TRAIN_FLAGS}
    train_cmd = ["train", "--data", str(data), "--out", str(run_dir / "run"), "--overwrite", "--recipe", recipe, *_flags(t),
                 *[x for k, v in sets.items() for x in ("--set", f"{k}={json.dumps(v)}")], *a.get("extra", []),
                 *spec.get("extra", [])]
    t0 = time.time()
    model = run_dir / "run" / "model.safetensors"
    pred_cmd = ["predict", *scene, "--model", str(model), "--out", str(run_dir / "pred.tif"), "--overwrite",
                "--device", "cpu", *spec.get("predict", [])]
    if a["kind"] == "peer":       # an smp arch is known only where it is registered: train and predict in the library
        child = dict(data=str(data), out=str(run_dir / "run"), recipe=recipe, train={**t, **sets}, scene=scene,
                     pred=str(run_dir / "pred.tif"))
        out = run([sys.executable, __file__, "--child", json.dumps(child)], log, env)
        train_s = json.loads([l for l in out.splitlines() if l.startswith("{")][-1])["wall_train_s"]
    else:
        out = run(sar_lulc_exe() + train_cmd + ["--json", "--no-progress"], log, env)
        train_s = time.time() - t0
        run(sar_lulc_exe() + pred_cmd + ["--json", "--no-progress"], log, env)
    steps = json.loads([l for l in out.splitlines() if l.startswith("{")][-1]).get("steps")
    with rasterio.open(run_dir / "pred.tif") as s: pred = s.read(1)
    shown = " ".join(["sar-lulc"] + train_cmd)
    if a["kind"] == "peer": shown = f"(library finetune with the smp arch registered, as) {shown} --set arch={t.get('arch') or sets.get('arch')}"
    return pred, dict(train_s=round(train_s, 1), steps=steps, recipe=recipe,
                      commands=[" ".join(["sar-lulc"] + chips_cmd), shown, " ".join(["sar-lulc"] + pred_cmd)])

TRAIN_FLAGS = {"preset", "epochs", "batch_size", "lr", "chip", "chips_per_epoch", "precision", "seed", "device",
               "alpha", "drop_path", "layer_decay", "hr_inject", "head", "units", "cf"}

def child(spec: dict) -> dict:
    from peers import register_peers
    register_peers()
    from sar_lulc.train import finetune
    from sar_lulc.predict import predict_scene
    t0 = time.time()
    s = finetune(spec.get("recipe", "demo"), data_dir=spec["data"], out_dir=spec["out"], overwrite=True, progress=False,
                 **spec["train"])
    wall = time.time() - t0
    src = spec["scene"] if len(spec["scene"]) > 1 else spec["scene"][0]
    predict_scene(str(Path(spec["out"]) / "model.safetensors"), src, spec["pred"], device="cpu", overwrite=True, progress=False)
    return {"steps": s.get("steps"), "time_s": s.get("time_s"), "wall_train_s": wall}

# -------------------------------------------------------------------------------------------------- zero-shot
JP9_TO_COARSE = {"Water": 0, "Forest": 1, "Paddy": 2, "Cropland": 2, "Grassland": 2, "Bare": 3, "Built-up": 4,
                 "SolarPanel": 4, "Greenhouse": 4}

def zero_shot(paths: dict, out: Path, options: list[str], model: str | None = None) -> dict:
    """The shipped land-cover model (or `model`) on the whole scene, as is: its jp9 classes mapped to the coarse
    grouping, scored on every labelled pixel (no training, so no fold)."""
    from sar_lulc.io import read_label_map
    d = out / "zero_shot"; d.mkdir(parents=True, exist_ok=True)
    tag = "".join(c if c.isalnum() else "_" for c in " ".join(options) or "defaults")
    cmd = ["predict", str(paths["HH"]), "--out", str(d / f"{tag}.tif"), "--overwrite", "--device", "cpu", *options]
    if model: cmd += ["--model", model]
    run(sar_lulc_exe() + cmd + ["--json", "--no-progress"], out / "logs" / f"zero_shot_{tag}.log")
    pred, scheme, _ = read_label_map(d / f"{tag}.tif")
    lut = np.full(256, 5, np.int64)                        # no data and unmapped classes: errors (column 5)
    for i, n in enumerate(scheme.names): lut[i] = JP9_TO_COARSE.get(n, 5)
    with rasterio.open(paths["label"]) as s: lab = s.read(1)
    m = lab > 0
    t, p = TO_COARSE[lab[m].astype(np.int64) - 1], lut[pred[m]]
    r = confusion_metrics(np.bincount(t * 6 + p, minlength=36).reshape(6, 6))
    used = json.loads((d / f"{tag}.json").read_text()).get("model")          # the model predict chose or was given
    return dict(options=" ".join(options) or "(defaults)", command=" ".join(["sar-lulc"] + cmd), model=used,
                miou=round(r["miou"], 4),
                oa=round(r["oa"], 4), iou={COARSE[i]: round(v, 4) for i, v in enumerate(r["iou"][:5]) if r["present"][i]})

# ------------------------------------------------------------------------------------------------------- main
def cpu_info() -> dict:
    m = machine("cpu", int(os.environ.get("OMP_NUM_THREADS", "1")))
    return dict(cpu=m["cpu"], flags=m["flags"], threads_per_run=m["threads"])

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/real"))
    ap.add_argument("--arms", nargs="+", default=[a for a in ARMS if "_no_" not in a],
                    help=f"from {list(ARMS)} (and variants added by --variant); default: all but the ablations")
    ap.add_argument("--inputs", nargs="+", default=["hh"], choices=list(INPUTS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--folds", type=int, default=3, help="K spatial folds")
    ap.add_argument("--only-folds", type=int, nargs="+", help="run only these folds (default: all K)")
    ap.add_argument("--blocks", type=int, nargs="+", default=[0],  # spatial protocol only
                    help="label budgets: train on the fields of only this many of a fold's image blocks, drawn per "
                         "seed (0 = all of them)")
    ap.add_argument("--protocol", default="spatial", choices=["spatial", "random"])
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                    help='another arm: NAME={"base": ARM, "recipe": R, "train": {...}, "extra": [...], "predict": [...]}')
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results/real_flevoland.json",
                    help="where the merged records go")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--zero-shot", action="store_true", help="only score the shipped land-cover model zero-shot")
    ap.add_argument("--maps", nargs="+", metavar="ARM", help="only save fold 0 / seed 0 maps of these arms (for the chapter)")
    ap.add_argument("--ensemble", metavar="ARM", help="only score ARM's finished deep runs averaged over seeds "
                    "(`predict` with a --model per seed): every subset of --ensemble-size of --seeds, per fold (the "
                    "models are not retrained)")
    ap.add_argument("--ensemble-size", type=int, nargs="+", default=[2, 3], help="seeds a map averages (1: with "
                    "--tta, each model alone)")
    ap.add_argument("--tta", action="store_true", help="with --ensemble: flip test-time augmentation too")
    a = ap.parse_args(argv)
    if a.protocol == "random" and a.blocks != [0]: ap.error("--blocks needs the spatial protocol")
    if "hhtex" in a.inputs and any(ARMS.get(x, {}).get("kind") == "classical" for x in a.arms):
        ap.error("--inputs hhtex is for the deep arms (the classical features hold texture already)")
    if a.child: print(json.dumps(child(json.loads(a.child)), default=str)); return 0
    root = shared_dir()
    if root is None: sys.exit("no shared data folder (set SAR_LULC_SHARED)")
    paths = scene_paths(root)
    if a.maps:                # the chapter's figure: labels and maps of fold 0, seed 0 (an ensemble: seeds 0, 1, 2)
        npz = a.json.with_name(a.json.stem + "_maps.npz")
        maps = dict(np.load(npz)) if npz.exists() else {}            # arms whose runs are gone keep their map
        maps.update(test=rasterio.open(a.out / "folds/f0/test_label.tif").read(1),
                    train=rasterio.open(a.out / "folds/f0/train_label.tif").read(1))
        for arm in a.maps:
            rd = a.out / "runs" / f"spatial_{a.inputs[0]}_{arm}_f0_s0"
            ens = sorted((a.out / "ensembles").glob(f"{arm}_f0_s0-1-2_*[0-9a-f].tif"))
            if (rd / "pred.npy").exists(): maps[arm] = np.load(rd / "pred.npy")
            elif (rd / "pred.tif").exists() or ens: maps[arm] = rasterio.open(ens[-1] if ens else rd / "pred.tif").read(1)
            elif arm not in maps: sys.exit(f"no fold-0 map of {arm} in {a.out}: run it first")
        np.savez_compressed(npz, **{k: v.astype(np.uint8) for k, v in maps.items()})
        return 0
    if a.ensemble:
        res = ensembles(a, paths)
        merge(a.json, res, None); print(report(dict(runs=[r for r in json.loads(a.json.read_text())["runs"]
                                                           if r["arm"] == a.ensemble or r.get("variant_of") == a.ensemble
                                                           and r["kind"] == "ensemble"])))
        return 0
    if a.zero_shot:
        (a.out / "logs").mkdir(parents=True, exist_ok=True)
        rows = [zero_shot(paths, a.out, o) for o in ([], ["--norm", "model"], ["--norm", "scene"],
                                                   ["--norm", "scene", "--multilook", "3"])]
        res = json.loads(a.json.read_text()) if a.json.exists() else dict(runs=[])
        res["zero_shot"] = rows; a.json.write_text(json.dumps(res, indent=1))
        for r in rows: print(f"{r['options']:32s} mIoU {r['miou']:.3f}  " + "  ".join(f"{k} {v:.2f}" for k, v in r["iou"].items()))
        return 0
    variants = {}
    for v in a.variant:
        name, js = v.split("=", 1); spec = json.loads(js)
        ARMS[name] = {**ARMS[spec["base"]], "variant_of": spec["base"]}; variants[name] = spec
    out = a.out; (out / "logs").mkdir(parents=True, exist_ok=True)
    with rasterio.open(paths["label"]) as s: lab = s.read(1)
    bands = {b: rasterio.open(paths[b]).read(1) for b in ("HH", "HV")}
    feats = {}
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    jobs = []
    if a.protocol == "spatial":
        info = prepare_folds(paths, out, a.folds)
        folds = a.only_folds if a.only_folds is not None else range(a.folds)
        jobs = [(arm, f, s, i, b) for b in a.blocks for i in a.inputs for s in a.seeds for f in folds for arm in a.arms]
        for i in a.inputs:                                  # derived bands, made before the jobs run in parallel
            if i == "hhtex": [tex_files(paths, out, f) for f in [None, *folds]]
    else:
        info = dict(protocol="random pixels", train_fraction=0.05)
        jobs = [(arm, -1, s, i, 0) for i in a.inputs for arm in a.arms if ARMS[arm]["kind"] == "classical" for s in a.seeds]

    def one(job):
        arm, f, seed, inputs, blocks = job
        spec = variants.get(arm, {})
        tag = f"{a.protocol}_{inputs}_{arm}_f{f}_s{seed}" + (f"_b{blocks}" if blocks else "")
        rd = out / "runs" / tag; rd.mkdir(parents=True, exist_ok=True)
        fix = TRAIN_FIX if ARMS[arm]["kind"] != "classical" else None      # a library fix reruns the deep arms
        key = hashlib.sha1(json.dumps([ARMS[arm], spec, CHIP, a.protocol, info.get("search_seed")] + ([fix] if fix else [])
                                      + ([blocks] if blocks else []),
                                      sort_keys=True, default=str).encode()).hexdigest()[:12]
        rec_path = rd / "record.json"
        if rec_path.exists():
            rec = json.loads(rec_path.read_text())
            if rec.get("key") == key:
                saved = rd / ("pred.npy" if ARMS[arm]["kind"] == "classical" else "pred.tif")
                if "fit_miou" not in rec and f >= 0 and saved.exists():     # a run from before fit_miou: score its map
                    pred = np.load(saved) if saved.suffix == ".npy" else rasterio.open(saved).read(1)
                    label = budget_label(out, lab, info, f, blocks, seed) if blocks else "train_label.tif"
                    rec["fit_miou"] = score(pred, rasterio.open(out / "folds" / f"f{f}" / label).read(1))["miou"]
                    rec_path.write_text(json.dumps(rec, indent=1))
                return rec
        log = out / "logs" / f"{tag}.log"; log.write_text("")
        names = INPUTS[inputs]
        if f >= 0:
            truth = rasterio.open(out / "folds" / f"f{f}" / "test_label.tif").read(1)
            label = budget_label(out, lab, info, f, blocks, seed) if blocks else "train_label.tif"
            train_lab = rasterio.open(out / "folds" / f"f{f}" / label).read(1)
            train_counts = np.bincount(train_lab.ravel(), minlength=len(CLASSES) + 1)[1:].tolist()
        else:                                      # random pixels of every field
            rng = np.random.default_rng(1000 + seed)
            pick = (rng.random(lab.shape) < 0.05) & (lab > 0)
            train_lab, truth, train_counts = np.where(pick, lab, 0), np.where(pick, 0, lab), None
        t0 = time.time()
        if ARMS[arm]["kind"] == "classical":
            if inputs not in feats: feats[inputs] = features([bands[n] for n in names])
            pred, extra = classical(arm, feats[inputs], train_lab, seed), dict(steps=None, commands=[f"bench/real_flevoland.py ({arm})"])
            np.save(rd / "pred.npy", pred)
            extra["train_s"] = round(time.time() - t0, 1)
        else:
            pred, extra = deep(arm, spec, out / "folds" / f"f{f}", rd, scene_files(paths, out, inputs), seed, inputs, log, env,
                               label)
        rec = dict(arm=arm, variant_of=ARMS[arm].get("variant_of"), kind=ARMS[arm]["kind"], protocol=a.protocol, fold=f,
                   seed=seed, inputs=inputs, blocks=blocks or None, key=key, spec=spec or None,
                   train_px=None if train_counts is None else int(sum(train_counts)), **extra, wall_s=round(time.time() - t0, 1),
                   **score(pred, truth, train_counts), fit_miou=score(pred, train_lab)["miou"])
        rec_path.write_text(json.dumps(rec, indent=1))
        print(f"done {tag}: mIoU {rec['miou'] or float('nan'):.3f} (coarse {rec['coarse']['miou']:.3f}) in {rec['wall_s']:.0f} s",
              flush=True)
        return rec

    for f, s, b in sorted({(f, s, b) for arm, f, s, i, b in jobs if b and f >= 0}):
        budget_label(out, lab, info, f, b, s)                    # every label budget, before parallel runs
    for inputs, f, s, b in sorted({(i, f, s, b) for arm, f, s, i, b in jobs if ARMS[arm]["kind"] != "classical"}):
        label = budget_label(out, lab, info, f, b, s) if b else "train_label.tif"
        chips_for(out / "folds" / f"f{f}", inputs, CHIP, out / "logs" / "chips.log", label)   # before parallel runs
    results, failures = [], []
    t0 = time.time()
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for fut in cf.as_completed([ex.submit(one, j) for j in jobs]):
            try: results.append(fut.result()); merge(a.json, results[-1:], info if a.protocol == "spatial" else None)
            except Exception as e: failures.append(str(e)); print("FAILED:", str(e)[:600], flush=True)
    merge(a.json, results, info if a.protocol == "spatial" else None)       # as it goes, and once more at the end
    print(report(json.loads(a.json.read_text())))
    print(f"{len(results)} runs ({len(failures)} failed) in {(time.time() - t0) / 60:.1f} min", flush=True)
    return 1 if failures else 0

def ensembles(a, paths: dict) -> list[dict]:
    """Score averages of ARM's finished runs as a user makes them, `sar-lulc predict --model M0 --model M1 ...`
    (`--tta` if asked): every subset of n seeds per fold is a record of arm ARM_ens{n}[_tta], its 'seed' the subset's
    index, its `train_s` the members' sum. A single model without TTA is its run's own record."""
    import itertools
    recs, tag = [], "_tta" if a.tta else ""
    inputs = a.inputs[0]
    for f in (a.only_folds if a.only_folds is not None else range(a.folds)):
        fd = a.out / "folds" / f"f{f}"
        truth = rasterio.open(fd / "test_label.tif").read(1)
        train_lab = rasterio.open(fd / "train_label.tif").read(1)
        counts = np.bincount(train_lab.ravel(), minlength=len(CLASSES) + 1)[1:]
        rd = lambda s: a.out / "runs" / f"spatial_{inputs}_{a.ensemble}_f{f}_s{s}"
        missing = [str(rd(s)) for s in a.seeds if not (rd(s) / "run" / "model.safetensors").is_file()]
        if missing: sys.exit(f"no trained model in {', '.join(missing)}: run --arms {a.ensemble} first")
        # each member's weights hashed once: ensemble maps are named by them
        digest = {s: hashlib.sha1((rd(s) / "run" / "model.safetensors").read_bytes()).digest() for s in a.seeds}
        for n in a.ensemble_size:
            for i, sub in enumerate(itertools.combinations(a.seeds, n)):
                arm = f"{a.ensemble}_ens{n}{tag}"
                # named by the members' weights too: retrained members make a new map
                h = hashlib.sha1(b"".join(digest[s] for s in sub)).hexdigest()[:8]
                out = a.out / "ensembles" / f"{arm}_f{f}_s{'-'.join(map(str, sub))}_{h}.tif"
                cmd = ["predict", *scene_files(paths, a.out, inputs),
                       *[x for s in sub for x in ("--model", str(rd(s) / "run" / "model.safetensors"))],
                       "--out", str(out), "--overwrite", "--device", "cpu", *(["--tta"] if a.tta else [])]
                if n == 1 and not a.tta: continue                                  # the run's own record
                if not out.exists():
                    out.parent.mkdir(parents=True, exist_ok=True)
                    run(sar_lulc_exe() + cmd + ["--no-progress"], a.out / "logs" / f"{out.stem}.log")
                pred = rasterio.open(out).read(1)
                rec = dict(arm=arm, variant_of=a.ensemble, kind="ensemble", protocol="spatial", fold=f, seed=i,
                           inputs=inputs, blocks=None, key=h, spec=dict(seeds=list(sub), tta=a.tta),
                           train_px=int(counts.sum()), steps=None, wall_s=None,
                           # the training that went into the map: every member's
                           train_s=round(sum(json.loads((rd(s) / "record.json").read_text())["train_s"] for s in sub), 1),
                           commands=[" ".join(["sar-lulc"] + cmd)], **score(pred, truth, counts.tolist()),
                           fit_miou=score(pred, train_lab)["miou"])
                recs.append(rec)
                print(f"{arm} f{f} seeds {sub}: mIoU {rec['miou']:.3f} (coarse {rec['coarse']['miou']:.3f})", flush=True)
    return recs

# bumped when a library change alters what a deep arm trains on, so finished runs are not read back:
# 2 = training takes the dataset's own min_valid (before: 0.5, which left most sparse-field chips out)
TRAIN_FIX = 2

def merge(path: Path, results: list, folds: dict | None):
    "Add runs to the results file (a run with the same protocol, inputs, arm, fold and seed is replaced)."
    old = json.loads(path.read_text()) if path.exists() else dict(runs=[])
    k = lambda r: (r["protocol"], r["inputs"], r["arm"], r["fold"], r["seed"], r.get("blocks") or 0)
    new = {k(r): r for r in old["runs"]}
    new.update({k(r): r for r in results})
    old.update(runs=sorted(new.values(), key=k), machine=cpu_info(), torch=__import__("torch").__version__, chip=CHIP,
               demo_budget=DEMO_BUDGET)
    if folds is not None: old["folds"] = folds
    path.parent.mkdir(parents=True, exist_ok=True); path.write_text(json.dumps(old, indent=1))

def report(res: dict) -> str:
    """A Markdown table per (protocol, inputs, arm): mIoU, the mean over folds of each fold's mean over seeds, with the
    standard deviation
    over seeds of the per-seed mean over folds, and the worst seed, where every seed has every fold ('-' otherwise;
    seeds are averaged over the folds where every seed has a score);
    coarse mIoU, OA and the median training time."""
    rows = ["| protocol | inputs | arm | runs (folds x seeds) | mIoU (15 classes) | worst seed | coarse mIoU | OA | train s |",
            "|---|---|---|---|---|---|---|---|---|"]
    groups = {}
    for r in res["runs"]:
        arm = r["arm"] + (f" ({r['blocks']} blocks)" if r.get("blocks") else "")
        groups.setdefault((r["protocol"], r["inputs"], arm), []).append(r)
    def fold_mean(rs):
        return np.mean([np.nanmean([np.nan if r["miou"] is None else r["miou"] for r in rs if r["fold"] == f])
                        for f in sorted({r["fold"] for r in rs})])
    for (p, i, arm), rs in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1], -fold_mean(g[1]))):
        folds, per_seed = sorted({r["fold"] for r in rs}), {}
        for r in rs: per_seed.setdefault(r["seed"], {})[r["fold"]] = r["miou"]
        # a seed's mean over the folds where every seed has a score (None: a draw with no learnable class), so
        # that seeds are compared over the same folds
        common = [f for f in folds if all(v.get(f) is not None for v in per_seed.values())]
        complete = [float(np.mean([v[f] for f in common])) for v in per_seed.values() if sorted(v) == folds and common]
        full = len(complete) == len(per_seed)
        fw = lambda v: float(np.mean([np.nanmean([np.nan if v(r) is None else v(r) for r in rs if r["fold"] == f])
                                      for f in folds]))                    # folds weigh alike
        m = fw(lambda r: r["miou"])
        _, s, _ = summarise(complete) if full else (None, float("nan"), 0)
        cm, oa = fw(lambda r: r["coarse"]["miou"]), fw(lambda r: r["oa"])
        ts = sorted(r["train_s"] for r in rs if r["train_s"] is not None) or [float("nan")]   # ensembles: none
        sd = "" if math.isnan(s) else f" ± {100 * s:.1f}"
        worst = f"{100 * min(complete):.1f}" if full and len(complete) > 1 else "-"
        if full and common != folds:                 # say which folds the spread and the worst seed are over
            sd, worst = sd + f" (folds {','.join(map(str, common))})", worst + f" (folds {','.join(map(str, common))})"
        rows.append(f"| {p} | {i} | {arm} | {len(folds)} x {len(per_seed)} ({len(rs)}) | {100 * m:.1f}{sd} | {worst} | "
                    f"{100 * cm:.1f} | {100 * oa:.1f} | {ts[len(ts) // 2]:.0f} |")
    return "\n".join(rows)

if __name__ == "__main__":
    sys.exit(main())
