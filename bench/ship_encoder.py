#!/usr/bin/env python
"""Copy one arm's pretrained encoder from a label-efficiency study to data_samples/models/encoder_tiny.safetensors,
with its model card (encoder_tiny.json: the arm, corpus, pretraining command, steps, time, machine, checksum).

    python bench/ship_encoder.py runs/label_eff --arm "SAR-W-MixMAE (s=1, paper)"
"""
from __future__ import annotations
import argparse, hashlib, json, platform, shutil, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from label_efficiency import ARMS, paired, slug

ROOT = Path(__file__).resolve().parents[1]

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("study", type=Path, help="the --out folder of bench/label_efficiency.py")
    ap.add_argument("--arm", default="SAR-W-MixMAE (s=1, paper)", choices=[a for a, f in ARMS.items() if f])
    ap.add_argument("--out", type=Path, default=ROOT / "data_samples/models/encoder_tiny.safetensors")
    a = ap.parse_args(argv)
    import torch
    run = a.study / "pretrain" / slug(a.arm)
    summ = json.loads((run / "study_summary.json").read_text())
    cmd = (a.study / "logs" / f"pretrain_{slug(a.arm)}.log").read_text().splitlines()[0].lstrip("$ ")
    study = json.loads((a.study / "label_efficiency.json").read_text())
    shutil.copyfile(run / "encoder.safetensors", a.out)
    card = dict(
        what="tiny Swin encoder (embed 32, depths 2-2-2-2) pretrained with SAR-W-MixMAE on unlabelled SAR; "
             "fine-tune with `sar-lulc train --pretrained data_samples/models/encoder_tiny.safetensors`",
        pretraining=dict(arm=a.arm, flags=ARMS[a.arm], command=cmd, steps=summ["steps"], epochs=summ["epochs_done"],
                         time_min=round(summ["time_s"] / 60, 1), val_loss=summ["val"]["loss"],
                         machine=f"{platform.processor() or platform.machine()}, 1 thread of a 2-core VM (CPU), torch {torch.__version__}"),
        corpus=study["corpus"], study="bench/label_efficiency.py (results: bench/results/label_efficiency.json)",
        study_result={f"lulc mIoU, {k} labelled scene(s)": "arm minus scratch {:+.1f} points (standard error {:.1f}; differences paired by seed)".format(
                          *(100 * v for v in paired(study["results"], "lulc", a.arm, k, "miou")[:2])) for k in study["budgets"]},
        sha256=hashlib.sha256(a.out.read_bytes()).hexdigest())
    a.out.with_suffix(".json").write_text(json.dumps(card, indent=1))
    print(f"{a.out} ({a.out.stat().st_size / 1e6:.1f} MB) and its card {a.out.with_suffix('.json').name}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
