#!/usr/bin/env python
"""Rerun the SynthALOS-2 study (pretraining vs none, and the ablation ladder over seeds).
The code lives in `sar_lulc.study` (nbs/22_study.ipynb); see `python bench/synth_study.py --help`."""
import sys
from sar_lulc.study import main

if __name__ == "__main__":
    sys.exit(main())
