"""Write the CLI regression goldens in this folder: what `sar-lulc` prints and writes for the shipped sample scene
with the shipped models, and the flags of every command. Rerun only when a change of behaviour is intended:
`python tests/golden/make_golden.py` (tests/test_regression.py says what is compared, and with which tolerance)."""
import json, subprocess, sys, tempfile
from pathlib import Path

import numpy as np
import rasterio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))
from conftest import SAMPLE_SCENE, SAMPLES, sar_lulc  # noqa: E402

COMMANDS = ("synth", "chips", "pretrain", "train", "evaluate", "export", "predict", "app")
VOLATILE = ("timings", "mpx_per_s", "paths", "src", "device", "seconds", "out_dir", "manifest", "outputs", "run", "model",
            "report", "reports", "files")

def stable(summary: dict) -> dict:
    "A summary without what changes from run to run (times, paths, the device)."
    return {k: v for k, v in summary.items() if k not in VOLATILE}

def flags(cmd: str) -> list[str]:
    "The option strings of `sar-lulc CMD` (from --help)."
    import re
    out = sar_lulc(cmd, "--help", env={"COLUMNS": "200"}).stdout
    return sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out)))

def run_json(*args) -> dict:
    r = sar_lulc("--json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])

def generate(d: Path) -> dict:
    "Everything the goldens hold, computed now (class maps as arrays)."
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(4) as ex: help_flags = dict(zip(COMMANDS, ex.map(flags, COMMANDS)))
    out, maps = {"predict": {}, "flags": help_flags}, {}
    for task in ("lulc", "water"):
        s = run_json("predict", SAMPLE_SCENE, "--task", task, "--out", d / f"{task}.tif", "--no-progress")
        with rasterio.open(s["paths"]["class"]) as ds: maps[task] = ds.read(1)
        out["predict"][task] = stable(s)
    out["synth"] = stable(run_json("synth", d / "synth", "--n-train", 2, "--n-val", 1, "--n-test", 1, "--size", 96,
                                   "--seed", 3))
    ev = run_json("evaluate", "--model", SAMPLES / "models" / "lulc_resnet18.safetensors", "--data", SAMPLES / "synth",
                  "--split", "test", "--out", d / "eval", "--no-progress")
    out["evaluate"] = stable(ev)
    return out, maps

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as t:
        out, maps = generate(Path(t))
    (HERE / "cli.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    np.savez_compressed(HERE / "class_maps.npz", **maps)
    print("wrote", HERE / "cli.json", HERE / "class_maps.npz")
