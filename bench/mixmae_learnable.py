#!/usr/bin/env python
"""Can SAR-W-MixMAE learn what a blur knows? A control for the `loss_vs_trivial` diagnosis (issue 26).

Images whose hidden cells are predictable by construction: a level per image, a linear ramp across it of random
slope, and mild Gaussian noise (0.3, in normalised units). A box blur of the visible context predicts the hidden
cells almost perfectly; the image mean does not. The `tiny` MixMAE encoder with a small decoder (2 blocks, width
128) is trained on fresh batches of such images with an absolute target (`patch_norm=False`, multilooked 15 x 15,
no SAR-W weighting), and every `--every` steps the run logs its loss beside the two trivial predictors on the same
batch. If the model cannot beat the blur here, a ratio near 1 on real SAR says more about the model and the budget
than about the target.

    .venv/bin/python bench/mixmae_learnable.py             # 1500 steps, about 8 minutes on one CPU thread
"""
import argparse, json, sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine

from sar_lulc.mixmae import MixMAE

ROOT = Path(__file__).resolve().parents[1]


def batch(g: torch.Generator, n: int = 8, size: int = 128) -> torch.Tensor:
    level = torch.randn(n, 1, 1, 1, generator=g)
    ramp = torch.linspace(-1, 1, size).view(1, 1, 1, size) * torch.randn(n, 1, 1, 1, generator=g)
    return level + ramp + 0.3 * torch.randn(n, 1, size, size, generator=g)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--json", type=Path, default=ROOT / "bench/results/mixmae_learnable.json")
    a = ap.parse_args(argv)
    torch.manual_seed(0); torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    m = MixMAE("tiny", target="multilook", target_looks=15, patch_norm=False, sar_w_s=0.0, dec_depth=2, dec_dim=128,
               dec_heads=4)
    opt = torch.optim.AdamW(m.parameters(), lr=a.lr, betas=(0.9, 0.95))
    rows, t0 = [], time.perf_counter()
    for step in range(1, a.steps + 1):
        log = step % a.every == 0
        o = m(batch(g), trivial=log, generator=g)
        opt.zero_grad(); o["loss"].backward(); opt.step()
        if log:
            r = dict(step=step, loss=round(float(o["loss"].detach()), 4), **{k: round(v, 4) for k, v in o["trivial"].items()})
            rows.append(r); print(r, flush=True)
    res = dict(what=__doc__.splitlines()[0], steps=a.steps, lr=a.lr, rows=rows, seconds=round(time.perf_counter() - t0, 1),
               machine=machine("cpu", 1), command=" ".join(["python bench/mixmae_learnable.py", *(argv or sys.argv[1:])]))
    a.json.write_text(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
