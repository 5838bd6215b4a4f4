"""An attacker on the token price index across the published record, written apart from ``pipelines.release``.

It holds every release ever published (every version of every month, each carrying the index to date) and reads
only their ``price_index`` tables. One index cell (month, modality) is printed by many releases; wherever two
releases print it free with different values, the attacker has the difference, a function of whatever reports
changed between them alone. ``published_differences`` lists every such difference. When one enterprise group's
late report is all that changed, and the attacker knows that group's share of the matched settlement (the
provider's own share, or a competitor's good guess), ``recover_relative`` gives the group's own price relative
from the two published links: ln I_after = s ln r + (1 - s) ln I_before, exact when the share is the same in both
months.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import polars as pl

VALUES = ("price_index", "change_on_previous_month_pct", "geks_index", "unit_value_index", "matched_items")


@dataclass(frozen=True)
class Difference:
    """An index cell printed free by two releases with a value differing."""

    month: str
    modality: str
    first: str  # release, e.g. "2026-10/v1"
    second: str
    columns: tuple[str, ...]  # the values that differ


def read_publications(published: Path) -> dict[str, pl.DataFrame]:
    """Every release's price_index table, by release ("2026-10/v1"), as a user downloads them."""
    return {
        f"{path.parents[2].name}/{path.parents[1].name}": pl.read_parquet(path)
        for path in sorted(published.glob("????-??/v*/tables/price_index.parquet"))
    }


def published_differences(publications: dict[str, pl.DataFrame]) -> list[Difference]:
    """Every index cell two releases print free with different values (in any column both print)."""
    free = {
        release: {(r["month"], r["modality"]): r for r in table.iter_rows(named=True) if r["conf_status"] == "F"}
        for release, table in publications.items()
    }
    releases = sorted(free)
    differences = []
    for i, first in enumerate(releases):
        for second in releases[i + 1 :]:
            for cell in sorted(free[first].keys() & free[second].keys()):
                a, b = free[first][cell], free[second][cell]
                columns = tuple(c for c in VALUES if a.get(c) is not None and b.get(c) is not None and a[c] != b[c])
                if columns:
                    differences.append(Difference(*cell, first, second, columns))
    return differences


def recover_relative(change_before_pct: float, change_after_pct: float, share: float) -> float:
    """A late reporter's own price relative from the published change on the month without and with it, given its
    share of the matched settlement."""
    before, after = math.log1p(change_before_pct / 100), math.log1p(change_after_pct / 100)
    return math.exp((after - (1 - share) * before) / share)
