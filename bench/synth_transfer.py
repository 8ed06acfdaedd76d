"""SynthALOS-2 that transfers (issue 25): train the shipped land-cover recipe on sensor-randomised SynthALOS-2 and
measure it zero-shot on real SAR, beside the same recipe on the plain generator and the shipped model.

Every arm is run as a user would: `sar-lulc synth` (procedural 16/4/4 scenes of 512² and SynthALOS-2/JP on the
JAXA HRLULC tiles, 3 windows a tile), `sar-lulc merge`, `sar-lulc train` (the shipped recipe: resnet18, demo
recipe, hr_inject s4+s2, progressive head, alpha 0.5, seed 0 unless --seed), then, with the default `predict` command (no flags):

- **Flevoland** (AIRSAR L-band HH, real): the jp9 map folded to five coarse classes (water; forest; crops and
  grass; bare; buildings), scored on every labelled pixel (bench/real_flevoland.py's `zero_shot`);
- **PALSAR-2 N23W161** (real, JAXA mosaic): water against land on a window around the island, scored against the
  tile's own ocean/land mask (layover, shadow and no data left out);
- **SynthALOS-2's own test splits**, un-randomised (procedural and /JP, `sar-lulc evaluate`): what the
  randomisation costs on the task itself.

    python bench/synth_transfer.py --arms shipped                  # the shipped land-cover model, as it is
    python bench/synth_transfer.py --arms transfer                 # every randomisation of the preset, 1-12 looks
    python bench/synth_transfer.py --arms calibration calibration_jitter calibration_jitter_zoom   # the ladder
    python bench/synth_transfer.py --arms farmland calibration_jitter_zoom_farmland landscapes   # landscapes
    python bench/synth_transfer.py --arms scene_norm_landscapes scene_norm_landscapes_sea scene_norm   # --scene-norm
    python bench/synth_transfer.py --arms scene_norm_incidence_sea scene_norm_incidence   # + incidence and wind
    python bench/synth_transfer.py --arms scene_norm_landscapes_sea --seed 1     # another training seed: the noise
    python bench/synth_transfer.py --arms scene_norm_geometry_sea                # + street grids, relief
    python bench/synth_transfer.py --arms scene_norm_streets_sea                 # + street grids alone
    python bench/synth_transfer.py --arms shipped_scene   # the shipped lulc_resnet18_scene (fp16), keyed by checksum
    python bench/synth_transfer.py --default-command      # what `sar-lulc predict` does with no --model (below)

Each arm is one seed at the shipped model's budget (15 epochs, about 25 min on 2 cores). The ladder adds one part
of the `transfer` preset at a time: none (the plain generator, i.e. the shipped model), calibration offset and
range ramp, class shifts, zoom, and the looks range (the full preset). The farmland arms make half the procedural
scenes farmland plains (`--farmland 0.5`), alone and on the best rung: the shipped model calls Flevoland's fields
forest because nearly every training scene is mostly forest. The landscapes arm adds cities (`--farmland 0.35
--city 0.15`). The scene_norm arms train with `--scene-norm`: every scene normalised by its own median and spread,
as predict then normalises any scene, so that no absolute level is learnt. The incidence arms add what a
scene-normalised model still sees of the sensor: a range ramp, water darkening faster than land across it, and
wind-roughened water (real water's level varies more than any other class's: AIRSAR's bay spans 14 dB).

--default-command scores the toolkit as a user meets it: `sar-lulc predict` with no `--model` picks, scene by scene,
`lulc_resnet18` or (for a scene unlike its calibration) `lulc_resnet18_scene`. It maps Flevoland, the PALSAR-2 window
and every scene of SynthALOS-2's clean test splits that way and with each model forced, and records which model
made each map and the mIoU of each (the synthetic splits scored on all their test pixels together, so the three rows
compare with each other, not with `sar-lulc evaluate`'s numbers).

Results merge into bench/results/synth_transfer.json as arms finish; an interrupted run resumes (finished steps are
skipped). Needs the shared data (SAR_LULC_SHARED) and `pip install -e ".[bench]"`.
"""
from __future__ import annotations
import argparse, hashlib, json, os, sys, time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

