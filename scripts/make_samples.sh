#!/usr/bin/env bash
# Regenerate the SynthALOS-2 sample scenes in data_samples/synth (deterministic: same bytes of pixels every time).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/sar-lulc synth data_samples/synth --n-train 1 --n-val 1 --n-test 1 --size 512 --seed 0 --looks 4 --units both --overwrite "$@"
# a quicklook of the three scenes (dB stretch -25..0 dB, labels in the jp9 colours)
MPLBACKEND=Agg .venv/bin/python - <<'PY'
import json, matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from sar_lulc.io import read_sar, read_label_map
from sar_lulc.schemes import get_scheme
root = "data_samples/synth"; man = json.load(open(f"{root}/manifest.json")); jp9 = get_scheme("jp9")
items = [(k, it) for k, its in man["splits"].items() for it in its]
fig, ax = plt.subplots(2, len(items), figsize=(3.2 * len(items), 6.8))
for j, (k, it) in enumerate(items):
    ax[0, j].imshow(read_sar(f"{root}/{it['sar_dn']}", units="dn")[0], cmap="gray", vmin=-25, vmax=0, interpolation="nearest")
    ax[1, j].imshow(read_label_map(f"{root}/{it['label']}")[0], cmap=ListedColormap(jp9.colors), vmin=0, vmax=8, interpolation="nearest")
    ax[0, j].set_title(f"{k} (seed {it['seed']})", fontsize=9)
for a in ax.ravel(): a.set_axis_off()
fig.legend(handles=[Patch(color=c, label=n) for n, c in zip(jp9.names, jp9.colors)], loc="lower center", ncol=5, fontsize=7)
plt.tight_layout(rect=(0, .07, 1, 1)); plt.savefig(f"{root}/preview.jpg", dpi=80, pil_kwargs={"quality": 85})
PY
