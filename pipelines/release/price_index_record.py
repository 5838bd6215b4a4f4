"""The token price index across the published record: no published difference of an index cell is one group's.

Every release carries the index from its first month up to the release's month, computed from the accepted reports
current when it is published, so one index cell (month, modality) is published again and again: in every version of
its month and in the release of every later month. Between two publications its values differ only because reports
behind it changed, and the difference is then a function of the changed reports alone: a late report, one provider's
correction. As in the main tables (``disclosure``: the change is a cell), the change of an index cell since each
earlier free publication is a cell of its own. Its contributors are the enterprise groups whose items changed in any
month the cell rests on: every month up to its own (the level is chained, the GEKS window and the unit value's base
lie before it), within its modality, or in every modality for ``_T`` and for a level bridged by the ``_T`` link
(``E`` in either publication); each contributes its absolute change of settlement and of tokens, summed over its
items, under the primary rules of every cell. A free cell whose values differ from a free earlier publication and
whose change fails the rules is withheld (``D``), with the change on the next month (it would give the level away).
A release that does not record its submissions (before ``inputs.earlier_submissions``) gives no contributors: any
difference from it is withheld.

Nothing else is carried forward: the index has no sum relations an attacker could combine with a withheld value, a
value never published has no difference, and a value published again unchanged discloses nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import duckdb
import polars as pl

from pipelines.core.config import Settings
from pipelines.core.database import run_sql
from pipelines.release.plan import list_published_versions, read_manifest
from pipelines.release.price_index import (
    CELL,
    ESTIMATED,
    ITEM,
    VALUES,
    cell_status,
    elementary_aggregates,
    price_index_table,
)
from pipelines.release.release_check import read_release_table
from pipelines.release.release_model import ReleaseInfo
from pipelines.statistics.cells import TOTAL
from pipelines.statistics.primary import FREE, GROUP, SECONDARY, Rules


@dataclass(frozen=True)
class IndexPublication:
    """The price index as one release published it, and the submissions it was computed from (None: unrecorded)."""

    release: str  # e.g. "2026-10/v1"
    table: pl.DataFrame
    submissions: tuple[str, ...] | None


def read_index_publications(settings: Settings) -> list[IndexPublication]:
    """Every published release's ``price_index`` table (read verified against its manifest), oldest month first."""
    publications = []
    for month in sorted(p.name for p in settings.published_dir.glob("????-??") if p.is_dir()):
        for release in list_published_versions(settings, month):
            table = read_release_table(release, "price_index")
            if table is None:
                continue
            inputs = read_manifest(release)["inputs"]
            earlier = inputs.get("earlier_submissions")
            submissions = None if earlier is None else (*inputs["submissions"], *earlier)
            publications.append(IndexPublication(f"{month}/{release.name}", table, submissions))
    return publications


def build_price_index(
    con: duckdb.DuckDBPyConnection,
    info: ReleaseInfo,
    submissions: tuple[str, ...],
    rules: Rules,
    published: Sequence[IndexPublication] = (),
) -> pl.DataFrame:
    """The release's ``price_index`` table from ``submissions`` (its month's and every earlier month's): every
    month up to the release's, per modality and ``_T``; values provisional (``P``) in a first release, like its
    cells; protected together with every ``published`` index."""
    aggregates = elementary_aggregates(con, submissions)
    table = price_index_table(aggregates, info.period, "P" if info.provisional else "A", rules)
    # A unit value index is a published cell's price over the first month's: only where both cells are free (a
    # price is published only beside a free cell; with either withheld, the index would give its price away).
    cells = run_sql(con, "release/unit_value_cells", period=info.period).pl()
    base = cells.rename({"month": "first_month", "cell_status": "base_status"})
    free = (pl.col("cell_status") == FREE) & (pl.col("base_status") == FREE) & (pl.col("conf_status") == FREE)
    table = (
        table.with_columns(first_month=pl.col("month").min().over("modality"))
        .join(cells, on=list(CELL), how="left")
        .join(base, on=["first_month", "modality"], how="left")
        .with_columns(pl.when(free).then("unit_value_index").alias("unit_value_index"))
        .select(table.columns)
    )
    revised = revised_in_confidence(table, aggregates, published, partial(elementary_aggregates, con), rules)
    return withhold_cells(table, revised)


