"""The bulletin in headless Debian Chromium (Playwright, no downloaded browser): it renders offline, cleanly.

Skipped when /usr/bin/chromium is missing, unless TOKENSTATS_REQUIRE_BROWSER=1 (then it fails).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from pipelines.release.formats.bulletin import write_bulletin
from tests.release_fixtures import release_tables, with_series

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
    "--metrics-recording-only",
    "--mute-audio",
    "--hide-scrollbars",
    "--font-render-hinting=none",
]
WIDTH = 1280

pytestmark = pytest.mark.integration


def _require_browser() -> None:
    required = os.environ.get("TOKENSTATS_REQUIRE_BROWSER") == "1"
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install -y chromium)"
        if required:
            pytest.fail(message + " and TOKENSTATS_REQUIRE_BROWSER=1")
        pytest.skip(message)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        if required:
            pytest.fail("playwright is not installed and TOKENSTATS_REQUIRE_BROWSER=1")
        pytest.skip("playwright (a dev dependency) is not installed")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def _open_page(browser, errors: list[str]):
    """A page of the window's width whose console errors and page errors land in ``errors``."""
    page = browser.new_context(viewport={"width": WIDTH, "height": 900}).new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    return page


def test_bulletin_renders_offline_without_errors(tmp_path: Path):
    _require_browser()
    from playwright.sync_api import sync_playwright

    tables, info = release_tables(2, full=True)
    path = write_bulletin(tmp_path / "bulletin.html", tables, info)
    url = path.resolve().as_uri()
    national = tables["national"].row(0, named=True)
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = _open_page(browser, errors)
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")
            headline = page.locator("#headline-tokens .figure").inner_text()
            charts = page.locator("svg[role=img]")
            boxes = [charts.nth(i).bounding_box() for i in range(charts.count())]
            tables_shown = page.locator("table").count()
            overflow = page.evaluate("document.documentElement.scrollWidth")
            screenshot = tmp_path / "bulletin.png"
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    assert errors == []
    assert requests == [url], "no request but the file itself"
    assert headline.startswith(f"{national['total_tokens'] / 1e12:,.1f}")
    assert len(boxes) == 5 and all(b and b["width"] > 200 and b["height"] > 100 for b in boxes), boxes
    assert tables_shown >= 8
    assert overflow <= WIDTH, "the page is no wider than the window"
    data = screenshot.read_bytes()
    width, height = _png_size(data)
    assert width == WIDTH and height > 3000
    assert len(data) > 200_000


def test_the_trend_charts_render_from_the_series(tmp_path: Path):
    _require_browser()
    from playwright.sync_api import sync_playwright

    tables, info = release_tables(2, full=True)
    path = write_bulletin(tmp_path / "bulletin.html", with_series(tables), info)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = _open_page(browser, errors)
            page.goto(path.resolve().as_uri(), wait_until="load")
            trends = page.locator("#trends svg[role=img]")
            boxes = [trends.nth(i).bounding_box() for i in range(trends.count())]
            lines = page.locator("#trends polyline").count()
            columns = page.locator("#chart-trend-mix rect[fill^='#']").count()
            screenshot = tmp_path / "trends.png"
            page.locator("#trends").screenshot(path=str(screenshot))
        finally:
            browser.close()
    assert errors == []
    assert len(boxes) == 3 and all(b and b["width"] > 300 and b["height"] > 150 for b in boxes), boxes
    assert lines >= 1 + 5, "the national line and five provinces"
    assert columns >= 6, "a column part for each of six months at least"
    width, height = _png_size(screenshot.read_bytes())
    assert width > 600 and height > 400
