#!/usr/bin/env python
"""The SynthALOS-2 study: the ablation ladder of the three refinements, and SAR-W-MixMAE pretraining against
none, over seeds, through the `sar-lulc` commands; results to OUT/study.json and a Markdown report.
The results and what they say are in the `study` chapter (nbs/25_study.ipynb).

    python bench/synth_study.py --out runs/study [--seeds 0 1 2] [--device cuda --bf16 --jobs 4]
    python bench/synth_study.py --out runs/study_jp --data data/jp --no-water --set epochs=4   # SynthALOS-2/JP

Interrupted? Run the same command again: finished runs (RUN/study_summary.json) are read back, not rerun.
"""
from __future__ import annotations
import argparse, concurrent.futures as cf, json, math, os, subprocess, sys, time
from pathlib import Path

LADDER = [  # name, flags: each step adds one refinement (all pretrained)
    ("baseline",      dict(hr_inject="none",  head="simple",      alpha=0.0)),
    ("+hr_inject",    dict(hr_inject="s4+s2", head="simple",      alpha=0.0)),
    ("+progressive",  dict(hr_inject="s4+s2", head="progressive", alpha=0.0)),
    ("+alpha (full)", dict(hr_inject="s4+s2", head="progressive", alpha=0.5)),
]
FULL = LADDER[-1][1]

def sar_lulc_exe() -> list[str]:
    exe = Path(sys.executable).with_name("sar-lulc")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "sar_lulc.cli"]

def run_cli(args: list[str], log: Path) -> dict:
    "Run `sar-lulc ARGS --json`, keep its output in `log`, return the final JSON summary."
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    t = time.time()
    p = subprocess.run(sar_lulc_exe() + args + ["--json", "--no-progress"] if args[0] in ("pretrain", "train")
                       else sar_lulc_exe() + args + ["--json"], capture_output=True, text=True, env=env)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ sar-lulc {' '.join(args)}\n{p.stdout}\n{p.stderr}")
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode or not lines:
        raise RuntimeError(f"sar-lulc {' '.join(args)} failed ({p.returncode}); see {log}:\n{p.stderr[-2000:]}")
    out = json.loads(lines[-1]); out["wall_s"] = time.time() - t
    return out

def summarise(vals):
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals: return (float("nan"), float("nan"), 0)
    m = sum(vals) / len(vals)
    s = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else float("nan")
    return (m, s, len(vals))

def metrics_of(r: dict) -> dict:
    t, iou = r.get("test", {}), r.get("test_iou", {})
    d = dict(miou=t.get("miou"), boundary_f1=t.get("boundary_f1"), thin_iou=t.get("thin_iou"),
             rare_iou=t.get("rare_iou"), oa=t.get("oa"), kappa=t.get("kappa"))
    for k, v in iou.items(): d[f"iou/{k}"] = v
    if "water_iou" in t: d["water_iou"] = t["water_iou"]
    elif "Water" in iou: d["water_iou"] = iou["Water"]
    elif "water" in iou: d["water_iou"] = iou["water"]
    return d

def fmt(m, s, pct=True):
    if math.isnan(m): return "n/a"
    k = 100 if pct else 1
    return f"{m*k:.1f} ± {s*k:.1f}" if not math.isnan(s) else f"{m*k:.1f}"

def compare(a: list, b: list) -> tuple[float, float, bool]:
    "Mean difference b - a, its standard error from the seed spread, and whether |diff| > 2 SE."
    ma, sa, na = summarise(a); mb, sb, nb = summarise(b)
    if na < 2 or nb < 2: return (mb - ma, float("nan"), False)
    se = math.sqrt(sa ** 2 / na + sb ** 2 / nb)
    return (mb - ma, se, abs(mb - ma) > 2 * se)

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--data", type=Path, help="SynthALOS-2 folder (default OUT/data, generated)")
    ap.add_argument("--n-train", type=int, default=16); ap.add_argument("--n-val", type=int, default=4)
    ap.add_argument("--n-test", type=int, default=4); ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--recipe", default="demo")
    ap.add_argument("--device", default="auto"); ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--jobs", type=int, default=1, help="training runs at once (GPU: several fit on one card)")
    ap.add_argument("--set", action="append", default=[], help="extra TrainConfig KEY=VALUE for every run")
    ap.add_argument("--no-water", action="store_true")
    ap.add_argument("--no-pretrain", action="store_true", help="the ladder without SAR-W-MixMAE pretraining (CPU budgets)")
    a = ap.parse_args(argv)
    out = a.out; out.mkdir(parents=True, exist_ok=True)
    data = a.data or out / "data"
    common = ["--recipe", a.recipe, "--device", a.device] + (["--bf16"] if a.bf16 else [])
    for s in a.set: common += ["--set", s]
    t0 = time.time()
    if not (data / "manifest.json").exists():
        print("generating", data, flush=True)
        run_cli(["synth", str(data), "--n-train", str(a.n_train), "--n-val", str(a.n_val),
                 "--n-test", str(a.n_test), "--size", str(a.size), "--overwrite"], out / "logs/synth.log")
    pre = out / "pretrain"
    if not a.no_pretrain and not (pre / "encoder.safetensors").exists():
        print("pretraining SAR-W-MixMAE", flush=True)
        r = run_cli(["pretrain", "--data", str(data), "--out", str(pre), "--overwrite"] + common, out / "logs/pretrain.log")
        (out / "pretrain.json").write_text(json.dumps(r, indent=1))
    jobs = []
    for seed in a.seeds:
        for name, fl in LADDER:
            jobs.append(("lulc", name, seed, fl, not a.no_pretrain))
        if not a.no_pretrain: jobs.append(("lulc", "full, no pretraining", seed, FULL, False))
        if not a.no_water:
            jobs.append(("water", "water, pretrained", seed, FULL, True))
            jobs.append(("water", "water, no pretraining", seed, FULL, False))
    def one(job):
        task, name, seed, fl, use_pre = job
        slug = f"{task}_{name}".replace(" ", "_").replace(",", "").replace("+", "p").replace("(", "").replace(")", "")
        run = out / "runs" / f"{slug}_s{seed}"
        args = ["train", "--task", task, "--data", str(data), "--out", str(run), "--overwrite", "--seed", str(seed),
                "--hr-inject", fl["hr_inject"], "--head", fl["head"], "--alpha", str(fl["alpha"])] + common
        if use_pre: args += ["--pretrained", str(pre)]
        done = run / "study_summary.json"                 # resumable: a finished run is read back, not rerun
        if done.exists(): r = json.loads(done.read_text())
        else:
            r = run_cli(args, out / "logs" / f"{slug}_s{seed}.log")
            done.write_text(json.dumps(r))
        print(f"done {task:5s} {name:22s} seed {seed}: mIoU {r.get('test', {}).get('miou', float('nan')):.3f} "
              f"({r['wall_s']:.0f} s)", flush=True)
        return dict(task=task, config=name, seed=seed, flags=fl, pretrained=use_pre, run=str(run), metrics=metrics_of(r))
    results, failures = [], []
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for fut in cf.as_completed([ex.submit(one, j) for j in jobs]):
            try: results.append(fut.result())
            except Exception as e: failures.append(str(e)); print("FAILED:", str(e)[:500], flush=True)
            (out / "partial.json").write_text(json.dumps(dict(results=results, failures=failures), indent=1))
    study = dict(recipe=a.recipe, seeds=a.seeds, device=a.device, bf16=a.bf16, data=str(data),
                 n_train=a.n_train, n_val=a.n_val, n_test=a.n_test, size=a.size, extra=a.set,
                 wall_s=time.time() - t0, results=results, failures=failures)
    (out / "study.json").write_text(json.dumps(study, indent=1))
    md = report(study); (out / "study.md").write_text(md); print(md)
    return 1 if failures else 0

