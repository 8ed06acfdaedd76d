"""The real ALOS-2 PALSAR-2 tile (N23W161, 2020 mosaic, CARD4L NRB) read and calibrated by `sar_lulc.io`."""
import numpy as np
import pytest
import rasterio

from sar_lulc.core import real_tile_paths
from sar_lulc.io import SarReader, read_card4l_xml, read_sar, db_to_dn

TILE = real_tile_paths()
pytestmark = pytest.mark.skipif(TILE is None, reason="shared data (../shared/data/palsar2_N23W161_2020) is absent; "
                                                     "set SAR_LULC_SHARED to run the real-tile checks")


@pytest.fixture(scope="module")
def hh_and_mask():
    with SarReader(TILE["hh"]) as r:
        meta = dict(units=r.units, reason=r.units_reason, nodata=r.nodata, crs=r.crs, transform=r.transform,
                    shape=r.shape)
        db = r.read()
    with rasterio.open(TILE["mask"]) as m:
        mask = m.read(1)
    return db, mask, meta


def test_units_auto_is_dn(hh_and_mask):
    _, _, meta = hh_and_mask
    assert meta["units"] == "dn" and "uint16" in meta["reason"]
    assert meta["nodata"] == 1.0 and meta["shape"] == (4500, 4500)
    assert meta["crs"].to_epsg() == 4326
    assert meta["transform"].c == -161.0 and meta["transform"].f == 23.0


def test_ocean_and_land_backscatter(hh_and_mask):
    db, mask, _ = hh_and_mask
    assert db.dtype == np.float32
    ocean, land = db[mask == 50], db[mask == 255]
    assert ocean.size > 100_000 and land.size > 1000
    assert np.isfinite(ocean).mean() > 0.99
    ocean_med, land_med = np.nanmedian(ocean), np.nanmedian(land)
    assert -20.0 < ocean_med < -16.0, ocean_med
    assert land_med > ocean_med + 3.0, (land_med, ocean_med)
    # the tile's no-data area (mask 0, DN = nodata 1) is NaN, never a large negative number
    assert np.isnan(db[mask == 0]).all()
    assert np.nanmin(db) > -83.0


def test_calibration_matches_the_xml_equation(hh_and_mask):
    db, _, _ = hh_and_mask
    meta = read_card4l_xml(TILE["xml"])
    assert meta["cf"] == -83.0 and meta["convention"] == "Amplitude"
    with rasterio.open(TILE["hh"]) as s:
        dn = s.read(1, window=((2000, 2300), (1000, 1400)))
    expect = np.where(dn > 1, 20 * np.log10(np.maximum(dn, 1).astype(np.float64)) - 83.0, np.nan)
    np.testing.assert_allclose(db[2000:2300, 1000:1400], expect, rtol=0, atol=1e-4, equal_nan=True)
    back = db_to_dn(db[2000:2300, 1000:1400])
    np.testing.assert_array_equal(back, np.where(dn > 1, dn, 0))


def test_window_read_equals_slice(hh_and_mask):
    db, _, _ = hh_and_mask
    win = (3000, 1500, 700, 513)                                # col, row, width, height
    w, prof = read_sar(TILE["hh"], window=win)
    assert w.shape == (513, 700)
    np.testing.assert_array_equal(w, db[1500:2013, 3000:3700])
    with rasterio.open(TILE["hh"]) as s:
        assert prof["transform"] == s.window_transform(rasterio.windows.Window(*win))
    assert prof["crs"].to_epsg() == 4326 and np.isnan(prof["nodata"])
    with SarReader(TILE["hh"]) as r:
        edge = r.read((4400, 4400, 200, 200), boundless=True)
    assert np.isnan(edge[100:, :]).all() and np.isnan(edge[:, 100:]).all()
    np.testing.assert_array_equal(edge[:100, :100], db[4400:, 4400:])
