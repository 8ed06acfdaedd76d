"""`sar-lulc synth -> pretrain -> train --pretrained -> evaluate` through the console script, and bad inputs."""
import contextlib, io, json, os, subprocess, sys
from pathlib import Path

import pytest, torch

from sar_lulc.cli import main

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "sar-lulc"
ENV = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")

def cli(*args, ok=True):
    p = subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=600, env=ENV, cwd=ROOT)
    if ok: assert p.returncode == 0, p.stderr[-3000:]
    return p

def summary(p):
    return json.loads(p.stdout.strip().splitlines()[-1])

@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    cli("synth", d / "data", "--n-train", 2, "--n-val", 1, "--n-test", 1, "--size", 96, "--json")
    pre = summary(cli("--json", "pretrain", "--data", d / "data", "--recipe", "micro", "--preset", "tiny",
                      "--out", d / "pre", "--steps", 2, "--no-progress"))
    tr = summary(cli("--json", "train", "--task", "lulc", "--data", d / "data", "--recipe", "micro", "--preset", "tiny",
                     "--pretrained", d / "pre", "--hr-inject", "s4", "--head", "simple", "--alpha", 0.3,
                     "--steps", 3, "--out", d / "run", "--no-progress"))
    return d, pre, tr

def test_pipeline(runs):
    d, pre, tr = runs
    assert pre["ok"] and pre["steps"] == 2 and Path(pre["encoder"]).is_file()
    head = (d / "pre" / "steps.csv").read_text().splitlines()[0].split(",")     # a run that learns nothing says so
    assert {"trivial_mean", "trivial_box", "loss_vs_trivial"} <= set(head), head
    assert tr["ok"] and tr["steps"] == 3 and tr["pretrained"].endswith("encoder.safetensors")
    assert (d / "run" / "model.safetensors").is_file() and (d / "run" / "model.json").is_file()
    meta = json.loads((d / "run" / "model.json").read_text())
    assert meta["model_config"]["hr_inject"] == "s4" and meta["model_config"]["head"] == "simple"
    assert meta["config"]["alpha"] == 0.3 and meta["scheme"]["name"] == "jp9" and "mean" in meta["norm"]
    made = meta["data"]["sources"][0]["made_by"]                               # the card says what it learnt from
    assert meta["data"]["scenes"] == {"train": 2, "val": 1, "test": 1} and made["name"] == "SynthALOS-2", meta["data"]
    from sar_lulc.encoder import read_encoder_file
    enc = json.loads(read_encoder_file(d / "pre" / "encoder.safetensors", tensors=False)[2]["data"])
    assert made["size"] == 96 and enc["sources"][0]["made_by"] == made                # and so does the encoder's
    ev = summary(cli("--json", "evaluate", "--model", d / "run", "--data", d / "data", "--no-progress"))
    assert ev["ok"] and ev["split"] == "test" and set(ev["iou"]) >= {"Water", "Forest", "Greenhouse"}
    assert ev["miou"] == pytest.approx(tr["test"]["miou"])
    for f in ev["files"].values(): assert Path(f).stat().st_size > 0
    # the exported file alone, reports elsewhere, a human-readable table
    p = cli("evaluate", "--model", d / "run" / "model.safetensors", "--data", d / "data", "--split", "val",
            "--out", d / "ev2", "--no-progress")
    assert "mIoU" in p.stdout and (d / "ev2" / "confusion.png").is_file()

def test_pretrain_hog_target(runs):
    "--target hog (FG-MAE's form): trains, logs its trivial predictors, and the encoder records the target."
    from safetensors import safe_open
    d, _, _ = runs
    pre = summary(cli("--json", "pretrain", "--data", d / "data", "--recipe", "micro", "--preset", "tiny", "--target", "hog",
                      "--set", "hog_bins=6", "--out", d / "hog", "--steps", 2, "--no-progress"))
    assert pre["ok"] and pre["steps"] == 2
    rows = (d / "hog" / "steps.csv").read_text().splitlines()
    ratio = [float(r.split(",")[-1]) for r in rows[1:]]
    assert len(ratio) == 2 and all(0 < x < 10 for x in ratio)
    with safe_open(pre["encoder"], "pt") as f: mc = json.loads(f.metadata()["mixmae_config"])
    assert mc["target"] == "hog" and mc["hog_bins"] == 6 and mc["hog_cell"] == 8
    bad = cli("pretrain", "--data", d / "data", "--recipe", "micro", "--target", "hog", "--set", "hog_cell=5",
              "--out", d / "hog_bad", "--steps", 1, "--no-progress", ok=False)
    assert bad.returncode != 0 and "hog_cell" in bad.stderr

def test_resume_continues(runs):
    d, _, tr = runs
    r = summary(cli("--json", "train", "--task", "lulc", "--data", d / "data", "--recipe", "micro", "--hr-inject", "s4",
                    "--head", "simple", "--alpha", 0.3, "--resume", d / "run" / "last.pt", "--steps", 5,
                    "--out", d / "run", "--no-progress"))
    assert r["steps"] == 5

