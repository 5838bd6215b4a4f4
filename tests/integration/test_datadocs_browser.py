"""GX Data Docs open offline: one site, styled from the data folder, no console error, no request leaving it.

Chromium (Debian's, driven by Playwright) opens a validation page and the index with every request outside
the data folder blocked and recorded. Also measured: the bytes of Data Docs per validation.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pipelines.synthetic.generate import generate_month
from pipelines.validation.datadocs import build_index
from tests.cli_process import run_cli
from tests.integration.test_bulletin_browser import CHROMIUM, CHROMIUM_ARGS, _require_browser

pytestmark = pytest.mark.integration

PERIOD = "2026-10"


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("docs") / "data"
    generate_month(data, PERIOD, rows=3_000, providers=4, faults=["negative_counts"])
    done = run_cli(data, "ingest")
    assert done.returncode == 0, done.stderr
    return data / "docs"


def test_one_site_with_assets_once_and_a_page_per_validation(docs):
    pages = sorted((docs / "validations").glob(f"*/{PERIOD}/*.html"))
    assert len(pages) == 4
    assert sorted(p.name for p in docs.iterdir()) == ["index.html", "static", "validations"]
    static = sum(f.stat().st_size for f in (docs / "static").rglob("*") if f.is_file())
    per_page = max(p.stat().st_size for p in pages)
    print(f"\nData Docs: {static:,} bytes of static assets once, {per_page:,} bytes per validation page")
    assert static < 2_000_000 and per_page < 200_000  # GX alone: ~4.2 MB per validation
    index = (docs / "index.html").read_text()
    for page in pages:
        assert page.relative_to(docs).as_posix() in index
    for text in [index, *(p.read_text() for p in pages)]:
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_pages_render_styled_offline_with_no_request_outside_the_data_folder(docs):
    _require_browser()
    from playwright.sync_api import sync_playwright

    root = docs.parent.resolve().as_uri()
    outside, errors = [], []
    page_file = next((docs / "validations").glob(f"*/{PERIOD}/*.html"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})

            def guard(route) -> None:
                if route.request.url.startswith(root + "/"):
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            context.route("**/*", guard)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(page_file.resolve().as_uri(), wait_until="load")
            styled = page.evaluate(
                """() => ({
                    bootstrap: getComputedStyle(document.querySelector('.container-fluid')).paddingLeft,
                    icons: getComputedStyle(document.querySelector('.fa-check-circle'), '::before').fontFamily,
                    iconFont: document.fonts.check('900 16px "Font Awesome 6 Free"'),
                    jquery: typeof window.jQuery,
                    bootstrapJs: typeof window.jQuery.fn.collapse,
                })"""
            )
            page.goto((docs / "index.html").resolve().as_uri(), wait_until="load")
            table = page.evaluate("() => getComputedStyle(document.querySelector('table')).borderCollapse")
            links = page.evaluate("() => document.querySelectorAll('tbody a').length")
        finally:
            browser.close()
    assert outside == [] and errors == []
    assert styled["bootstrap"] == "48px", styled  # Bootstrap's pl-5 (3rem): its stylesheet is applied
    assert "Font Awesome" in styled["icons"] and styled["iconFont"], styled
    assert styled["jquery"] == "function" and styled["bootstrapJs"] == "function", styled
    assert table == "collapse" and links == 4


def test_retention_drops_old_pages_from_the_site_and_its_index(tmp_path):
    docs = tmp_path / "docs"
    old = docs / "validations" / "p" / "2025-01" / ("a" * 64 + ".html")
    new = docs / "validations" / "p" / "2026-10" / ("b" * 64 + ".html")
    for page in (old, new):
        page.parent.mkdir(parents=True)
        page.write_text("<html></html>")
    os.utime(old, (time.time() - 40 * 86_400,) * 2)
    index = build_index(docs, retention_days=30).read_text()
    assert not old.exists() and new.exists()
    assert "2025-01" not in index and "2026-10" in index
    build_index(docs, retention_days=0)
    assert new.exists()
