"""The token price index: the price of a token from what customers actually settled, quality-aware.

**Elementary aggregates** are items (provider, model, modality) of final use; an item's unit value is its settlement
amount per million tokens (``sql/elementary_aggregates.sql``). Three series are published, per modality
and for all modalities (``_T``), each 100 in its first month:

- the **headline**, a chained monthly Törnqvist over the items sold in both months (matched models):
  ln(I_t / I_{t-1}) = Σ_i ½(w_{i,t-1} + w_{i,t}) · ln(p_{i,t} / p_{i,t-1}), w an item's share of the matched items'
  settlement in that month (within the modality; over every matched item for ``_T``);
- a **GEKS-Törnqvist** over a 13-month window (every month's bilateral Törnqvist against every other), linked to
  the published series by a mean splice: free of chain drift within the window, at the cost of a choice of
  window and splice and of being harder to explain;
- the **unit-value** index: all tokens, matched or not, settlement per million tokens against the first month.
  It moves with the mix: when new, cheaper models take share it falls faster than the matched indices.

**Confidentiality.** A month's link is a cell: its matched items must come from at least ``min_contributors``
enterprise groups, none dominant by the p% rule on either month's settlement (``disclosure.primary_status``, the
rules of every cell); the month's unit value likewise over all its items. A row failing either is withheld
(``A`` or ``O``, every value and count empty, and the change on the next month too). So that the withheld link
cannot be read from later levels, the chain continues with the all-modality link in its place (or no change, for
``_T``), and the later levels are flagged ``E``. A unit value is a published cell's price (final use of the
modality) against the first month's: it appears only where that cell is free. Across the published record (every
version of every month carries the index to date): ``price_index_record``.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from pipelines.core.database import run_sql
from pipelines.statistics.cells import TOTAL
from pipelines.statistics.primary import FREE, GROUP, Rules, apply_primary_rules, compute_rule_figures

ITEM = ("provider_id", "model_id", "modality")
CELL = ("month", "modality")
WINDOW = 13  # months of the GEKS window
ESTIMATED = "E"
VALUES = ("price_index", "change_on_previous_month_pct", "geks_index", "unit_value_index", "matched_items")


def list_index_submissions(con: duckdb.DuckDBPyConnection, period: str) -> tuple[str, ...]:
    """The accepted, current submission ids of every month up to ``period``, sorted: what its price index uses."""
    return tuple(row[0] for row in run_sql(con, "release/index_submissions", period=period).fetchall())


def elementary_aggregates(con: duckdb.DuckDBPyConnection, submissions: tuple[str, ...]) -> pl.DataFrame:
    """Every item's settlement and tokens of every month in these submissions (a release's: its own month's and
    every earlier month's accepted reports, ``list_index_submissions``). Reports not summed before are summed
    now, once (``mart.item_sales``)."""
    summed = {row[0] for row in con.sql("select distinct submission_id from mart.item_sales").fetchall()}
    if missing := sorted(set(submissions) - summed):  # else no row, nor even a file of core.usage, is read
        run_sql(con, "release/item_sales", submissions=missing)
    rows = run_sql(con, "release/elementary_aggregates", submissions=list(submissions)).pl()
    return rows.select(
        pl.col("report_period").alias("month"),
        *ITEM,
        GROUP,
        amount=pl.col("settlement_amount").cast(pl.Float64),
        tokens=pl.col("total_tokens").cast(pl.Float64),
    )


@dataclass(frozen=True)
class Panel:
    """One series' items side by side: ``amount[t, i]`` and ``tokens[t, i]``, zero where item i was not sold."""

    months: list[str]
    amount: np.ndarray
    tokens: np.ndarray
    groups: np.ndarray  # enterprise group of each item

    @classmethod
    def of(cls, aggregates: pl.DataFrame, months: list[str]) -> Panel:
        items = aggregates.select(*ITEM, GROUP).unique(subset=list(ITEM)).sort(ITEM)
        rows = aggregates.join(items.with_row_index("item").drop(GROUP), on=list(ITEM))
        t = rows["month"].replace_strict({m: i for i, m in enumerate(months)}, return_dtype=pl.Int64).to_numpy()
        i = rows["item"].to_numpy()
        amount, tokens = np.zeros((len(months), items.height)), np.zeros((len(months), items.height))
        amount[t, i], tokens[t, i] = rows["amount"].to_numpy(), rows["tokens"].to_numpy()
        return cls(months, amount, tokens, items[GROUP].to_numpy())

    def matched(self, j: int, k: int) -> np.ndarray:
        """Items with a price (settled, so a positive unit value) in both months."""
        return (self.amount[j] > 0) & (self.amount[k] > 0)

    def log_tornqvist(self, j: int, k: int) -> float:
        """ln of the bilateral Törnqvist from month j to month k over their matched items; NaN if none."""
        matched = self.matched(j, k)
        if not matched.any():
            return float("nan")
        a, b = self.amount[j, matched], self.amount[k, matched]
        price_ratio = (b / self.tokens[k, matched]) / (a / self.tokens[j, matched])
        return float(np.sum(0.5 * (a / a.sum() + b / b.sum()) * np.log(price_ratio)))

    def chained_links(self) -> np.ndarray:
        """ln(I_t / I_{t-1}) for t >= 1 (first entry 0); NaN where no item is matched."""
        return np.array([0.0, *(self.log_tornqvist(t - 1, t) for t in range(1, len(self.months)))])

    def geks_levels(self) -> np.ndarray:
        """ln of the GEKS-Törnqvist series (first month 0): at each month, the GEKS of its window (the month and
        up to WINDOW - 1 before), spliced on every earlier month of the window by the geometric mean."""
        levels = np.zeros(len(self.months))
        for t in range(1, len(self.months)):
            window = range(max(0, t - WINDOW + 1), t + 1)
            bilateral = np.array([[self.log_tornqvist(j, k) if j != k else 0.0 for k in window] for j in window])
            last = len(window) - 1
            # ln GEKS(j, t) = mean over l of [ln T(j, l) + ln T(l, t)]
            geks = _mean_of_finite(bilateral + bilateral[:, last][np.newaxis, :], axis=1)
            spliced = _mean_of_finite(levels[list(window)[:last]] + geks[:last], axis=0)
            levels[t] = spliced if np.isfinite(spliced) else levels[t - 1]
        return levels

    def unit_values(self) -> np.ndarray:
        """Settlement per million tokens of every item sold in each month (NaN for a month without tokens)."""
        tokens = self.tokens.sum(axis=1)
        return np.divide(self.amount.sum(axis=1) * 1e6, tokens, out=np.full(len(tokens), np.nan), where=tokens > 0)

    def link_contributions(self, t: int) -> pl.DataFrame:
        """Per enterprise group: its matched items' settlement in month t - 1 and month t (the link's cell)."""
        matched = self.matched(t - 1, t)
        return _by_group(self.groups[matched], before=self.amount[t - 1, matched], now=self.amount[t, matched])

    def read_month_contributions(self, t: int) -> pl.DataFrame:
        """Per enterprise group: settlement and tokens of all its items in month t (the unit value's cell)."""
        return _by_group(self.groups, amount=self.amount[t], tokens=self.tokens[t])


