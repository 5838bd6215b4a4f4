"""An attacker holding every published version of a month, written apart from ``pipelines.statistics`` (disclosure,
audit).

Unknowns are the finest cells (*atoms*: use type × province × compute province × modality × sector) of each
version, as many as the truth has (an attacker who even knows which atoms are non-empty). Every free published
cell of a version is an equation over that version's atoms; an atom that a correction left unchanged is the
same unknown in both versions (the attacker knows what a correction touched); every value is non-negative.
scipy's LP then bounds any linear function of published cells: a suppressed value, or a cell's change between
versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog

from pipelines.contract.contract import read_code_list

DIMENSIONS = ("use_type", "region_code", "compute_region_code", "modality", "sector_code")
ZONES = {r["region_code"]: r["economic_zone"] for r in read_code_list("provinces.csv")}


def covers(cell: tuple, atom: tuple) -> bool:
    """Whether a published cell (``_T`` totals, zones for regions) includes a finest-grain atom."""
    for dimension, c, a in zip(DIMENSIONS, cell, atom, strict=True):
        if c == "_T" or c == a or (dimension == "region_code" and ZONES.get(a) == c):
            continue
        return False
    return True


@dataclass
class Version:
    """One published version: each atom's true value, and each published cell's value (None: suppressed)."""

    atoms: dict[tuple, float]
    cells: dict[tuple, float | None]


class Attacker:
    def __init__(self, versions: list[Version]) -> None:
        # One unknown per (version, atom), except that an unchanged atom is shared with the version before.
        self.column: dict[tuple[int, tuple], int] = {}
        for v, version in enumerate(versions):
            for atom, value in version.atoms.items():
                previous = self.column.get((v - 1, atom)) if v else None
                same = previous is not None and versions[v - 1].atoms.get(atom) == value
                self.column[(v, atom)] = previous if same else len(set(self.column.values()))
        self.size = len(set(self.column.values()))
        self.versions = versions
        self.codes = []  # per version: the atoms' codes by dimension (zones beside provinces), and their columns
        for v, version in enumerate(versions):
            atoms = list(version.atoms)
            codes = {d: np.array([a[i] for a in atoms], dtype=object) for i, d in enumerate(DIMENSIONS)}
            codes["zone"] = np.array([ZONES.get(a[1], "") for a in atoms], dtype=object)
            self.codes.append((codes, np.array([self.column[(v, a)] for a in atoms], dtype=np.int64)))
        rows, rhs = [], []
        for v, version in enumerate(versions):
            for key, value in version.cells.items():
                if value is not None:
                    rows.append(self.row(v, key))
                    rhs.append(value)
        self.scale = max([abs(x) for x in rhs] + [1.0])
        self.a_eq = np.array(rows) if rows else np.zeros((0, self.size))
        self.b_eq = np.array(rhs) / self.scale

    def row(self, version: int, key: tuple) -> np.ndarray:
        """The published cell as a sum of its version's atoms."""
        codes, columns = self.codes[version]
        inside = np.ones(len(columns), dtype=bool)
        for d, value in zip(DIMENSIONS, key, strict=True):
            if value != "_T":
                inside &= (codes[d] == value) | ((codes["zone"] == value) if d == "region_code" else False)
        out = np.zeros(self.size)
        out[columns[inside]] = 1.0
        return out

    def bounds(self, objective: np.ndarray) -> tuple[float, float]:
        """The least and the greatest value of ``objective @ unknowns`` consistent with everything published."""
        out = []
        for sign in (1.0, -1.0):
            result = linprog(sign * objective, A_eq=self.a_eq, b_eq=self.b_eq, bounds=(0, None), method="highs")
            if result.status == 3:  # unbounded
                out.append(-sign * float("inf"))
                continue
            assert result.status == 0, result.message
            out.append(sign * result.fun * self.scale)
        return out[0], out[1]
