"""A foreign sensor's scenes, as a user meets them: uint16 *amplitude* (not DN), single look, UTM, 10 m. With no
options the shipped water model finds the water: predict measures the scene's looks and multilooks it to the model's
(the default of --multilook), sees that its statistics are unlike the training data and normalises it with its own
(--norm auto), and says both; with the model's normalisation it is flagged instead of failing silently. A model
fine-tuned on such scenes remembers its input units; output names are the same for one scene and a folder."""
import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from conftest import DEMO_MODELS, sar_lulc
from sar_lulc.synth import WATER, synth_scene


def foreign(path, seed, size=384):
    "A synthetic single-look scene stored as uint16 amplitude with a +40 dB offset (a product of another calibration)."
    s = synth_scene(seed, size=size, looks=1, targets={WATER: .2})
    amp = np.clip(10 ** ((s.db + 40) / 20), 1, 65535).astype(np.uint16)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="uint16", crs="EPSG:32654",
                       transform=from_origin(500000, 3900000, 10, 10), nodata=0) as ds: ds.write(amp, 1)
    return s.labels == WATER


def _iou(pred_path, truth):
    with rasterio.open(pred_path) as ds: m = ds.read(1) == 1
    return (m & truth).sum() / max((m | truth).sum(), 1)


@pytest.mark.skipif(not DEMO_MODELS["water"].exists(), reason="the shipped water model is not in data_samples/models")
def test_unknown_sensor_is_handled_by_default(tmp_path):
    truth = foreign(tmp_path / "x.tif", seed=6)
    r = sar_lulc("--json", "predict", tmp_path / "x.tif", "--task", "water", "--out", tmp_path / "d.tif", "--no-progress")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.splitlines()[-1])
    assert (s["input"]["norm"], s["input"]["norm_option"], s["input"]["multilook"]) == ("scene", "auto", 3), s["input"]
    assert s["input"]["scene"]["enl_before_multilook"] < 1.5 < s["input"]["scene"]["enl"]      # single look, then 3 x 3
    assert any("multilooked 3 x 3" in w for w in s["warnings"]) and any("--norm auto normalised" in w for w in s["warnings"])
    assert _iou(tmp_path / "d.tif", truth) >= 0.6                 # measured 0.785 (0.00 with the model's normalisation)
    r = sar_lulc("--json", "predict", tmp_path / "x.tif", "--task", "water", "--units", "amplitude", "--norm", "model",
                 "--out", tmp_path / "a.tif", "--no-progress")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.splitlines()[-1])
    assert any("unlike the model's training data" in w for w in s["warnings"]), s["warnings"]
    assert any(l.startswith("warning:") and "--norm scene" in l for l in r.stderr.splitlines()), r.stderr
    assert s["input"]["scene"]["median"] > 10                     # read as amplitude: about +20 dB
    r = sar_lulc("--json", "predict", tmp_path / "x.tif", "--task", "water", "--units", "amplitude", "--norm", "scene",
                 "--multilook", 5, "--out", tmp_path / "b.tif", "--no-progress")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.splitlines()[-1])
    assert s["warnings"] == [] and s["input"]["norm"] == "scene" and s["input"]["multilook"] == 5
    assert _iou(tmp_path / "b.tif", truth) >= 0.45                # measured 0.70; without the options: 0.00