def _mean_of_finite(values: np.ndarray, axis: int) -> np.ndarray:
    """The mean over ``axis`` of the finite values (pairs without a matched item are NaN); NaN if none."""
    finite = np.isfinite(values)
    count = finite.sum(axis=axis)
    total = np.where(finite, values, 0.0).sum(axis=axis)
    return np.divide(total, count, out=np.full(np.shape(total), np.nan), where=count > 0)


def _by_group(groups: np.ndarray, **measures: np.ndarray) -> pl.DataFrame:
    frame = pl.DataFrame({GROUP: groups, **measures}, schema_overrides={GROUP: pl.String})
    return frame.group_by(GROUP).agg(pl.all().sum())


def cell_status(contributions: dict[tuple[str, str], pl.DataFrame], rules: Rules) -> dict[tuple[str, str], str]:
    """``F``, ``A`` or ``O`` of each cell (month, modality) from its groups' contributions, by the cells' rules."""
    frames = [c.with_columns(month=pl.lit(k[0]), modality=pl.lit(k[1])) for k, c in contributions.items() if c.height]
    if not frames:
        return {}
    figures = compute_rule_figures(pl.concat(frames), keys=CELL)
    status = apply_primary_rules(figures, rules)
    return {(m, s): flag for m, s, flag in zip(figures["month"], figures["modality"], status, strict=True)}