def test_help_is_helpful(capsys):
    out = cli("train", "--help").stdout                       # the console script itself
    assert "--data" in out and "--pretrained" in out and "examples:" in out
    for cmd in ("pretrain", "evaluate"):                      # the same parser, in-process
        assert main([cmd, "--help"]) == 0                     # main returns the status instead of exiting
        out = capsys.readouterr().out
        assert "--data" in out and "example" in out

def test_unknown_flag_exit_status(runs, tmp_path):
    d, _, _ = runs
    p = cli("train", "--data", d / "data", "--out", tmp_path / "x", "--bogus-flag", "1", ok=False)
    assert p.returncode == 2 and "unrecognized arguments: --bogus-flag" in p.stderr

def run_main(*args):
    "`sar-lulc ARGS` in-process (the console script's entry point): (exit status, stderr)."
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try: rc = main([str(a) for a in args])
        except SystemExit as e: rc = e.code
    return rc, err.getvalue()

@pytest.mark.parametrize("args,msg", [
    (["--set", "lr_decay=0.1"], "did you mean 'layer_decay'"),
    (["--config", "{cfg}"], "Unknown TrainConfig option(s): 'epoch'"),
    (["--task", "water", "--resume", "{run}/last.pt"], "task 'lulc' in"),
    (["--preset", "swin_t", "--resume", "{run}/last.pt"], "preset 'tiny' in"),
    (["--precision", "fp8"], "invalid choice: 'fp8'"),
    (["--compile", "nope"], "Unknown torch.compile backend 'nope'"),
])
def test_bad_train_inputs(runs, tmp_path, args, msg):
    d, _, _ = runs
    (tmp_path / "cfg.json").write_text(json.dumps({"epoch": 3}))
    args = [a.replace("{run}", str(d / "run")).replace("{cfg}", str(tmp_path / "cfg.json")) for a in args]
    rc, err = run_main("train", "--data", d / "data", "--recipe", "micro", "--out", tmp_path / "x", *args, "--no-progress")
    assert rc == 2 and msg in err, err[-2000:]

def test_bad_data_and_outputs(runs, tmp_path):
    d, _, _ = runs
    (tmp_path / "empty").mkdir()
    rc, err = run_main("train", "--data", tmp_path / "empty", "--out", tmp_path / "x")
    assert rc == 2 and "No manifest.json" in err
    (tmp_path / "nochips").mkdir()
    (tmp_path / "nochips" / "manifest.json").write_text(json.dumps(
        {"format": "sar_lulc.dataset/1", "scheme": "jp9", "units": "db", "splits": {"train": [], "val": []}}))
    rc, err = run_main("pretrain", "--data", tmp_path / "nochips", "--out", tmp_path / "x")
    assert rc == 2 and "no usable chips" in err
    rc, err = run_main("train", "--data", d / "data", "--recipe", "micro", "--out", d / "run", "--no-progress")   # a run is there
    assert rc == 2 and "already holds a training run" in err
    rc, err = run_main("evaluate", "--model", tmp_path / "nothing", "--data", d / "data")
    assert rc == 2 and "does not exist" in err
    rc, err = run_main("evaluate", "--model", d / "run", "--data", d / "data", "--split", "nope", "--out", tmp_path / "e")
    assert rc == 2 and "no items in split 'nope'" in err

def test_fp16_grad_scaler_path_runs_on_cpu(runs, tmp_path):
    """The fp16 + GradScaler path (meant for CUDA) trains, checkpoints its scaler and resumes, on the CPU."""
    from sar_lulc.checkpoint import load_checkpoint
    d, _, _ = runs
    out = tmp_path / "fp16"
    p = cli("--json", "train", "--data", d / "data", "--recipe", "micro", "--precision", "fp16", "--device", "cpu",
            "--steps", 2, "--out", out, "--no-progress")
    s = summary(p)
    assert s["ok"] and s["steps"] == 2 and "fp16 on the CPU" in p.stderr
    ck = load_checkpoint(out / "last.pt")
    assert ck["config"]["precision"] == "fp16" and ck["scaler"]["scale"] > 0     # the scaler is live and saved
    s2 = summary(cli("--json", "train", "--data", d / "data", "--recipe", "micro", "--precision", "fp16",
                     "--device", "cpu", "--resume", out / "last.pt", "--out", out, "--no-progress"))
    assert s2["ok"] and s2["steps"] > 2
    assert load_checkpoint(out / "last.pt")["scaler"]["scale"] > 0