sys.path.insert(0, str(Path(__file__).parent))
from real_flevoland import run, scene_paths, zero_shot
from synth_study import sar_lulc_exe
from machine import machine
from sar_lulc.core import real_tile_paths, shared_dir

TRANSFER = ["--randomise", "transfer", "--looks", "1:12"]
INCIDENCE = ["--ramp-db", "10", "--water-ramp-db", "8", "--water-wind-db", "8"]
GEOMETRY = ["--street-grids", "--relief", "1:2.5"]
OFF = {"--offset-db": "0", "--ramp-db": "0", "--class-jitter-db": "0", "--zoom": "1"}
def _ladder(*on: str) -> list[str]:
    "The transfer preset with only the parts `on` left on (4 looks unless looks is on)."
    flags = ["--randomise", "transfer", "--looks", "1:12" if "--looks" in on else "4"]
    return flags + [x for k, v in OFF.items() if k not in on for x in (k, v)]
ARMS = {                                                # synth flags per arm (both generators): a ladder
    "none": [],
    "calibration": _ladder("--offset-db", "--ramp-db"),
    "calibration_jitter": _ladder("--offset-db", "--ramp-db", "--class-jitter-db"),
    "calibration_jitter_zoom": _ladder("--offset-db", "--ramp-db", "--class-jitter-db", "--zoom"),
    "transfer": TRANSFER,                               # all of it, 1-12 looks
    # landscape, not sensor: half the procedural scenes farmland plains (forest 5-30 %)
    "farmland": ["--farmland", "0.5"],
    "calibration_jitter_zoom_farmland": _ladder("--offset-db", "--ramp-db", "--class-jitter-db", "--zoom")
                                        + ["--farmland", "0.5"],
    # landscapes: a third of the procedural scenes farmland plains, a sixth cities (built-up 35-70 %)
    "landscapes": ["--farmland", "0.35", "--city", "0.15"],
    # trained with --scene-norm (every scene by its own median and spread, as predict then does)
    "scene_norm": [],
    "scene_norm_landscapes": ["--farmland", "0.35", "--city", "0.15"],
    "scene_norm_landscapes_sea": ["--farmland", "0.35", "--city", "0.15", "--open-sea", "0.2"],    # + open sea
    # + incidence: a range ramp (<= 10 dB), water's steeper one (<= 8 dB more) and wind-roughened water (<= 8 dB)
    "scene_norm_incidence_sea": ["--farmland", "0.35", "--city", "0.15", "--open-sea", "0.2", *INCIDENCE],
    "scene_norm_incidence": ["--farmland", "0.35", "--city", "0.15", *INCIDENCE],
    # + geometry: street-grid double bounce from orientation, relief 1-2.5x with layover and shadow
    "scene_norm_geometry_sea": ["--farmland", "0.35", "--city", "0.15", "--open-sea", "0.2", *GEOMETRY],
    "scene_norm_streets_sea": ["--farmland", "0.35", "--city", "0.15", "--open-sea", "0.2", "--street-grids"],
}
ARM_TRAIN = {k: ["--scene-norm"] for k in ARMS if k.startswith("scene_norm")}
DATA_OF = {"scene_norm": "none", "scene_norm_landscapes": "landscapes"}     # arms that share another arm's data
TRAIN = ["--task", "lulc", "--recipe", "demo", "--preset", "resnet18", "--layer-decay", "1.0",
         "--hr-inject", "s4+s2", "--head", "progressive", "--alpha", "0.5"]
SHIPPED = {"shipped": Path(__file__).parents[1] / "data_samples/models/lulc_resnet18.safetensors",
           "shipped_scene": Path(__file__).parents[1] / "data_samples/models/lulc_resnet18_scene.safetensors"}

def checksum(p: Path) -> str: return hashlib.sha256(Path(p).read_bytes()).hexdigest()[:8]

def shipped_key(arm: str) -> str:
    "A shipped model's record key: `shipped` as before; the scene model by its checksum, so old and new both stay."
    return arm if arm == "shipped" else f"{arm}_{checksum(SHIPPED[arm])}"

