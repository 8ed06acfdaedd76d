"""Driving the web app in Debian's headless Chromium (Playwright, never a browser download): the one place for
the Chromium flags and the land-cover walk-through, shared by tests/test_app_browser.py and the README
screenshot scripts (scripts/app_screenshot.py, scripts/mapview_screenshot.py)."""

# Headless, no sandbox (root in CI), and none of Chromium's background traffic: this machine has no network.
HEADLESS_CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", "--no-first-run"]

def run_land_cover_in_page(page, url: str, path, timeout_ms: int = 180_000) -> None:
    "Open the app at `url`, upload `path`, run the land-cover task and wait for the class map, legend and status."
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("#run-btn", timeout=60_000)
    page.locator("#upload input[type=file]").set_input_files(str(path))
    page.wait_for_function("document.querySelector('#status')?.innerText.includes('Press')", timeout=60_000)
    page.locator("#task").get_by_text("Land cover").click()
    page.click("#run-btn")
    page.wait_for_selector("#map-image img", timeout=timeout_ms)
    page.wait_for_selector("#legend .sar-lulc-legend", timeout=60_000)
    page.wait_for_function("document.querySelector('#status')?.innerText.includes('done in')", timeout=60_000)
