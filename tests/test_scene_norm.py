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

@pytest.mark.skipif(not SCENE_MODEL.exists() or not (ROOT / "data_samples/models/lulc_resnet18.safetensors").exists(),
                    reason="the shipped land-cover models are not in data_samples/models")
def test_folder_and_app_hand_another_sensor_on_too(tmp_path):
    """Scenes of a folder are handed on one by one (one predictor made for them all), and so is an upload to the
    app; the summary and the app's status name the model that made each map."""
    from sar_lulc.app import AppConfig, run_inference
    from sar_lulc.synth import synth_scene
    s = synth_scene(6, size=160, landscape="farmland")
    scenes = tmp_path / "scenes"; scenes.mkdir()
    for name, off in (("own", 0.0), ("other", -15.0), ("other2", -25.0)):
        write_raster(scenes / f"{name}.tif", s.db + np.float32(off), crs=s.crs, transform=s.transform,
                     nodata=float("nan"))
    r = cli("predict", scenes, "--out", tmp_path / "maps/", "--no-progress")
    assert r["mode"] == "many" and r["predicted"] == 3 and not r["failed"], r
    assert r["models"] == {"lulc_resnet18": 1, "lulc_resnet18_scene": 2}, r["models"]   # the summary says so
    used = {n: Path(json.loads((tmp_path / "maps" / f"{n}_lulc.json").read_text())["model"]).stem
            for n in ("own", "other", "other2")}
    assert used == {"own": "lulc_resnet18", "other": "lulc_resnet18_scene", "other2": "lulc_resnet18_scene"}, used
    with rasterio.open(tmp_path / "maps/other_lulc.tif") as a, rasterio.open(tmp_path / "maps/other2_lulc.tif") as b:
        assert (a.read(1) == b.read(1)).mean() > 0.999          # scene-normalised: the offset changes nothing
    kept = cli("predict", scenes / "other.tif", scenes / "own.tif", "--model", "lulc", "--out", tmp_path / "kept/",
               "--no-progress")
    assert kept["predicted"] == 2
    assert Path(json.loads((tmp_path / "kept/other_lulc.json").read_text())["model"]).stem == "lulc_resnet18"
    # in Python: the lulc_scene predictor is made once for a folder, like the default one (device, TTA; precision
    # probed when it was auto), and kept on it
    from sar_lulc.predict import predict_many, make_predictor
    from sar_lulc.checkpoint import default_model_path, other_model_path
    pred = make_predictor(default_model_path("lulc"), device="cpu", tta=True)
    res = predict_many(pred, [scenes / "other.tif", scenes / "other2.tif", scenes / "own.tif"], tmp_path / "py",
                       choose_model=True, progress=False)
    assert [Path(r.model).stem for r in res] == ["lulc_resnet18_scene", "lulc_resnet18_scene", "lulc_resnet18"]
    key, other = pred.companions[str(other_model_path())]
    assert other.tta and str(other.device) == "cpu" and other.precision == pred.precision and res[0].tta
    predict_many(pred, [scenes / "other.tif"], tmp_path / "py2", choose_model=True, progress=False)
    assert pred.companions[str(other_model_path())][1] is other                      # kept, not made again
    cfg = AppConfig(workdir=tmp_path / "app", device="cpu")
    app = run_inference(str(scenes / "other.tif"), "lulc", cfg=cfg)
    assert "lulc_resnet18_scene" in app.status and any("mapped with lulc_resnet18_scene" in n for n in app.notes)
    assert "lulc_resnet18_scene" not in run_inference(str(scenes / "own.tif"), "lulc", cfg=cfg).status

def test_scene_norm_refuses_chips(tmp_path):
    "On chips cut by `sar-lulc chips`, each chip would be its own scene: --scene-norm says so and trains nothing."
    from sar_lulc.synth import synth_scene
    from sar_lulc.io import write_label_map
    from sar_lulc.schemes import get_scheme
    s = synth_scene(2, size=128)
    write_raster(tmp_path / "sar.tif", s.db, crs=s.crs, transform=s.transform, nodata=float("nan"))
    write_label_map(tmp_path / "lab.tif", s.labels, get_scheme("jp9"), crs=s.crs, transform=s.transform)
    cli("chips", "--sar", tmp_path / "sar.tif", "--labels", tmp_path / "lab.tif", "--scheme", "jp9", "--chip", 64,
        "--out", tmp_path / "chips")
    p = subprocess.run([str(EXE), "train", "--task", "lulc", "--data", str(tmp_path / "chips"), "--recipe", "micro",
                        "--preset", "tiny", "--scene-norm", "--steps", "1", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=600, env=ENV, cwd=ROOT)
    assert p.returncode != 0 and "64 px chips cut by `sar-lulc chips`" in p.stderr, p.stderr[-2000:]
    assert "Traceback" not in p.stderr and not (tmp_path / "run/model.safetensors").exists()
    cli("chips", "--sar", tmp_path / "sar.tif", "--labels", tmp_path / "lab.tif", "--scheme", "jp9", "--chip", 64,
        "--stride", 32, "--out", tmp_path / "chips2")
    cli("merge", tmp_path / "both", tmp_path / "chips", tmp_path / "chips2")       # merged: still chips
    p = subprocess.run([str(EXE), "train", "--task", "lulc", "--data", str(tmp_path / "both"), "--recipe", "micro",
                        "--preset", "tiny", "--scene-norm", "--steps", "1", "--out", str(tmp_path / "run")],
                       capture_output=True, text=True, timeout=600, env=ENV, cwd=ROOT)
    assert p.returncode != 0 and "64 px chips cut by `sar-lulc chips`" in p.stderr, p.stderr[-2000:]
