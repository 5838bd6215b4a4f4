"""Disclosure control: primary rules, secondary suppression, and the LP audit, against an independent attacker.

The attacker model here is the strongest one: unknowns are the finest cells (use type × region × compute ×
modality × sector), every free published cell is an equation, every value is non-negative. For each
suppressed cell, scipy's LP finds the range an attacker could derive. It shares no code with
``pipelines.disclosure`` (which audits over published cells and their sum relations).
"""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pipelines.contract import read_code_list
from pipelines.disclosure import DIMENSIONS, Rules, primary_status, protect_cells, sum_relations
from pipelines.warehouse import sql_text

RULES = Rules(min_contributors=3, dominance_p_percent=10.0, protection_percent=10.0)
ZONES = {r["region_code"]: r["economic_zone"] for r in read_code_list("provinces.csv")}
PROVINCES = ["110000", "120000", "140000", "340000", "210000"]  # East, East, Central, Central, Northeast
COMPUTE = ["150000", "520000", "_X"]
MODALITIES = ["text", "code", "image"]
SECTORS = ["I", "C", "HH"]
MEASURES = ["total_tokens", "input_tokens", "cached_input_tokens", "output_tokens", "requests", "settlement_amount"]


def cells_of(contributions: pl.DataFrame) -> pl.DataFrame:
    """Run the release's own SQL (cells.sql) over contributions, as the pipeline does."""
    con = duckdb.connect()
    con.execute("create schema ref")
    con.execute("create table ref.provinces as select * from read_csv('schemas/provinces.csv', all_varchar=true)")
    con.register("contributions", contributions.to_arrow())
    cells = con.sql(sql_text("marts/cells")).pl()
    return cells.with_columns(
        pl.col(c).cast(pl.Int64) for c in cells.columns if c not in DIMENSIONS and "settlement" not in c
    ).with_columns(pl.col(c).cast(pl.Float64) for c in cells.columns if "settlement" in c)


contribution_rows = st.lists(
    st.tuples(
        st.sampled_from(["final", "final", "final", "intermediate"]),
        st.sampled_from(PROVINCES),
        st.sampled_from(COMPUTE),
        st.sampled_from(MODALITIES),
        st.sampled_from(SECTORS),
        st.integers(0, 6),  # enterprise group
        st.integers(1, 10**6),  # tokens
        st.integers(1, 10**5),  # settlement
    ),
    min_size=1,
    max_size=60,
)