def test_a_model_remembers_its_input_units(tmp_path):
    for k in range(2):
        foreign(tmp_path / f"site{k}_HH.tif", seed=10 + k, size=128)
        with rasterio.open(tmp_path / f"site{k}_HH.tif") as src, rasterio.open(
                tmp_path / f"site{k}_mask.tif", "w", driver="GTiff", width=128, height=128, count=1, dtype="uint8",
                crs=src.crs, transform=src.transform) as ds:
            ds.write((src.read(1) < 10 ** (28 / 20)).astype(np.uint8) * 255, 1)     # any labels will do here
    r = sar_lulc("chips", "--sar", tmp_path / "site0_HH.tif", tmp_path / "site1_HH.tif", "--labels",
                 tmp_path / "site0_mask.tif", tmp_path / "site1_mask.tif", "--binary", "--units", "amplitude", "--cf", 0,
                 "--out", tmp_path / "ds", "--chip", 64, "--block-size", 1, "--split-by", "scene", "--split", "1,1,0")
    assert r.returncode == 0, r.stderr
    r = sar_lulc("train", "--task", "water", "--data", tmp_path / "ds", "--recipe", "micro", "--steps", 1,
                 "--out", tmp_path / "run", "--device", "cpu", "--no-progress", timeout=600)
    assert r.returncode == 0, r.stderr
    contract = json.loads((tmp_path / "run" / "model.json").read_text())["input"]
    assert (contract["units"], contract["cf"], contract["dtype"]) == ("amplitude", 0.0, "uint16")
    r = sar_lulc("--json", "predict", tmp_path / "site0_HH.tif", "--model", tmp_path / "run", "--out", tmp_path / "p.tif",
                 "--no-progress")
    s = json.loads(r.stdout.splitlines()[-1])
    assert r.returncode == 0 and s["input"]["units"] == "amplitude" and "from the model" in s["input"]["units_source"]
    r = sar_lulc("--json", "predict", tmp_path / "site0_HH.tif", "--model", tmp_path / "run", "--units", "dn",
                 "--out", tmp_path / "q.tif", "--no-progress")
    s = json.loads(r.stdout.splitlines()[-1])
    assert any("--units dn, but the model was trained on amplitude" in w for w in s["warnings"]), s["warnings"]


@pytest.mark.skipif(not DEMO_MODELS["water"].exists(), reason="the shipped water model is not in data_samples/models")
def test_output_names_match_between_one_scene_and_a_folder(tmp_path):
    foreign(tmp_path / "a.tif", seed=3, size=64)
    one, many = tmp_path / "one", tmp_path / "many"
    assert sar_lulc("predict", tmp_path / "a.tif", "--task", "water", "--out", one / "a_water.tif", "--no-progress").returncode == 0
    assert sar_lulc("predict", tmp_path / "a.tif", "--task", "water", "--out", f"{many}/", "--no-progress").returncode == 0
    names = lambda d: sorted(p.name for p in d.iterdir() if not p.name.startswith("."))
    assert names(one) == names(many) == ["a_water.json", "a_water.tif", "a_water_confidence.tif", "a_water_prob.tif"], \
        (names(one), names(many))


@pytest.mark.skipif(not DEMO_MODELS["water"].exists(), reason="the shipped water model is not in data_samples/models")
def test_scene_norm_on_a_folder_and_help_text(tmp_path):
    "--norm scene works for a folder of scenes too (each scene its own statistics); the help prints cleanly."
    d = tmp_path / "in"; d.mkdir()
    for k in range(2): foreign(d / f"s{k}.tif", seed=20 + k, size=128)
    r = sar_lulc("--json", "predict", d, "--task", "water", "--units", "amplitude", "--norm", "scene", "--multilook", 5,
                 "--out", f"{tmp_path / 'maps'}/", "--no-progress")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.splitlines()[-1])
    assert s["predicted"] == 2 and s["failed"] == []
    medians = [json.loads((tmp_path / "maps" / f"s{k}_water.json").read_text())["input"]["scene"]["median"] for k in range(2)]
    assert medians[0] != medians[1]                                   # per scene, not one for all
    h = sar_lulc("predict", "--help")
    assert h.returncode == 0 and "99.5 % alike" in " ".join(h.stdout.split()) and "option_strings" not in h.stdout


def test_init_run_resumes(tmp_path):
    "A run started with --init (the shipped model's architecture) resumes with the same command plus --resume."
    from conftest import SAMPLES
    base = ["train", "--task", "water", "--data", SAMPLES / "synth", "--recipe", "micro", "--init", DEMO_MODELS["water"],
            "--out", tmp_path / "run", "--device", "cpu", "--no-progress"]
    r = sar_lulc(*base, "--steps", 1, timeout=600)
    assert r.returncode == 0, r.stderr
    r = sar_lulc(*base, "--resume", tmp_path / "run" / "last.pt", "--steps", 2, timeout=600)
    assert r.returncode == 0, r.stderr
