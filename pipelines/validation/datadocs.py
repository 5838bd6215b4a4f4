"""GX Data Docs as one offline site in ``<data>/docs/``: every asset from the data folder, no request outside it.

GX renders each validation as a page that loads Bootstrap, jQuery, Font Awesome, bootstrap-table, a date
picker and vega from public CDNs, and its logo from a public bucket (a third-party request each time a page is
opened); it also writes a full site with 4 MB of static files per validation. Here GX still renders the page
(``expectations.run_suite``, into a scratch site), then ``publish_page`` moves it into the one site, at
``validations/<provider>/<month>/<submission>.html``, with every external reference replaced by the same
library vendored from an installed package (``ASSETS``: Bootstrap 4 from xstatic-bootstrap, jQuery from
xstatic-jquery, Font Awesome from fontawesomefree, GX's own favicon and logo) or removed when the page does not
use it (bootstrap-table, the date picker, vega, GX's newsletter). ``_install_assets`` copies those files once,
into ``static/``; ``build_index`` writes ``index.html`` by provider and month and drops pages older than the
retention setting (``DOCS_RETENTION_DAYS``, 0 keeps every page).
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
import shutil
import time
from pathlib import Path

STATIC = "static"
PAGES = "validations"

# External reference of a GX page (URL prefix) -> the vendored file under static/ that replaces it.
ASSETS = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/js/bootstrap.bundle.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "fontawesome/css/all.min.css",
    "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png": "gx/logo-long.png",
}
EXTERNAL = re.compile(r"""(?:https?:)?//[^"')\s]+""")
TAG = re.compile(r"<(script|link|img)\b[^>]*>(?:\s*</script>)?", re.IGNORECASE)
ANCHOR = re.compile(r"""<a\b[^>]*\bhref=["'](?:https?:)?//[^>]*>(.*?)</a>""", re.IGNORECASE | re.DOTALL)


def _asset_sources() -> dict[str, Path]:
    """Each vendored file (path under static/) and where the installed package holds it."""
    import fontawesomefree
    import great_expectations
    import xstatic.pkg.bootstrap
    import xstatic.pkg.jquery

    bootstrap, jquery = Path(xstatic.pkg.bootstrap.BASE_DIR), Path(xstatic.pkg.jquery.BASE_DIR)
    fontawesome = Path(fontawesomefree.__file__).parent / "static" / "fontawesomefree"
    gx_images = Path(great_expectations.__file__).parent / "render" / "view" / "static" / "images"
    sources = {
        "bootstrap/css/bootstrap.min.css": bootstrap / "css" / "bootstrap.min.css",
        "bootstrap/js/bootstrap.bundle.min.js": bootstrap / "js" / "bootstrap.bundle.min.js",  # Popper included
        "jquery/jquery.min.js": jquery / "jquery.min.js",
        "fontawesome/css/all.min.css": fontawesome / "css" / "all.min.css",
        "gx/logo-long.png": gx_images / "logo-long.png",
        "gx/favicon.ico": gx_images / "favicon.ico",
    }
    for font in sorted((fontawesome / "webfonts").glob("*.woff2")):  # all.min.css prefers woff2: enough
        sources[f"fontawesome/webfonts/{font.name}"] = font
    return sources


def _install_assets(docs_dir: Path) -> Path:
    """The site's static files, copied once from the installed packages (atomically: a folder renamed in)."""
    static = docs_dir / STATIC
    if static.is_dir():
        return static
    staging = docs_dir / f".{STATIC}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    for relative, source in _asset_sources().items():
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    try:
        os.rename(staging, static)
    except OSError:  # another validation installed them first: the same files
        shutil.rmtree(staging, ignore_errors=True)
    return static


def publish_page(gx_page: Path, docs_dir: Path, provider: str, period: str, submission: str) -> Path:
    """Move a page GX rendered into the site, every external reference made local or removed."""
    _install_assets(docs_dir)
    target = docs_dir / PAGES / provider / period / f"{submission}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    static = os.path.relpath(docs_dir / STATIC, target.parent)
    index = os.path.relpath(docs_dir / "index.html", target.parent)
    text = _offline_html(gx_page.read_text(encoding="utf-8"), static, index)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target


def _offline_html(text: str, static: str, index: str) -> str:
    """A GX page with vendored assets instead of CDN ones, links to the site's index, and nothing external."""

    def local_tag(match: re.Match) -> str:
        tag = match.group(0)
        url = EXTERNAL.search(tag)
        if url is None:
            return tag
        local = next((path for prefix, path in ASSETS.items() if url.group(0).startswith(prefix)), None)
        if local is None:
            return ""  # a library the page does not use, or a third party's tracker: not loaded at all
        tag = re.sub(r'\s(integrity|crossorigin)="[^"]*"', "", tag)
        return tag.replace(url.group(0), f"{static}/{local}")

    text = TAG.sub(local_tag, text)
    text = ANCHOR.sub(r"\1", text)  # links out of the site become their text
    text = re.sub(r"<footer>.*?</footer>", "", text, flags=re.DOTALL)  # GX's newsletter
    text = re.sub(r"""url\(['"]?(?:https?:)?//[^)]*\)""", "none", text)  # CSS images from GX's bucket
    text = re.sub(r'href="(?:\.\./)+static/images/favicon\.ico"', f'href="{static}/gx/favicon.ico"', text)
    text = re.sub(r'href="(?:\.\./)+index\.html"', f'href="{index}"', text)
    return re.sub(r'href="(?:\.\./)+expectations/[^"]*"', f'href="{index}"', text)


def build_index(docs_dir: Path, retention_days: int = 0, now: float | None = None) -> Path:
    """``index.html``: every validation page by provider and month, newest first; pages older than
    ``retention_days`` (when > 0) are deleted first."""
    _install_assets(docs_dir)
    now = time.time() if now is None else now
    pages = []
    for page in sorted((docs_dir / PAGES).glob("*/*/*.html")):
        modified = page.stat().st_mtime
        if retention_days > 0 and now - modified > retention_days * 86_400:
            page.unlink()
            continue
        provider, period = page.parent.parent.name, page.parent.name
        pages.append((provider, period, modified, page))
    rows = []
    for provider, period, modified, page in sorted(pages, key=lambda p: (p[0], p[1], -p[2])):
        when = dt.datetime.fromtimestamp(modified, dt.UTC).strftime("%Y-%m-%d %H:%M")
        link = html.escape(page.relative_to(docs_dir).as_posix(), quote=True)
        rows.append(
            f"<tr><td>{html.escape(provider)}</td><td>{html.escape(period)}</td>"
            f'<td><a href="{link}"><code>{html.escape(page.stem[:16])}…</code></a></td><td>{when} UTC</td></tr>'
        )
    body = "\n".join(rows) or '<tr><td colspan="4">No validation yet.</td></tr>'
    index = docs_dir / "index.html"
    tmp = index.with_name(".index.html.tmp")
    tmp.write_text(
        f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TokenStats: validation results</title>
<link rel="stylesheet" href="{STATIC}/bootstrap/css/bootstrap.min.css">
<link rel="shortcut icon" href="{STATIC}/gx/favicon.ico" type="image/x-icon"></head>
<body class="container py-4"><h1 class="h3">Validation results (Great Expectations)</h1>
<p class="text-muted">One page per report received, by provider and reference month.</p>
<table class="table table-sm table-striped"><thead><tr><th>Provider</th><th>Month</th><th>Submission</th>
<th>Validated</th></tr></thead><tbody>
{body}
</tbody></table></body></html>
""",
        encoding="utf-8",
    )
    os.replace(tmp, index)
    return index
