#!/usr/bin/env python
"""Does SAR-W-MixMAE pay? The label-efficiency study (issue 15; chapter `study`).

Pretrain once per arm on an unlabelled corpus (procedural SynthALOS-2 and SynthALOS-2/JP scenes without their
labels, with varied looks, plus real PALSAR-2 HH windows), then fine-tune the full model with 1, 2, 4 and 16
labelled SynthALOS-2 scenes, over seeds. Arms: scratch; MixMAE (s = 0); SAR-W-MixMAE as in the paper (s = 1,
per-image min-max of linear power); SAR-W robust (s = 1, dB percentiles). Every run goes through the
`sar-lulc` commands; one record per run in OUT/label_efficiency.json, a Markdown report in OUT/label_efficiency.md.

    python bench/label_efficiency.py --out runs/label_eff --jobs 2              # CPU protocol (2 cores, ~50 min)
    python bench/label_efficiency.py --out runs/label_eff_long --protocol cpu-long --arms scratch "SAR-W-MixMAE (s=1, paper)" \
        --reuse runs/label_eff --jobs 2                                           # 4x the fine-tuning steps
    python bench/label_efficiency.py --out runs/label_eff --protocol gpu --device cuda --bf16 --jobs 4

Interrupted? Run the same command again: finished pretraining and fine-tuning runs are read back, not rerun.
The labelled subsets are drawn per seed (seed s takes a random k of the 16 training scenes), so the seed spread
includes which scenes were labelled. All arms of one seed and budget see the same scenes.
"""
from __future__ import annotations
import argparse, concurrent.futures as cf, json, math, os, sys, time
from pathlib import Path
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from synth_study import run_cli, summarise, metrics_of, fmt   # one home for running and summarising

from sar_lulc.core import real_tile_paths, shared_dir
from sar_lulc.data import DATASET_FORMAT
from sar_lulc.io import DEFAULT_CF
ARMS = {  # name: pretraining flags (None = no pretraining)
    "scratch": None,
    "MixMAE (s=0)": ["--sar-w-s", "0"],
    "SAR-W-MixMAE (s=1, paper)": ["--sar-w-s", "1", "--set", "sar_w_norm=minmax"],
    "SAR-W robust (s=1, dB pct)": ["--sar-w-s", "1", "--set", "sar_w_norm=robust"],
}
PROTOCOLS = {  # what each budget means; fine-tuning steps are the same at every label budget
    "cpu": dict(budgets=[1, 2, 4, 16], seeds=[0, 1, 2], size=512, corpus_proc=32, jp_per_tile=4, real_windows=12,
                pretrain=["--chip", "128", "--batch-size", "32", "--epochs", "40", "--chips-per-epoch", "512",
                          "--set", "warmup_epochs=1"],
                finetune=["--chip", "128", "--batch-size", "16", "--epochs", "6", "--chips-per-epoch", "256",
                          "--set", "warmup_epochs=1", "--set", "val_chip=256"],
                water_budgets=[1]),
    "cpu-long": dict(budgets=[1, 16], seeds=[0, 1, 2], size=512, corpus_proc=32, jp_per_tile=4, real_windows=12,
                     pretrain=["--chip", "128", "--batch-size", "32", "--epochs", "40", "--chips-per-epoch", "512",
                               "--set", "warmup_epochs=1"],
                     finetune=["--chip", "128", "--batch-size", "16", "--epochs", "24", "--chips-per-epoch", "256",
                               "--set", "warmup_epochs=2", "--set", "val_chip=256"],
                     water_budgets=[]),   # the cpu protocol's data and pretraining, 4x the fine-tuning steps
    "gpu": dict(budgets=[1, 2, 4, 16], seeds=[0, 1, 2, 3, 4], size=512, corpus_proc=256, jp_per_tile=32, real_windows=32,
                pretrain=["--chip", "224", "--batch-size", "128", "--epochs", "200", "--chips-per-epoch", "4096",
                          "--set", "warmup_epochs=10"],
                finetune=["--chip", "256", "--batch-size", "16", "--epochs", "30", "--chips-per-epoch", "1024",
                          "--set", "warmup_epochs=2"],
                water_budgets=[1, 2, 4, 16]),
    "smoke": dict(budgets=[1, 2], seeds=[0], size=256, corpus_proc=4, jp_per_tile=1, real_windows=2,
                  pretrain=["--chip", "64", "--batch-size", "4", "--epochs", "1", "--chips-per-epoch", "8",
                            "--set", "warmup_epochs=0.5"],
                  finetune=["--chip", "64", "--batch-size", "4", "--epochs", "1", "--chips-per-epoch", "8",
                            "--set", "warmup_epochs=0.5"],
                  water_budgets=[1]),
}

def slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s).strip("_").lower()

def real_windows(out: Path, n: int, size: int) -> list[Path]:
    "The real PALSAR-2 HH tile as dB windows of `size` px: the `n` with most land (the tile is 99.7 % ocean)."
    from sar_lulc.io import read_sar, write_raster
    import rasterio
    tp = real_tile_paths()
    if tp is None:
        print("no real PALSAR-2 tile (set SAR_LULC_SHARED): the corpus is synthetic only", flush=True)
        return []
    hh, mask = tp["hh"], tp["mask"]
    with rasterio.open(mask) as m: mk = m.read(1)
    H, W = mk.shape
    wins = [(r, c) for r in range(0, H - size + 1, size) for c in range(0, W - size + 1, size)]
    land = [float((mk[r:r + size, c:c + size] == 255).mean()) for r, c in wins]
    rng = np.random.default_rng(0)                       # most-land windows first, then random ocean ones
    order = sorted(range(len(wins)), key=lambda i: (-land[i] if land[i] > 0.01 else 1.0, rng.random()))
    paths = []
    for i in order[:n]:
        r, c = wins[i]
        p = out / f"real_N23W161_HH_r{r}_c{c}_sar.tif"
        if not p.exists():
            db, prof = read_sar(hh, window=((r, r + size), (c, c + size)), units="dn")
            write_raster(p, db, crs=prof["crs"], transform=prof["transform"], nodata=float("nan"), overwrite=True)
        paths.append(p)
    return paths

def write_manifest(root: Path, train: list[Path], val: list[Path], test: list[Path], scheme, norm=None, generator=None):
    "A dataset manifest over files elsewhere (paths relative to `root`); items without 'label' are unlabelled."
    root.mkdir(parents=True, exist_ok=True)
    def items(ps): return [{k: os.path.relpath(v, root) for k, v in p.items()} if isinstance(p, dict)
                           else {"sar": os.path.relpath(p, root)} for p in ps]
    man = {"format": DATASET_FORMAT, "scheme": scheme, "units": "db", "cf": DEFAULT_CF,
           "splits": {"train": items(train), "val": items(val), "test": items(test)}}
    if norm: man["norm"] = norm
    if generator: man["generator"] = generator
    (root / "manifest.json").write_text(json.dumps(man, indent=1))
    return root

