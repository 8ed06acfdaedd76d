#!/usr/bin/env python
"""Copy a pretrained encoder to data_samples/models/encoder_tiny.safetensors with its model card (encoder_tiny.json:
the arm, corpus, pretraining command, steps, time, machine, checksum, and what it measured).

    python bench/ship_encoder.py --real runs/real_pre --arm gradient            # from bench/real_pretrain.py (issue 26)
    python bench/ship_encoder.py runs/label_eff --arm "SAR-W-MixMAE (s=1, paper)"  # from bench/label_efficiency.py
"""
from __future__ import annotations
import argparse, hashlib, json, shutil, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from machine import machine

ROOT = Path(__file__).resolve().parents[1]
WHAT = ("tiny Swin encoder (embed 32, depths 2-2-2-2) pretrained with SAR-W-MixMAE on unlabelled SAR; fine-tune with "
        "`sar-lulc train --pretrained data_samples/models/encoder_tiny.safetensors`")


def from_real(run: Path, arm: str) -> tuple[Path, dict]:
    "The encoder of one arm of bench/real_pretrain.py and its card's contents."
    from real_pretrain import ARMS, BLOCKS, PRETRAIN, trivial_ratio
    pre = run / "pretrain" / arm
    summ = json.loads((pre / "bench_summary.json").read_text())
    rep = json.loads((ROOT / "bench/results/real_pretrain.json").read_text())
    le = rep["label_efficiency"].get(f"pre_{arm}", {})
    result = {f"Flevoland HH mIoU, {b or 'all'} labelled block(s)":
              "arm minus scratch {:+.1f} points (standard error {:.1f}; n {} runs paired by fold and seed)".format(
                  100 * le[str(b)]["diff"], 100 * le[str(b)]["se"], le[str(b)]["n"])
              for b in BLOCKS if le.get(str(b), {}).get("n")}
    ind = rep.get("inductive_pooled", {}).get(f"pre_{arm}_inductive", {})   # pretrained without each test fold's fields
    result.update({f"Flevoland HH mIoU, {b or 'all'} labelled block(s), encoder pretrained without the test fold's "
                   f"fields (inductive)": "arm minus scratch {:+.1f} points (standard error {:.1f}; n {})".format(
                       100 * c["diff"], 100 * c["se"], c["n"]) for b, c in ((int(k), v) for k, v in ind.items()) if c["n"]})
    card = dict(pretraining=dict(arm=arm, flags=ARMS[arm], command=summ["command"], steps=summ["steps"],
                                 time_min=round(summ["time_s"] / 60, 1), **{k: v for k, v in trivial_ratio(pre).items()
                                                                            if k not in ("steps", "curve")},
                                 settings=PRETRAIN, machine=machine("cpu", 1)),
                corpus=rep.get("corpus"), study="bench/real_pretrain.py (results: bench/results/real_pretrain.json, "
                                                "bench/results/real_label_efficiency.json)",
                study_result=result)
    return pre / "encoder.safetensors", card


def from_synthetic(study_dir: Path, arm: str) -> tuple[Path, dict]:
    "The encoder of one arm of bench/label_efficiency.py (the synthetic study) and its card's contents."
    from label_efficiency import ARMS, paired, slug
    run = study_dir / "pretrain" / slug(arm)
    summ = json.loads((run / "study_summary.json").read_text())
    cmd = (study_dir / "logs" / f"pretrain_{slug(arm)}.log").read_text().splitlines()[0].lstrip("$ ")
    study = json.loads((study_dir / "label_efficiency.json").read_text())
    card = dict(pretraining=dict(arm=arm, flags=ARMS[arm], command=cmd, steps=summ["steps"], epochs=summ["epochs_done"],
                                 time_min=round(summ["time_s"] / 60, 1), val_loss=summ["val"]["loss"],
                                 machine=machine("cpu", 1)),
                corpus=study["corpus"], study="bench/label_efficiency.py (results: bench/results/label_efficiency.json)",
                study_result={f"lulc mIoU, {k} labelled scene(s)": "arm minus scratch {:+.1f} points (standard error {:.1f}; "
                              "differences paired by seed)".format(*(100 * v for v in paired(study["results"], "lulc", arm, k,
                                                                                                 "miou")[:2]))
                              for k in study["budgets"]})
    return run / "encoder.safetensors", card


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("study", type=Path, nargs="?", help="the --out folder of bench/label_efficiency.py")
    ap.add_argument("--real", type=Path, help="the --out folder of bench/real_pretrain.py")
    ap.add_argument("--arm", required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "data_samples/models/encoder_tiny.safetensors")
    a = ap.parse_args(argv)
    if (a.real is None) == (a.study is None): ap.error("give a label-efficiency study folder or --real, not both")
    src, card = from_real(a.real, a.arm) if a.real else from_synthetic(a.study, a.arm)
    shutil.copyfile(src, a.out)
    card = dict(what=WHAT, **card, sha256=hashlib.sha256(a.out.read_bytes()).hexdigest())
    a.out.with_suffix(".json").write_text(json.dumps(card, indent=1))
    print(f"{a.out} ({a.out.stat().st_size / 1e6:.1f} MB) and its card {a.out.with_suffix('.json').name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