def make_data(d: Path, flags: list[str], tiles: list[str], log: Path) -> Path:
    "The arm's merged procedural + /JP dataset (made once)."
    S = sar_lulc_exe()
    if not (d / "lulc_data/manifest.json").exists():
        run(S + ["synth", str(d / "data"), "--n-train", "16", "--n-val", "4", "--n-test", "4", "--size", "512",
                 "--overwrite", *flags], log)
        run(S + ["synth", str(d / "jp_data"), "--layouts", *tiles, "--per-tile", "3", "--size", "512",
                 "--overwrite", *flags], log)
        run(S + ["merge", str(d / "lulc_data"), str(d / "data"), str(d / "jp_data"), "--overwrite"], log)
    return d / "lulc_data"

def palsar2_window(out: Path) -> tuple[Path, np.ndarray]:
    "A DN window of the PALSAR-2 tile around its island (as JAXA ships it) and its mask, written once."
    t = real_tile_paths()
    with rasterio.open(t["mask"]) as m: mask = m.read(1)
    rr, cc = np.nonzero(mask == 255)
    r0, c0 = max(rr.min() - 300, 0), max(cc.min() - 300, 0)
    r1, c1 = min(rr.max() + 300, mask.shape[0]), min(cc.max() + 300, mask.shape[1])
    p = out / "palsar2_window.tif"
    if not p.exists():
        with rasterio.open(t["hh"]) as s:
            w = Window(c0, r0, c1 - c0, r1 - r0)
            prof = {**s.profile, "width": w.width, "height": w.height, "transform": s.window_transform(w)}
            prof.pop("blockxsize", None); prof.pop("blockysize", None); prof["tiled"] = False
            with rasterio.open(p, "w", **prof) as o: o.write(s.read(1, window=w), 1)
    return p, mask[r0:r1, c0:c1]

def score_palsar2(model: Path | str | None, out: Path, log: Path) -> dict:
    """Water/land of the jp9 map on the PALSAR-2 window against the tile's mask, and the model that made it
    (`model` None: the one `predict` chooses)."""
    from sar_lulc.io import read_label_map
    src, mask = palsar2_window(out.parent)
    pred_p = out / "palsar2_pred.tif"
    run(sar_lulc_exe() + ["predict", str(src), *(["--model", str(model)] if model else []), "--out", str(pred_p),
                          "--overwrite", "--device", "cpu", "--json", "--no-progress"], log)
    pred, scheme, _ = read_label_map(pred_p)
    used = Path(json.loads(pred_p.with_suffix(".json").read_text())["model"]).stem
    water = pred == scheme.names.index("Water")
    ok = (mask == 50) | (mask == 255)
    t = mask[ok] == 50; p = water[ok]
    iou = lambda a, b: float((a & b).sum() / max((a | b).sum(), 1))
    return dict(water_iou=round(iou(t, p), 4), land_iou=round(iou(~t, ~p), 4),
                miou=round((iou(t, p) + iou(~t, ~p)) / 2, 4), land_pixels=int((~t).sum()), model=used)

def score_synth(model: Path, data: Path, out: Path, log: Path) -> dict:
    "mIoU, OA and kappa on a clean SynthALOS-2 test split."
    r = run(sar_lulc_exe() + ["evaluate", "--model", str(model), "--data", str(data), "--split", "test", "--out",
                              str(out), "--overwrite", "--device", "cpu", "--json", "--no-progress"], log)
    s = json.loads(r.strip().splitlines()[-1])
    m = s.get("metrics", s)
    return {k: round(float(m[k]), 4) for k in ("miou", "oa", "kappa") if k in m}

def norm_scene(model: Path, d: Path, paths: dict) -> dict:
    "Flevoland zero-shot with `--norm scene` (the scene's own statistics), beside the default command's."
    (d / "logs").mkdir(parents=True, exist_ok=True)
    fl = zero_shot(paths, d, ["--norm", "scene"], model=str(model))
    return dict(miou=fl["miou"], iou=fl["iou"], command=fl["command"])