def price_index_table(aggregates: pl.DataFrame, period: str, obs_status: str, rules: Rules) -> pl.DataFrame:
    """The published index rows, oldest month first; withheld rows have every value empty."""
    months = sorted(aggregates["month"].unique().to_list())
    modalities = sorted(aggregates["modality"].unique().to_list())
    series = {TOTAL: aggregates, **{m: aggregates.filter(pl.col("modality") == m) for m in modalities}}
    frames, parent_links = [], None
    for name, items in series.items():  # _T first: a withheld modality link is imputed by the _T link
        first = months.index(items["month"].min())
        panel = Panel.of(items, months[first:])
        rows, links = _series_rows(panel, name, parent_links, rules)
        parent_links = links if name == TOTAL else parent_links
        frames.append(rows)
    table = pl.concat(frames).sort("month", "modality")
    free = pl.col("conf_status") == FREE
    previous_free = (pl.col("conf_status").shift(1) == FREE).over("modality")
    change = (pl.col("price_index") / pl.col("price_index").shift(1).over("modality") - 1) * 100
    return table.select(
        pl.lit(period).alias("reference_period"),
        "month",
        "modality",
        pl.when(free).then(pl.col("price_index").round(9)).alias("price_index"),
        pl.when(free & previous_free).then(change.round(6)).alias("change_on_previous_month_pct"),
        *(pl.when(free).then(pl.col(c).round(9)).alias(c) for c in ("geks_index", "unit_value_index")),
        pl.when(free).then(pl.col("matched_items")).alias("matched_items"),
        pl.when(pl.col("estimated")).then(pl.lit(ESTIMATED)).otherwise(pl.lit(obs_status)).alias("obs_status"),
        "conf_status",
    )


def _series_rows(
    panel: Panel, name: str, parent_links: dict[str, float] | None, rules: Rules
) -> tuple[pl.DataFrame, dict[str, float]]:
    """One series' rows (index levels, flags) and the links it chained, by month."""
    months = panel.months
    keys = [(m, name) for m in months]
    link_flags = cell_status({(months[t], name): panel.link_contributions(t) for t in range(1, len(months))}, rules)
    month_flags = cell_status({(m, name): panel.read_month_contributions(t) for t, m in enumerate(months)}, rules)
    links = panel.chained_links()
    chained, estimated, used = [0.0], [False], {months[0]: 0.0}
    for t in range(1, len(months)):
        own = link_flags.get((months[t], name), FREE) == FREE and np.isfinite(links[t])
        # A withheld or missing link: the all-modality movement in its place (no change for _T itself).
        link = links[t] if own else (parent_links or {}).get(months[t], 0.0)
        used[months[t]] = link
        chained.append(chained[-1] + link)
        estimated.append(estimated[-1] or not own)
    unit_values = panel.unit_values()
    # the link's flag first (A or O), else the month's
    conf = [next((f for f in (link_flags.get(k), month_flags.get(k)) if f not in (None, FREE)), FREE) for k in keys]
    rows = pl.DataFrame(
        {
            "month": months,
            "modality": name,
            "price_index": 100 * np.exp(chained),
            "geks_index": 100 * np.exp(panel.geks_levels()),
            "unit_value_index": 100 * unit_values / unit_values[0],
            "matched_items": [None, *(int(panel.matched(t - 1, t).sum()) for t in range(1, len(months)))],
            "estimated": estimated,
            "conf_status": conf,
        },
        schema_overrides={"matched_items": pl.Int64},
    )
    return rows.with_columns(pl.col(pl.Float64).fill_nan(None)), used
