"""The token price index recomputed independently of ``pipelines.release.price_index``: plain numpy over report rows.

``index_items(rows, groups)`` sums report rows (from archived Parquet files or the warehouse's rows) into items;
``true_series(items)`` gives, per modality and ``_T``, each month's true chained Törnqvist level and link (no
bridging: the truth a withheld cell must not reveal) and the groups behind its link and its month.
``price_index_failures`` checks a release's ``price_index`` table against them: free cells pass the primary rules,
free cells that chain only their own links equal the truth to 1e-9, withheld values appear in no file.
``index_record_failures`` judges the attacker's differences between releases (``tests/index_attacker.py``): none may
be the change of fewer than ``min_contributors`` groups or of one dominant group.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from pipelines.contract.registry import read_registry
from pipelines.statistics.primary import Rules
from tests.index_attacker import published_differences, read_publications

TOTAL = "_T"


def index_items(rows: pl.DataFrame, groups: dict[str, str]) -> pl.DataFrame:
    """Final use (resellers' rows are intermediate) per month and item (provider, model, modality)."""
    return (
        rows.filter(pl.col("customer_type") != "reseller")
        .group_by("report_period", "provider_id", "model_id", "modality")
        .agg(
            amount=pl.col("settlement_amount").cast(pl.Float64).sum(),
            tokens=(pl.col("input_tokens") + pl.col("output_tokens")).sum().cast(pl.Float64),
        )
        .filter(pl.col("tokens") > 0)
        .with_columns(group=pl.col("provider_id").replace_strict(groups))
        .rename({"report_period": "month"})
    )


def true_series(items: pl.DataFrame) -> dict[tuple[str, str], dict]:
    """(month, modality) -> level, change (percent), link groups {group: (before, now)}, month groups
    {group: (amount, tokens)}; the level is NaN once a month has no matched item."""
    out = {}
    months = sorted(items["month"].unique())
    for modality in [TOTAL, *sorted(items["modality"].unique())]:
        rows = items if modality == TOTAL else items.filter(pl.col("modality") == modality)
        sold = defaultdict(dict)
        for r in rows.iter_rows(named=True):
            sold[r["month"]][(r["provider_id"], r["model_id"], r["modality"])] = (r["amount"], r["tokens"], r["group"])
        series_months = [m for m in months if m >= min(sold)]
        level = 100.0
        for t, month in enumerate(series_months):
            now = sold.get(month, {})
            month_groups = defaultdict(lambda: [0.0, 0.0])
            for amount, tokens, group in now.values():
                month_groups[group][0] += amount
                month_groups[group][1] += tokens
            cell = {"level": level, "change": None, "link_groups": None, "month_groups": dict(month_groups)}
            if t:
                before = sold.get(series_months[t - 1], {})
                keys = sorted(k for k in now if k in before and before[k][0] > 0 and now[k][0] > 0)
                a = np.array([before[k][0] for k in keys])
                b = np.array([now[k][0] for k in keys])
                p0 = a / np.array([before[k][1] for k in keys])
                p1 = b / np.array([now[k][1] for k in keys])
                link = float(np.sum(0.5 * (a / a.sum() + b / b.sum()) * np.log(p1 / p0))) if keys else math.nan
                level *= math.exp(link)
                link_groups = defaultdict(lambda: [0.0, 0.0])
                for k in keys:
                    link_groups[before[k][2]][0] += before[k][0]
                    link_groups[now[k][2]][1] += now[k][0]
                cell |= {"level": level, "change": (math.exp(link) - 1) * 100, "link_groups": dict(link_groups)}
            out[(month, modality)] = cell
    return out


def passes_rules(groups: dict[str, list[float]], rules: Rules) -> bool:
    """At least min_contributors groups and, on every measure, no dominance by the p% rule."""
    if sum(any(v > 0 for v in values) for values in groups.values()) < rules.min_contributors:
        return False
    for measure in zip(*groups.values(), strict=True):
        largest, _, *rest = [*sorted((abs(v) for v in measure), reverse=True), 0.0, 0.0]
        if sum(rest) < rules.dominance_p_percent / 100 * largest:  # the rest, net of the second largest
            return False
    return True


def price_index_failures(release: Path, items: pl.DataFrame, rules: Rules, texts: dict[str, str]) -> list[str]:
    path = release / "tables" / "price_index.parquet"
    if not path.exists():
        return [f"{release}: no price_index table"]
    truth = true_series(items)
    cells = pl.read_parquet(release / "tables" / "by_modality.parquet")
    free_cells = set(cells.filter(pl.col("conf_status") == "F")["modality"])
    period = cells["reference_period"][0]
    problems = []
    estimated = set()
    index = pl.read_parquet(path)
    first_month = dict(index.group_by("modality").agg(pl.col("month").min()).iter_rows())
    series = pl.read_parquet(release / "tables" / "series_by_modality.parquet")
    published_free = {
        (r["reference_period"], r["modality"])
        for r in series.filter(pl.col("use_type") == "final", pl.col("conf_status") == "F").iter_rows(named=True)
    }
    for row in index.sort("month").iter_rows(named=True):
        key = (row["month"], row["modality"])
        true = truth[key]
        if row["month"] == period and row["unit_value_index"] is not None and row["modality"] not in free_cells:
            problems.append(f"{key}: a unit value beside a withheld cell gives its price away")
        base = (first_month[row["modality"]], row["modality"])
        if row["unit_value_index"] is not None and not {key, base} <= published_free:
            problems.append(f"{key}: a unit value index where its month's or its base's cell is not published free")
        if row["obs_status"] == "E":
            estimated.add(row["modality"])
        if row["conf_status"] != "F":
            for value in (true["level"], true["change"]):
                if value is not None and math.isfinite(value):
                    digits = f"{value:.7f}"[:-2]  # a printed value, at any precision from 5 decimals on
                    leaks = [name for name, text in texts.items() if digits in text]
                    problems += [f"{name} prints the withheld {key}: {digits}" for name in leaks]
            continue
        if true["link_groups"] is not None and not passes_rules(true["link_groups"], rules):
            problems.append(f"{key}: free, but its matched items fail the rules")
        if true["month_groups"] and not passes_rules(true["month_groups"], rules):
            problems.append(f"{key}: free, but its month's items fail the rules")
        if row["modality"] not in estimated and not math.isclose(row["price_index"], true["level"], rel_tol=1e-9):
            problems.append(f"{key}: index {row['price_index']}, recomputed {true['level']}")
    return problems


def index_record_failures(data_dir: Path, rules: Rules) -> list[str]:
    """The attacker's differences (``tests/index_attacker.py``) over every release in ``data_dir/published``, judged
    against the truth: each must be the change of at least ``min_contributors`` groups, none dominant, in the items
    the cell rests on (its modality, or every modality for ``_T`` and estimated levels, in every month up to its
    own), recomputed from the report rows each release's manifest lists."""
    published = data_dir / "published"
    differences = published_differences(read_publications(published))
    if not differences:
        return []
    groups = {p.provider_id: p.enterprise_group for p in read_registry(data_dir / "registry" / "providers.csv")}
    items = {
        release: index_items(index_rows(data_dir, published / release), groups)
        for release in {d.first for d in differences} | {d.second for d in differences}
    }
    problems = []
    for d in differences:
        estimated = any(
            _flag(published / release, d.month, d.modality, "obs_status") == "E" for release in (d.first, d.second)
        )
        change = _change_by_group(items[d.first], items[d.second], d.month, None if estimated else d.modality)
        if not passes_rules(change, rules):
            problems.append(
                f"({d.month}, {d.modality}): {d.first} and {d.second} print {', '.join(d.columns)} differently, "
                f"the change of {sum(1 for v in change.values() if any(v))} enterprise group(s), or one dominant"
            )
    return problems


def _flag(release: Path, month: str, modality: str, column: str) -> str:
    table = pl.read_parquet(release / "tables" / "price_index.parquet")
    return table.filter(pl.col("month") == month, pl.col("modality") == modality)[column].item()


def _change_by_group(
    first: pl.DataFrame, second: pl.DataFrame, month: str, modality: str | None
) -> dict[str, list[float]]:
    """Per group: absolute change of settlement and tokens over the items of ``modality`` (None or ``_T``: all) in
    every month up to ``month``, item by item."""
    keys = ["month", "provider_id", "model_id", "modality"]

    def within(items: pl.DataFrame) -> pl.DataFrame:
        chosen = items.filter(pl.col("month") <= month)
        return chosen if modality in (None, TOTAL) else chosen.filter(pl.col("modality") == modality)

    joined = within(first).join(within(second), on=keys, how="full", coalesce=True, suffix="_2")
    change: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for r in joined.iter_rows(named=True):
        group = r["group"] or r["group_2"]
        change[group][0] += abs((r["amount_2"] or 0.0) - (r["amount"] or 0.0))
        change[group][1] += abs((r["tokens_2"] or 0.0) - (r["tokens"] or 0.0))
    return dict(change)


def index_rows(data_dir: Path, release: Path) -> pl.DataFrame:
    """The report rows behind a release's price index: the submissions its manifest lists (its month's and every
    earlier month's, as they stood when it was published)."""
    inputs = json.loads((release / "manifest.json").read_text(encoding="utf-8"))["inputs"]
    with duckdb.connect(str(data_dir / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        return con.sql(
            "select report_period, provider_id, model_id, modality, customer_type, input_tokens, output_tokens, "
            "settlement_amount from core.usage where list_contains($ids, submission_id)",
            params={"ids": [*inputs["submissions"], *inputs["earlier_submissions"]]},
        ).pl()