def evaluate(model: Path, d: Path, clean: Path, paths: dict, log: Path) -> dict:
    (d / "logs").mkdir(parents=True, exist_ok=True)
    fl = zero_shot(paths, d, [], model=str(model))
    return dict(flevoland=dict(miou=fl["miou"], oa=fl["oa"], iou=fl["iou"], command=fl["command"]),
                flevoland_norm_scene=norm_scene(model, d, paths),
                palsar2=score_palsar2(model, d, log),
                synth_test={k: score_synth(model, clean / k, d / f"eval_{k}", log) for k in ("data", "jp_data")})

def predict_folder(scenes: list[Path], out: Path, model: list[str], log: Path) -> dict:
    "Map `scenes` with one `sar-lulc predict` (no model: the toolkit's choice); the summary's count of models used."
    r = run(sar_lulc_exe() + ["predict", *map(str, scenes), "--out", f"{out}/", "--overwrite", "--device", "cpu",
                              *model, "--json", "--no-progress"], log)
    return json.loads(r.strip().splitlines()[-1])

def synth_split_score(data: Path, out: Path, model: list[str], log: Path) -> dict:
    "mIoU (jp9, present classes) over every labelled pixel of a clean test split, mapped as `predict` maps it."
    from sar_lulc.data import load_dataset_dir
    from sar_lulc.io import read_label_map
    from sar_lulc.metrics import ConfusionMatrix
    info = load_dataset_dir(data)
    items = info.items("test"); k = info.scheme.num_classes
    s = predict_folder([it["sar"] for it in items], out, model, log)
    cm = ConfusionMatrix(k)
    for it in items:
        pred, _, _ = read_label_map(out / f"{Path(it['sar']).stem}_lulc.tif")
        with rasterio.open(it["label"]) as f: lab = f.read(1)
        cm.update(np.where(pred < k, pred, 0).astype(np.int64), lab.astype(np.int64), valid=pred < k)
    m = cm.compute()
    return dict(miou=round(float(m["miou"]), 4), oa=round(float(m["oa"]), 4), models=s.get("models"),
                scenes=len(items))

