"""The sar_lulc web demo: `python app/app.py [--host H] [--port P] [--lulc-model M] [--water-model M] ...`.

A thin launcher over `sar_lulc.app` (the same as `sar-lulc app`). With no arguments it serves the shipped
demo weights from `data_samples/models/` on http://127.0.0.1:7860, offline.
"""
import argparse, sys

from sar_lulc.app import cli_args_app, cli_run_app
from sar_lulc.core import SarLulcError


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="app.py", description="SAR land cover and water: the Gradio web demo.")
    cli_args_app(p)
    args = p.parse_args(argv)
    try: cli_run_app(args)
    except SarLulcError as e:
        print(f"app: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
