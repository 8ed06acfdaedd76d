"""Shared by the app tests: a micro model, a small sample scene, and one app server per test session
(started as `python app/app.py` in a subprocess on a free 127.0.0.1 port, stopped at exit)."""
import atexit, os, shutil, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TILE = 128
MAX_PIXELS = 100_000           # the sample (256 x 256 = 65 536 px) fits; the "big" bad input does not
MAX_UPLOAD_MB = 1.0
_STATE = {}


def workdir() -> Path:
    if "dir" not in _STATE:
        d = Path(tempfile.mkdtemp(prefix="sar_lulc_apptest_"))
        _STATE["dir"] = d
        atexit.register(shutil.rmtree, d, ignore_errors=True)
    return _STATE["dir"]


def models() -> dict:
    "Micro models (untrained, fixed seeds) exported like trained ones."
    if "models" not in _STATE:
        from sar_lulc.checkpoint import untrained_model
        d = workdir() / "models"
        _STATE["models"] = {t: untrained_model(d / f"{t}_micro.safetensors", t, seed=i)
                            for i, t in enumerate(("lulc", "water"))}
    return _STATE["models"]


def sample() -> Path:
    "A 256 x 256 SynthALOS-2 scene as uint16 DN GeoTIFF (EPSG:4326)."
    p = workdir() / "sample_dn.tif"
    if not p.exists():
        from sar_lulc.io import write_raster
        from sar_lulc.synth import synth_scene
        s = synth_scene(3, size=256)
        write_raster(p, s.dn, crs=s.crs, transform=s.transform, nodata=0)
    return p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def server() -> str:
    "URL of the app server of this test session (started on first use)."
    if "url" in _STATE: return _STATE["url"]
    m = models(); port = _free_port()
    log = open(workdir() / "server.log", "w")
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_DISABLE_TELEMETRY="1", PYTHONUNBUFFERED="1",
               GRADIO_TEMP_DIR=str(workdir() / "gradio"))
    cmd = [sys.executable, str(ROOT / "app" / "app.py"), "--host", "127.0.0.1", "--port", str(port),
           "--lulc-model", str(m["lulc"]), "--water-model", str(m["water"]), "--tile", str(TILE),
           "--max-pixels", str(MAX_PIXELS), "--max-upload-mb", str(MAX_UPLOAD_MB), "--concurrency", "2",
           "--device", "cpu", "--workdir", str(workdir() / "outputs")]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT), env=env)
    _STATE["proc"] = proc
    atexit.register(stop)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}:\n{(workdir() / 'server.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: break
        except OSError: time.sleep(0.5)
    else:
        stop(); raise RuntimeError("the app did not start within 180 s")
    _STATE["url"] = url
    return url


def server_log() -> str:
    p = workdir() / "server.log"
    return p.read_text() if p.exists() else ""


def stop():
    proc = _STATE.pop("proc", None)
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try: proc.wait(10)
        except subprocess.TimeoutExpired: proc.kill()
