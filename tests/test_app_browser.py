"""The web app in a real browser: Debian's headless Chromium driven by Playwright (never downloads a
browser). Opens the page, uploads a sample, runs the land-cover task, waits for the class map and the
legend, and saves a screenshot to test-artifacts/app_screenshot.png."""
import os, shutil
from pathlib import Path

import pytest

import _apphelpers as H
from _browser import HEADLESS_CHROMIUM_ARGS, run_land_cover_in_page

CHROMIUM = os.environ.get("SAR_LULC_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = H.ROOT / "test-artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium not found at {CHROMIUM} (set SAR_LULC_CHROMIUM)")
    try: from playwright.sync_api import sync_playwright
    except ImportError: pytest.skip("the playwright Python package is not installed")
    with sync_playwright() as pw:
        try: b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=HEADLESS_CHROMIUM_ARGS)
        except Exception as e: pytest.skip(f"Chromium does not start: {str(e).splitlines()[0]}")
        yield b
        b.close()


def test_land_cover_in_browser(browser):
    url = H.server()
    page = browser.new_page(viewport={"width": 1400, "height": 1300})
    run_land_cover_in_page(page, url, H.sample())
    assert "256 x 256" in page.inner_text("#status")
    legend = page.inner_text("#legend")
    assert "Land cover" in legend
    assert page.locator("#map-image img").evaluate("img => img.complete && img.naturalWidth") == 256
    assert page.locator("#downloads").inner_text().count(".tif") >= 2
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "app_screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    # a bad file shows the reason in the page, and the app keeps serving
    bad = H.workdir() / "notes.txt"; bad.write_text("not an image\n")
    page.locator("#upload button[aria-label='Clear']").first.click() if page.locator("#upload button[aria-label='Clear']").count() else None
    page.locator("#upload input[type=file]").set_input_files(str(bad))
    page.click("#run-btn")
    page.wait_for_selector("text=not a GeoTIFF, PNG or JPEG", timeout=60_000)
    page.close()
