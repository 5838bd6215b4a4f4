"""What the published cells are made of: the sum relations among them, and the finest cells (**atoms**: use type ×
customer province × compute province × modality × sector) under them, as unknowns of the audit's programme.

Cells are keyed by ``DIMENSIONS`` (``_T`` a total, a region possibly an economic zone); the sum relations follow
from those keys and the province → zone → ``_T`` hierarchy.

Every published cell is a sum of atoms, and tables that cross-classify different dimensions share them: the cube
(region × modality × sector) and the compute flows (compute × customer province) meet only in their region
totals, yet an attacker who knows which atoms hold data narrows a cell of one through the other (every atom
served from one compute province is an image atom: that compute total is at most the image total). So the audit
sees what such an attacker sees: each published cell of a version equals the sum of that version's non-empty
atoms, every atom is non-negative, and an atom a correction left alone is the same in both versions.

Atoms that lie in exactly the same published cells are one unknown to anyone (a non-negative sum of
non-negative parts): they are merged. Intermediate use, published only as one cell, is one unknown; a merged
unknown is the same in two versions when each of its atoms is (when one changed, it alone can take any
difference, so nothing is lost by leaving the sum free).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import polars as pl

from pipelines.contract.contract import read_code_list

DIMENSIONS = ("use_type", "region_code", "compute_region_code", "modality", "sector_code")
TOTAL = "_T"


def zone_of_province() -> dict[str, str]:
    """The economic zone of each province code."""
    return {r["region_code"]: r["economic_zone"] for r in read_code_list("provinces.csv")}


def list_sum_relations(keys: list[tuple], zones: dict[str, str] | None = None) -> list[tuple[int, tuple[int, ...]]]:
    """Every total-and-parts relation among the cells (by key), along each dimension: (parent, children)."""
    zones = zone_of_province() if zones is None else zones
    index = {key: i for i, key in enumerate(keys)}
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        for d, value in enumerate(key):
            if value == TOTAL:
                continue
            for parent_value in _ancestors(DIMENSIONS[d], value, zones):
                parent = (*key[:d], parent_value, *key[d + 1 :])
                if parent in index:
                    groups[(d, parent)].append(i)
                    break
    return [(index[parent], tuple(children)) for (_, parent), children in groups.items()]


def _ancestors(dimension: str, value: str, zones: dict[str, str]) -> list[str]:
    """Nearest first: a province sums into its economic zone where zones are published, else the total."""
    if dimension == "region_code" and value in zones:
        return [zones[value], TOTAL]
    return [TOTAL]


@dataclass(frozen=True)
class Unknowns:
    """The merged atoms of a month's versions (``u`` indexes unknowns, ``v`` versions, cells index ``keys``)."""

    cells: np.ndarray  # (entries, 2): unknown u lies in cell c, one row per pair
    present: np.ndarray  # [v, u]: the version has data in it
    values: dict[str, np.ndarray]  # measure -> [v, u], zero where absent
    unchanged: dict[str, list[tuple[int, int, np.ndarray]]]  # measure -> (new, old, unknowns equal atom by atom)

    @property
    def count(self) -> int:
        return self.present.shape[1]

    def columns(self, first: int) -> np.ndarray:
        """[v, u]: the programme's column of each version's unknown, numbered from ``first`` (-1 where absent)."""
        columns = np.full(self.present.shape, -1, dtype=np.int64)
        columns[self.present] = first + np.arange(int(self.present.sum()))
        return columns

    def relations(
        self, cells_per_version: int, sums: list[tuple[int, tuple[int, ...]]]
    ) -> list[tuple[int, np.ndarray]]:
        """(cell column, its unknowns' columns): the finest published cells of each version (no relation of
        ``sums`` sums into them) as the sums of their unknowns. The others follow through ``sums``: the children of
        a relation hold, between them, exactly their parent's atoms (an atom lies in the child with its own code),
        so the programme stays sparse. Cells are numbered ``v * cells_per_version + c``."""
        n, blocks = cells_per_version, self.present.shape[0]
        columns = self.columns(blocks * n)
        finest = np.ones(n, dtype=bool)
        finest[[parent for parent, _ in sums]] = False
        unknown, cell = self.cells[:, 0], self.cells[:, 1]
        rows = []
        for v in range(blocks):
            here = self.present[v, unknown] & finest[cell]
            order = np.argsort(cell[here], kind="stable")
            under, of = cell[here][order], columns[v, unknown[here]][order]
            starts = np.searchsorted(under, np.arange(n + 1))
            rows += [(v * n + int(c), of[starts[c] : starts[c + 1]]) for c in np.flatnonzero(finest)]
        return rows

    def truth(self, measure: str) -> np.ndarray:
        """The unknowns' true values in column order."""
        return self.values[measure][self.present]

    def links(self, measure: str, cells_per_version: int) -> np.ndarray:
        """Pairs of columns known equal: an unknown whose atoms a correction left alone."""
        columns = self.columns(self.present.shape[0] * cells_per_version)
        pairs = [np.column_stack([columns[new, u], columns[old, u]]) for new, old, u in self.unchanged[measure]]
        return np.vstack(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)


