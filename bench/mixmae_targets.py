"""Does SAR-W-MixMAE learn anything beyond a blur? (issue 26) Pretrains the `tiny` encoder with each reconstruction
target option and keeps, per logged step, the loss beside the loss of the two trivial predictors that every
pretraining run now logs (`trivial_mean`: each patch's mean; `trivial_box`: a best-scaled box-filtered copy of the
visible context). A run whose loss does not go below the better trivial predictor has learnt nothing a blur would not
give. Results in bench/results/mixmae_targets.json; the mixmae chapter plots them.

    python bench/mixmae_targets.py --out runs/mixmae_targets            # SynthALOS-2, 6 scenes of 256² (1-4 looks)
    python bench/mixmae_targets.py --out runs/mixmae_targets --epochs 20
    python bench/mixmae_targets.py --out runs/mixmae_targets --only hog     # some targets; the others' records stay

Interrupted? Run it again: finished runs (their encoder.safetensors exists) are read back, not repeated."""
import argparse, csv, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {"paper: pixels, per-patch norm": ("pixels", True), "multilooked 7x7, per-patch norm": ("multilook", True),
           "pixels, chip dB scale": ("pixels", False), "multilooked 7x7, chip dB scale": ("multilook", False),
           "HOG 9 bins, 8 px cells (FG-MAE), per-patch norm": ("hog", True),
           "HOG 9 bins, 8 px cells, unnormalised": ("hog", False)}


def sar_lulc(*args, log=None):
    exe = Path(sys.executable).parent / "sar-lulc"
    r = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if log is not None: Path(log).write_text(r.stdout + r.stderr)
    if r.returncode: raise SystemExit(f"sar-lulc {' '.join(map(str, args))} failed:\n{r.stderr[-2000:]}")
    return r


def cpu() -> str:
    from sar_lulc.predictor import device_name
    return device_name("cpu")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("runs/mixmae_targets"))
    ap.add_argument("--epochs", type=int, default=20, help="epochs of 30 steps (batch 8, 128 px chips)")
    ap.add_argument("--json", type=Path, default=ROOT / "bench/results/mixmae_targets.json")
    ap.add_argument("--only", nargs="+", choices=sorted({t for t, _ in TARGETS.values()}),
                    help="run only these targets, keeping the file's records of the others")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    data = a.out / "data"
    if not (data / "manifest.json").exists():
        sar_lulc("synth", data, "--n-train", 6, "--n-val", 0, "--n-test", 0, "--size", 256, "--looks", "1:4", "--overwrite")
    res = {"machine": cpu(), "epochs": a.epochs, "steps_per_epoch": 30, "batch_size": 8, "chip": 128, "preset": "tiny",
           "data": "SynthALOS-2, 6 scenes of 256 px, 1-4 looks", "runs": {}}
    if a.only and a.json.exists(): res["runs"] = json.loads(a.json.read_text())["runs"]
    for name, (target, norm) in TARGETS.items():
        if a.only and target not in a.only: continue
        run = a.out / f"{target}_{'patch' if norm else 'chip'}_e{a.epochs}"
        t0 = time.time()
        if not (run / "encoder.safetensors").exists():
            sar_lulc("pretrain", "--data", data, "--preset", "tiny", "--chip", 128, "--batch-size", 8, "--epochs", a.epochs,
                     "--chips-per-epoch", 240, "--set", f"target={target}", "--set", f"patch_norm={str(norm).lower()}",
                     "--set", "target_looks=7", "--out", run, "--overwrite", "--no-progress", log=run.with_suffix(".log"))
        rows = list(csv.DictReader(open(run / "steps.csv")))
        cols = ("step", "loss", "trivial_mean", "trivial_box", "loss_vs_trivial")
        res["runs"][name] = {"target": target, "patch_norm": norm, "seconds": round(time.time() - t0, 1),
                             "steps": {c: [float(r[c]) for r in rows] for c in cols}}
        last = rows[-1]
        print(f"{name}: step {last['step']} loss {float(last['loss']):.3f}, best trivial "
              f"{min(float(last['trivial_mean']), float(last['trivial_box'])):.3f} (x{float(last['loss_vs_trivial']):.2f})",
              flush=True)
        a.json.parent.mkdir(parents=True, exist_ok=True); a.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
