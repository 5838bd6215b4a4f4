"""The atoms under the published cells (``cells.py``): every cell of every version is the sum of its unknowns, atoms
in the same cells are one unknown, and an unknown is the same in two versions only when each of its atoms is.

The cells come from the release's own SQL (cell_groups.sql), not from ``cells.py``'s mapping of atoms to cells."""

from __future__ import annotations

import duckdb
import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.contract.contract import read_code_list
from pipelines.core.database import read_sql
from pipelines.statistics.cells import DIMENSIONS, list_sum_relations, merge_atoms

ZONES = {r["region_code"]: r["economic_zone"] for r in read_code_list("provinces.csv")}
MEASURES = ["total_tokens", "requests"]

atom_rows = st.lists(
    st.tuples(
        st.sampled_from(["final", "final", "intermediate"]),
        st.sampled_from(["110000", "120000", "340000"]),
        st.sampled_from(["150000", "_X"]),
        st.sampled_from(["text", "image"]),
        st.sampled_from(["I", "HH"]),
        st.integers(0, 3),
        st.integers(0, 10**6),
        st.integers(0, 100),
    ),
    min_size=1,
    max_size=20,
)


def contributions(rows: list[tuple]) -> pl.DataFrame:
    schema = [*DIMENSIONS, "enterprise_group", *MEASURES]
    frame = pl.DataFrame(rows, schema=schema, orient="row").with_columns(pl.col("enterprise_group").cast(pl.String))
    return frame.group_by(*DIMENSIONS, "enterprise_group").agg(pl.col(MEASURES).sum())


def cells_of(frame: pl.DataFrame) -> pl.DataFrame:
    """The published cells, by the release's SQL."""
    con = duckdb.connect()
    con.execute("create schema ref")
    con.execute("create table ref.provinces as select * from read_csv('schemas/provinces.csv', all_varchar=true)")
    con.register(
        "contributions",
        frame.with_columns(
            pl.lit(0).alias(m) for m in ("input_tokens", "output_tokens", "cached_input_tokens", "settlement_amount")
        ).to_arrow(),
    )
    groups = con.sql(read_sql("statistics/cell_groups")).pl()
    return groups.group_by(DIMENSIONS).agg(pl.col(MEASURES).sum().cast(pl.Float64))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(atom_rows, atom_rows)
def test_the_cells_sums_and_the_atoms_rows_make_every_cell_of_every_version_the_sum_of_its_atoms(first, second):
    """With the unknowns at their true values, the rows (the cells' sums, and the atoms' rows where those do not
    already say it) leave exactly one value for each cell of each version: the SQL's."""
    versions = [contributions(first), contributions(second)]
    cells = [cells_of(v) for v in versions]
    keys = sorted(set().union(*(c.select(DIMENSIONS).iter_rows() for c in cells)))
    sums = list_sum_relations(keys, ZONES)
    unknowns = merge_atoms(versions, keys, MEASURES, ZONES)
    n = len(keys)
    rows = [(v * n + p, [v * n + c for c in children]) for v in range(2) for p, children in sums]
    rows += [(p, list(children)) for p, children in unknowns.relations(n, sums)]
    matrix = np.zeros((len(rows), 2 * n + int(unknowns.present.sum())))
    for r, (parent, children) in enumerate(rows):
        matrix[r, parent] = 1.0
        matrix[r, children] = -1.0
    assert np.linalg.matrix_rank(matrix[:, : 2 * n]) == 2 * n  # the cells are determined by the unknowns
    for m in MEASURES:
        solved = np.linalg.lstsq(matrix[:, : 2 * n], -matrix[:, 2 * n :] @ unknowns.truth(m), rcond=None)[0]
        for v, version_cells in enumerate(cells):
            value = dict(zip(version_cells.select(DIMENSIONS).iter_rows(), version_cells[m], strict=True))
            expected = np.array([value.get(k, 0.0) for k in keys])
            np.testing.assert_allclose(solved[v * n : (v + 1) * n], expected, atol=1e-6)


def test_atoms_in_the_same_cells_are_one_unknown_and_equal_across_versions_only_atom_by_atom():
    # Intermediate use is published as one cell: its two atoms are one unknown. In v2 one of them moves by 5
    # and the other by -5: the unknown's sum is the same, yet an attacker cannot tell it is.
    v1 = contributions(
        [
            ("intermediate", "110000", "_X", "text", "I", 0, 10, 1),
            ("intermediate", "120000", "_X", "text", "I", 1, 20, 1),
            ("final", "110000", "_X", "text", "I", 0, 30, 1),
        ]
    )
    v2 = contributions(
        [
            ("intermediate", "110000", "_X", "text", "I", 0, 15, 1),
            ("intermediate", "120000", "_X", "text", "I", 1, 15, 1),
            ("final", "110000", "_X", "text", "I", 0, 30, 1),
        ]
    )
    keys = sorted(set().union(*(cells_of(v).select(DIMENSIONS).iter_rows() for v in (v1, v2))))
    unknowns = merge_atoms([v1, v2], keys, MEASURES, ZONES)
    assert unknowns.count == 2  # the intermediate pair, and the final atom
    assert sorted(unknowns.values["total_tokens"][0]) == sorted(unknowns.values["total_tokens"][1]) == [30.0, 30.0]
    linked = {m: np.concatenate([u for _, _, u in unknowns.unchanged[m]]) for m in MEASURES}
    final = int(np.flatnonzero(unknowns.values["requests"][0] == 1)[0])  # the unknown of one atom
    assert list(linked["total_tokens"]) == [final]  # the pair changed atom by atom: not linked
    assert sorted(linked["requests"]) == [0, 1]  # requests did not change anywhere
    assert len(unknowns.links("total_tokens", len(keys))) == 1