def merge_atoms(atoms: list[pl.DataFrame], keys: list[tuple], measures: list[str], zones: dict[str, str]) -> Unknowns:
    """The unknowns of the versions' atoms (one frame per version, keyed by ``DIMENSIONS``, any other column but
    the measures ignored), against the published cells ``keys`` (``_T`` totals, zones for regions)."""
    dimensions = list(DIMENSIONS)
    summed = [
        frame.group_by(dimensions).agg(pl.col(measures).sum()).with_columns(pl.col(measures).cast(pl.Float64))
        for frame in atoms
    ]
    every = pl.concat([s.select(dimensions) for s in summed]).unique().sort(dimensions).with_row_index("atom")
    members = _cells_of(every, keys, zones)
    # One unknown per distinct set of cells: the sorted cell list, as text, names it.
    signature = members.group_by("atom").agg(pl.col("cell").sort().cast(pl.String).str.join(",").alias("cells"))
    unknown_of = signature.with_columns(pl.col("cells").rank("dense").cast(pl.Int64).sub(1).alias("unknown"))
    every = every.join(unknown_of.select("atom", "unknown"), on="atom")
    count = int(every["unknown"].max()) + 1 if every.height else 0
    cells = members.join(unknown_of.select("atom", "unknown"), on="atom").select("unknown", "cell").unique()

    keyed = [every.join(s, on=dimensions).select("atom", "unknown", *measures) for s in summed]
    present = np.zeros((len(atoms), count), dtype=bool)
    values = {m: np.zeros((len(atoms), count)) for m in measures}
    for v, frame in enumerate(keyed):
        per_unknown = frame.group_by("unknown").agg(pl.col(measures).sum())
        index = per_unknown["unknown"].to_numpy()
        present[v, index] = True
        for m in measures:
            values[m][v, index] = per_unknown[m].to_numpy()
    unchanged: dict[str, list[tuple[int, int, np.ndarray]]] = {m: [] for m in measures}
    for old, new in itertools.combinations(range(len(atoms)), 2):
        both = keyed[new].join(keyed[old], on=["atom", "unknown"], how="full", coalesce=True, suffix=":old")
        for m in measures:
            # An atom only one version has is a change (the other's is an unknown of its own, or nothing).
            equal = both.group_by("unknown").agg((pl.col(m) == pl.col(f"{m}:old")).fill_null(False).all())
            unchanged[m].append((new, old, equal.filter(pl.col(m))["unknown"].to_numpy()))
    return Unknowns(cells.sort("unknown", "cell").to_numpy(), present, values, unchanged)


def _cells_of(atoms: pl.DataFrame, keys: list[tuple], zones: dict) -> pl.DataFrame:
    """(atom, cell): every published cell an atom lies in: each dimension at the atom's own code or one of its
    ancestors (the same hierarchy as the sum relations)."""
    expanded = atoms.select("atom", *DIMENSIONS)
    for d in DIMENSIONS:
        own = expanded[d].unique().to_list()
        covering = [(v, c) for v in own for c in (v, *_ancestors(d, v, zones))]
        lift = pl.DataFrame(covering, schema={d: pl.String, "covering": pl.String}, orient="row")
        expanded = expanded.join(lift, on=d).drop(d).rename({"covering": d})
    index = pl.DataFrame(keys, schema=list(DIMENSIONS), orient="row").with_row_index("cell")
    return expanded.join(index, on=list(DIMENSIONS)).select("atom", "cell").unique()
