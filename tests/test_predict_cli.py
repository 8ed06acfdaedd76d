"""`sar-lulc predict` end to end in subprocesses: --json summary, many scenes, reruns skip complete scenes,
existing outputs refused, bad input, and sharding under torchrun."""
import json, os, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from conftest import sigint_default

ROOT = Path(__file__).resolve().parents[1]
SAR_LULC = Path(sys.executable).parent / "sar-lulc"          # the console script (sar_lulc.cli:main)
CLI = [str(SAR_LULC)]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}

def make_scene(path, h=150, w=230, seed=0, bands=1):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / 30.0
    db = -13 + 6 * np.sin(yy) * np.cos(xx) + rng.normal(0, 1, (h, w))
    dn = np.clip(np.rint(10 ** ((db + 83) / 20)), 1, 65535).astype(np.uint16)
    dn[:10, :10] = 0
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=bands, dtype="uint16", crs="EPSG:4326",
                       transform=from_origin(139.0, 36.0, 1 / 4500, 1 / 4500), nodata=0) as ds:
        ds.write(np.stack([dn] * bands))
    return Path(path)

@pytest.fixture(scope="module")
def models(tmp_path_factory):
    "Micro Segmenters exported like real runs (random weights): {'lulc': path, 'water': path}."
    import torch
    from sar_lulc.checkpoint import training_state, save_checkpoint, export_model
    from sar_lulc.segmenter import Segmenter, segmenter_config
    from sar_lulc.schemes import get_scheme
    d = tmp_path_factory.mktemp("models")
    out = {}
    for task, scheme in (("lulc", "jp9"), ("water", "water")):
        torch.manual_seed(0)
        cfg = segmenter_config("tiny", task=task, embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 4, 8),
                               fpn_dim=16, stem_dim=8, head_dim=8)
        m = Segmenter(cfg)
        ck = save_checkpoint(d / f"{task}.pt", training_state(m, kind="finetune", arch="segmenter",
                             model_config=cfg.to_dict(), task=task, norm=dict(mean=-10.4327, std=5.8041),
                             scheme=get_scheme(scheme).to_dict()))
        out[task] = export_model(ck, d / f"{task}.safetensors")
    return out

def run(args, cwd=ROOT, cmd=CLI, timeout=300):
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=ENV, timeout=timeout)

def test_single_scene_json_and_refusal(tmp_path, models):
    scene = make_scene(tmp_path / "scene.tif")
    out = tmp_path / "out" / "scene_water.tif"
    args = ["--json", "predict", scene, "--task", "water", "--model", models["water"], "--out", out,
            "--tile", 128, "--overlap", 0.25, "--no-progress"]
    r = run(args)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert s["ok"] and s["mode"] == "scene" and s["task"] == "water" and (s["width"], s["height"]) == (230, 150)
    assert set(s["paths"]) == {"class", "confidence", "probs", "summary"} and all(Path(p).is_file() for p in s["paths"].values())
    assert s["valid_pixels"] == 150 * 230 - 100 and s["total_area_km2"] > 0
    with rasterio.open(out) as ds:
        a = ds.read(1)
        assert ds.crs.to_epsg() == 4326 and set(np.unique(a)) <= {0, 1, 255} and (a[:10, :10] == 255).all()
    before = out.read_bytes()
    r = run(args)                                              # an existing output is refused...
    assert r.returncode == 2 and "already exists" in r.stderr and "--overwrite" in r.stderr
    assert out.read_bytes() == before
    r = run(args + ["--overwrite"])                            # ... unless --overwrite
    assert r.returncode == 0, r.stderr
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]    # no temporaries left

