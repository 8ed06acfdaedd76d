#!/usr/bin/env python
"""Make the README's prediction figure: the shipped demo models over the shipped sample scene, drawn on
longitude/latitude axes (nbs/images/prediction_map.png). Run: .venv/bin/python scripts/readme_figures.py"""
import tempfile
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sar_lulc.checkpoint import load_model
from sar_lulc.io import SarReader, read_label_map
from sar_lulc.predict import predict_scene
from sar_lulc.viz import colorize_labels, legend_items, overlay_water, render_sar

root = Path(__file__).resolve().parents[1]
scene = root / "data_samples/synth/test/s000_sar_dn.tif"
ref_path = root / "data_samples/synth/test/s000_label.tif"
with tempfile.TemporaryDirectory() as d:
    lulc = predict_scene(load_model(root / "data_samples/models/lulc_resnet18.safetensors"), scene, Path(d) / "lulc.tif", progress=False)
    water = predict_scene(load_model(root / "data_samples/models/water_tiny.safetensors"), scene, Path(d) / "water.tif", progress=False)
    pred, scheme, _ = read_label_map(lulc.paths["class"])
    wmask, _, _ = read_label_map(water.paths["water"]) if "water" in water.paths else read_label_map(water.paths["class"])
ref, _, _ = read_label_map(ref_path)
with SarReader(scene) as r: db, b = r.read(), r.bounds
ext = (b.left, b.right, b.bottom, b.top)
fig = Figure(figsize=(13, 4.6), dpi=90)
axes = fig.subplots(1, 4)
imgs = [("SAR HH (dB), DN calibrated", render_sar(db)), ("Reference (synthetic)", colorize_labels(ref, scheme)),
        ("Land cover, lulc_resnet18", colorize_labels(pred, scheme)), ("Water, water_tiny", overlay_water(db, wmask == 1))]
for ax, (t, im) in zip(axes, imgs):
    ax.imshow(im, extent=ext, interpolation="nearest"); ax.set_title(t, fontsize=10)
    ax.set_xlabel("longitude (°E)", fontsize=8); ax.tick_params(labelsize=7)
    ax.ticklabel_format(useOffset=False)
axes[0].set_ylabel("latitude (°N)", fontsize=8)
fig.legend(handles=[Patch(facecolor=c, edgecolor="#444", label=n) for n, c in legend_items(scheme)],
           loc="lower center", ncol=9, frameon=False, fontsize=9)
fig.subplots_adjust(left=0.05, right=0.99, top=0.93, bottom=0.22, wspace=0.25)
out = root / "nbs/images/prediction_map.png"
fig.savefig(out)
print(out)
