"""Series: every earlier month exactly as its latest release published it (suppressed cells stay empty), read
verified; year-on-year change only between free cells, hand-checked."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from pipelines.core.config import Settings
from pipelines.release.plan import find_series_sources
from pipelines.release.release_check import TamperedRelease
from pipelines.release.release_model import ReleaseInfo
from pipelines.release.series import SERIES_TABLES, build_series, release_version
from pipelines.release.tables import build_release_tables
from tests.release_fixtures import final_use_cells, write_verified_release

REGIONS = ("_T", "East", "110000", "120000")


def _cells(tokens: int, flags: dict[str, str]) -> pl.DataFrame:
    """Final-use cells of four regions: the total, East and two provinces (a share each)."""
    shares = {"_T": 1.0, "East": 1.0, "110000": 0.4, "120000": 0.6}
    return final_use_cells([(r, "_T", int(tokens * shares[r]), flags.get(r, "F")) for r in REGIONS])


def _tables(period: str, version: int, tokens: int, flags: dict[str, str] | None = None) -> dict[str, pl.DataFrame]:
    info = ReleaseInfo(period, version, version - 1 or None, "test", "1")
    return build_release_tables(_cells(tokens, flags or {}), info, {}, None, None)


def _months(first_year: int, count: int) -> list[str]:
    return [f"{first_year + (m - 1) // 12}-{(m - 1) % 12 + 1:02d}" for m in range(1, count + 1)]


def test_earlier_months_come_from_their_latest_release_suppressed_cells_empty(data_dir: Path):
    settings = Settings.from_env(data_dir=data_dir)
    root = settings.published_dir
    write_verified_release(root, "2026-08", 1, _tables("2026-08", 1, 1000, {"110000": "A", "120000": "D"}))
    write_verified_release(root, "2026-08", 2, _tables("2026-08", 2, 1100, {"110000": "F"}))
    write_verified_release(root, "2026-09", 1, _tables("2026-09", 1, 1200, {"120000": "O", "110000": "D"}))
    staged = root / "2026-10" / ".v1.staging"  # this run's own earlier month: no manifest yet
    (staged / "tables").mkdir(parents=True)
    for name, table in _tables("2026-10", 1, 1300).items():
        table.write_parquet(staged / "tables" / f"{name}.parquet")
    sources = find_series_sources(settings, "2026-11", {"2026-10": staged})
    assert sources == (root / "2026-08" / "v2", root / "2026-09" / "v1", staged)
    assert [release_version(s) for s in sources] == [2, 1, 1]

    current = _tables("2026-11", 1, 1400)
    series = build_series(current, ReleaseInfo("2026-11", 1, None, "test", "1"), sources)
    assert set(series) == {f"series_{name}" for name in SERIES_TABLES}
    regions = series["series_by_region"]
    for folder, period in zip(sources, ("2026-08", "2026-09", "2026-10"), strict=True):
        published = pl.read_parquet(folder / "tables" / "by_region.parquet")
        rows = regions.filter(pl.col("reference_period") == period)
        assert rows.drop("source_version", "change_on_previous_year_pct").equals(published), period
        assert set(rows["source_version"]) == {release_version(folder)}
    assert (
        regions.filter(pl.col("reference_period") == "2026-11")
        .drop("source_version", "change_on_previous_year_pct")
        .equals(current["by_region"])
    )
    september = regions.filter(pl.col("reference_period") == "2026-09", pl.col("conf_status") != "F")
    assert september.height == 2 and september["total_tokens"].is_null().all()


def test_a_tampered_earlier_release_stops_the_series(data_dir: Path):
    settings = Settings.from_env(data_dir=data_dir)
    folder = write_verified_release(settings.published_dir, "2026-09", 1, _tables("2026-09", 1, 1000))
    pl.read_parquet(folder / "tables" / "national.parquet").with_columns(total_tokens=pl.lit(1)).write_parquet(
        folder / "tables" / "national.parquet"
    )
    sources = find_series_sources(settings, "2026-10", {})
    with pytest.raises(TamperedRelease, match=r"national\.parquet"):
        build_series(_tables("2026-10", 1, 1000), ReleaseInfo("2026-10", 1, None, "test", "1"), sources)


def test_year_on_year_change_once_thirteen_months_exist_and_only_between_free_cells(data_dir: Path):
    settings = Settings.from_env(data_dir=data_dir)
    months = _months(2025, 13)  # 2025-01 … 2026-01
    for i, month in enumerate(months[:-1]):
        flags = {"120000": "D"} if month == "2025-01" else {}
        write_verified_release(settings.published_dir, month, 1, _tables(month, 1, 1000 + 100 * i, flags))
    sources = find_series_sources(settings, months[-1], {})
    assert len(sources) == 12
    current = _tables(months[-1], 1, 1250, {"East": "D"})
    series = build_series(current, ReleaseInfo(months[-1], 1, None, "test", "1"), sources)["series_by_region"]
    change = dict(
        series.filter(pl.col("reference_period") == "2026-01")
        .select("region_code", "change_on_previous_year_pct")
        .iter_rows()
    )
    # 2025-01: 1000 in total (400 and 600 in the provinces, 600 withheld); 2026-01: 1250 (500 and 750)
    assert change == {"_T": 25.0, "110000": 25.0, "120000": None, "East": None}
    assert series.filter(pl.col("reference_period") < "2026-01")["change_on_previous_year_pct"].is_null().all()
