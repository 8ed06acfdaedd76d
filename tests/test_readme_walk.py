"""A user's walk through the README (issue 27): every `sar-lulc` command line of its "Using it" block, run as written
from a temporary folder outside the repository, on small data. The files the README names (scene.tif, HH.tif,
fields.tif, hrlulc_tiles/ ...) are made here; sizes are cut with flags appended to a line (`--size 64` for synth,
`--recipe micro --steps 1` for training), never by editing it. The web demo is started and stopped."""
import os, re, shlex, signal, socket, subprocess, time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from conftest import ROOT, SAR_LULC_CMD, sigint_default
from sar_lulc.synth import WATER, synth_scene

PIXEL = 1 / 12000                                   # HRLULC's 10 m grid in degrees


def readme_commands() -> list[str]:
    "The `sar-lulc ...` lines of the README's 'Using it' block, continuation lines joined, comments dropped."
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Using it\s+```bash\n(.*?)```", text, re.S).group(1)
    joined = re.sub(r"\\\n\s*", " ", block)
    return [shlex.split(l, comments=True) for l in joined.splitlines() if l.strip().startswith("sar-lulc")]


def small(args: list[str]) -> list[str]:
    "Flags that make a README line quick, appended after the user's own."
    cmd = args[1]
    if cmd == "synth": return ["--size", "64"] + ([] if "--layouts" in args else ["--n-train", "2", "--n-val", "1", "--n-test", "1"])
    if cmd == "pretrain": return ["--recipe", "micro", "--steps", "1", "--no-progress"]
    if cmd == "train": return (["--steps", "1"] if "--recipe" in args else ["--recipe", "micro", "--steps", "1"]) + ["--no-progress"]
    if cmd in ("predict", "evaluate"): return ["--no-progress"]
    return []


def _write(path, arr, tr, nodata=None):
    a = arr if arr.ndim == 3 else arr[None]
    with rasterio.open(path, "w", driver="GTiff", width=a.shape[2], height=a.shape[1], count=a.shape[0], dtype=a.dtype,
                       crs="EPSG:4326", transform=tr, nodata=nodata) as ds: ds.write(a)
    return path


def user_files(d: Path) -> None:
    "The files a reader of the README would bring, small."
    tr = from_origin(139.0, 36.0, PIXEL, PIXEL)
    s = synth_scene(7, size=256, targets={WATER: .25})
    _write(d / "scene.tif", s.db, tr, np.nan)
    _write(d / "my_hh.tif", s.db, tr, np.nan)
    big = synth_scene(8, size=512, targets={WATER: .25})            # HH + HV of one scene, and fields on it
    hv = (big.db - 7 + np.random.default_rng(0).normal(0, 1, big.db.shape)).astype(np.float32)
    _write(d / "HH.tif", big.db, tr, np.nan); _write(d / "HV.tif", hv, tr, np.nan)
    _write(d / "water_mask.tif", (big.labels == WATER).astype(np.uint8), tr)
    fields = np.zeros(big.db.shape, np.uint8)                     # 16 labelled fields, the rest unlabelled (0)
    for i in range(4):
        for j in range(4): fields[20 + 128 * i:70 + 128 * i, 30 + 128 * j:90 + 128 * j] = 1 + (i + j) % 3
    _write(d / "fields.tif", fields, tr, 0)
    codes = np.random.default_rng(1).integers(2, 15, (64, 64)).astype(np.uint8)   # HRLULC-like raw codes (v23.12)
    _write(d / "hrlulc_tile.tif", codes, from_origin(139.0, 36.0, 4 * PIXEL, 4 * PIXEL), 0)
    (d / "hrlulc_tiles").mkdir()
    _write(d / "hrlulc_tiles" / "tile.tif", np.repeat(np.repeat(codes, 2, 0), 2, 1), from_origin(139.0, 36.0, PIXEL, PIXEL), 0)
    (d / "scenes").mkdir(); (d / "masks").mkdir()
    for k in range(3):
        sk = synth_scene(20 + k, size=256, targets={WATER: .3})
        tk = from_origin(139.0 + k * 0.05, 36.0, PIXEL, PIXEL)
        _write(d / "scenes" / f"lake{k}.tif", sk.db, tk, np.nan)
        _write(d / "masks" / f"lake{k}.tif", np.where(sk.labels == WATER, 255, 0).astype(np.uint8), tk)


def _free_port() -> int:
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def test_every_readme_command_runs_from_outside_the_repository(tmp_path):
    cmds = readme_commands()
    assert len(cmds) >= 15 and all(c[0] == "sar-lulc" for c in cmds), cmds
    user_files(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1"}
    for args in cmds:
        line = " ".join(args)
        if args[1] == "app":                     # the web demo: it must come up and answer, then stop on Ctrl-C
            port = _free_port()
            p = subprocess.Popen([*SAR_LULC_CMD, *args[1:], "--port", str(port)], cwd=tmp_path, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 preexec_fn=sigint_default)
            try:
                t0, up = time.time(), False
                while time.time() - t0 < 180 and p.poll() is None and not up:
                    with socket.socket() as s: up = s.connect_ex(("127.0.0.1", port)) == 0
                    time.sleep(0.5)
                assert up, f"{line}: the app did not start:\n{p.stdout.read()[-2000:] if p.poll() is not None else ''}"
            finally:
                p.send_signal(signal.SIGINT)
                try: p.wait(60)
                except subprocess.TimeoutExpired: p.kill(); raise
            continue
        r = subprocess.run([*SAR_LULC_CMD, *args[1:], *small(args)], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=900)
        assert r.returncode == 0, f"{line}\n{r.stderr[-3000:]}"
    for made in ("data/synth/manifest.json", "runs/pre", "runs/lulc/model.safetensors", "data/both/manifest.json",
                 "runs/water/model.safetensors", "scene_lulc.tif", "runs/dual/model.safetensors", "maps",
                 "data/mine/manifest.json", "data/lakes/manifest.json", "runs/lakes/model.safetensors",
                 "runs/f0/model.safetensors", "runs/f1/model.safetensors", "runs/f2/model.safetensors",
                 "fields_map.tif"):
        assert (tmp_path / made).exists(), made
    assert not any(ROOT.joinpath(p).exists() for p in ("runs/dual", "scene_lulc.tif", "maps")), "written in the repo"
