"""HH + HV end to end through the command line: chips from per-polarisation files, a two-band model, and `predict`
from two files, from a two-band file and from a folder (files paired by name)."""
import json

import numpy as np
import rasterio
from rasterio.transform import from_origin

from conftest import sar_lulc
from sar_lulc.synth import WATER, synth_scene


def _write(path, arr, tr, nodata=None):
    a = arr if arr.ndim == 3 else arr[None]
    with rasterio.open(path, "w", driver="GTiff", width=a.shape[2], height=a.shape[1], count=a.shape[0], dtype=a.dtype,
                       crs="EPSG:4326", transform=tr, nodata=nodata) as ds: ds.write(a)
    return path


def test_hh_hv_chips_train_predict(tmp_path):
    (tmp_path / "sar").mkdir(); (tmp_path / "masks").mkdir()
    for k in range(2):
        s = synth_scene(60 + k, size=96, targets={WATER: .2})
        tr = from_origin(139.0 + k * 0.01, 36.0, 1e-4, 1e-4)
        hv = (s.db - 7 + np.random.default_rng(k).normal(0, 1, s.db.shape)).astype(np.float32)
        _write(tmp_path / "sar" / f"site{k}_HH.tif", s.db, tr, np.nan)
        _write(tmp_path / "sar" / f"site{k}_HV.tif", hv, tr, np.nan)
        _write(tmp_path / "masks" / f"site{k}_mask.tif", (s.labels == WATER).astype(np.uint8), tr)
    _write(tmp_path / "both.tif", np.stack([s.db, hv]), tr, np.nan)            # the last scene as one 2-band file
    r = sar_lulc("--json", "chips", "--sar", tmp_path / "sar", "--labels", tmp_path / "masks", "--binary",
                 "--out", tmp_path / "ds", "--chip", 32, "--block-size", 1, "--split", "1,1,0")
    assert r.returncode == 0, r.stderr
    man = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert all(len(it["sar"]) == 2 and "_sar0" in it["sar"][0] for it in man["splits"]["train"])
    r = sar_lulc("train", "--task", "water", "--data", tmp_path / "ds", "--recipe", "micro", "--chip", 32, "--steps", 2,
                 "--out", tmp_path / "run", "--device", "cpu", "--no-progress", timeout=600)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "run" / "model.json").read_text())["input"]["channels"] == 2
    run = tmp_path / "run"
    hh, hv = tmp_path / "sar" / "site1_HH.tif", tmp_path / "sar" / "site1_HV.tif"
    r1 = sar_lulc("--json", "predict", hh, hv, "--model", run, "--out", tmp_path / "a.tif", "--no-progress")
    r2 = sar_lulc("--json", "predict", tmp_path / "both.tif", "--model", run, "--out", tmp_path / "b.tif", "--no-progress")
    assert r1.returncode == 0 and r2.returncode == 0, (r1.stderr, r2.stderr)
    assert json.loads(r1.stdout.splitlines()[-1])["src"] == f"{hh};{hv}"
    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        assert (a.read(1) == b.read(1)).mean() > 0.999                  # two files == one two-band file
    r = sar_lulc("--json", "predict", tmp_path / "sar", "--model", run, "--out", f"{tmp_path / 'maps'}/", "--no-progress")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.splitlines()[-1])
    assert s["scenes"] == 2 and sorted(p.split("/")[-1] for p in s["outputs"]) == ["site0_water.tif", "site1_water.tif"]
    (tmp_path / "plain").mkdir()                                   # files named just HH.tif and HV.tif: one scene
    for f, n in ((hh, "HH.tif"), (hv, "HV.tif")): (tmp_path / "plain" / n).write_bytes(f.read_bytes())
    r = sar_lulc("predict", tmp_path / "plain" / "HH.tif", tmp_path / "plain" / "HV.tif", "--model", run,
                 "--out", tmp_path / "d.tif", "--no-progress")
    assert r.returncode == 0 and (tmp_path / "d.tif").exists(), r.stderr
    r = sar_lulc("predict", hh, "--model", run, "--out", tmp_path / "c.tif", "--no-progress")
    assert r.returncode == 2 and "reads 2 bands" in r.stderr and not (tmp_path / "c.tif").exists(), r.stderr
