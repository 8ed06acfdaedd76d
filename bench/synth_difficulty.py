#!/usr/bin/env python
"""SynthALOS-2 difficulty report: intensity-only per-pixel baselines must stay far below what context allows.

Fits Gaussian naive Bayes on the dB value (and on a 3x3 mean) of the training scenes and scores it on the
test scenes (macro mIoU over the classes present in the test ground truth), next to a crude multi-scale
context reference (QDA on local means/stds). Target: the per-pixel intensity-only mIoU is at most 35 %.

    .venv/bin/python bench/synth_difficulty.py                     # 8 train / 2 test scenes of 512 x 512
    .venv/bin/python bench/synth_difficulty.py --data data/synth   # or the scenes of a dataset folder
"""
import argparse, json, sys, time

from sar_lulc.synth_checks import difficulty_report, format_difficulty

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-train", type=int, default=8); p.add_argument("--n-test", type=int, default=2)
    p.add_argument("--size", type=int, default=512); p.add_argument("--seed", type=int, default=0)
    p.add_argument("--looks", type=float, default=4)
    p.add_argument("--data", default=None, help="a dataset folder (manifest.json) instead of generating scenes")
    p.add_argument("--max-miou", type=float, default=0.35, help="fail (exit 1) if an intensity-only baseline exceeds this")
    p.add_argument("--json", action="store_true", help="also print the report as JSON")
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    rep = difficulty_report(a.n_train, a.n_test, a.size, a.seed, a.looks, data=a.data)
    src = a.data or f"{rep['n_train']} train / {rep['n_test']} test scenes of {a.size}x{a.size}, looks {a.looks:g}, seed {a.seed}"
    print(f"SynthALOS-2 difficulty ({src}); IoU and mIoU in %, mIoU = macro mean over classes present in test GT")
    print(format_difficulty(rep))
    worst = max(r["miou"] for r in rep["rows"] if r["features"] in ("db", "mean3"))
    ok = worst <= a.max_miou
    print(f"intensity-only mIoU {100*worst:.1f} % {'<=' if ok else '>'} target {100*a.max_miou:.0f} %: "
          f"{'OK' if ok else 'TOO EASY'}  ({time.perf_counter() - t0:.1f} s)")
    if a.json: print(json.dumps(rep))
    return 0 if ok else 1

if __name__ == "__main__":
    sys.exit(main())