def test_compile_path_runs_on_cpu(runs, tmp_path):
    """`--compile BACKEND` trains through torch.compile (aot_eager: dynamo + AOT autograd, no C++ build) and the
    checkpoint holds the plain model's keys, so it loads and exports like any other run."""
    from sar_lulc.checkpoint import load_checkpoint, load_model
    d, _, _ = runs
    out = tmp_path / "compiled"
    s = summary(cli("--json", "train", "--data", d / "data", "--recipe", "micro", "--compile", "aot_eager",
                    "--steps", 2, "--out", out, "--no-progress"))
    assert s["ok"] and s["steps"] == 2
    ck = load_checkpoint(out / "last.pt")
    assert ck["config"]["compile"] == "aot_eager" and not any("_orig_mod" in k for k in ck["model"])
    assert load_model(out).task == "lulc"

def test_real_recipe_options_travel_with_the_model(runs, tmp_path):
    """Multilook, class-balanced sampling and the radiometric augmentations train (issue 24); the model records its
    multilook and `predict` repeats it unless told otherwise."""
    d = runs[0]
    tr = summary(cli("--json", "train", "--data", d / "data", "--recipe", "micro", "--preset", "tiny", "--steps", 2,
                     "--set", "multilook=3", "--set", "balance=1", "--set", "gain_db=2", "--set", "ramp_db=2",
                     "--set", "speckle=0.5", "--out", tmp_path / "run", "--no-progress"))
    assert tr["ok"] and tr["steps"] == 2
    assert json.loads((tmp_path / "run" / "model.json").read_text())["input"]["multilook"] == 3
    ev = summary(cli("--json", "evaluate", "--model", tmp_path / "run", "--data", d / "data", "--split", "test",
                     "--out", tmp_path / "ev", "--no-progress"))
    assert abs(ev["miou"] - tr["test"]["miou"]) < 1e-6, (ev["miou"], tr["test"]["miou"])    # evaluate multilooks too
    scene = next((d / "data" / "test").glob("*_sar*.tif"))
    p = summary(cli("--json", "predict", scene, "--model", tmp_path / "run", "--out", tmp_path / "a.tif", "--no-progress"))
    assert p["input"]["multilook"] == 3
    p = summary(cli("--json", "predict", scene, "--model", tmp_path / "run", "--out", tmp_path / "b.tif", "--multilook", 1,
                    "--no-progress"))
    assert p["input"]["multilook"] == 1
    bad = cli("train", "--data", d / "data", "--recipe", "micro", "--set", "balance=2", "--out", tmp_path / "x", ok=False)
    assert bad.returncode == 2 and "balance" in bad.stderr

def test_shipped_models_by_name_from_any_folder(runs, tmp_path):
    "`--init water`, `--pretrained encoder`, `--model lulc` work from a folder outside the repository (issue 27)."
    d = runs[0]
    run = lambda *a: subprocess.run([str(EXE), *map(str, a)], capture_output=True, text=True, timeout=600, env=ENV,
                                    cwd=tmp_path)
    p = run("--json", "train", "--task", "water", "--data", d / "data", "--recipe", "micro", "--init", "water",
            "--steps", 1, "--out", "w", "--no-progress")
    assert p.returncode == 0 and "water_tiny.safetensors" in summary(p)["init"] + p.stderr, p.stderr[-2000:]
    p = run("--json", "train", "--data", d / "data", "--recipe", "micro", "--preset", "tiny", "--pretrained", "encoder",
            "--steps", 1, "--out", "e", "--no-progress")
    assert p.returncode == 0 and summary(p)["pretrained"].endswith("encoder_tiny.safetensors"), p.stderr[-2000:]
    scene = next((d / "data" / "test").glob("*_sar*.tif"))
    p = run("--json", "predict", scene, "--model", "lulc", "--out", "m.tif", "--no-progress")
    assert p.returncode == 0 and (tmp_path / "m.tif").is_file(), p.stderr[-2000:]
    p = run("predict", scene, "--model", "nonesuch", "--out", "n.tif", "--no-progress")
    assert p.returncode == 2 and "nonesuch does not exist" in p.stderr, p.stderr

def test_short_runs_log_and_print_readably(runs, tmp_path):
    """`--steps` shorter than an epoch still writes log.csv, prints the loss as it goes without a progress bar, and
    the summary reads as short lines, not a Python dict with 16 digits (issue 27)."""
    d = runs[0]
    p = cli("train", "--data", d / "data", "--recipe", "micro", "--preset", "tiny", "--steps", 3,
            "--out", tmp_path / "run", "--no-progress")
    assert "finetune: step 3 (epoch 1/2) loss " in p.stderr, p.stderr[-2000:]
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,step,train_loss") and rows[1].startswith("1,3,"), rows
    assert "{" not in p.stdout and "steps: 3" in p.stdout, p.stdout
    assert not any(len(t) > 8 and t.replace(".", "").isdigit() for t in p.stdout.replace(",", " ").split()), p.stdout
    # resuming into full epochs with validation widens the log instead of dropping the new columns
    cli("train", "--data", d / "data", "--recipe", "micro", "--preset", "tiny", "--resume", tmp_path / "run" / "last.pt",
        "--out", tmp_path / "run", "--no-progress")
    rows = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert "val_miou" in rows[0] and len(rows) >= 3, rows
