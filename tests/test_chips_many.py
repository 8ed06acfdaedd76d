"""Bring your own scenes: a folder of scenes and binary masks becomes one water dataset with `sar-lulc chips`, which
`sar-lulc train --task water` trains as it is; and every example in `sar-lulc chips --help` runs."""
import json, re, shlex

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from conftest import sar_lulc
from sar_lulc.chips import _CHIPS_EPILOG
from sar_lulc.synth import WATER, synth_scene


def _write(path, arr, transform, nodata=None, crs="EPSG:4326"):
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1, dtype=arr.dtype,
                       crs=crs, transform=transform, nodata=nodata) as ds:
        ds.write(arr, 1)
    return path


def _scenes(folder, n=3, size=96):
    "n synthetic scenes side by side: X_HH.tif (dB) in scenes/, X_mask.tif (0/255, nodata 7 on a strip) in masks/."
    (folder / "scenes").mkdir(); (folder / "masks").mkdir()
    for k in range(n):
        s = synth_scene(40 + k, size=size, open_sea=True)
        tr = from_origin(139.0 + k * size * 1e-4, 36.0, 1e-4, 1e-4)
        _write(folder / "scenes" / f"site{k}_HH.tif", s.db, tr, nodata=np.nan)
        m = np.where(s.labels == WATER, 255, 0).astype(np.uint8); m[:, :4] = 7
        _write(folder / "masks" / f"site{k}_mask.tif", m, tr, nodata=7)
    return folder / "scenes", folder / "masks"


@pytest.mark.parametrize("how", [["--binary"], ["--label-map", "0:not-water,255:water"]], ids=["binary", "label-map"])
def test_folder_of_masks_to_a_water_model(tmp_path, how):
    scenes, masks = _scenes(tmp_path)
    r = sar_lulc("--json", "chips", "--sar", scenes, "--labels", masks, *how, "--out", tmp_path / "ds", "--chip", 32,
                 "--block-size", 1, "--split-by", "scene", "--split", "1,1,1")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.splitlines()[-1])
    assert s["scenes"] == 3 and s["scheme"] in ("binary", "custom:0:not-water,255:water")
    per = s["per_scene"]
    assert set(per) == {f"site{k}_HH.tif" for k in range(3)}
    assert sum(sum(v.values()) for v in per.values()) == s["n_train"] + s["n_val"] + s["n_test"]
    assert all(sum(v > 0 for v in d.values()) == 1 for d in per.values()), per     # whole scenes: one split each
    man = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    items = [it for v in man["splits"].values() for it in v]
    for it in items:                                   # 0/255 -> not-water/water; the masks' nodata (7) -> 255
        with rasterio.open(tmp_path / "ds" / it["label"]) as ds: y = ds.read(1)
        assert set(np.unique(y)) <= {0, 1, 255}
        if it["window"][1] == 0: assert (y[:, :4] == 255).all()
    assert any(it["window"][1] == 0 for it in items)
    r = sar_lulc("--json", "train", "--task", "water", "--data", tmp_path / "ds", "--recipe", "micro", "--chip", 32,
                 "--out", tmp_path / "run", "--device", "cpu", "--no-progress", timeout=600)
    assert r.returncode == 0, r.stderr
    t = json.loads(r.stdout.splitlines()[-1])
    assert t["task"] == "water" and set(t["test_iou"]) == {"not-water", "water"}


def test_unpaired_and_mixed_inputs_are_clear_errors(tmp_path):
    scenes, masks = _scenes(tmp_path, n=2, size=48)
    (masks / "site1_mask.tif").rename(masks / "other_mask.tif")
    r = sar_lulc("chips", "--sar", scenes, "--labels", masks, "--binary", "--out", tmp_path / "o")
    assert r.returncode == 2 and "No label raster pairs with the SAR scene(s) ['site1_HH.tif']" in r.stderr, r.stderr
    r = sar_lulc("chips", "--sar", scenes, "--labels", masks, "--binary", "--scheme", "jp9", "--out", tmp_path / "o")
    assert r.returncode == 2 and "--binary is a scheme" in r.stderr
    with rasterio.open(masks / "site0_mask.tif", "r+") as ds:           # a mask with a value no class has
        a = ds.read(1); a[10:20, 10:20] = 3; ds.write(a, 1)
    r = sar_lulc("chips", "--sar", scenes / "site0_HH.tif", "--labels", masks / "site0_mask.tif", "--label-map",
                 "0:not-water,255:water", "--out", tmp_path / "u", "--chip", 16, "--min-valid", 0.1)
    assert r.returncode == 0 and any(l.startswith("warning:") and "code(s) [3]" in l for l in r.stderr.splitlines()), r.stderr
    assert not (tmp_path / "o").exists()


def test_every_help_example_runs(tmp_path):
    "The examples in `sar-lulc chips --help`, with small files of those names made here."
    rng = np.random.default_rng(0)
    tr = from_origin(139.0, 36.0, 1e-4, 1e-4)
    db = rng.uniform(-20, -5, (64, 64)).astype(np.float32)
    codes = rng.integers(1, 15, (64, 64)).astype(np.uint8)
    for n in ("scene.tif", "HH.tif", "HV.tif"): _write(tmp_path / n, db, tr, nodata=np.nan)
    for n in ("LC_N35E139.tif", "lulc.tif"): _write(tmp_path / n, codes, tr, nodata=0)
    scenes, masks = _scenes(tmp_path, n=2, size=64)
    (tmp_path / "pairs.csv").write_text("sar,labels\nscenes/site0_HH.tif,LC_N35E139.tif\nscene.tif,lulc.tif\n")
    examples = [l.split("(")[0].strip() for l in _CHIPS_EPILOG.splitlines() if l.strip().startswith("sar-lulc chips")]
    assert len(examples) >= 5
    for ex in examples:
        args = shlex.split(ex)[2:]
        r = sar_lulc("chips", *args, "--chip", 32, "--block-size", 1, "--min-valid", 0.1, "--overwrite", cwd=tmp_path)
        assert r.returncode == 0, (ex, r.stderr)
        out = args[args.index("--out") + 1]
        assert (tmp_path / out / "manifest.json").is_file(), ex
