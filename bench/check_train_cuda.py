#!/usr/bin/env python
"""CUDA checks of the training loop (no GeoTIFF I/O needed): `fit` with the real tiny Segmenter and focal+dice loss in
fp32, bf16 autocast, fp16 + grad scaler and torch.compile; stop-and-resume agreement on the GPU; prints a table.

    python bench/check_train_cuda.py [--steps 8] [--chip 128] [--batch 8] [--no-compile]
"""
import argparse, json, tempfile, time
from pathlib import Path

import torch

from sar_lulc.checkpoint import load_checkpoint
from sar_lulc.losses import FocalDiceLoss
from sar_lulc.segmenter import Segmenter, segmenter_config
from sar_lulc.recipes import train_config
from sar_lulc.train import fit


class Blobs(torch.utils.data.Dataset):
    "Smooth random 'scenes': the label is a quantised low-pass field, the image that field plus noise."
    def __init__(self, n, chip, k=4): self.n, self.chip, self.k, self.epoch = n, chip, k, 0
    def set_epoch(self, e): self.epoch = e
    def __len__(self): return self.n
    def __getitem__(self, i):
        g = torch.Generator().manual_seed(10_000 * self.epoch + i)
        f = torch.nn.functional.interpolate(torch.randn(1, 1, self.chip // 16, self.chip // 16, generator=g),
                                            size=(self.chip, self.chip), mode="bilinear", align_corners=False)[0]
        lab = torch.bucketize(f[0], torch.tensor([-0.6, 0.0, 0.6])).long()
        return dict(image=f + 0.3 * torch.randn(f.shape, generator=g), valid=torch.ones(self.chip, self.chip, dtype=torch.bool), label=lab)


def run(out, precision, compile_, a, **kw):
    torch.manual_seed(0)
    m = Segmenter(segmenter_config("tiny", num_classes=4))
    crit = FocalDiceLoss(torch.ones(4)).cuda()
    cfg = train_config("micro", device="cuda", precision=precision, compile=compile_, batch_size=a.batch, chip=a.chip,
                       epochs=2, lr=1e-3, warmup_epochs=0.25, log_every=1)
    ds = Blobs(a.batch * a.steps // 2, a.chip)
    t = time.perf_counter()
    s = fit(m, ds, cfg, out, loss_fn=lambda mm, b: crit(mm(b["image"], valid=b["valid"]).float(), b["label"]),
            kind="finetune", arch="segmenter", model_config=m.cfg.to_dict(), meta=dict(task="lulc", preset="tiny"),
            progress=False, **kw)
    s["wall_s"] = time.perf_counter() - t
    return s


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=8); p.add_argument("--chip", type=int, default=128)
    p.add_argument("--batch", type=int, default=8); p.add_argument("--no-compile", action="store_true")
    a = p.parse_args()
    assert torch.cuda.is_available(), "needs CUDA"
    rows = []
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        combos = [("fp32", False), ("bf16", False), ("fp16", False)] + ([] if a.no_compile else [("fp32", True), ("bf16", True)])
        for prec, comp in combos:
            out = d / f"{prec}_{comp}"
            s = run(out, prec, comp, a)
            ck = load_checkpoint(out / "last.pt")
            import csv
            losses = [float(r["loss"]) for r in csv.DictReader(open(out / "steps.csv"))]
            rows.append(dict(precision=prec, compile=comp, steps=s["steps"], first_loss=losses[0], last_loss=losses[-1],
                             scaler_scale=(ck["scaler"] or {}).get("scale"), wall_s=s["wall_s"]))
        # stop + resume on the GPU (cuDNN/atomics may make it inexact: report the difference)
        full = run(d / "full", "bf16", False, a)
        run(d / "cut", "bf16", False, a, max_steps=a.steps // 2 + 1)
        res = run(d / "cut", "bf16", False, a, resume=d / "cut" / "last.pt")
        A, B = load_checkpoint(d / "full" / "last.pt")["model"], load_checkpoint(d / "cut" / "last.pt")["model"]
        diff = max(float((A[k].float() - B[k].float()).abs().max()) for k in A)
        resume = dict(identical=full["weights_sha256"] == res["weights_sha256"], max_abs_diff=diff)
    print(f"{torch.cuda.get_device_name()}  torch {torch.__version__}  chip {a.chip} batch {a.batch}")
    print(f"{'precision':<10}{'compile':>8}{'steps':>6}{'loss 1st':>10}{'loss last':>10}{'scale':>10}{'wall s':>8}")
    for r in rows:
        print(f"{r['precision']:<10}{str(r['compile']):>8}{r['steps']:>6}{r['first_loss']:>10.4f}{r['last_loss']:>10.4f}"
              f"{str(r['scaler_scale']):>10}{r['wall_s']:>8.1f}")
    print("resume on CUDA (bf16):", json.dumps(resume))


if __name__ == "__main__":
    main()