def to_contributions(rows: list[tuple]) -> pl.DataFrame:
    df = pl.DataFrame(
        rows,
        schema=[
            "use_type",
            "region_code",
            "compute_region_code",
            "modality",
            "sector_code",
            "group",
            "tokens",
            "amount",
        ],
        orient="row",
    )
    return (
        df.group_by("use_type", "region_code", "compute_region_code", "modality", "sector_code", "group")
        .agg(pl.col("tokens").sum(), pl.col("amount").sum())
        .select(
            "use_type",
            "region_code",
            "compute_region_code",
            "modality",
            "sector_code",
            pl.format("group {}", "group").alias("enterprise_group"),
            pl.col("tokens").alias("total_tokens"),
            (pl.col("tokens") * 3 // 4).alias("input_tokens"),
            (pl.col("tokens") // 4).alias("cached_input_tokens"),
            (pl.col("tokens") - pl.col("tokens") * 3 // 4).alias("output_tokens"),
            (pl.col("tokens") // 1000 + 1).alias("requests"),
            pl.col("amount").cast(pl.Decimal(38, 4)).alias("settlement_amount"),
        )
    )


def covers(cell: tuple, atom: tuple) -> bool:
    """Whether a published cell (with _T totals and zones) includes a finest-grain atom."""
    for dimension, (c, a) in zip(DIMENSIONS, zip(cell, atom, strict=True), strict=True):
        if c == "_T" or c == a:
            continue
        if dimension == "region_code" and ZONES.get(a) == c:
            continue
        return False
    return True


def attacker_intervals(cells: pl.DataFrame, contributions: pl.DataFrame, measure: str) -> list[tuple]:
    """(value, low, high, flag) of every suppressed cell, from every free cell, over the finest atoms."""
    atoms = contributions.group_by(*DIMENSIONS).agg(pl.col(measure).cast(pl.Float64).sum())
    atom_keys = list(atoms.select(DIMENSIONS).iter_rows())
    keys = list(cells.select(DIMENSIONS).iter_rows())
    values = cells[measure].cast(pl.Float64).to_list()
    status = cells["conf_status"].to_list()
    membership = np.array([[covers(k, a) for a in atom_keys] for k in keys], dtype=float)
    free = [i for i, s in enumerate(status) if s == "F"]
    a_eq, b_eq = membership[free].reshape(len(free), len(atom_keys)), np.array([values[i] for i in free])
    scale = max(max(values), 1.0)
    out = []
    for i, s in enumerate(status):
        if s == "F":
            continue
        bounds = []
        for sign in (1, -1):
            result = linprog(sign * membership[i], A_eq=a_eq, b_eq=b_eq / scale, bounds=(0, None), method="highs")
            if result.status == 3:  # unbounded: nothing published limits this cell from above
                bounds.append(float("inf"))
                continue
            assert result.status == 0, result.message
            bounds.append(sign * result.fun * scale)
        out.append((values[i], bounds[0], bounds[1], s))
    return out


def primary_failures(contributions: pl.DataFrame, cells: pl.DataFrame) -> set[tuple]:
    """Cells failing the primary rules, recomputed from contributions (independently of cells.sql)."""
    failing = set()
    keyed = list(contributions.iter_rows(named=True))
    for cell in cells.select(DIMENSIONS).iter_rows():
        per_group: dict[str, list[float]] = {}
        for row in keyed:
            atom = tuple(row[d] for d in DIMENSIONS)
            if covers(cell, atom):
                totals = per_group.setdefault(row["enterprise_group"], [0.0, 0.0])
                totals[0] += row["total_tokens"]
                totals[1] += float(row["settlement_amount"])
        contributors = [g for g, (t, a) in per_group.items() if t > 0 or a > 0]
        if 0 < len(contributors) < RULES.min_contributors:
            failing.add(cell)
            continue
        for m in (0, 1):
            shares = sorted((v[m] for v in per_group.values()), reverse=True)
            if len(shares) >= 2 and sum(shares) - shares[0] - shares[1] < RULES.dominance_p_percent / 100 * shares[0]:
                failing.add(cell)
    return failing


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contribution_rows)
def test_no_confidential_cell_can_be_recovered(rows):
    contributions = to_contributions(rows)
    cells = cells_of(contributions)
    protected = protect_cells(cells, RULES, ZONES)
    flags = dict(zip(protected.select(DIMENSIONS).iter_rows(), protected["conf_status"], strict=True))

    # Every cell that fails a primary rule is suppressed.
    for cell in primary_failures(contributions, cells):
        assert flags[cell] != "F", cell

    # No confidential value can be narrowed below its protection level by anyone holding the release, and no
    # cell suppressed to protect it can be recovered either.
    for measure in ("total_tokens", "settlement_amount"):
        for value, low, high, status in attacker_intervals(protected, contributions, measure):
            required = RULES.required(status) * value
            assert high >= value + required - 1e-6 * max(value, 1), (measure, value, low, high)
            assert low <= value - required + 1e-6 * max(value, 1), (measure, value, low, high)


@settings(max_examples=40, deadline=None)
@given(contribution_rows)
def test_subtotals_equal_the_sum_of_their_free_and_suppressed_parts(rows):
    cells = cells_of(to_contributions(rows))
    for relation in sum_relations(cells, ZONES):
        for measure in MEASURES:
            parent = cells[measure][relation.parent]
            parts = sum(cells[measure][i] for i in relation.children)
            assert parent == parts, (measure, relation)


def _cells(rows: list[dict]) -> pl.DataFrame:
    base = {d: "_T" for d in DIMENSIONS} | {"use_type": "final"}
    return pl.DataFrame([{**base, **r} for r in rows])


def test_too_few_groups_is_primary_and_dominance_is_flagged():
    cells = _cells(
        [
            {
                "region_code": "_T",
                "total_tokens": 1000,
                "settlement_amount": 10.0,
                "contributors": 9,
                "largest_tokens": 300,
                "second_tokens": 200,
                "largest_settlement": 3.0,
                "second_settlement": 2.0,
            },
            {
                "region_code": "110000",
                "total_tokens": 100,
                "settlement_amount": 1.0,
                "contributors": 2,
                "largest_tokens": 60,
                "second_tokens": 40,
                "largest_settlement": 0.6,
                "second_settlement": 0.4,
            },
            {
                "region_code": "120000",
                "total_tokens": 900,
                "settlement_amount": 9.0,
                "contributors": 7,
                "largest_tokens": 850,
                "second_tokens": 30,
                "largest_settlement": 3.0,
                "second_settlement": 2.0,
            },
            {
                "region_code": "130000",
                "total_tokens": 0,
                "settlement_amount": 0.0,
                "contributors": 0,
                "largest_tokens": 0,
                "second_tokens": 0,
                "largest_settlement": 0.0,
                "second_settlement": 0.0,
            },
        ]
    )
    assert primary_status(cells, RULES).tolist() == ["F", "A", "O", "F"]


def test_a_lone_suppressed_part_takes_a_partner_and_the_total_stays_free():
    parts = [("110000", 100, 2), ("120000", 400, 5), ("130000", 500, 6)]
    rows = [
        {
            "region_code": r,
            "total_tokens": t,
            "settlement_amount": float(t),
            "contributors": n,
            "largest_tokens": t // 5,
            "second_tokens": t // 5,
            "largest_settlement": t / 5,
            "second_settlement": t / 5,
        }
        for r, t, n in parts
    ]
    rows.append(
        {
            "region_code": "_T",
            "total_tokens": 1000,
            "settlement_amount": 1000.0,
            "contributors": 13,
            "largest_tokens": 200,
            "second_tokens": 100,
            "largest_settlement": 200.0,
            "second_settlement": 100.0,
        }
    )
    rows.append(
        {
            "region_code": "East",
            "total_tokens": 1000,
            "settlement_amount": 1000.0,
            "contributors": 13,
            "largest_tokens": 200,
            "second_tokens": 100,
            "largest_settlement": 200.0,
            "second_settlement": 100.0,
        }
    )
    protected = protect_cells(_cells(rows), RULES, ZONES)
    status = dict(zip(protected["region_code"], protected["conf_status"], strict=True))
    assert status["110000"] == "A"
    assert status["120000"] == "D", "the smallest part that can hide 10% of the suppressed one"
    assert status["130000"] == status["_T"] == status["East"] == "F"


@pytest.mark.parametrize("zones_published", [True, False])
def test_provinces_sum_into_zones_where_zones_are_published_else_into_the_total(zones_published):
    regions = ["110000", "120000", "210000", *(["East", "Northeast"] if zones_published else []), "_T"]
    cells = _cells([{"region_code": r, "total_tokens": 1} for r in regions])
    relations = {
        (cells["region_code"][r.parent], tuple(sorted(cells["region_code"][i] for i in r.children)))
        for r in sum_relations(cells, ZONES)
    }
    if zones_published:
        assert relations == {("East", ("110000", "120000")), ("Northeast", ("210000",)), ("_T", ("East", "Northeast"))}
    else:
        assert relations == {("_T", ("110000", "120000", "210000"))}
