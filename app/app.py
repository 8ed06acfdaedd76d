"""The sar_lulc web demo: `python app/app.py [--host H] [--port P] [--lulc-model M] [--water-model M] ...`.

A thin launcher over `sar_lulc.app` (the same as `sar-lulc app`, with the same flags and one-line errors). With no
arguments it serves the shipped demo weights from `data_samples/models/` on http://127.0.0.1:7860, offline.
"""
import sys

from sar_lulc.cli import main

if __name__ == "__main__":
    sys.exit(main(["app", *sys.argv[1:]]))
