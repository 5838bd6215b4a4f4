"""Reading earlier releases: only bytes that match their release's manifest are trusted.

A new release reads earlier ones (the previous version for its revisions table, the previous month's for the
change on the month). Those folders are immutable by rule, not by force: a file altered after publication
would silently flow into the new release's figures. So every file read is hashed as read and compared with the
sha256 its release's ``manifest.json`` recorded; a mismatch, a missing or an unlisted file stops the publish
with an error naming the file. The bytes hashed are the bytes parsed (no window to swap the file between).
A staging folder written earlier in the same run has no manifest yet: it is this run's own output.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import polars as pl

MANIFEST = "manifest.json"


class TamperedRelease(RuntimeError):
    """A published release no longer matches its manifest: restore it before publishing again."""


def read_release_table(release: Path | None, name: str) -> pl.DataFrame | None:
    """Table ``name`` of a release, verified against its manifest; None when the release has no such table."""
    if release is None:
        return None
    data = _read_release_file(release, f"tables/{name}.parquet")
    return None if data is None else pl.read_parquet(io.BytesIO(data))


def _read_release_file(release: Path, relative: str) -> bytes | None:
    """The bytes of a file of a release, once they match the manifest; None if neither lists nor holds it."""
    path = release / relative
    if release.name.startswith("."):  # this run's staging folder: not published yet, nothing to check against
        return path.read_bytes() if path.exists() else None
    expected = _manifest_digests(release).get(relative)
    if expected is None:
        if path.exists():
            raise TamperedRelease(f"{path} is not listed in {release / MANIFEST}: the release was altered")
        return None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise TamperedRelease(
            f"{path} is listed in {release / MANIFEST} but missing: the release was altered"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise TamperedRelease(
            f"{path} does not match {release / MANIFEST} (sha256 {actual[:16]}…, recorded {expected[:16]}…): "
            "the release was altered after publication; restore it from the archive copy before publishing again"
        )
    return data


def _manifest_digests(release: Path) -> dict[str, str]:
    try:
        manifest = json.loads((release / MANIFEST).read_text(encoding="utf-8"))
        return {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TamperedRelease(
            f"{release / MANIFEST} is missing or unreadable ({error}): cannot trust {release}"
        ) from None