def prepare_data(out: Path, p: dict, log: Path, n_pool: int) -> tuple[Path, list]:
    "Labelled pool (n_pool train / 2 val / 4 test scenes) and the unlabelled corpus; returns (corpus, pool items)."
    data = out / "data"
    lab = data / "labelled"
    if not (lab / "manifest.json").exists():
        run_cli(["synth", str(lab), "--n-train", str(n_pool), "--n-val", "2", "--n-test", "4",
                 "--size", str(p["size"]), "--seed", "0", "--overwrite"], log / "synth_labelled.log")
    proc = data / "corpus_proc"
    if not (proc / "manifest.json").exists():     # other seeds than the labelled pool, speckle of 2-8 looks
        run_cli(["synth", str(proc), "--n-train", str(p["corpus_proc"]), "--n-val", "2", "--n-test", "0",
                 "--size", str(p["size"]), "--seed", "50000", "--looks", "2:8", "--overwrite"], log / "synth_corpus.log")
    jp = data / "corpus_jp"
    tiles = sorted((shared_dir() / "data/jaxa_hrlulc").glob("*/LC_*.tif")) if shared_dir() else []
    if tiles and not (jp / "manifest.json").exists():
        run_cli(["synth", str(jp), "--layouts", *map(str, tiles), "--per-tile", str(p["jp_per_tile"]),
                 "--size", str(p["size"]), "--looks", "2:8", "--split", "1,0,0", "--overwrite"], log / "synth_jp.log")
    real = real_windows(data / "corpus_real", p["real_windows"], p["size"])
    pm, jm = (json.loads((d / "manifest.json").read_text()) if (d / "manifest.json").exists() else {"splits": {}} for d in (proc, jp))
    train = [proc / it["sar"] for it in pm["splits"]["train"]] + [jp / it["sar"] for it in jm["splits"].get("train", [])] + real
    val = [proc / it["sar"] for it in pm["splits"]["val"]]
    corpus = write_manifest(data / "corpus", train, val, [], scheme="jp9",
                            generator=dict(procedural=len(pm["splits"]["train"]), jp=len(jm["splits"].get("train", [])),
                                           real=len(real), looks="2:8"))
    lm = json.loads((lab / "manifest.json").read_text())
    pool = {s: [{k: lab / v for k, v in it.items() if k in ("sar", "label")} for it in lm["splits"][s]] for s in ("train", "val", "test")}
    return corpus, pool

