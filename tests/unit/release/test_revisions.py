"""Revision analysis on a hand-checked example: three months, two revised, one value first withheld."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.release.release_model import ReleaseInfo
from pipelines.release.revisions import build_revision_analysis, build_revision_triangle
from pipelines.release.tables import build_release_tables
from tests.release_fixtures import final_use_cells, write_verified_release


def _tables(period: str, version: int, tokens: dict[str, int], flags: dict[str, str] | None = None) -> dict:
    cells = final_use_cells([("_T", m, value, (flags or {}).get(m, "F")) for m, value in tokens.items()])
    return build_release_tables(cells, ReleaseInfo(period, version, version - 1 or None, "test", "1"), {}, None, None)


@pytest.fixture
def record(tmp_path: Path) -> tuple[dict, ReleaseInfo, tuple[Path, ...], Path]:
    def publish(period: str, version: int, tokens: tuple[int, int, int], flags: dict | None = None) -> Path:
        values = dict(zip(("_T", "text", "code"), tokens, strict=True))
        return write_verified_release(tmp_path, period, version, _tables(period, version, values, flags))

    publish("2026-08", 1, (1000, 600, 400))
    august = publish("2026-08", 2, (1100, 700, 400))
    publish("2026-09", 1, (1200, 800, 400), {"code": "D"})
    september = publish("2026-09", 2, (1150, 750, 400))
    info = ReleaseInfo("2026-10", 1, None, "test", "1")
    current = _tables("2026-10", 1, {"_T": 1300, "text": 900, "code": 400})
    return current, info, (august, september), tmp_path / "2026-10" / ".v1.staging"


def test_first_against_latest_and_the_means_by_hand(record):
    current, info, sources, staging = record
    analysis = build_revision_analysis(current, info, sources, staging)
    got = {(r["reference_period"], r["modality"]): r for r in analysis.iter_rows(named=True)}
    assert len(got) == 3 * 3 + 3
    august = got["2026-08", "_T"]
    assert (august["first_value"], august["latest_version"], august["latest_value"]) == (1000, 2, 1100)
    assert (august["revision"], august["revision_pct"]) == (100, 10.0)
    assert got["2026-09", "_T"]["revision"] == -50
    assert got["2026-09", "_T"]["revision_pct"] == pytest.approx(-4.1667)
    assert got["2026-10", "_T"]["revision"] == 0
    national = got["_T", "_T"]  # (100 - 50 + 0) / 3 and (100 + 50 + 0) / 3
    assert (national["months"], national["mean_revision"], national["mean_absolute_revision"]) == (3, 16.67, 50.0)
    assert national["mean_revision_pct"] == pytest.approx((10 - 4.1667) / 3, abs=1e-4)
    text = got["_T", "text"]  # 600 → 700, 800 → 750, 900 → 900
    assert (text["mean_revision"], text["mean_absolute_revision"]) == (16.67, 50.0)
    # September's code total was first withheld: no first value, no revision, not in the mean
    assert got["2026-09", "code"]["first_value"] is None and got["2026-09", "code"]["revision"] is None
    assert (got["_T", "code"]["months"], got["_T", "code"]["mean_absolute_revision"]) == (2, 0.0)


def test_no_analysis_before_any_revision_and_the_triangle(record, tmp_path):
    current, info, sources, staging = record
    assert build_revision_analysis(current, info, (), staging) is None
    triangle = build_revision_triangle(current["national"], info, sources)
    assert triangle.columns == ["reference_period", "v1", "v2"]
    assert triangle.rows() == [("2026-08", 1000, 1100), ("2026-09", 1200, 1150), ("2026-10", 1300, None)]
