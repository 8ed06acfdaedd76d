"""DDP on CPU: `torchrun --nproc_per_node=2` (gloo) trains a few steps; ranks end with identical weights, and the
distributed validation metrics equal a single-process evaluation of the same model on the same data. The run keeps a
moving average of its weights (`ema`), so the ranks' averages must agree too, and validation scores the average."""
import json, os, shutil, subprocess, sys, textwrap
from pathlib import Path

import pytest, torch

from sar_lulc.synth import make_benchmark
from sar_lulc.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = Path(sys.executable).parent / "torchrun"

DRIVER = textwrap.dedent("""
    import json, os, sys, torch
    torch.set_num_threads(1)
    from sar_lulc.train import finetune
    s = finetune("micro", sys.argv[1], sys.argv[2], device="cpu", progress=False, test_at_end=False, epochs=2, preset=sys.argv[3],
                 batch_size=2, chips_per_epoch=8, chip=64, eval_batch_size=1, ema=0.9)
    json.dump(s, open(os.path.join(sys.argv[2], f"rank{os.environ['RANK']}.json"), "w"), default=str)
""")

@pytest.mark.skipif(not TORCHRUN.exists(), reason="torchrun not installed in the venv")
@pytest.mark.parametrize("preset", ["tiny", "resnet18"])        # LayerNorm / GroupNorm; BatchNorm (per-rank statistics)
def test_ddp_two_processes(tmp_path, preset):
    data = make_benchmark(tmp_path / "data", n_train=2, n_val=1, n_test=1, size=96, seed=1)
    (tmp_path / "driver.py").write_text(DRIVER)
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg")
    p = subprocess.run([str(TORCHRUN), "--nproc_per_node=2", "--standalone", str(tmp_path / "driver.py"), str(data), str(run), preset],
                       capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-4000:]
    r0, r1 = (json.loads((run / f"rank{r}.json").read_text()) for r in (0, 1))
    assert r0["world_size"] == r1["world_size"] == 2
    assert r0["steps_per_epoch"] == 8 // (2 * 2) and r0["steps"] == 4      # 2 chips x 2 processes per step
    assert r0["weights_sha256"] == r1["weights_sha256"]                    # identical (averaged) weights on both ranks
    ck = torch.load(run / "last.pt", weights_only=True)
    assert ck["ema"] is not None and any(not torch.equal(ck["ema"][k], ck["model"][k]) for k in ck["model"])
    assert r0["val"] == r1["val"]                                          # all-reduced metrics agree
    single = evaluate(run / "last.pt", data, split="val", batch_size=1, device="cpu", write=False, progress=False)
    assert single["n_pixels"] == r0["val"]["n_pixels"]                     # every val pixel counted once
    for k in ("miou", "oa", "kappa", "macc"):
        assert single[k] == pytest.approx(r0["val"][k], abs=1e-12), k