def subset(out: Path, pool: dict, k: int, seed: int) -> Path:
    "A dataset of k labelled training scenes (a random k of the pool, drawn by seed), the pool's val and test."
    root = out / "data" / f"labels_k{k}_s{seed}"
    if k > len(pool["train"]): raise SystemExit(f"budget {k} > the {len(pool['train'])} labelled scenes of the pool")
    if not (root / "manifest.json").exists():
        idx = np.random.default_rng([seed, k]).permutation(len(pool["train"]))[:k]
        write_manifest(root, [pool["train"][i] for i in sorted(idx)], pool["val"], pool["test"], scheme="jp9",
                       generator=dict(subset_of=str(out / "data/labelled"), k=k, seed=seed, scenes=sorted(map(int, idx))))
    return root

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--protocol", default="cpu", choices=sorted(PROTOCOLS))
    ap.add_argument("--seeds", type=int, nargs="+", help="default: the protocol's")
    ap.add_argument("--budgets", type=int, nargs="+", help="labelled scenes (default: the protocol's)")
    ap.add_argument("--arms", nargs="+", choices=list(ARMS), help="default: all")
    ap.add_argument("--no-water", action="store_true", help="skip the water-task runs")
    ap.add_argument("--reuse", type=Path, help="take the data and pretrained encoders of this earlier study folder "
                    "(same corpus and pretraining settings)")
    ap.add_argument("--device", default="auto"); ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once (each with OMP_NUM_THREADS threads)")
    a = ap.parse_args(argv)
    p = dict(PROTOCOLS[a.protocol])
    seeds, budgets, arms = a.seeds or p["seeds"], a.budgets or p["budgets"], a.arms or list(ARMS)
    out = a.out; out.mkdir(parents=True, exist_ok=True); log = out / "logs"
    common = ["--device", a.device] + (["--bf16"] if a.bf16 else [])
    t0 = time.time()
    fp = dict(protocol=a.protocol, config={k: v for k, v in p.items() if k not in ("budgets", "seeds", "water_budgets")},
              device=a.device, bf16=a.bf16)
    cfg_file = out / "config.json"                       # resuming into another protocol's folder would mix runs
    if cfg_file.exists() and json.loads(cfg_file.read_text()) != json.loads(json.dumps(fp)):
        raise SystemExit(f"{out} holds a study with another configuration ({cfg_file}); use another --out.")
    cfg_file.write_text(json.dumps(fp, indent=1))
    if a.reuse:
        for sub in ("data", "pretrain"):
            if not (out / sub).exists(): (out / sub).symlink_to((a.reuse / sub).resolve(), target_is_directory=True)
    corpus, pool = prepare_data(out, p, log, n_pool=max(max(budgets), max(p["budgets"])))
    n_corpus = len(json.loads((corpus / "manifest.json").read_text())["splits"]["train"])
    print(f"corpus: {n_corpus} unlabelled scenes ({n_corpus / min(budgets):.0f}x the smallest labelled set)", flush=True)

    def pretrained(arm) -> Path | None:
        if ARMS[arm] is None: return None
        run = out / "pretrain" / slug(arm)
        if not (run / "study_summary.json").exists():
            print("pretraining", arm, flush=True)
            go = ["--resume", str(run / "last.pt")] if (run / "last.pt").exists() else ["--overwrite"]   # resumes exactly
            r = run_cli(["pretrain", "--data", str(corpus), "--out", str(run), "--seed", "0"] + go
                        + ARMS[arm] + p["pretrain"] + common, log / f"pretrain_{slug(arm)}.log")
            (run / "study_summary.json").write_text(json.dumps(r))
        return run
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex: pre = dict(zip(arms, ex.map(pretrained, arms)))

    jobs = [("lulc", arm, k, s) for s in seeds for k in budgets for arm in arms]
    if not a.no_water: jobs += [("water", arm, k, s) for s in seeds for k in p["water_budgets"] if k in budgets for arm in arms]
    subsets = {(k, s): subset(out, pool, k, s) for _, _, k, s in jobs}   # written here, before runs read them
    def one(job):
        task, arm, k, seed = job
        name = f"{task}_{slug(arm)}_k{k}_s{seed}"
        run = out / "runs" / name
        done = run / "study_summary.json"
        args = ["train", "--task", task, "--data", str(subsets[k, seed]), "--out", str(run), "--overwrite",
                "--seed", str(seed)] + p["finetune"] + common
        args += ["--pretrained", str(pre[arm])] if pre[arm] else ["--set", "layer_decay=1.0"]   # no decay without pretraining
        if done.exists(): r = json.loads(done.read_text())       # resumable: a finished run is read back
        else:
            r = run_cli(args, log / f"{name}.log")
            done.write_text(json.dumps(r))
        m = metrics_of(r)
        print(f"done {task:5s} {arm:28s} k={k:2d} seed {seed}: mIoU {m.get('miou') or float('nan'):.3f} "
              f"water {m.get('water_iou') or float('nan'):.3f} ({r['wall_s']:.0f} s)", flush=True)
        scenes = json.loads((subsets[k, seed] / "manifest.json").read_text())["generator"]["scenes"]
        return dict(task=task, arm=arm, labelled_scenes=k, scenes=scenes, seed=seed, run=str(run), train_s=r.get("time_s"),
                    steps=r.get("steps"), command="sar-lulc " + " ".join(args), metrics=m)
    results, failures = [], []
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for fut in cf.as_completed([ex.submit(one, j) for j in jobs]):
            try: results.append(fut.result())
            except Exception as e: failures.append(str(e)); print("FAILED:", str(e)[:500], flush=True)
            (out / "partial.json").write_text(json.dumps(dict(results=results, failures=failures), indent=1, default=str))
    study = dict(protocol=a.protocol, config=p, seeds=seeds, budgets=budgets, arms=arms, device=a.device, bf16=a.bf16,
                 corpus=dict(path=str(corpus), scenes=n_corpus,
                             **json.loads((corpus / "manifest.json").read_text()).get("generator", {})),
                 pretraining={arm: json.loads((pre[arm] / "study_summary.json").read_text()) for arm in arms if pre[arm]},
                 wall_s=time.time() - t0, results=sorted(results, key=lambda r: (r["task"], r["arm"], r["labelled_scenes"], r["seed"])),
                 failures=failures)
    (out / "label_efficiency.json").write_text(json.dumps(study, indent=1, default=str))
    md = report(study); (out / "label_efficiency.md").write_text(md); print(md)
    return 1 if failures else 0