def test_many_scenes_rerun_skips(tmp_path, models):
    d = tmp_path / "scenes"; d.mkdir()
    for i in range(3): make_scene(d / f"t{i}.tif", seed=i)
    extra = make_scene(tmp_path / "extra.tif", h=90, w=100, seed=9)
    out = tmp_path / "maps"
    args = ["--json", "predict", d, extra, "--model", models["lulc"], "--out", out, "--tile", 128, "--no-progress"]
    r = run(args)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert (s["scenes"], s["predicted"], s["skipped"]) == (4, 4, 0) and s["failed"] == []
    assert sorted(p.name for p in out.glob("*_lulc.tif")) == ["extra_lulc.tif", "t0_lulc.tif", "t1_lulc.tif", "t2_lulc.tif"]
    assert abs(sum(s["area_km2"].values()) - sum(json.loads(p.read_text())["total_area_km2"] for p in out.glob("*.json"))) < 1e-9
    (out / "t1_lulc.json").unlink()                            # as if the run had died before finishing t1
    r = run(args)
    s = json.loads(r.stdout.strip().splitlines()[-1])
    assert (s["predicted"], s["skipped"]) == (1, 3), s

def test_bad_inputs(tmp_path, models):
    mb = make_scene(tmp_path / "two.tif", bands=2)
    r = run(["predict", mb, "--model", models["lulc"], "--out", tmp_path / "o.tif", "--tile", 128, "--no-progress"])
    assert r.returncode == 2 and "band" in r.stderr and "Traceback" not in r.stderr
    scene = make_scene(tmp_path / "s.tif")
    r = run(["predict", scene, "--task", "lulc", "--model", models["water"], "--out", tmp_path / "w.tif", "--no-progress"])
    assert r.returncode == 2 and "trained for the 'water' task" in r.stderr
    r = run(["predict", tmp_path / "missing.tif", "--model", models["lulc"], "--out", tmp_path / "m.tif"])
    assert r.returncode == 2 and "does not exist" in r.stderr

