#!/usr/bin/env python
"""Screenshot of the web app after a land-cover run, for the README (nbs/images/app.png, < 300 KB).

    .venv/bin/python scripts/app_screenshot.py [--sample SCENE.tif] [--out nbs/images/app.png]

Serves the app in-process on a free 127.0.0.1 port with the shipped demo weights (or --lulc-model /
--water-model; with --micro an untrained micro model, for when no weights are trained yet), drives Debian's
headless Chromium with Playwright (no browser download), runs the land-cover task on the sample (default:
the first SAR GeoTIFF in data_samples/, else a 256 x 256 SynthALOS-2 scene) and saves a palette PNG."""
import argparse, shutil, sys, tempfile
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sample", default=None)
    ap.add_argument("--out", default="nbs/images/app.png")
    ap.add_argument("--lulc-model", default=None)
    ap.add_argument("--water-model", default=None)
    ap.add_argument("--micro", action="store_true", help="use an untrained micro model (plumbing only)")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--width", type=int, default=1280)
    a = ap.parse_args(argv)
    from PIL import Image
    from playwright.sync_api import sync_playwright
    from sar_lulc.app import AppConfig, free_port, launch, sample_files
    from sar_lulc.checkpoint import untrained_model
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from _browser import HEADLESS_CHROMIUM_ARGS, run_land_cover_in_page     # the browser test's own steps
    tmp = Path(tempfile.mkdtemp(prefix="sar_lulc_shot_"))
    lulc, water = a.lulc_model, a.water_model
    if a.micro:
        lulc = untrained_model(tmp / "lulc_micro.safetensors", "lulc")
        water = untrained_model(tmp / "water_micro.safetensors", "water", seed=1)
    sample = Path(a.sample) if a.sample else next(iter(sample_files()), None)
    if sample is None:
        from sar_lulc.io import write_raster
        from sar_lulc.synth import synth_scene
        s = synth_scene(3, size=256)
        sample = write_raster(tmp / "synth_scene_dn.tif", s.dn, crs=s.crs, transform=s.transform, nodata=0)
    cfg = AppConfig(lulc_model=lulc, water_model=water, port=free_port(), workdir=tmp / "work", examples=[])
    demo, url = launch(cfg, block=False, quiet=True)
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=a.chromium, headless=True, args=HEADLESS_CHROMIUM_ARGS)
            page = b.new_page(viewport={"width": a.width, "height": 900})
            run_land_cover_in_page(page, url, sample, timeout_ms=600_000)
            page.wait_for_timeout(500)
            raw = tmp / "shot.png"
            page.screenshot(path=str(raw), full_page=True)
            b.close()
    finally:
        demo.close()
    out = Path(a.out); out.parent.mkdir(parents=True, exist_ok=True)
    im = Image.open(raw).convert("RGB")
    im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(out, optimize=True)
    print(f"{out}: {im.size[0]} x {im.size[1]}, {out.stat().st_size / 1024:.0f} KB (sample {sample.name})")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
