"""The price index across the published record: a correction of fewer than three groups (or of one dominant
group) must never show as a difference between two publications of an index cell. The attacker
(``tests/index_attacker.py``) reads the published tables only; the tables here are built from item aggregates as
the release stage builds them, with a release's record protection (``price_index_record``)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.release.price_index import price_index_table
from pipelines.release.price_index_record import IndexPublication, revised_in_confidence, withhold_cells
from pipelines.statistics.primary import Rules
from tests.index_attacker import published_differences, recover_relative

RULES = Rules()
MONTHS = ["2026-01", "2026-02", "2026-03"]
GROUPS = ("GA", "GB", "GC", "GD", "GE")


def _item(month: str, group: str, model: str, modality: str, amount: float, price: float) -> dict:
    return {
        "month": month,
        "provider_id": group.lower(),
        "model_id": model,
        "modality": modality,
        "enterprise_group": group,
        "amount": amount,
        "tokens": amount / price * 1e6,
    }


def _month(seed: int) -> pl.DataFrame:
    """Five groups, each with a text and a code model, over three months; no group dominant."""
    rng = np.random.default_rng(seed)
    rows = []
    for group in GROUPS:
        for modality in ("text", "code"):
            price = rng.uniform(5, 20)
            for month in MONTHS:
                price *= rng.uniform(0.85, 1.05)
                rows.append(_item(month, group, f"{modality}-{group}", modality, rng.uniform(80, 120), price))
    return pl.DataFrame(rows)


def _publish(v1: pl.DataFrame, v2: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """v1 of the last month, then v2 protected together with it; as a user downloads them."""
    first = price_index_table(v1, MONTHS[-1], "P", RULES)
    second = price_index_table(v2, MONTHS[-1], "A", RULES)
    record = [IndexPublication(f"{MONTHS[-1]}/v1", first, ("v1",))]
    revised = revised_in_confidence(second, v2, record, lambda _: v1, RULES)
    return {f"{MONTHS[-1]}/v1": first, f"{MONTHS[-1]}/v2": withhold_cells(second, revised)}


def _correct(base: pl.DataFrame, kind: str, groups: list[str], month: str, factor: float) -> pl.DataFrame:
    mine = pl.col("enterprise_group").is_in(groups) & (pl.col("month") == month)
    if kind == "price":  # settled more (or less) for the same tokens
        return base.with_columns(pl.when(mine).then(pl.col("amount") * factor).otherwise("amount").alias("amount"))
    if kind == "volume":
        return base.with_columns(
            pl.when(mine).then(pl.col(c) * factor).otherwise(c).alias(c) for c in ("amount", "tokens")
        )
    return base.filter(~(mine & (pl.col("modality") == "code")))  # "dropped": a model left out, then reported


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    kind=st.sampled_from(["price", "volume", "dropped", "late"]),
    group=st.sampled_from(GROUPS),
    month=st.sampled_from(MONTHS[1:]),
    factor=st.floats(0.5, 2.0).filter(lambda f: abs(f - 1) > 0.01),
)
def test_no_difference_between_versions_is_one_groups_correction(seed, kind, group, month, factor):
    base = _month(seed)
    if kind == "late":  # v1 without the group's report of the month; v2 with it
        v1, v2 = base.filter(~((pl.col("enterprise_group") == group) & (pl.col("month") == month))), base
    elif kind == "dropped":
        v1, v2 = _correct(base, kind, [group], month, factor), base
    else:
        v1, v2 = base, _correct(base, kind, [group], month, factor)
    published = _publish(v1, v2)
    assert published_differences(published) == [], "a published difference is one group's correction"
    second = published[f"{MONTHS[-1]}/v2"]
    withheld = second.filter(pl.col("conf_status") == "D")
    assert all(withheld[c].null_count() == withheld.height for c in ("price_index", "geks_index", "matched_items"))
    # unprotected, the same correction shows in the published table: the protection is what hides it
    if second["conf_status"].to_list().count("D"):
        raw = price_index_table(v2, MONTHS[-1], "A", RULES)
        assert published_differences({**published, f"{MONTHS[-1]}/v2": raw})


def test_a_revision_by_three_groups_is_published_and_the_next_change_follows_a_withheld_level():
    base = _month(7)
    shared = _correct(base, "price", ["GA", "GB", "GC"], MONTHS[1], 0.9)
    published = _publish(base, shared)
    second = published[f"{MONTHS[-1]}/v2"]
    assert set(second["conf_status"]) == {"F"}, "three groups' revision is free, revised in place"
    assert published_differences(published), "and it is published as a revision"
    alone = _publish(base, _correct(base, "price", ["GA"], MONTHS[1], 0.9))[f"{MONTHS[-1]}/v2"]
    rows = {(r["month"], r["modality"]): r for r in alone.iter_rows(named=True)}
    assert rows[(MONTHS[1], "text")]["conf_status"] == "D"
    assert rows[(MONTHS[2], "text")]["change_on_previous_month_pct"] is None, "it would give February away"
    assert rows[(MONTHS[0], "text")]["conf_status"] == "F", "January did not change"


def test_the_attacker_recovers_a_late_reporters_price_relative_from_unprotected_versions():
    """Four groups' text models in January and February; a fifth group's February report comes late, its share
    a fifth in both months. Published unprotected, v1 and v2 of February give its own price relative exactly."""
    rows = []
    for group, (p0, p1) in zip(GROUPS[:4], [(10, 9), (12, 12), (8, 7.5), (20, 19)], strict=True):
        rows += [_item(MONTHS[0], group, "m", "text", 100, p0), _item(MONTHS[1], group, "m", "text", 125, p1)]
    late = [_item(MONTHS[0], "GE", "m", "text", 100, 10), _item(MONTHS[1], "GE", "m", "text", 125, 7)]
    v1, v2 = pl.DataFrame(rows), pl.DataFrame(rows + late)
    tables = [price_index_table(v, MONTHS[1], s, RULES) for v, s in ((v1, "P"), (v2, "A"))]
    february = [t.filter(pl.col("month") == MONTHS[1], pl.col("modality") == "text") for t in tables]
    links = [row["change_on_previous_month_pct"].item() for row in february]
    # to the published precision (six decimals of a percentage)
    assert recover_relative(*links, share=0.2) == pytest.approx(0.7, rel=1e-6), "the group's own price cut"
    first = tables[0]
    second = price_index_table(v2, MONTHS[1], "A", RULES)
    record = [IndexPublication(f"{MONTHS[1]}/v1", first, ("v1",))]
    protected = withhold_cells(second, revised_in_confidence(second, v2, record, lambda _: v1, RULES))
    assert published_differences({"v1": first, "v2": protected}) == []
    february = protected.filter(pl.col("month") == MONTHS[1], pl.col("modality") == "text")
    assert february["conf_status"].item() == "D" and february["change_on_previous_month_pct"].item() is None
