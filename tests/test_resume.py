"""Exact resume: a CPU run stopped after N steps and resumed ends with the weights of an uninterrupted run."""
import pytest, torch

from sar_lulc.checkpoint import load_checkpoint
from sar_lulc.synth import make_benchmark
from sar_lulc.train import finetune, pretrain

torch.set_num_threads(1)

@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_benchmark(tmp_path_factory.mktemp("resume") / "data", n_train=2, n_val=1, n_test=1, size=96, seed=0)

def _same_weights(a, b):
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    assert ca["step"] == cb["step"]
    assert ca["model"].keys() == cb["model"].keys()
    for k in ca["model"]:
        torch.testing.assert_close(ca["model"][k], cb["model"][k], rtol=0, atol=1e-6, msg=k)
    sa, sb = ca["optimizer"]["state"], cb["optimizer"]["state"]
    for i in sa:
        torch.testing.assert_close(sa[i]["exp_avg"], sb[i]["exp_avg"], rtol=0, atol=1e-7)
    return ca, cb

KW = dict(device="cpu", progress=False, test_at_end=False, epochs=2, batch_size=2, chips_per_epoch=8, chip=64)

@pytest.mark.parametrize("stop,accum", [(3, 1), (2, 2)])       # mid-epoch; exactly at an epoch end with accumulation
def test_finetune_resume_is_exact(data, tmp_path, stop, accum):
    kw = dict(KW, accum_steps=accum)
    full = finetune("micro", data, tmp_path / "full", **kw)
    cut = finetune("micro", data, tmp_path / "cut", max_steps=stop, **kw)
    assert cut["steps"] == stop and cut["stopped_at_max_steps"]
    res = finetune("micro", data, tmp_path / "cut", resume=tmp_path / "cut" / "last.pt", **kw)
    assert res["steps"] == full["steps"] == 2 * 8 // (2 * accum)
    ca, cb = _same_weights(tmp_path / "full" / "last.pt", tmp_path / "cut" / "last.pt")
    assert ca["best"] == cb["best"]
    assert res["weights_sha256"] == full["weights_sha256"]          # bit-identical on the same machine

def test_pretrain_resume_is_exact(data, tmp_path):
    kw = dict(device="cpu", progress=False, epochs=2, batch_size=2, chips_per_epoch=4, chip=64)
    full = pretrain("micro", data, tmp_path / "full", **kw)
    pretrain("micro", data, tmp_path / "cut", max_steps=1, **kw)
    res = pretrain("micro", data, tmp_path / "cut", resume=tmp_path / "cut" / "last.pt", **kw)
    assert res["steps"] == full["steps"] == 4
    _same_weights(tmp_path / "full" / "last.pt", tmp_path / "cut" / "last.pt")
