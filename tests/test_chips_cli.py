"""`sar-lulc chips` end to end as a subprocess: tiny SAR scene (uint16 DN) + label raster on another grid."""
import json, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

ROOT = Path(__file__).resolve().parents[1]
EXE = ROOT / ".venv" / "bin" / "sar-lulc"


def _write(path, arr, transform, crs="EPSG:4326", nodata=None):
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1,
                       dtype=arr.dtype, crs=crs, transform=transform, nodata=nodata) as ds:
        ds.write(arr, 1)
    return path


def _run(*args):
    cmd = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "sar_lulc.cli"]
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture()
def rasters(tmp_path):
    rng = np.random.default_rng(0)
    dn = rng.integers(2000, 9000, (64, 80)).astype(np.uint16)
    dn[:8] = 0                                                     # DN 0 = no data
    sar = _write(tmp_path / "scene_HH.tif", dn, from_origin(139.0, 36.0, 1e-4, 1e-4), nodata=0)
    codes = rng.integers(1, 15, (20, 30)).astype(np.uint8)         # HRLULC-like raw codes, coarser grid
    lab = _write(tmp_path / "hrlulc.tif", codes, from_origin(138.9995, 36.0003, 3e-4, 3e-4), nodata=0)
    return sar, lab


def test_chips_cli_json(rasters, tmp_path):
    sar, lab = rasters
    out = tmp_path / "chips"
    r = _run("chips", "--sar", sar, "--labels", lab, "--scheme", "jp9", "--out", out, "--chip", "16",
             "--block-size", "1", "--units", "dn", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["ok"] and summary["scheme"] == "jp9" and summary["num_classes"] == 9
    n = summary["n_train"] + summary["n_val"] + summary["n_test"]
    assert n == 4 * 5 and summary["n_train"] > 0          # 4 x 5 chips; the 8 NaN rows do not drop any
    man = json.loads((out / "manifest.json").read_text())
    assert man["format"] == "sar_lulc.dataset/1" and man["units"] == "db"
    assert -40 < man["norm"]["mean"] < 0 and man["norm"]["std"] > 0
    it = man["splits"]["train"][0]
    with rasterio.open(out / it["sar"]) as ds:
        assert ds.dtypes[0] == "float32" and ds.crs.to_epsg() == 4326
        x = ds.read(1)
    with rasterio.open(out / it["label"]) as ds:
        assert ds.dtypes[0] == "uint8"
        y = ds.read(1)
    assert set(np.unique(y)) <= set(range(9)) | {255}
    assert (y[~np.isfinite(x)] == 255).all()

    # the existing output is refused without --overwrite, and kept intact
    r = _run("chips", "--sar", sar, "--labels", lab, "--scheme", "jp9", "--out", out, "--chip", "16", "--json")
    assert r.returncode == 2 and "already exists" in r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["ok"] is False
    assert json.loads((out / "manifest.json").read_text()) == man

    r = _run("chips", "--sar", sar, "--labels", lab, "--label-map", "1:water,2-14:land", "--out", out,
             "--chip", "32", "--overwrite", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "manifest.json").read_text())["scheme"]["names"] == ["water", "land"]


def test_chips_cli_errors(rasters, tmp_path):
    sar, lab = rasters
    far = _write(tmp_path / "far.tif", np.ones((10, 10), np.uint8), from_origin(10.0, 50.0, 1e-3, 1e-3))
    r = _run("chips", "--sar", sar, "--labels", far, "--scheme", "jp9", "--out", tmp_path / "o", "--chip", "16")
    assert r.returncode == 2 and "does not overlap" in r.stderr
    assert not (tmp_path / "o").exists()
    r = _run("chips", "--sar", sar, "--labels", lab, "--scheme", "nope", "--out", tmp_path / "o")
    assert r.returncode == 2 and "Unknown class scheme" in r.stderr
    r = _run("chips", "--sar", sar, "--labels", lab, "--out", tmp_path / "o")     # neither --scheme nor --label-map
    assert r.returncode != 0 and "--scheme" in r.stderr
    txt = tmp_path / "not_a_raster.tif"; txt.write_text("hello")
    r = _run("chips", "--sar", sar, "--labels", txt, "--scheme", "jp9", "--out", tmp_path / "o")
    assert r.returncode == 2 and "not a raster" in r.stderr
    assert not list(tmp_path.glob(".o.*"))                 # no temporary folder left behind


def test_sparse_fields_train_on_what_chips_kept(rasters, tmp_path):
    """Labels drawn as a few small fields: `chips --min-valid 0.05` keeps chips that are mostly unlabelled, and
    `train` and `evaluate` use them all. Training once re-filtered at its own 0.5 and learnt from the few chips
    that were mostly labelled, without a word (issue 24: the Flevoland models never saw most crop classes)."""
    sar, _ = rasters
    codes = np.zeros((64, 80), np.uint8)                          # 0 = unlabelled
    codes[10:16, 4:12], codes[40:46, 50:58], codes[20:26, 34:42] = 1, 2, 3   # three 6 x 8 fields
    with rasterio.open(sar) as s: tr = s.transform
    lab = _write(tmp_path / "fields.tif", codes, tr, nodata=0)
    out = tmp_path / "chips"
    r = _run("chips", "--sar", sar, "--labels", lab, "--label-map", "1:water,2:forest,3:crops", "--out", out,
             "--chip", "16", "--min-valid", "0.05", "--split", "1,0,0", "--units", "dn", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "manifest.json").read_text())["source"]["min_valid"] == 0.05
    r = _run("--json", "train", "--data", out, "--recipe", "micro", "--preset", "tiny", "--set", "min_valid=null",
             "--steps", 1, "--out", tmp_path / "run", "--no-progress", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads((tmp_path / "run" / "model.json").read_text())["config"]["min_valid"] == 0.05
    r = _run("--json", "evaluate", "--model", tmp_path / "run", "--data", out, "--split", "train",
             "--out", tmp_path / "ev", "--no-progress", "--device", "cpu")
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout.strip().splitlines()[-1])["n_pixels"] == 3 * 6 * 8      # every field pixel, once
