"""The map viewer exported to a standalone HTML file, offline.

Builds a small georeferenced scene (SAR in dB + a jp9 class map written by `write_label_map`), shows it
with `sar_lulc.mapview.show_prediction` and `compare` while every socket connection is refused, saves
the map with `map_html`, and checks the page holds both in-memory overlays, the layer names, the legend
entries and the scene's lat/lon bounds. (The page itself loads the widget JavaScript from a CDN when
opened, so it is not rendered in a browser here.)
"""
import base64
import io
import json
import re
import socket

import numpy as np
import pytest

pytest.importorskip("leafmap")
rasterio = pytest.importorskip("rasterio")
from PIL import Image
from rasterio.transform import from_origin

from sar_lulc.io import write_label_map, write_raster
from sar_lulc.mapview import (BLANK_LAYER, PRED_LAYER, SAR_LAYER, compare, latlon_bounds, map_html,
                              show_prediction)
from sar_lulc.schemes import get_scheme


@pytest.fixture
def no_network(monkeypatch):
    tried = []
    def deny(*a, **k):
        tried.append(a)
        raise OSError("network disabled by the test")
    monkeypatch.setattr(socket.socket, "connect", lambda self, *a: deny(*a))
    monkeypatch.setattr(socket.socket, "connect_ex", lambda self, *a: deny(*a))
    monkeypatch.setattr(socket, "create_connection", deny)
    monkeypatch.setattr(socket, "getaddrinfo", deny)
    return tried


@pytest.fixture
def scene(tmp_path):
    jp9 = get_scheme("jp9")
    lab = np.full((90, 120), 5, np.uint8)
    lab[:, :30] = 0; lab[45:, 80:] = 7; lab[:5] = 255
    db = np.where(lab == 0, -21.0, np.where(lab == 7, -3.0, -8.0)).astype(np.float32)
    db[:5] = np.nan
    tr = from_origin(380000, 3950000, 30, 30)                      # UTM 54N, near Tokyo
    sar, pred = tmp_path / "sar.tif", tmp_path / "pred.tif"
    write_raster(sar, db, crs="EPSG:32654", transform=tr, nodata=float("nan"))
    write_label_map(pred, lab, jp9, crs="EPSG:32654", transform=tr)
    return sar, pred, lab, jp9


def _decode(url):
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def test_map_html_offline(tmp_path, scene, no_network):
    sar, pred, lab, jp9 = scene
    m = show_prediction(sar, pred, max_side=256)
    out = tmp_path / "map.html"
    page = map_html(m, out, title="viewer test")
    assert out.read_text(encoding="utf-8") == page
    assert no_network == []                                          # nothing went to the network
    # both overlays are embedded as PNG data URLs, with the layer names
    urls = re.findall(r'"url":\s*"(data:image/png;base64,[^"]+)"', page)
    assert m.sar_layer.url in urls and m.pred_layer.url in urls
    for name in (BLANK_LAYER, SAR_LAYER, PRED_LAYER):
        assert json.dumps(name)[1:-1] in page
    # the legend lists every jp9 class in its colour
    for name, color in zip(jp9.names, jp9.colors):
        assert name in page and color in page
    # the overlay bounds are the raster's bounds in lat/lon
    with rasterio.open(pred) as src:
        (s, w), (n, e) = latlon_bounds(src.bounds, src.crs)
    np.testing.assert_allclose(np.array(m.pred_layer.bounds), [[s, w], [n, e]], atol=1e-7)
    # the prediction overlay carries the class colours (Water on the left, no data transparent on top)
    img = _decode(m.pred_layer.url)
    assert img.shape[2] == 4
    mid = img.shape[0] // 2
    assert tuple(img[mid, 2, :3]) == tuple(int(jp9.colors[0][i:i + 2], 16) for i in (1, 3, 5))
    assert img[0, img.shape[1] // 2, 3] == 0


def test_compare_html_offline(tmp_path, scene, no_network):
    sar, pred, _, jp9 = scene
    box = compare(sar, pred, max_side=128)
    page = map_html(box, tmp_path / "compare.html")
    assert no_network == []
    assert page.count("LeafletMapModel") >= 2
    assert box.right_map.get_layer_names() == [BLANK_LAYER, SAR_LAYER, PRED_LAYER]
    assert all(name in page for name in jp9.names)
