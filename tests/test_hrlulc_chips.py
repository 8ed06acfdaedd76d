"""`sar-lulc chips` on JAXA's real HRLULC label product (crops of the shared tiles): the 10 m v23.12 grid kept,
labels mapped to jp9 pixel for pixel, the 50 m v21.11 map brought onto a 10 m SAR grid by nearest neighbour, and the
tile-name conventions. Skips, saying why, where ../shared is absent."""
import json

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from conftest import sar_lulc
from sar_lulc.core import shared_dir
from sar_lulc.io import crop_raster, write_raster
from sar_lulc.layouts import hrlulc_tile_bounds, layout_windows, palsar2_tile_for, render_layout
from sar_lulc.schemes import IGNORE_INDEX, JP9
from sar_lulc.synth import PIXEL_DEG

SH = shared_dir()
TILES = sorted((SH / "data" / "jaxa_hrlulc").glob("*/LC_*.tif")) if SH else []
pytestmark = pytest.mark.skipif(not TILES, reason="the HRLULC tiles are not in ../shared (set SAR_LULC_SHARED)")


def _crop_with_sar(tile, tmp_path, size, factor):
    "A land window of `tile` cropped to a file, and a SynthALOS-2/JP SAR scene on its 10 m grid."
    w = layout_windows(tile, size=size, max_sea=0.3)[0]
    lab = crop_raster(tile, tmp_path / "labels.tif", (w["col"], w["row"], w["src_size"], w["src_size"]))
    with rasterio.open(lab) as ds: tr, raw = ds.transform, ds.read(1)
    j9 = JP9.encode(np.repeat(np.repeat(raw, factor, 0), factor, 1))           # nearest neighbour onto 10 m
    dn, _ = render_layout(j9, seed=1)
    sar = write_raster(tmp_path / "sar.tif", dn, crs="EPSG:4326", transform=tr * tr.scale(1 / factor), nodata=0)
    return sar, lab, j9


@pytest.mark.parametrize("res", ["10m", "50m"])
def test_chips_on_the_real_label_product(tmp_path, res):
    tile = next((t for t in TILES if ("50m" in t.name) == (res == "50m")), None)
    if tile is None: pytest.skip(f"no {res} tile in ../shared")
    factor = 5 if res == "50m" else 1
    sar, lab, j9 = _crop_with_sar(tile, tmp_path, 500, factor)
    r = sar_lulc("--json", "chips", "--sar", sar, "--labels", lab, "--scheme", "jp9", "--out", tmp_path / "ds",
                 "--chip", 100, "--min-valid", 0.01, "--split", "1,0,0")
    assert r.returncode == 0, r.stderr
    man = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    got = np.zeros(256, np.int64)
    for it in man["splits"]["train"]:
        with rasterio.open(tmp_path / "ds" / it["label"]) as ds, rasterio.open(tmp_path / "ds" / it["sar"]) as s:
            y = ds.read(1); got += np.bincount(y.ravel(), minlength=256)
            assert ds.crs.to_epsg() == 4326 and abs(ds.transform.a - PIXEL_DEG) < 1e-12    # the 10 m grid, EPSG:4326
            r0, c0 = it["window"][:2]
            want = j9[r0:r0 + 100, c0:c0 + 100].copy()
            want[~np.isfinite(s.read(1))] = IGNORE_INDEX
            assert (y == want).all()                                                    # pixel for pixel
    assert got[:9].sum() > 0 and got[:9].sum() + got[IGNORE_INDEX] == 25 * 100 * 100


def test_tile_naming_conventions(tmp_path):
    t = TILES[0]
    w, s, e, n = hrlulc_tile_bounds(t)
    with rasterio.open(t) as ds: b = ds.bounds
    assert (round(b.left), round(b.bottom), round(b.right), round(b.top)) == (w, s, e, n)     # lower-left naming
    assert palsar2_tile_for(t) == f"N{int(n):02d}E{int(w):03d}"                              # upper-left naming
    wrong = crop_raster(t, tmp_path / "LC_N10E100.tif", (0, 0, 50, 50))
    with pytest.warns(UserWarning, match="lower-left corner"): layout_windows(wrong, size=50 * (5 if "50m" in t.name else 1), max_sea=1)
