#!/usr/bin/env python
"""Screenshot of the leafmap map viewer for the README (nbs/images/mapview.png).

Runs `sar_lulc.mapview.show_prediction` on the shipped sample inside a local JupyterLab (which carries the
ipywidgets and ipyleaflet front-ends, so nothing is fetched from the network) and photographs the map with
headless Debian Chromium driven by Playwright. Needs the `screenshots` extra (`pip install -e ".[screenshots]"`).
Run: .venv/bin/python scripts/mapview_screenshot.py"""
import json, os, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

root = Path(__file__).resolve().parents[1]
out = root / "nbs/images/mapview.png"
code = f"""
from pathlib import Path
from sar_lulc.predict import predict_scene
from sar_lulc.mapview import show_prediction
scene = Path({str(root / 'data_samples/synth/test/s000_sar_dn.tif')!r})
res = predict_scene({str(root / 'data_samples/models/lulc_resnet18.safetensors')!r}, scene, Path('lulc.tif'), overwrite=True, progress=False)
m = show_prediction(scene, res.paths['class'], height='560px')
m
"""
nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "a1", "metadata": {}, "outputs": [], "source": code}],
      "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
      "nbformat": 4, "nbformat_minor": 5}

def free_port():
    with socket.socket() as s: s.bind(("127.0.0.1", 0)); return s.getsockname()[1]

with tempfile.TemporaryDirectory() as d:
    (Path(d) / "view.ipynb").write_text(json.dumps(nb))
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", JUPYTER_PLATFORM_DIRS="1")
    lab = subprocess.Popen([str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", f"--port={port}",
                            "--ip=127.0.0.1", f"--notebook-dir={d}", "--ServerApp.token=", "--ServerApp.password=",
                            "--ServerApp.disable_check_xsrf=True", "--LabApp.news_url=", "--allow-root"],
                           cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try: urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=1); break
            except Exception: time.sleep(0.5)
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from _browser import HEADLESS_CHROMIUM_ARGS
            b = p.chromium.launch(executable_path="/usr/bin/chromium", args=HEADLESS_CHROMIUM_ARGS)
            page = b.new_page(viewport={"width": 1300, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/lab/tree/view.ipynb", timeout=120_000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
            page.wait_for_timeout(3000)
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.keyboard.press("Shift+Enter")
            page.wait_for_selector(".leaflet-container img.leaflet-image-layer", timeout=180_000)
            page.wait_for_timeout(3000)
            page.add_style_tag(content=".Toastify, .jp-toast-container { display: none !important; }")  # JupyterLab's news prompt
            el = page.locator(".jp-OutputArea-output").last
            el.screenshot(path=str(out))
            b.close()
    finally:
        lab.terminate(); lab.wait(10)
print(out, out.stat().st_size // 1024, "KB")
