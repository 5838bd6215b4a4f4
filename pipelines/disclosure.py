"""Disclosure control: no published cell may reveal an enterprise group's figures.

1. Primary rules flag a cell backed by fewer than ``min_contributors`` enterprise groups (``A``) or
   dominated by its largest contributor (``O``, the p% rule: the rest of the cell, net of the second
   largest contributor, would estimate the largest within p%). Both are evaluated on total tokens and on
   settlement amount; providers of one enterprise group are one contributor.
2. Secondary suppression (``D``): every published sum relation (a total and its parts, along any
   dimension, across every table of the release) gets at least two suppressed members, cheapest first.
3. The audit decides: for each suppressed cell, a linear programme over the published cells computes the
   interval an attacker can derive for its value (HiGHS). A confidential cell's interval must reach its
   protection level (``protection_percent`` of its value, either way); a cell hidden only to protect
   others must not be recoverable either (``secondary_percent``). While any falls short, one more cell
   beside it is suppressed and the audit runs again.

Cells are keyed by the dimensions in ``DIMENSIONS``, where ``_T`` is a total and a region may be an
economic zone; the sum relations follow from those keys and the province → zone → ``_T`` hierarchy.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import highspy
import numpy as np
import polars as pl
from scipy import sparse

from pipelines.contract import read_code_list

DIMENSIONS = ("use_type", "region_code", "compute_region_code", "modality", "sector_code")
TOTAL = "_T"
RULE_MEASURES = ("total_tokens", "settlement_amount")
FREE, FEW, DOMINANT, SECONDARY = "F", "A", "O", "D"
# In the audit, values are scaled to the largest cell; a hidden value may range up to this many times that.
HIDDEN_VALUE_CAP = 10.0
# Batch proving in the audit: at most this many joint solves per side, while each proves enough cells.
BATCH_ROUNDS, BATCH_MIN_CELLS, BATCH_MIN_GAIN = 12, 8, 0.05


@dataclass(frozen=True)
class Rules:
    min_contributors: int = 3
    dominance_p_percent: float = 10.0
    protection_percent: float = 10.0  # a confidential cell's value stays uncertain by this much, either way
    secondary_percent: float = 1.0  # a cell hidden only to protect others must not be recoverable either

    def required(self, status: str) -> float:
        return (self.secondary_percent if status == SECONDARY else self.protection_percent) / 100.0


@dataclass(frozen=True)
class Relation:
    """One published sum: ``parent`` is the total of ``children`` (row indices into the cells)."""

    parent: int
    children: tuple[int, ...]

    @property
    def members(self) -> tuple[int, ...]:
        return (self.parent, *self.children)


@dataclass(frozen=True)
class Interval:
    """What an attacker can derive about a suppressed cell from everything published."""

    cell: int
    measure: str
    value: float
    low: float
    high: float
    required: float  # the protection the cell needs, either way
    binding: tuple[int, ...] = ()  # for a weak cell: the free cells holding its interval back, most first

    @property
    def protected(self) -> bool:
        slack = 1e-9 * max(abs(self.value), 1.0)
        return self.high >= self.value + self.required - slack and self.low <= self.value - self.required + slack


def zone_of_province() -> dict[str, str]:
    return {r["region_code"]: r["economic_zone"] for r in read_code_list("provinces.csv")}


def primary_status(cells: pl.DataFrame, rules: Rules) -> np.ndarray:
    """``A``, ``O`` or ``F`` for every cell, from its contributor figures."""
    contributors = cells["contributors"].to_numpy()
    status = np.full(cells.height, FREE, dtype="<U1")
    dominated = np.zeros(cells.height, dtype=bool)
    for measure, largest, second in (
        ("total_tokens", "largest_tokens", "second_tokens"),
        ("settlement_amount", "largest_settlement", "second_settlement"),
    ):
        total, x1, x2 = (cells[c].cast(pl.Float64).to_numpy() for c in (measure, largest, second))
        dominated |= (total - x1 - x2) < rules.dominance_p_percent / 100.0 * x1
    status[(contributors >= rules.min_contributors) & dominated] = DOMINANT
    status[(contributors > 0) & (contributors < rules.min_contributors)] = FEW
    return status


def sum_relations(cells: pl.DataFrame, zones: dict[str, str] | None = None) -> list[Relation]:
    """Every total-and-parts relation among the cells, along each dimension."""
    zones = zone_of_province() if zones is None else zones
    keys = list(cells.select(DIMENSIONS).iter_rows())
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
    return [Relation(index[parent], tuple(children)) for (_, parent), children in groups.items()]


def _ancestors(dimension: str, value: str, zones: dict[str, str]) -> list[str]:
    """Nearest first: a province sums into its economic zone where zones are published, else the total."""
    if dimension == "region_code" and value in zones:
        return [zones[value], TOTAL]
    return [TOTAL]


def protect_cells(cells: pl.DataFrame, rules: Rules, zones: dict[str, str] | None = None) -> pl.DataFrame:
    """The cells with ``conf_status``: primary and secondary suppression, proven by the audit."""
    relations = sum_relations(cells, zones)
    status = primary_status(cells, rules)
    values = {m: cells[m].cast(pl.Float64).to_numpy() for m in RULE_MEASURES}
    tokens = values["total_tokens"]
    by_member: dict[int, list[Relation]] = defaultdict(list)
    for relation in relations:
        for member in relation.members:
            by_member[member].append(relation)
    audits = {m: Audit(values[m], relations, rules) for m in RULE_MEASURES}

    # Suppressing more only widens every interval, so a cell proven protected stays protected.
    proven: dict[str, set[int]] = {m: set() for m in RULE_MEASURES}
    while True:
        _complete_relations(status, relations, tokens, rules)
        weak = []
        for m, audit in audits.items():
            audit.hide(np.flatnonzero(status != FREE), status)
            unproven = [int(i) for i in np.flatnonzero(status != FREE) if i not in proven[m]]
            for iv in audit.intervals(unproven, m):
                (proven[m].add(iv.cell) if iv.protected else weak.append(iv))
        if not weak:
            return cells.with_columns(conf_status=pl.Series(status))
        for iv in {iv.cell: iv for iv in weak}.values():
            # A free neighbour in one of its sums; else a free cell the LP found holding its interval back;
            # else any free cell in a sum with a hidden one. With no free cell left, nothing is published.
            candidates = (
                [i for r in by_member[iv.cell] for i in r.members if status[i] == FREE]
                or [i for i in iv.binding if status[i] == FREE]
                or [
                    i
                    for r in relations
                    if any(status[m] != FREE for m in r.members)
                    for i in r.members
                    if status[i] == FREE
                ]
                or list(np.flatnonzero(status == FREE))
            )
            if candidates:
                status[_complement(candidates, values[iv.measure], iv.required)] = SECONDARY


def _complete_relations(status: np.ndarray, relations: list[Relation], tokens: np.ndarray, rules: Rules) -> None:
    """No sum may have exactly one suppressed member: hide a part (or the total) that can cover it."""
    changed = True
    while changed:
        changed = False
        for relation in relations:
            suppressed = [i for i in relation.members if status[i] != FREE]
            if len(suppressed) != 1:
                continue
            free_parts = [i for i in relation.children if status[i] == FREE]
            required = rules.protection_percent / 100.0 * tokens[suppressed[0]]
            status[_complement(free_parts, tokens, required) if free_parts else relation.parent] = SECONDARY
            changed = True


def _complement(candidates: list[int], values: np.ndarray, required: float) -> int:
    """The cheapest cell to hide beside a weak one: the smallest that is at least the protection it needs
    (a smaller one cannot hide the difference), else the largest there is."""
    enough = [i for i in candidates if values[i] >= required]
    if enough:
        return min(enough, key=lambda i: (values[i], i))
    return max(candidates, key=lambda i: (values[i], -i))


def audit_suppression(
    values: np.ndarray,
    status: np.ndarray,
    relations: list[Relation],
    measure: str,
    rules: Rules,
    cells: list[int] | None = None,
) -> list[Interval]:
    """The feasible interval of suppressed cells (all, or those listed), given every free cell and sum."""
    audit = Audit(values, relations, rules)
    hidden = np.flatnonzero(status != FREE)
    audit.hide(hidden, status)
    return audit.intervals([int(c) for c in (hidden if cells is None else cells)], measure)


class Audit:
    """The attacker's linear programme for one measure: a column per cell, a row per sum relation
    (total minus parts = 0), every value non-negative. A free cell's column is fixed at its published value;
    hiding a cell frees its column, so the model persists (and each solve restarts from the last basis)
    while secondary suppression adds cells."""

    def __init__(self, values: np.ndarray, relations: list[Relation], rules: Rules) -> None:
        self.rules = rules
        self.scale = max(float(np.abs(values).max()), 1.0)
        self.truth = values / self.scale
        self.required = np.zeros(len(values))
        self.hidden = np.zeros(len(values), dtype=bool)
        rows, cols, coefs = [], [], []
        for r, relation in enumerate(relations):
            for cell, coef in [(relation.parent, 1.0)] + [(c, -1.0) for c in relation.children]:
                rows.append(r)
                cols.append(cell)
                coefs.append(coef)
        matrix = sparse.csc_matrix((coefs, (rows, cols)), shape=(len(relations), len(values)))
        self.matrix = matrix
        self.highs = _model(matrix, self.truth)

    def hide(self, cells: np.ndarray, status: np.ndarray) -> None:
        new = [int(c) for c in cells if not self.hidden[c]]
        if new:
            self.hidden[new] = True
            self.required[new] = [self.rules.required(status[c]) * abs(self.truth[c]) for c in new]
            index = np.array(new, dtype=np.int32)
            # A cap far above any cell keeps every programme bounded (when even the totals are hidden); reaching
            # it is proof enough that a value is unknown.
            upper = np.full(len(new), HIDDEN_VALUE_CAP)
            self.highs.changeColsBounds(len(new), index, np.zeros(len(new)), upper)

    def intervals(self, cells: list[int], measure: str) -> list[Interval]:
        """Whether each listed hidden cell is protected: an inner bound of its interval that is proven wide
        enough, or its exact interval when it is not."""
        truth, required = self.truth, self.required
        low_seen, high_seen = truth.copy(), truth.copy()
        targets = np.array(cells, dtype=np.int64)
        binding: dict[int, tuple[int, ...]] = {}
        # The values moved by their whole protection, all at once, with free cells as published: where that
        # still satisfies every sum (e.g. nothing around them is published), every side is proven without a solve.
        for sign, seen in ((-1.0, low_seen), (1.0, high_seen)):
            moved = truth + sign * np.where(self.hidden, required, 0.0)
            if (moved >= 0).all() and np.abs(self.matrix @ moved).max(initial=0.0) <= 1e-9:
                seen[:] = moved
        # Every solution is a set of values consistent with the release: it widens what is proven about every
        # cell at once. First a few solves push all unproven cells together (their sum, weighted to each
        # cell's size); the cells left get a solve of their own. A side that fails is always solved exactly.
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            minimise = sense == highspy.ObjSense.kMinimize
            seen, goal = (low_seen, truth - required) if minimise else (high_seen, truth + required)
            for _ in range(BATCH_ROUNDS):
                pending = targets[(seen[targets] > goal[targets]) if minimise else (seen[targets] < goal[targets])]
                if len(pending) < BATCH_MIN_CELLS:
                    break
                cost = np.zeros(len(truth))
                cost[pending] = 1.0 / np.maximum(truth[pending], 1e-9)
                solution = self._solve(cost, sense)[1]
                if solution is None:
                    break
                np.minimum(low_seen, solution, out=low_seen)
                np.maximum(high_seen, solution, out=high_seen)
                still = (seen[pending] > goal[pending]) if minimise else (seen[pending] < goal[pending])
                if still.sum() > (1 - BATCH_MIN_GAIN) * len(pending):
                    break
            for j in targets:
                if (seen[j] <= goal[j]) if minimise else (seen[j] >= goal[j]):
                    continue
                cost = np.zeros(len(truth))
                cost[j] = 1.0
                bound, solution = self._solve(cost, sense)
                if solution is not None:
                    np.minimum(low_seen, solution, out=low_seen)
                    np.maximum(high_seen, solution, out=high_seen)
                seen[j] = bound
                if (bound > goal[j]) if minimise else (bound < goal[j]):
                    binding[int(j)] = self._binding_free_cells()
        return [
            Interval(
                int(j),
                measure,
                float(truth[j] * self.scale),
                low_seen[j] * self.scale,
                high_seen[j] * self.scale,
                required[j] * self.scale,
                binding.get(int(j), ()),
            )
            for j in targets
        ]

    def _binding_free_cells(self) -> tuple[int, ...]:
        """Free cells whose published value holds the last optimum back (non-zero reduced cost), most first."""
        reduced = np.abs(np.asarray(self.highs.getSolution().col_dual))
        limiting = np.flatnonzero((reduced > 1e-9) & ~self.hidden)
        return tuple(int(c) for c in limiting[np.argsort(-reduced[limiting], kind="stable")])

    def _solve(self, cost: np.ndarray, sense: highspy.ObjSense) -> tuple[float, np.ndarray | None]:
        highs, n = self.highs, len(cost)
        highs.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        highs.changeObjectiveSense(sense)
        highs.run()
        model_status = highs.getModelStatus()
        if model_status == highspy.HighsModelStatus.kUnbounded:
            return float("inf"), None
        if model_status != highspy.HighsModelStatus.kOptimal:
            raise RuntimeError(f"disclosure audit LP ended {highs.modelStatusToString(model_status)}")
        return float(highs.getInfo().objective_function_value), np.asarray(highs.getSolution().col_value)


def _model(matrix: sparse.csc_matrix, fixed_values: np.ndarray) -> highspy.Highs:
    """Rows: relations (= 0). Columns: cells, each fixed at its value until hidden."""
    with _stdout_silenced():  # HiGHS prints its banner from C, past Python's sys.stdout
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    # Each solve changes only the objective or a few bounds: primal simplex from the last basis; presolve
    # drops the fixed (free) cells first.
    highs.setOptionValue("simplex_strategy", 4)
    highs.setOptionValue("presolve", "on")
    lp = highspy.HighsLp()
    n = matrix.shape[1]
    lp.num_col_, lp.num_row_ = n, matrix.shape[0]
    lp.col_cost_ = np.zeros(n)
    lp.col_lower_ = fixed_values.copy()
    lp.col_upper_ = fixed_values.copy()
    lp.row_lower_ = np.zeros(matrix.shape[0])
    lp.row_upper_ = np.zeros(matrix.shape[0])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    highs.passModel(lp)
    return highs


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
