"""End-to-end tests of the web app through its HTTP API with `gradio_client`.

The app runs as `python app/app.py` in a subprocess on a free 127.0.0.1 port with an untrained micro
model (see `_apphelpers.py`); results are compared with `predict_scene` run here on the same file."""
import re
import concurrent.futures as cf_
import numpy as np
import pytest

pytest.importorskip("gradio_client")
rasterio = pytest.importorskip("rasterio")
from gradio_client import Client, handle_file

import _apphelpers as H
from conftest import sigint_default


@pytest.fixture(scope="module")
def client():
    return Client(H.server(), verbose=False, download_files=str(H.workdir() / "client"))


def _predict(client, path, task="lulc", units="auto", cf=-83.0, band=0, overlap=32, tta=False):
    return client.predict(handle_file(str(path)), task, units, cf, band, overlap, tta, api_name="/predict")


def _class_map(out):
    files = [f if isinstance(f, str) else f.get("path") for f in out[6]]
    return next(f for f in files if f.endswith(("_lulc.tif", "_water.tif")))


def _read(path):
    with rasterio.open(path) as src: return src.read(1), src.crs, src.transform


def test_lulc_equals_predict_scene(client, tmp_path):
    from sar_lulc.checkpoint import load_model
    from sar_lulc.predict import predict_scene
    out = _predict(client, H.sample())
    assert len(out) == 8
    status = out[7]
    assert "Land cover" in status and "**dn**" in status and "EPSG:4326" in status, status
    rows = out[5]["data"]
    assert [r[0] for r in rows][:3] == ["Water", "Built-up", "Paddy"] and len(rows) == 9
    assert abs(sum(r[3] for r in rows) - 100) < 0.1 and all(r[2] is not None for r in rows)
    assert "sar-lulc-legend" in out[2]
    for img in (out[0], out[1], out[3], out[4]):
        from PIL import Image
        assert Image.open(img).size == (256, 256)
    ref = predict_scene(load_model(H.models()["lulc"]), H.sample(), tmp_path / "ref.tif", task="lulc", tile=H.TILE,
                        overlap=32, device="cpu", progress=False)
    got, crs, tf = _read(_class_map(out))
    want, crs2, tf2 = _read(ref.paths["class"])
    assert crs == crs2 and tf == tf2
    np.testing.assert_array_equal(got, want)


def test_water_task(client):
    out = _predict(client, H.sample(), task="water", overlap=0, tta=True)
    assert [r[0] for r in out[5]["data"]] == ["not-water", "water"]
    assert any(str(f if isinstance(f, str) else f.get("path")).endswith("_prob.tif") for f in out[6])