def cell(res, task, arm, k, key):
    return [r["metrics"].get(key) for r in res if r["task"] == task and r["arm"] == arm and r["labelled_scenes"] == k]

def paired(res, task, arm, k, key, base="scratch") -> tuple[float, float, int]:
    """Mean and standard error of the per-seed difference arm - base, over the seeds both have: the arms of one seed
    share the labelled scenes and the fine-tuning seed, so the pairs remove the spread of which scenes were labelled."""
    def by_seed(a): return {r["seed"]: r["metrics"].get(key) for r in res
                            if r["task"] == task and r["arm"] == a and r["labelled_scenes"] == k and r["metrics"].get(key) is not None}
    x, y = by_seed(base), by_seed(arm)
    d = [y[s] - x[s] for s in sorted(set(x) & set(y))]
    if len(d) < 2: return (d[0] if d else float("nan"), float("nan"), len(d))
    m = sum(d) / len(d)
    return m, math.sqrt(sum((v - m) ** 2 for v in d) / (len(d) - 1) / len(d)), len(d)

def report(study: dict) -> str:
    res, arms = study["results"], study["arms"]
    c = study["corpus"]
    lines = [f"Label-efficiency study, protocol `{study['protocol']}`: seeds {study['seeds']}; corpus {c['scenes']} unlabelled "
             f"scenes ({c.get('procedural', '?')} procedural, {c.get('jp', '?')} SynthALOS-2/JP, {c.get('real', '?')} real PALSAR-2 HH "
             f"windows); test split of 4 procedural SynthALOS-2 scenes. Mean ± std over seeds, in %; "
             f"Δ ± SE = arm minus scratch, paired by seed (same labelled scenes and fine-tuning seed), * when |Δ| > 2 SE "
             f"(with 3 seeds a weak test: about p < 0.2). Each arm was pretrained once, so the spread leaves out "
             f"pretraining's own variance.", ""]
    for task, keys in (("lulc", ["miou", "rare_iou", "water_iou"]), ("water", ["water_iou"])):
        if not any(r["task"] == task for r in res): continue
        ks = sorted({r["labelled_scenes"] for r in res if r["task"] == task})
        for key in keys:
            lines += [f"**{task} — {key}**", "", "| arm | " + " | ".join(f"{k} scene{'s' if k > 1 else ''}" for k in ks) + " |",
                      "|---|" + "---|" * len(ks)]
            for arm in arms:
                row = []
                for k in ks:
                    v = cell(res, task, arm, k, key); m, s, n = summarise(v)
                    txt = fmt(m, s)
                    if arm != "scratch" and n:
                        d, se, npair = paired(res, task, arm, k, key)
                        if not math.isnan(d):
                            sig = not math.isnan(se) and abs(d) > 2 * se
                            txt += f" (Δ {d*100:+.1f}" + (f" ± {se*100:.1f}" if not math.isnan(se) else "") + ("*)" if sig else ")")
                    row.append(txt)
                lines.append(f"| {arm} | " + " | ".join(row) + " |")
            lines.append("")
    pt = study.get("pretraining", {})
    if pt:
        lines += ["Pretraining: " + "; ".join(f"{a}: {v.get('steps')} steps, {v.get('time_s', 0)/60:.1f} min" for a, v in pt.items()), ""]
    if study.get("failures"): lines += [f"{len(study['failures'])} run(s) failed; see the logs.", ""]
    ft = sum(r.get("train_s") or 0 for r in res) / 60
    pre = sum(v.get("time_s", 0) for v in pt.values()) / 60
    lines.append(f"Compute, summed over runs (each on one thread unless told otherwise): pretraining {pre:.0f} min, "
                 f"fine-tuning {ft:.0f} min (training loops only), on device `{study['device']}`"
                 + (" with bf16 autocast." if study["bf16"] else "."))
    return "\n".join(lines) + "\n"

if __name__ == "__main__":
    sys.exit(main())
