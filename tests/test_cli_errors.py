"""Every command-line mistake gets one line on stderr and exit status 2, never a traceback, and leaves no output
behind; bad input is refused before a model is loaded; a `kill -9` during `predict` leaves nothing a rerun keeps."""
import json, os, signal, subprocess, time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from conftest import DEMO_MODELS, SAMPLE_LABELS as L, SAMPLE_SCENE as S, SAMPLES, SAR_LULC_CMD, sar_lulc

D = SAMPLES / "synth"                # a dataset folder
M = DEMO_MODELS["lulc"]

# (command, arguments); OUT stands for a fresh path in the test's folder that must still not exist afterwards,
# NOTES for a text file, BADJSON for a file of broken JSON.
CASES = [
    ("synth", ["OUT", "--n-train", "-1"]), ("synth", ["OUT", "--size", "0"]), ("synth", ["OUT", "--size", "abc"]),
    ("synth", ["OUT", "--looks", "0"]), ("synth", ["OUT", "--looks", "abc"]), ("synth", ["OUT", "--open-sea", "-1"]),
    ("synth", ["OUT", "--nodata-corner", "2"]), ("synth", ["OUT", "--seed", "abc"]),
    ("synth", ["OUT", "--n-train", "0", "--n-val", "0", "--n-test", "0"]),
    ("chips", ["--sar", "missing.tif", "--labels", L, "--scheme", "jp9", "--out", "OUT"]),
    ("chips", ["--sar", S, "--labels", "missing.tif", "--scheme", "jp9", "--out", "OUT"]),
    ("chips", ["--sar", S, "--labels", L, "--scheme", "jp9", "--out", "OUT", "--chip", "0"]),
    ("chips", ["--sar", S, "--labels", L, "--scheme", "jp9", "--out", "OUT", "--stride", "0"]),
    ("chips", ["--sar", S, "--labels", L, "--scheme", "jp9", "--out", "OUT", "--min-valid", "2"]),
    ("chips", ["--sar", S, "--labels", L, "--scheme", "jp9", "--out", "OUT", "--block-size", "0"]),
    ("chips", ["--sar", S, "--labels", L, "--scheme", "jp9", "--out", "OUT", "--split", "abc"]),
    ("chips", ["--sar", S, "--labels", L, "--scheme", "jp9", "--out", "OUT", "--cf", "nan"]),
    ("chips", ["--sar", S, "--labels", L, "--scheme", "nope", "--out", "OUT"]),
    ("chips", ["--sar", "NOTES", "--labels", L, "--scheme", "jp9", "--out", "OUT"]),
    ("pretrain", ["--data", "missing", "--out", "OUT"]), ("pretrain", ["--data", S, "--out", "OUT"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--epochs", "0"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--batch-size", "0"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--lr", "-1"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--mask-ratio", "1.5"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--workers", "-1"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--steps", "0"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--save-every", "-1"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--device", "gpu"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--resume", "missing.pt"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--config", "BADJSON"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--set", "foo"]),
    ("pretrain", ["--data", D, "--out", "OUT", "--set", "unknown=1"]),
    ("train", ["--data", D, "--out", "OUT", "--alpha", "2"]),
    ("train", ["--data", D, "--out", "OUT", "--pretrained", "missing"]),
    ("train", ["--data", D, "--out", "OUT", "--pretrained", S]),
    ("train", ["--data", D, "--out", "OUT", "--drop-path", "2"]),
    ("train", ["--data", D, "--out", "OUT", "--layer-decay", "0"]),
    ("train", ["--data", D, "--out", "OUT", "--resume", S]),
    ("train", ["--data", D, "--out", "OUT", "--set", "min_valid=3"]),
    ("evaluate", ["--model", "missing", "--data", D, "--out", "OUT"]),
    ("evaluate", ["--model", S, "--data", D, "--out", "OUT"]),
    ("evaluate", ["--model", M, "--data", "missing", "--out", "OUT"]),
    ("evaluate", ["--model", M, "--data", D, "--split", "nope", "--out", "OUT"]),
    ("evaluate", ["--model", M, "--data", D, "--batch-size", "0", "--out", "OUT"]),
    ("evaluate", ["--model", M, "--data", D, "--chip", "0", "--out", "OUT"]),
    ("export", ["missing", "--out", "OUT/x.safetensors"]), ("export", [S, "--out", "OUT/x.safetensors"]),
    ("export", [M, "--out", "NOTES"]),
    ("app", ["--port", "-1"]), ("app", ["--port", "70000"]), ("app", ["--max-upload-mb", "0"]),
    ("app", ["--concurrency", "0"]), ("app", ["--tile", "0"]), ("app", ["--lulc-model", "missing"]),
    ("app", ["--lulc-model", S]), ("app", ["--device", "gpu"]),
    ("predict", [S, "--out", "OUT/a.tif", "--batch-size", "0"]), ("predict", [S, "--out", "OUT/x.png"]),
    ("predict", [S, "--out", "OUT/a.tif", "--tile", "abc"]), ("predict", [S, "--out", "OUT/a.tif", "--model", S]),
    ("predict", [S, "--out", "OUT/a.tif", "--model", M, "--task", "water"]),
    ("predict", ["missing.tif", "--out", "OUT/a.tif"]), ("predict", ["NOTES", "--out", "OUT/a.tif"]),
    ("predict", [S, "--out", "OUT/a.tif", "--overlap", "abc"]), ("predict", [S, "--out", "OUT/a.tif", "--units", "foo"]),
    ("predict", [S, "--out", "OUT/a.tif", "--band", "3"]), ("predict", [S, "--out", "OUT.v2", "--model", M]),
    ("predict", [S, "--out", "OUT/a.tif", "--overlap", "nan"]), ("predict", [S, "--out", "OUT/a.tif", "--overlap", "inf"]),
    ("predict", [S, "--out", ""]), ("predict", ["NOTES", "--out", "OUT/", "--no-progress"]), ("chips", ["--sar", S, "--labels", L, "--scheme", "jp9", "--out", "OUT", "--cf", "inf"]),
]
if not __import__("torch").cuda.is_available():
    CASES += [(c, a) for c, a in [("predict", [S, "--out", "OUT/a.tif", "--device", "cuda"]),
                                   ("train", ["--data", D, "--out", "OUT", "--device", "cuda"]),
                                   ("evaluate", ["--model", M, "--data", D, "--device", "cuda", "--out", "OUT"]),
                                   ("app", ["--device", "cuda"])]]

def _args(args, tmp_path):
    (tmp_path / "notes.txt").write_text("not a raster\n"); (tmp_path / "bad.json").write_text("{not json")
    sub = {"NOTES": tmp_path / "notes.txt", "BADJSON": tmp_path / "bad.json"}
    return [str(sub.get(a, a)).replace("OUT", str(tmp_path / "out")) if isinstance(a, str) else a for a in args]

@pytest.mark.parametrize("cmd,args", CASES, ids=[f"{c}-{'_'.join(map(str, a[-2:]))[-40:]}" for c, a in CASES])
def test_one_line_exit_2_nothing_left(cmd, args, tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc, out, err = cli(cmd, *_args(args, tmp_path))
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith("warning:")]
    assert rc == 2, (rc, err)
    assert len(lines) == 1 and lines[0].startswith(f"sar-lulc {cmd}: error: ") and "Traceback" not in err, err
    assert not (tmp_path / "out").exists() and not any(p.name.startswith("out") for p in tmp_path.iterdir()), \
        sorted(p.name for p in tmp_path.iterdir())

def test_unexpected_errors_are_one_line_too(cli, monkeypatch):
    "A bug (an exception that is not the user's fault) still prints one line, with exit status 1."
    import functools
    import sar_lulc.predict  # noqa: F401  (registers the command)
    from sar_lulc.command import REGISTRY
    monkeypatch.setattr(REGISTRY["predict"], "fn", functools.wraps(REGISTRY["predict"].fn)(lambda *a, **k: 1 / 0))
    rc, _, err = cli("predict", S, "--out", "x.tif")
    assert rc == 1 and err.count("\n") == 1 and "unexpected ZeroDivisionError" in err and "SAR_LULC_TRACEBACK=1" in err

# -- the three cases of the issue, as a user meets them: a real process, its stderr, and what it left
@pytest.mark.parametrize("extra", [["--batch-size", "0"], ["--device", "cuda"], ["--out-png"]], ids=["batch0", "cuda", "png"])
def test_predict_cases_from_the_issue(extra, tmp_path):
    import torch
    if extra == ["--device", "cuda"] and torch.cuda.is_available(): pytest.skip("this machine has CUDA")
    out = tmp_path / ("x.png" if extra == ["--out-png"] else "maps" / Path("a.tif"))
    r = sar_lulc("predict", S, "--out", out, *([] if extra == ["--out-png"] else extra), "--no-progress")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []

# -- fail fast: bad input is refused before the model is loaded
@pytest.mark.parametrize("case", ["notes", "e30", "exists", "band", "png"])
def test_bad_input_refused_before_the_model_loads(case, tmp_path, cli, monkeypatch):
    import sar_lulc.checkpoint as C
    def no_load(*a, **k): raise AssertionError("the model was loaded before the input was checked")
    monkeypatch.setattr(C, "load_model", no_load)
    scene, out = S, tmp_path / "o.tif"
    if case == "notes": scene = tmp_path / "n.tif"; scene.write_text("text")
    if case == "e30":
        scene = tmp_path / "e30.tif"
        with rasterio.open(scene, "w", driver="GTiff", width=64, height=64, count=1, dtype="float32", crs="EPSG:4326",
                           transform=from_origin(139, 36, 1e-4, 1e-4)) as ds: ds.write(np.full((1, 64, 64), 1e30, np.float32))
    if case == "exists": out.write_text("keep me")
    extra = ["--band", "2"] if case == "band" else []
    if case == "png": out = tmp_path / "o.png"
    rc, _, err = cli("predict", scene, "--out", out, "--model", M, "--no-progress", *extra)
    assert rc == 2 and "the model was loaded" not in err, err
    if case == "e30": assert "does not look like SAR backscatter" in err and "1e+30" in err
    if case == "exists": assert out.read_text() == "keep me"

def test_all_no_data_warns_on_the_cli(tmp_path):
    scene = tmp_path / "empty.tif"
    with rasterio.open(scene, "w", driver="GTiff", width=80, height=60, count=1, dtype="uint16", crs="EPSG:4326",
                       transform=from_origin(139, 36, 1e-4, 1e-4), nodata=0) as ds: ds.write(np.zeros((1, 60, 80), np.uint16))
    r = sar_lulc("--json", "predict", scene, "--out", tmp_path / "m.tif", "--tile", 64, "--overlap", 16, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert any(l.startswith("warning:") and "every pixel is no data" in l for l in r.stderr.splitlines()), r.stderr
    assert "every pixel is no data" in json.loads(r.stdout.splitlines()[-1])["warnings"][-1]

def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))

def test_kill_9_during_predict_then_rerun_cleans_up(tmp_path):
    "A predict killed with SIGKILL leaves its stage files and lock; the rerun removes them and finishes."
    out = tmp_path / "maps" / "m.tif"
    cmd = [*SAR_LULC_CMD, "predict", S, "--out", out, "--tile", "64", "--overlap", "48", "--batch-size", "1",
           "--device", "cpu", "--no-progress"]
    p = subprocess.Popen(list(map(str, cmd)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    t0 = time.time()
    while time.time() - t0 < 120 and p.poll() is None and not (
            out.parent.exists() and any(n.endswith(".stage.tif") for n in _hidden(out.parent))):
        time.sleep(0.02)
    p.send_signal(signal.SIGSTOP)                 # frozen mid-write, however fast the machine ...
    left = _hidden(out.parent)
    p.send_signal(signal.SIGKILL); p.wait()       # ... then killed outright
    assert p.returncode == -signal.SIGKILL
    assert any(n.endswith(".stage.tif") for n in left) and ".m.tif.lock" in left, left
    assert not out.exists()
    r = sar_lulc("predict", S, "--out", out, "--tile", 256, "--no-progress")
    assert r.returncode == 0, r.stderr
    assert _hidden(out.parent) == [] and out.is_file()

# -- no silent loss (issue 27): a dB raster read as DN is refused; infinite pixels are counted in a warning
def _db_scene(tmp_path, name, inf_rows=False):
    with rasterio.open(S) as src: dn, prof = src.read(1).astype(np.float64), src.profile
    db = np.where(dn > 0, 20 * np.log10(np.maximum(dn, 1)) - 83.0, np.nan).astype(np.float32)
    if inf_rows: db = (10 ** (db / 10)).astype(np.float32); db[::16] = np.inf        # linear power, 1 row in 16 infinite
    prof.update(dtype="float32", nodata=None)
    with rasterio.open(tmp_path / name, "w", **prof) as dst: dst.write(db, 1)
    return tmp_path / name, db

def test_db_scene_read_as_dn_is_refused(tmp_path):
    scene, _ = _db_scene(tmp_path, "scene_db.tif")
    r = sar_lulc("predict", scene, "--units", "dn", "--out", tmp_path / "m.tif", "--no-progress")
    assert r.returncode == 2 and "are negative" in r.stderr and "--units db" in r.stderr, r.stderr
    assert "--allow-nodata" in r.stderr and not (tmp_path / "m.tif").exists()
    r = sar_lulc("predict", scene, "--units", "dn", "--allow-nodata", "--out", tmp_path / "m.tif", "--no-progress")
    assert r.returncode == 0 and "Going on as asked (--allow-nodata)" in r.stderr, r.stderr     # the user's choice
    assert "were not backscatter" in r.stderr and (tmp_path / "m.tif").exists()              # and the true count

def test_infinite_pixels_warn_with_their_true_count(tmp_path):
    scene, a = _db_scene(tmp_path, "scene_lin.tif", inf_rows=True)
    r = sar_lulc("predict", scene, "--units", "linear", "--out", tmp_path / "m.tif", "--no-progress", "--json")
    assert r.returncode == 0, r.stderr
    n = int(np.isinf(a).sum())
    assert f"{n} pixel(s) of scene_lin.tif were not backscatter" in r.stderr, r.stderr

# -- messages in the user's language (issue 27): each names the flag and what to do
def test_messages_name_the_flag(tmp_path):
    r = sar_lulc("predict", S, "--tile", "17", "--out", tmp_path / "a.tif", "--no-progress")
    assert r.returncode == 2 and "--tile 17 leaves no room for --overlap 64" in r.stderr, r.stderr
    r = sar_lulc("predict", S, "--out", "/proc/a.tif", "--no-progress")
    assert r.returncode == 2 and "not a place for files" in r.stderr and "No such file" not in r.stderr, r.stderr
    (tmp_path / "empty").mkdir()
    r = sar_lulc("predict", tmp_path / "empty", "--out", tmp_path / "o/", "--no-progress")
    assert r.returncode == 2 and "['" not in r.stderr and str(tmp_path / "empty") in r.stderr, r.stderr
    r = sar_lulc("synth", tmp_path / "d", "--n-train", "1", "--n-val", "0", "--n-test", "0", "--size", "64")
    r = sar_lulc("synth", tmp_path / "d", "--n-train", "1", "--n-val", "0", "--n-test", "0", "--size", "64")
    assert r.returncode == 2 and "pass --overwrite" in r.stderr and "overwrite=True (" not in r.stderr, r.stderr

def test_band_hh_on_an_unnamed_two_band_file(tmp_path):
    with rasterio.open(S) as src: dn, prof = src.read(1), src.profile
    prof.update(count=2)
    with rasterio.open(tmp_path / "dual.tif", "w", **prof) as dst: dst.write(np.stack([dn, dn]))
    r = sar_lulc("predict", tmp_path / "dual.tif", "--out", tmp_path / "a.tif", "--no-progress")
    assert r.returncode == 2 and "--band HH / HV" in r.stderr, r.stderr
    r = sar_lulc("predict", tmp_path / "dual.tif", "--band", "HH", "--out", tmp_path / "a.tif", "--no-progress")
    assert r.returncode == 0 and "reading HH as band 1" in r.stderr, r.stderr

def test_a_truncated_file_names_gdals_own_reason(tmp_path):
    "rasterio's 'See previous exception for details' pointed at nothing: the message carries GDAL's reason (issue 27)."
    bad = tmp_path / "cut.tif"; bad.write_bytes(Path(S).read_bytes()[:3000])
    r = sar_lulc("predict", bad, "--out", tmp_path / "m.tif", "--no-progress")
    assert r.returncode == 2 and "previous exception" not in r.stderr and "truncated" in r.stderr, r.stderr
