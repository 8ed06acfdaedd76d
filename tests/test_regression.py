"""Behaviour frozen before the codebase was reorganised: what `sar-lulc` prints and writes for the shipped sample
scene with the shipped models, a small synthetic benchmark, an evaluation, and every command's flags must come back
(goldens in tests/golden/, written by tests/golden/make_golden.py). Model outputs are floating point, and kernels
differ between CPUs, so class maps must agree on >= 99.5 % of the pixels, pixel counts and areas within 0.5 % of
the scene and metrics within 0.01; everything else, exactly. A real change of behaviour breaks these by far more."""
import json, math
from pathlib import Path

import numpy as np
import pytest

import sys; sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from make_golden import generate  # noqa: E402

GOLD = Path(__file__).resolve().parent / "golden"

@pytest.fixture(scope="module")
def now(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("regression"))

def close(got, want, atol, where=""):
    "Recursive comparison: numbers within `atol` (ints exactly when `atol` is 0), the rest equal."
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), (where, sorted(set(got) ^ set(want)))
        for k in want: close(got[k], want[k], atol, f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)): close(g, w, atol, f"{where}[{i}]")
    elif isinstance(want, (int, float)) and not isinstance(want, bool):
        assert isinstance(got, (int, float)) and (math.isnan(want) and math.isnan(got) or abs(got - want) <= atol), \
            (where, got, want, atol)
    else: assert got == want, (where, got, want)

def test_cli_flags(now):
    assert now[0]["flags"] == json.loads((GOLD / "cli.json").read_text())["flags"]

@pytest.mark.parametrize("task", ["lulc", "water"])
def test_predict_sample_scene(now, task):
    want = json.loads((GOLD / "cli.json").read_text())["predict"][task]
    got = now[0]["predict"][task]
    maps = np.load(GOLD / "class_maps.npz")
    agree = (now[1][task] == maps[task]).mean()
    assert agree >= 0.995, f"{task}: the class map agrees with the golden on only {agree:.2%} of the pixels"
    n = want["width"] * want["height"]
    for k in ("pixel_counts", "valid_pixels"): close(got[k], want[k], 0.005 * n, k)
    for k in ("area_km2", "total_area_km2"): close(got[k], want[k], 0.005 * want["total_area_km2"], k)
    close(got["area_pct"], want["area_pct"], 0.5, "area_pct")
    close(got["input"], want["input"], 0.05, "input")            # scene statistics: floats
    rest = lambda d: {k: v for k, v in d.items() if k not in ("pixel_counts", "valid_pixels", "area_km2", "total_area_km2",
                                                          "area_pct", "input")}
    assert rest(got) == rest(want)

def test_synth_summary(now):
    close(now[0]["synth"], json.loads((GOLD / "cli.json").read_text())["synth"], 0, "synth")   # labels are exact

def test_evaluate_summary(now):
    want = json.loads((GOLD / "cli.json").read_text())["evaluate"]
    got = now[0]["evaluate"]
    ints = {k: want[k] for k in ("chips", "n_pixels", "num_classes", "thin_pixels", "tolerance")}
    assert {k: got[k] for k in ints} == ints
    close(got, want, 0.01, "evaluate")