def revised_in_confidence(
    table: pl.DataFrame,
    aggregates: pl.DataFrame,
    published: Sequence[IndexPublication],
    aggregates_of: Callable[[tuple[str, ...]], pl.DataFrame],
    rules: Rules,
) -> set[tuple[str, str]]:
    """The free cells of ``table`` (computed from ``aggregates``) whose values differ from a free earlier
    publication by a change that fails the primary rules (``aggregates_of`` gives a publication's aggregates)."""
    withheld: set[tuple[str, str]] = set()
    bridged = _estimated(table)
    for publication in published:
        differing = differing_cells(table, publication.table)
        if not differing:
            continue
        if publication.submissions is None:
            withheld |= differing
            continue
        changes = _changes_by_item(aggregates, aggregates_of(publication.submissions))
        either = bridged | _estimated(publication.table)  # bridged in either: every modality's items count
        contributions = {cell: _change_of_cell(changes, cell, cell in either) for cell in differing}
        flags = cell_status(contributions, rules)
        withheld |= {cell for cell in differing if flags.get(cell, FREE) != FREE}
    return withheld


def _estimated(table: pl.DataFrame) -> set[tuple[str, str]]:
    return set(table.filter(pl.col("obs_status") == ESTIMATED).select(CELL).iter_rows())


def differing_cells(table: pl.DataFrame, earlier: pl.DataFrame) -> set[tuple[str, str]]:
    """Cells free in both tables with a value published in both that differs: a difference anyone can take."""
    joined = table.join(earlier, on=list(CELL), suffix=":earlier").filter(
        pl.col("conf_status") == FREE, pl.col("conf_status:earlier") == FREE
    )
    differs = pl.any_horizontal(pl.col(c).ne(pl.col(f"{c}:earlier")).fill_null(False) for c in VALUES)
    return set(joined.filter(differs).select(CELL).iter_rows())


def _changes_by_item(now: pl.DataFrame, before: pl.DataFrame) -> pl.DataFrame:
    """Each item's absolute change of settlement and tokens in each month, with its group; changed items only."""
    keys = ["month", *ITEM]
    joined = now.join(before, on=keys, how="full", coalesce=True, suffix=":before")
    return joined.select(
        *keys,
        pl.coalesce(GROUP, f"{GROUP}:before").alias(GROUP),
        *(
            (pl.col(m).fill_null(0.0) - pl.col(f"{m}:before").fill_null(0.0)).abs().alias(m)
            for m in ("amount", "tokens")
        ),
    ).filter((pl.col("amount") > 0) | (pl.col("tokens") > 0))


def _change_of_cell(changes: pl.DataFrame, cell: tuple[str, str], bridged: bool) -> pl.DataFrame:
    """Per group, its change in the months and items an index cell rests on (the change's contributions)."""
    month, modality = cell
    within = pl.col("month") <= month
    if modality != TOTAL and not bridged:
        within &= pl.col("modality") == modality
    return changes.filter(within).group_by(GROUP).agg(pl.col("amount", "tokens").sum())


def withhold_cells(table: pl.DataFrame, cells: set[tuple[str, str]]) -> pl.DataFrame:
    """``table`` with these free cells (month, modality) withheld for others (``D``): every value empty, and the
    change on the month of the next month of the same modality (it would give the level away)."""
    if not cells:
        return table
    keys = pl.DataFrame(list(cells), schema=list(CELL), orient="row").with_columns(withheld=pl.lit(True))
    marked = table.join(keys, on=list(CELL), how="left").with_columns(pl.col("withheld").fill_null(False))
    hidden = pl.col("withheld") & (pl.col("conf_status") == FREE)
    after_hidden = hidden.shift(1).over("modality", order_by="month").fill_null(False)
    change = "change_on_previous_month_pct"
    return marked.with_columns(
        *(pl.when(hidden).then(None).otherwise(pl.col(c)).alias(c) for c in VALUES if c != change),
        pl.when(hidden | after_hidden).then(None).otherwise(pl.col(change)).alias(change),
        pl.when(hidden).then(pl.lit(SECONDARY)).otherwise(pl.col("conf_status")).alias("conf_status"),
    ).select(table.columns)