def test_ensemble_averages_the_models(tmp_path, models):
    "Several --model flags: one map from their mean probabilities; models that disagree on what they read are refused."
    from sar_lulc.checkpoint import untrained_model
    other = untrained_model(tmp_path / "seed1.safetensors", "lulc", seed=1, norm=(-10.4327, 5.8041))
    scene = make_scene(tmp_path / "scene.tif")
    probs = {}
    for name, ms in (("a", [models["lulc"]]), ("b", [other]), ("ab", [models["lulc"], other])):
        out = tmp_path / f"{name}.tif"
        r = run(["--json", "predict", scene, *[x for m in ms for x in ("--model", m)], "--out", out, "--probs",
                 "--precision", "fp32", "--tile", 128, "--no-progress"])
        assert r.returncode == 0, r.stderr
        s = json.loads(r.stdout.strip().splitlines()[-1])
        with rasterio.open(s["paths"]["probs"]) as ds: probs[name] = ds.read().astype(int)
    assert all(str(m) in s["model"] for m in (models["lulc"], other))           # the summary names every member
    d = tmp_path / "two"; d.mkdir(); make_scene(d / "x.tif", seed=1); make_scene(d / "y.tif", seed=2)
    r = run(["--json", "predict", d, "--model", models["lulc"], "--model", other, "--out", tmp_path / "maps",
             "--tile", 128, "--no-progress"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["models"] == {"lulc+seed1": 2}     # both made both maps
    valid = probs["a"][0] != 255
    mean = (probs["a"] + probs["b"]) / 2                                      # percent, each rounded once
    assert np.abs(probs["ab"] - mean)[:, valid].max() <= 1
    assert np.abs(probs["a"] - probs["b"])[:, valid].max() > 5                # the members differ: a real average
    r = run(["predict", scene, "--model", models["lulc"], "--model", models["water"], "--out", tmp_path / "x.tif",
             "--no-progress"])
    assert r.returncode == 2 and "cannot be averaged" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.tif").exists()

def test_default_demo_weights(tmp_path):
    "Without --model the demo weights are used, or a clear message says how to get them."
    scene = make_scene(tmp_path / "s.tif", h=64, w=64)
    r = run(["predict", scene, "--task", "water", "--out", tmp_path / "d.tif", "--tile", 64, "--overlap", 16, "--no-progress"])
    if (ROOT / "data_samples" / "models" / "water_tiny.safetensors").is_file():
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode == 2 and "water_tiny.safetensors" in r.stderr and "sar-lulc train" in r.stderr

@pytest.mark.skipif(shutil.which("torchrun", path=str(Path(sys.executable).parent)) is None, reason="torchrun not installed")
def test_torchrun_shards_scenes(tmp_path, models):
    d = tmp_path / "scenes"; d.mkdir()
    for i in range(4): make_scene(d / f"u{i}.tif", h=70, w=90, seed=i)
    out = tmp_path / "maps"
    torchrun = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc-per-node", "2", "--no-python",
                str(SAR_LULC)]
    r = run(["--json", "predict", d, "--model", models["lulc"], "--out", out, "--tile", 64, "--overlap", 16, "--no-progress",
             "--device", "cpu"], cmd=torchrun)
    assert r.returncode == 0, r.stderr[-3000:]
    sums = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    assert len(sums) == 1, r.stdout                            # rank 0 reports the whole run
    s = sums[0]
    assert s["world_size"] == 2 and (s["scenes"], s["predicted"]) == (4, 4)
    assert [Path(o).name for o in s["outputs"]] == [f"u{i}_lulc.tif" for i in range(4)]
    logs = sorted(json.loads(p.read_text())["src"] for p in out.glob("*.json"))
    assert [Path(p).name for p in logs] == [f"u{i}.tif" for i in range(4)]


def test_precision_auto_is_the_default_announced_and_remembered(models, tmp_path):
    """`predict` runs in precision auto by default (issue 29): it says what it is timing, and the second run on the
    same machine and model (here with an explicit `--precision auto`) decides from the file at once (issue 27: a
    silent probe of tens of seconds looked like a hang). Without native bf16: fp32, no probe, no file."""
    from sar_lulc.core import has_native_bf16
    scene = make_scene(tmp_path / "s.tif")
    env = {k: v for k, v in ENV.items() if k != "SAR_LULC_PRECISION"}       # the suite pins fp32; a user does not
    env["SAR_LULC_CACHE_DIR"] = str(tmp_path / "cache")
    run = lambda n, *flag: subprocess.run(CLI + ["--json", "predict", str(scene), "--model", str(models["lulc"]),
                                                 "--out", str(tmp_path / f"{n}.tif"), *flag, "--no-progress"],
                                          capture_output=True, text=True, env=env, timeout=300)
    a, b = run("a"), run("b", "--precision", "auto")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    sa, sb = (json.loads(p.stdout.strip().splitlines()[-1]) for p in (a, b))
    assert "precision_auto" in sa["input"]                             # decided, and said why
    if not has_native_bf16("cpu"):
        assert sa["input"]["precision_auto"] == "no native bf16 on this cpu" and not (tmp_path / "cache").exists()
        assert sa["precision"] == "fp32"
        return
    assert "precision auto: timing bf16 against fp32" in a.stderr and "precision auto" not in b.stderr, b.stderr
    assert sb["input"]["precision_auto"].endswith("(measured before on this machine)") and sb["precision"] == sa["precision"]


def test_ctrl_c_is_not_held_up_by_a_long_native_write():
    """The final COG write is one long native call that does not look at signals (a minute on a large scene: Ctrl-C
    once waited for it, issue 27). `outputs.interruptible` runs it aside: Ctrl-C stops the process at once. zlib at
    level 9 on 200 MB stands in for GDAL here (it, too, never checks for signals: called directly, Ctrl-C waits for it
    for seconds)."""
    import signal, time
    code = ("import os, zlib; from sar_lulc.outputs import interruptible\n"
            "b = os.urandom(8_000_000) * 25; print('ready', flush=True)\n"
            "for _ in range(5): interruptible(zlib.compress, b, 9)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                         preexec_fn=sigint_default)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    t = time.time(); p.send_signal(signal.SIGINT)
    p.wait(120)
    assert time.time() - t < 2.5 and "KeyboardInterrupt" in p.stderr.read(), time.time() - t