def default_command(out: Path, clean: Path, paths: dict, log: Path) -> dict:
    """The toolkit as a user meets it (no --model) beside each shipped land-cover model forced: Flevoland coarse,
    the PALSAR-2 window and SynthALOS-2's clean test splits, with the model that made each map."""
    rec = {}
    for tag, name in (("default", None), ("lulc", "lulc"), ("lulc_scene", "lulc_scene")):
        d = out / tag; (d / "logs").mkdir(parents=True, exist_ok=True)
        fl, p2 = zero_shot(paths, d, [], model=name), score_palsar2(name, d, log)
        rec[tag] = dict(flevoland=dict(miou=fl["miou"], iou=fl["iou"], model=Path(fl["model"]).stem,
                                       command=fl["command"]),
                        palsar2=dict(water_iou=p2["water_iou"], models={p2["model"]: 1}),
                        synth_test={k: synth_split_score(clean / k, d / f"synth_{k}", ["--model", name] if name else [],
                                                         log) for k in ("data", "jp_data")})
    return rec

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/synth_transfer"))
    ap.add_argument("--arms", nargs="+", default=["shipped"] + [k for k in ARMS if k != "none"],
                    choices=list(ARMS) + list(SHIPPED), help="default: the ladder, with the shipped model as its first rung")
    ap.add_argument("--epochs", type=int, default=15, help="training epochs of 512 chips (the shipped model's: 15)")
    ap.add_argument("--seed", type=int, default=0, help="training seed (the data stay the same); 0 is the shipped one")
    ap.add_argument("--json", type=Path, default=Path(__file__).parent / "results/synth_transfer.json")
    ap.add_argument("--rescore", action="store_true", help="only add --norm scene scores to records without them")
    ap.add_argument("--default-command", action="store_true",
                    help="only score `sar-lulc predict` with no --model (and each shipped model forced)")
    a = ap.parse_args(argv)
    root = shared_dir()
    if root is None or real_tile_paths() is None: sys.exit("no shared data folder (set SAR_LULC_SHARED)")
    tiles = sorted(str(p) for p in (root / "data/jaxa_hrlulc").glob("*/LC_*.tif"))
    paths = scene_paths(root)
    a.out.mkdir(parents=True, exist_ok=True); log = a.out / "log.txt"
    clean = a.out / "none"; make_data(clean, [], tiles, log)           # the clean test splits every arm is scored on
    load = lambda: json.loads(a.json.read_text()) if a.json.exists() else dict(runs={})
    def save(key, rec):                                 # merge into the file as it is now (runs may overlap)
        cur = load(); cur["runs"][key] = rec; a.json.write_text(json.dumps(cur, indent=1))
    res = load()
    if a.default_command:
        key = "default_command_" + "_".join(checksum(p) for p in SHIPPED.values())     # the two models it saw
        t0 = time.time()
        rec = dict(default_command(a.out / key, clean, paths, log), seconds=round(time.time() - t0, 1),
                   models={k: str(v) for k, v in SHIPPED.items()}, machine=machine("cpu"))
        save(key, rec)
        for tag, r in rec.items():
            if isinstance(r, dict) and "flevoland" in r:
                print(f"{tag}: Flevoland {r['flevoland']['miou']:.3f} ({r['flevoland']['model']}), PALSAR-2 water "
                      f"{r['palsar2']['water_iou']:.3f} {r['palsar2']['models']}, synth "
                      + ", ".join(f"{k} {v['miou']:.3f} {v['models']}" for k, v in r["synth_test"].items()), flush=True)
        return 0
    if a.rescore:
        for key, rec in res["runs"].items():
            if "flevoland_norm_scene" in rec: continue
            if rec["arm"] in SHIPPED and key != shipped_key(rec["arm"]): continue     # that file is replaced
            model = Path(rec.get("model") or a.out / rec["arm"] / f"run_e{rec['epochs']}" / "model.safetensors")
            d = a.out / (rec.get("key", "shipped") if rec["arm"] in SHIPPED else f"{rec['arm']}/eval_e{rec['epochs']}")
            rec["flevoland_norm_scene"] = norm_scene(model, d, paths); save(key, rec)
            print(f"{key}: --norm scene {rec['flevoland_norm_scene']['miou']:.3f}", flush=True)
        return 0
    for arm in a.arms:
        tag = f"e{a.epochs}" + (f"_s{a.seed}" if a.seed else "")
        key = shipped_key(arm) if arm in SHIPPED else f"{arm}_{tag}"
        if key in res["runs"]: print(f"{key}: done"); continue
        t0 = time.time()
        if arm in SHIPPED:
            model, rec = SHIPPED[arm], dict(arm=arm, model=str(SHIPPED[arm]), key=key)
        else:
            d = a.out / arm
            data = make_data(a.out / DATA_OF.get(arm, arm), ARMS[arm], tiles, log)
            run_dir = d / f"run_{tag}"
            cmd = sar_lulc_exe() + ["train", "--data", str(data), "--out", str(run_dir), *TRAIN,
                                    "--seed", str(a.seed), *ARM_TRAIN.get(arm, []), "--epochs", str(a.epochs),
                                    "--overwrite", "--no-progress", "--json"]
            if not (run_dir / "model.safetensors").exists(): run(cmd, log)
            model = run_dir / "model.safetensors"
            rec = dict(arm=arm, epochs=a.epochs, seed=a.seed, synth_flags=" ".join(ARMS[arm]),
                       train_command=" ".join(["sar-lulc"] + cmd[len(sar_lulc_exe()):]))
        rec.update(evaluate(model, (a.out / arm) / f"eval_{tag}" if arm not in SHIPPED else a.out / key,
                            clean, paths, log), seconds=round(time.time() - t0, 1),
                   machine=machine("cpu", int(os.environ.get("OMP_NUM_THREADS", "0")) or None))
        save(key, rec)
        print(f"{key}: Flevoland {rec['flevoland']['miou']:.3f} {rec['flevoland']['iou']}  PALSAR-2 water "
              f"{rec['palsar2']['water_iou']:.3f}  synth {rec['synth_test']}", flush=True)
    return 0

if __name__ == "__main__":
    sys.exit(main())
