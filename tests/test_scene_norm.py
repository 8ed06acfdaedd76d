"""`train --scene-norm`: every scene normalised by its own median and spread, in training, evaluation and predict, so
that a calibration offset changes nothing (issue 25)."""
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from sar_lulc.data import ChipDataset
from sar_lulc.io import write_raster

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "sar-lulc"
ENV = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")

def cli(*args):
    p = subprocess.run([str(EXE), "--json", *map(str, args)], capture_output=True, text=True, timeout=600, env=ENV,
                       cwd=ROOT)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])

def shifted(src: Path, dst: Path, db: float) -> Path:
    "A copy of a dB scene `db` dB brighter: another calibration of the same scene."
    with rasterio.open(src) as s: a, crs, tr = s.read(1), s.crs, s.transform
    write_raster(dst, a + np.float32(db), crs=crs, transform=tr, nodata=float("nan"))
    return dst

@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("scene_norm")
    cli("synth", d / "data", "--n-train", 2, "--n-val", 1, "--n-test", 1, "--size", 96, "--farmland", 0.5)
    tr = cli("train", "--task", "lulc", "--data", d / "data", "--recipe", "micro", "--preset", "tiny", "--scene-norm",
             "--steps", 3, "--out", d / "run", "--no-progress")
    return d, tr

def test_chips_do_not_see_a_calibration_offset(run):
    d, _ = run
    man = json.loads((d / "data" / "manifest.json").read_text())
    it = man["splits"]["train"][0]
    sar, lab = d / "data" / it["sar"], d / "data" / it["label"]
    items = [dict(sar=str(sar), label=str(lab)), dict(sar=str(shifted(sar, d / "bright.tif", 12.0)), label=str(lab))]
    ds = ChipDataset(items, chip=48, mode="grid", scene_norm=True)
    n = len(ds) // 2
    for k in range(n):
        a, b = ds[k]["image"].numpy(), ds[n + k]["image"].numpy()
        np.testing.assert_allclose(a, b, atol=1e-4)
        assert abs(float(np.median(a))) < 1                           # the scene's median near 0
    plain = ChipDataset(items, chip=48, mode="grid")                  # one normalisation for both: 12 dB apart
    assert float((plain[n]["image"] - plain[0]["image"]).mean()) > 1

def test_model_records_it_and_predict_and_evaluate_follow(run):
    d, tr = run
    meta = json.loads((d / "run" / "model.json").read_text())
    assert meta["input"]["scene_norm"] is True and meta["config"]["scene_norm"] is True
    ev = cli("evaluate", "--model", d / "run", "--data", d / "data", "--no-progress")
    assert ev["miou"] == pytest.approx(tr["test"]["miou"])           # evaluate normalises as training did
    man = json.loads((d / "data" / "manifest.json").read_text())
    sar = d / "data" / man["splits"]["test"][0]["sar"]
    maps = []
    for name, src, norm in (("a", sar, "auto"), ("b", shifted(sar, d / "dark.tif", -15.0), "auto"),
                            ("c", sar, "model")):
        s = cli("predict", src, "--model", d / "run" / "model.safetensors", "--out", d / f"{name}.tif", "--norm", norm,
                "--no-progress")
        assert s["input"]["norm"] == "scene", s["input"]                # the model's own normalisation, always
        with rasterio.open(d / f"{name}.tif") as ds: maps.append(ds.read(1))
    assert (maps[0] == maps[1]).mean() > 0.999 and (maps[0] == maps[2]).all()

SCENE_MODEL = ROOT / "data_samples/models/lulc_resnet18_scene.safetensors"

@pytest.mark.skipif(not SCENE_MODEL.exists(), reason="the shipped lulc_scene model is not in data_samples/models")
def test_shipped_scene_model_maps_any_calibration_alike(tmp_path):
    "`--model lulc_scene` by name: a farmland scene and the same scene 20 dB darker give one map, and a sensible one."
    from sar_lulc.synth import synth_scene
    s = synth_scene(4, size=192, landscape="farmland")
    maps = []
    for name, off in (("a", 0.0), ("b", -20.0)):
        write_raster(tmp_path / f"{name}.tif", s.db + np.float32(off), crs=s.crs, transform=s.transform,
                     nodata=float("nan"))
        r = cli("predict", tmp_path / f"{name}.tif", "--model", "lulc_scene", "--out", tmp_path / f"{name}_map.tif",
                "--no-progress")
        assert r["input"]["norm"] == "scene" and r["task"] == "lulc", r["input"]
        with rasterio.open(tmp_path / f"{name}_map.tif") as ds: maps.append(ds.read(1))
    assert (maps[0] == maps[1]).mean() > 0.999
    ok = s.labels != 255
    assert len(np.unique(maps[0])) >= 3 and (maps[0][ok] == s.labels[ok]).mean() > 0.4   # not one class; mostly right

@pytest.mark.skipif(not SCENE_MODEL.exists() or not (ROOT / "data_samples/models/lulc_resnet18.safetensors").exists(),
                    reason="the shipped land-cover models are not in data_samples/models")
def test_default_command_hands_another_sensor_to_lulc_scene(tmp_path):
    "No --model: a scene of another calibration goes to lulc_scene, a SynthALOS-2-like one stays; --model lulc keeps it."
    from sar_lulc.synth import synth_scene
    s = synth_scene(5, size=160, landscape="farmland")
    said = lambda r: any("mapped with lulc_resnet18_scene" in w for w in r["warnings"])
    for name, off, model, switched in (("own", 0.0, [], False), ("other", -15.0, [], True),
                                       ("kept", -15.0, ["--model", "lulc"], False)):
        write_raster(tmp_path / f"{name}.tif", s.db + np.float32(off), crs=s.crs, transform=s.transform,
                     nodata=float("nan"))
        r = cli("predict", tmp_path / f"{name}.tif", *model, "--out", tmp_path / f"{name}_map.tif", "--no-progress")
        assert said(r) == switched, (name, r["warnings"])
        assert r["input"]["norm"] == ("scene" if off else "model"), (name, r["input"])