def report(study: dict) -> str:
    res = study["results"]
    def vals(task, config, key): return [r["metrics"].get(key) for r in res if r["task"] == task and r["config"] == config]
    lines = [f"SynthALOS-2 study: recipe `{study['recipe']}`, seeds {study['seeds']}, "
             f"{study['n_train']}/{study['n_val']}/{study['n_test']} scenes of {study['size']}², test split. "
             f"Mean ± std over seeds, in %. (Synthetic data: not comparable with the paper's numbers.)", ""]
    cols = ["miou", "water_iou", "boundary_f1", "thin_iou", "rare_iou"]
    lines += ["| LULC config | mIoU (macro) | water IoU | boundary F1 (2 px) | thin-structure IoU | rare-class IoU |",
              "|---|---|---|---|---|---|"]
    lulc_cfgs = [n for n, _ in LADDER] + ["full, no pretraining"]
    for c in lulc_cfgs:
        lines.append(f"| {c} | " + " | ".join(fmt(*summarise(vals("lulc", c, k))[:2]) for k in cols) + " |")
    names = sorted({k[4:] for r in res if r["task"] == "lulc" for k in r["metrics"] if k.startswith("iou/")},
                   key=lambda n: ["Water", "Built-up", "Paddy", "Cropland", "Grassland", "Forest", "Bare", "SolarPanel", "Greenhouse"].index(n)
                   if n in ["Water", "Built-up", "Paddy", "Cropland", "Grassland", "Forest", "Bare", "SolarPanel", "Greenhouse"] else 99)
    if names:
        lines += ["", "Per-class IoU:", "", "| LULC config | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for c in lulc_cfgs:
            lines.append(f"| {c} | " + " | ".join(fmt(*summarise(vals("lulc", c, f"iou/{n}"))[:2]) for n in names) + " |")
    wcfg = ["water, pretrained", "water, no pretraining"]
    if any(r["task"] == "water" for r in res):
        lines += ["", "| water model | water IoU | boundary F1 | OA |", "|---|---|---|---|"]
        for c in wcfg:
            lines.append(f"| {c} | " + " | ".join(fmt(*summarise(vals("water", c, k))[:2]) for k in ("water_iou", "boundary_f1", "oa")) + " |")
    lines += ["", "Differences (later minus earlier; 'yes' when |diff| > 2 standard errors of the seed spread):", "",
              "| comparison | metric | diff (pts) | 2 SE (pts) | exceeds seed noise |", "|---|---|---|---|---|"]
    pairs = [(LADDER[i][0], LADDER[i + 1][0], "lulc") for i in range(len(LADDER) - 1)]
    pairs += [("baseline", "+alpha (full)", "lulc"), ("full, no pretraining", "+alpha (full)", "lulc")]
    if any(r["task"] == "water" for r in res): pairs += [("water, no pretraining", "water, pretrained", "water")]
    for a_, b_, task in pairs:
        for k in (["miou", "boundary_f1", "thin_iou", "rare_iou"] if task == "lulc" else ["water_iou"]):
            d, se, sig = compare(vals(task, a_, k), vals(task, b_, k))
            lines.append(f"| {a_} → {b_} | {k} | {d*100:+.1f} | {2*se*100:.1f} | {'yes' if sig else 'no'} |")
    if study.get("failures"): lines += ["", f"{len(study['failures'])} run(s) failed; see the logs."]
    lines += ["", f"Wall time {study['wall_s']/60:.1f} min on device `{study['device']}`" + (" with bf16 autocast." if study['bf16'] else ".")]
    return "\n".join(lines) + "\n"

if __name__ == "__main__":
    sys.exit(main())