def _bad_files(d):
    from sar_lulc.io import write_raster
    from rasterio.crs import CRS
    from rasterio.transform import from_origin
    tf = from_origin(139.7, 35.7, 1e-4, 1e-4)
    raw = H.sample().read_bytes()
    (d / "notes.txt").write_text("not an image at all\n")
    (d / "truncated.tif").write_bytes(raw[: len(raw) // 2])
    (d / "empty.tif").write_bytes(b"")
    big = write_raster(d / "big.tif", np.full((400, 400), -10, np.float32), crs=CRS.from_epsg(4326), transform=tf)
    two = write_raster(d / "hh_hv.tif", np.stack([np.full((64, 64), -8, np.float32), np.full((64, 64), -15, np.float32)]),
                       crs=CRS.from_epsg(4326), transform=tf, descriptions=["HH", "HV"])
    e30 = write_raster(d / "e30.tif", np.full((64, 64), 1e30, np.float32), crs=CRS.from_epsg(4326), transform=tf)
    return {d / "notes.txt": "not a GeoTIFF, PNG or JPEG", d / "truncated.tif": "truncated or corrupted",
            d / "empty.tif": "empty", big: "above this app's limit", two: "2 bands (1=HH, 2=HV)",
            e30: "does not look like SAR backscatter"}


def test_bad_inputs_then_valid(client, tmp_path):
    for path, msg in _bad_files(tmp_path).items():
        with pytest.raises(Exception) as e:
            _predict(client, path)
        assert msg in str(e.value), (path.name, str(e.value))
        # the message names the file, never a folder of the server (the upload's temporary path, the work folder)
        assert not re.search(r"(?<![\w.])/(?:[^\s/'\"]+/)+", str(e.value)), str(e.value)
        ok = _predict(client, H.sample(), overlap=0)        # the app keeps serving
        assert "Land cover" in ok[7]


def test_band_choice_nodata_tile_and_grey_png(client, tmp_path):
    files = _bad_files(tmp_path)
    two = next(p for p, m in files.items() if "bands" in m)
    out = _predict(client, two, band=1, overlap=0)
    assert "band 1 of 2" in out[7]
    from sar_lulc.io import write_raster
    from rasterio.crs import CRS
    from rasterio.transform import from_origin
    nod = write_raster(tmp_path / "nodata.tif", np.full((64, 64), np.nan, np.float32), crs=CRS.from_epsg(4326),
                       transform=from_origin(139.7, 35.7, 1e-4, 1e-4))
    out = _predict(client, nod, overlap=0)
    assert "No valid data" in out[7]
    assert sum(r[1] for r in out[5]["data"]) == 0
    from PIL import Image
    grey = (np.add.outer(np.arange(80), np.arange(100)) % 256).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "screenshot.png")
    out = _predict(client, tmp_path / "screenshot.png", overlap=0)
    assert "Not georeferenced" in out[7]
    assert all(r[2] is None for r in out[5]["data"]) and sum(r[1] for r in out[5]["data"]) == 80 * 100


def test_upload_size_limit(client, tmp_path):
    p = tmp_path / "huge.tif"
    p.write_bytes(b"II*\x00" + bytes(int(H.MAX_UPLOAD_MB * 2**20) + 4096))
    with pytest.raises(Exception) as e:       # refused by Gradio's max_file_size (client side or HTTP 413)
        _predict(client, p)
    assert "maximum file size" in str(e.value) or "413" in str(e.value) or "upload limit" in str(e.value), str(e.value)
    assert "Land cover" in _predict(client, H.sample(), overlap=0)[7]


def test_two_requests_at_once(client):
    jobs = [client.submit(handle_file(str(H.sample())), "lulc", "auto", -83.0, 0, 32, False, api_name="/predict")
            for _ in range(2)]
    outs = [j.result(timeout=300) for j in jobs]
    maps = [_read(_class_map(o))[0] for o in outs]
    np.testing.assert_array_equal(maps[0], maps[1])


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_stopping_the_app_removes_its_temporary_folder(sig, tmp_path):
    "Ctrl-C or SIGTERM: the server stops cleanly and its default folder in the system temp folder goes (issue 27)."
    import os, signal, subprocess, sys, time, urllib.request
    m = H.models(); port = H._free_port()
    env = dict(os.environ, TMPDIR=str(tmp_path), GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1",
               GRADIO_TEMP_DIR=str(tmp_path / "gradio"))
    p = subprocess.Popen([sys.executable, "-m", "sar_lulc.cli", "app", "--port", str(port), "--lulc-model", str(m["lulc"]),
                          "--water-model", str(m["water"]), "--device", "cpu"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=sigint_default)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2): break
            except OSError: time.sleep(0.5)
        assert (tmp_path / f"sar_lulc_app_{p.pid}").is_dir()
        p.send_signal(getattr(signal, sig))
        assert p.wait(60) in (0, 130, -2)
    finally:
        if p.poll() is None: p.kill()
    assert not (tmp_path / f"sar_lulc_app_{p.pid}").exists()


def test_cli_and_app_give_the_same_map(client, tmp_path):
    """One file, one set of options: the app and `sar-lulc predict` give the same map (issue 27). For a GeoTIFF the
    calibration factor left empty is the model's in both; a grey PNG is read by one rule (0..255 as -30..0 dB);
    the tile/overlap rule is blend's in both."""
    import subprocess, sys
    from pathlib import Path
    from PIL import Image
    exe = Path(sys.executable).parent / "sar-lulc"
    grey = (np.add.outer(np.arange(150), np.arange(170)) % 256).astype(np.uint8)
    Image.fromarray(grey).save(tmp_path / "quicklook.png")
    for src in (H.sample(), tmp_path / "quicklook.png"):
        out = _predict(client, src, cf=None, overlap=32)
        cli = subprocess.run([str(exe), "predict", str(src), "--model", str(H.models()["lulc"]), "--tile", str(H.TILE),
                              "--overlap", "32", "--out", str(tmp_path / f"{src.stem}_cli.tif"), "--no-progress"],
                             capture_output=True, text=True, timeout=300)
        assert cli.returncode == 0, cli.stderr[-2000:]
        got, want = _read(_class_map(out))[0], _read(tmp_path / f"{src.stem}_cli.tif")[0]
        np.testing.assert_array_equal(got, want, err_msg=str(src))
