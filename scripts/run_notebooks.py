#!/usr/bin/env python
"""Execute notebooks in place and keep their outputs, so the chapters and tutorials show their results (figures,
tables, printed summaries) in the notebooks and on the documentation site.

    python scripts/run_notebooks.py                         # the notebooks listed in SHOW_RESULTS
    python scripts/run_notebooks.py nbs/33_predict.ipynb    # some of them

Each notebook runs in its own folder, as `nbdev-test` runs it; a failing cell stops that notebook and the
script exits non-zero, leaving the file unchanged. Run `nbdev-clean` afterwards (it keeps outputs)."""
import argparse, os, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOW_RESULTS = ["nbs/03_synth.ipynb", "nbs/07_layouts.ipynb", "nbs/15_synth_checks.ipynb", "nbs/25_study.ipynb", "nbs/27_real_benchmark.ipynb",
                "nbs/33_predict.ipynb",
                "nbs/11_mixmae.ipynb", "nbs/14_metrics.ipynb", "nbs/40_viz.ipynb", "nbs/41_mapview.ipynb", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "nbs" / "tutorials").glob("*.ipynb"))]

MAX_IMAGE_B64 = 150_000           # larger figures are shrunk (then JPEG-encoded) so the notebooks stay small

def _shrink(b64: str) -> tuple[str, str]:
    "A large PNG output as (mime, base64) no wider than 1100 px: PNG when that is small enough, else JPEG."
    import base64, io
    from PIL import Image
    im = Image.open(io.BytesIO(base64.b64decode(b64)))
    im.thumbnail((1100, 1100 * im.height // max(im.width, 1)))
    buf = io.BytesIO(); im.save(buf, "PNG", optimize=True)
    if len(buf.getvalue()) * 4 // 3 > MAX_IMAGE_B64:
        buf = io.BytesIO(); im.convert("RGB").save(buf, "JPEG", quality=85, optimize=True)
        return "image/jpeg", base64.b64encode(buf.getvalue()).decode()
    return "image/png", base64.b64encode(buf.getvalue()).decode()

def run(path: Path) -> float:
    from execnb.shell import CaptureShell, read_nb, write_nb
    nb = read_nb(path)
    old = Path.cwd(); os.chdir(path.parent)
    t = time.perf_counter()
    try:
        sh = CaptureShell()
        sh.run_all(nb, exc_stop=True)
    finally: os.chdir(old)
    for c in nb.cells:                                  # only what teaches: no execution counts, no widget state
        if c.cell_type == "code":
            c.execution_count = None
            c.outputs = [o for o in c.get("outputs", []) if "application/vnd.jupyter.widget-view+json" not in o.get("data", {})]
            for o in c.outputs:
                png = o.get("data", {}).get("image/png")
                if isinstance(png, list): png = "".join(png)
                if png and len(png) > MAX_IMAGE_B64:
                    mime, b64 = _shrink(png)
                    del o["data"]["image/png"]; o["data"][mime] = b64
    write_nb(nb, path)
    return time.perf_counter() - t

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", help="notebooks to run (default: SHOW_RESULTS)")
    a = ap.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    bad = 0
    for p in [Path(n).resolve() for n in (a.notebooks or [ROOT / n for n in SHOW_RESULTS])]:
        try: print(f"{p.relative_to(ROOT)}: {run(p):.0f} s", flush=True)
        except Exception as e: bad += 1; print(f"{p.relative_to(ROOT)}: FAILED: {type(e).__name__}: {e}", flush=True)
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
