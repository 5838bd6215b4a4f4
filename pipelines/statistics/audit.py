"""The attacker's linear programme over the published record of a month, one measure at a time.

A column per (version, cell): the cells of every version of the month already published and of the one about to
go out, side by side, and (given the atoms, ``cells.py``) a column per (version, atom) under them. Rows: each
version's relations (a cell = its atoms, or a total − its parts = 0) and, between two versions, x_v = x_w for
every cell or atom whose true value did not change (the strongest attacker knows what a correction left alone).
A free cell's column is fixed at its published value; hiding it frees the column over [0, cap]; atoms are never
published, their columns always free.

What must stay uncertain are **targets**: linear functions of the columns (a hidden cell's value, or the change
of a cell between two versions), each with the protection it needs below and above its true value. The model
persists while secondary suppression hides more cells, and each solve restarts from the last basis.

Every solution found is also a **direction**: solution − truth moves only hidden columns and keeps every sum, so it
stays feasible while more cells are hidden, and for any other measure with the same hidden cells, as far as that
measure's values stay non-negative. ``Directions`` keeps them for all the month's programmes: most targets of the
next measure or the next round are proven by a step along a known direction, without a solve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import highspy
import numpy as np
from scipy import sparse

from pipelines.statistics.programmes import CoverProgramme, fixed_model, run, spread_point, weights_by_need

# Values are scaled to the largest cell; a hidden value may range up to this many times that. A cap far above
# any cell keeps every programme bounded (when even the totals are hidden); reaching it is proof enough.
HIDDEN_VALUE_CAP = 10.0
# Batch proving: at most this many joint solves per side, while each proves enough targets.
BATCH_ROUNDS, BATCH_MIN_TARGETS, BATCH_MIN_GAIN = 12, 8, 0.05
# When at least half of the first targets solved one by one proved protected, and this many are still unproven, one
# spread solve (``_spread``, the cost of a few dozen solves) proves what it can of them before the rest go on.
SPREAD_TRIAL, SPREAD_MIN_TARGETS = 16, 32
# A programme that starts with the spread solve (``spread_first``) repeats it while it proves this share of the rest.
SPREAD_MIN_GAIN = 0.25
# How far a move along a known direction may break a sum or a link (scaled units): the solver's own tolerance.
FEASIBILITY = 1e-7
KEPT_DIRECTIONS = 256
# Covering a weak target: the move sought carries it a little past its need; a cell counts as moved above a
# tolerance far below any need.
COVER_MARGIN, COVER_TOLERANCE = 1.02, 1e-9
SOLVER = f"HiGHS {highspy.HIGHS_VERSION_MAJOR}.{highspy.HIGHS_VERSION_MINOR}.{highspy.HIGHS_VERSION_PATCH}"


@dataclass
class Certificate:
    """What the audit covered and proved, for the release's manifest (no parameter, no value)."""

    versions_covered: list[int]
    measures: list[str]
    relations_per_version: int
    unchanged_cell_links: int
    atoms: int = 0  # unknowns under the cells (finest cells, merged where they lie in the same cells), per month
    targets: dict[str, int] = field(default_factory=dict)
    smallest_margin: float | None = None  # room proven / room needed, over every target (>= 1)
    already_public: int = 0  # values an earlier version published free: nothing now can protect them
    unprotectable: int = 0  # weak with this version wholly withheld: exposed by earlier versions alone
    solver: str = SOLVER

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    """A value that must stay uncertain: ``sum(coef * column)``, with the room it needs either way (unscaled)."""

    columns: tuple[int, ...]
    coefs: tuple[float, ...]
    need_low: float
    need_high: float
    cell: int  # the cell (of the release being protected) whose neighbours can widen it
    kind: str  # "cell" or "change"


def _shortfall_tolerance(value: float) -> float:
    """How far short of its need a target may fall and still count as protected (unscaled): the solver's float."""
    return 1e-9 * max(abs(value), 1.0)


@dataclass(frozen=True)
class Interval:
    """What an attacker can derive about a target: proven inner bounds, or its exact range when too narrow."""

    target: Target
    value: float
    low: float
    high: float
    binding: tuple[int, ...] = ()  # columns of free cells holding a weak target back, most first

    @property
    def short_below(self) -> bool:
        return self.low > self.value - self.target.need_low + _shortfall_tolerance(self.value)

    @property
    def short_above(self) -> bool:
        return self.high < self.value + self.target.need_high - _shortfall_tolerance(self.value)

    @property
    def protected(self) -> bool:
        return not (self.short_below or self.short_above)

    @property
    def margin(self) -> float:
        """The room proven, as a multiple of the room needed (the smaller side; >= 1 when protected)."""
        t = self.target
        sides = [(self.value - self.low) / t.need_low] if t.need_low > 0 else []
        sides += [(self.high - self.value) / t.need_high] if t.need_high > 0 else []
        return min(sides, default=float("inf"))


class Directions:
    """Moves that keep every sum of the record, found by any measure's programme: the latest ``KEPT_DIRECTIONS``
    (older ones were found with fewer cells hidden; newer ones reach further)."""

    def __init__(self, columns: int) -> None:
        self.rows = np.zeros((0, columns))

    def add(self, moves: list[np.ndarray]) -> None:
        moves = [m / peak for m in moves if (peak := np.abs(m).max(initial=0.0)) > 0]
        if moves:
            self.rows = np.vstack([self.rows, *moves])[-KEPT_DIRECTIONS:]


class RecordAudit:
    """The programme for one measure: ``truth`` holds every column's true value (versions side by side)."""

    def __init__(
        self,
        truth: np.ndarray,
        relations: Sequence[tuple[int, Sequence[int]]],
        links: np.ndarray,
        spread_first: bool = False,
    ) -> None:
        """``relations``: (parent column, child columns); ``links``: pairs of columns known to be equal;
        ``spread_first``: no batch solves, spread solves at once, while they prove enough (for a programme
        expected to prove nearly every target)."""
        self.spread_first = spread_first
        self.found: list[np.ndarray] = []  # the moves the last ``intervals`` found, for ``Directions.add``
        self.scale = max(float(np.abs(truth).max(initial=0.0)), 1.0)
        self.truth = truth / self.scale
        self.hidden = np.zeros(len(truth), dtype=bool)
        # Rows: parent - children = 0 for each relation, then a - b = 0 for each link.
        links = np.asarray(links, dtype=np.int64).reshape(-1, 2)
        members = [np.array([parent, *children], dtype=np.int64) for parent, children in relations] + list(links)
        rows = np.repeat(np.arange(len(members)), [len(m) for m in members])
        firsts = np.cumsum([0] + [len(m) for m in members])[:-1]
        coefs = -np.ones(len(rows))
        coefs[firsts] = 1.0
        cols = np.concatenate(members) if members else np.zeros(0, dtype=np.int64)
        self.matrix = sparse.csc_matrix((coefs, (rows, cols)), shape=(len(members), len(truth)))
        self.highs = fixed_model(self.matrix, self.truth)
        self._cover: CoverProgramme | None = None  # built when a target first needs cells withheld

    def hide(self, columns: np.ndarray) -> None:
        new = np.array([c for c in np.asarray(columns, dtype=np.int64) if not self.hidden[c]], dtype=np.int32)
        if len(new):
            self.hidden[new] = True
            upper = np.full(len(new), HIDDEN_VALUE_CAP)
            self.highs.changeColsBounds(len(new), new, np.zeros(len(new)), upper)

    def intervals(self, targets: Sequence[Target], known: np.ndarray | None = None) -> list[Interval]:
        """Whether each target is protected: inner bounds proven wide enough, or its exact range when not.
        ``known``: moves found before (``Directions.rows``), tried first; the moves found here go to ``found``."""
        if not targets:
            return []
        n = len(self.truth)
        objective = sparse.csr_matrix(
            (
                [c for t in targets for c in t.coefs],
                ([i for i, t in enumerate(targets) for _ in t.columns], [c for t in targets for c in t.columns]),
            ),
            shape=(len(targets), n),
        )
        value = objective @ self.truth
        need_low = np.array([t.need_low for t in targets]) / self.scale
        need_high = np.array([t.need_high for t in targets]) / self.scale
        low_seen, high_seen = value.copy(), value.copy()
        found: list[np.ndarray] = []

        def widen(solution: np.ndarray) -> None:
            seen = objective @ solution
            np.minimum(low_seen, seen, out=low_seen)
            np.maximum(high_seen, seen, out=high_seen)
            found.append(solution - self.truth)  # and as far along it as this programme allows, both ways
            self._step_along(found[-1][None, :], objective, value, low_seen, high_seen)

        if len(targets) >= BATCH_MIN_TARGETS and known is not None:  # a few weak targets: straight to the solver
            self._step_along(known, objective, value, low_seen, high_seen)

        # Every hidden value moved by its need at once, free cells as published: where that still satisfies every
        # sum (e.g. nothing around them is published), it is one more solution, found without a solve.
        single = np.zeros(n)
        for t in targets:
            if len(t.columns) == 1 and self.hidden[t.columns[0]]:
                single[t.columns[0]] = max(single[t.columns[0]], max(t.need_low, t.need_high) / self.scale)
        for sign in (-1.0, 1.0):
            moved = np.clip(self.truth + sign * single, 0.0, None)
            if np.abs(self.matrix @ moved).max(initial=0.0) <= 1e-9:
                widen(moved)
        binding: dict[int, tuple[int, ...]] = {}
        # A few solves push all unproven targets together (weighted to each one's size); the targets left get a
        # solve of their own, unless those turn out mostly protected: then one solve carries all the rest towards
        # their needs at once (``_spread``). A side that fails is always solved exactly.
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            minimise = sense == highspy.ObjSense.kMinimize

            def pending(index: np.ndarray, minimise: bool = minimise) -> np.ndarray:
                if minimise:
                    return index[low_seen[index] > value[index] - need_low[index]]
                return index[high_seen[index] < value[index] + need_high[index]]

            everyone = np.arange(len(targets))
            for _ in range(0 if self.spread_first else BATCH_ROUNDS):
                waiting = pending(everyone)
                if len(waiting) < BATCH_MIN_TARGETS:
                    break
                weights = weights_by_need(np.maximum(need_low[waiting], need_high[waiting]))
                solution = self._solve(np.asarray(objective[waiting].T @ weights).ravel(), sense, exact=False)[1]
                if solution is None:
                    break
                widen(solution)
                if len(pending(waiting)) > (1 - BATCH_MIN_GAIN) * len(waiting):
                    break
            # The atoms' programme: spread solves while each proves a good part of what is left (an exact solve there
            # costs about a third of a spread, and over a hundred were left after the first one at 1M rows).
            while self.spread_first and len(waiting := pending(everyone)) >= BATCH_MIN_TARGETS:
                need = need_low[waiting] if minimise else need_high[waiting]
                solution = self._spread(objective[waiting], need, upward=not minimise)
                if solution is None:
                    break
                widen(solution)
                if len(pending(waiting)) > (1 - SPREAD_MIN_GAIN) * len(waiting):
                    break
            solved = proven = 0
            for j in pending(everyone):
                if not len(pending(np.array([j]))):  # an earlier solve proved it meanwhile
                    continue
                waiting = pending(everyone)
                trial = not self.spread_first and solved == SPREAD_TRIAL and 2 * proven >= solved
                if trial and len(waiting) >= SPREAD_MIN_TARGETS:
                    need = need_low[waiting] if minimise else need_high[waiting]
                    solution = self._spread(objective[waiting], need, upward=not minimise)
                    if solution is not None:
                        widen(solution)
                    if not len(pending(np.array([j]))):
                        continue
                bound, solution = self._solve(objective[j].toarray().ravel(), sense)
                if solution is not None:
                    widen(solution)
                if minimise:
                    low_seen[j] = min(low_seen[j], bound)
                else:
                    high_seen[j] = max(high_seen[j], bound)
                solved += 1
                if len(pending(np.array([j]))):
                    binding[int(j)] = self._binding_free_columns()
                else:
                    proven += 1
        self.found = found
        return [
            Interval(t, value[i] * self.scale, low_seen[i] * self.scale, high_seen[i] * self.scale, binding.get(i, ()))
            for i, t in enumerate(targets)
        ]

    def cover(self, interval: Interval, movable_columns: np.ndarray) -> np.ndarray | None:
        """The columns among ``movable_columns`` (free now) of the cheapest moves that carry a weak target its need
        on each side where it falls short, keeping every sum and link. They are hidden at once: the moves are then
        open to the attacker, so the target is protected, and the next cover builds on them. Empty when the solver
        found none; None when there is none: with every movable column hidden, the attacker still narrows it."""
        movable = np.zeros(len(self.truth), dtype=bool)
        movable[movable_columns] = True
        sides = [upward for upward, short in ((False, interval.short_below), (True, interval.short_above)) if short]
        found = []
        for upward in sides:
            move = self._cover_one_side(interval.target, upward, movable)
            if move is None:
                return None
            found.append(move)
        columns = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)
        self.hide(columns)
        return columns

    def _cover_one_side(self, target: Target, upward: bool, movable: np.ndarray) -> np.ndarray | None:
        """The charged columns of the cheapest move a little past the need, else of just the need; None when the
        farthest move falls short. That decides, not an infeasible verdict: proving a cover infeasible cost ten
        times more (the demo's unprotectable value: 42 of the audit's 89 s), and there is always a farthest move."""
        self._cover, n = self._cover or CoverProgramme(self.matrix, self.truth), len(self.truth)
        open_, charged = self.hidden | movable, movable & ~self.hidden
        upper = np.concatenate([np.where(open_, HIDDEN_VALUE_CAP - self.truth, 0.0), np.where(open_, self.truth, 0.0)])
        # A unit moved costs 1/sqrt(value): between the count of cells withheld (1/value, which favours large
        # cells) and the amount moved (1, which favours long paths of small ones); measured best of the three.
        cost = np.where(charged, 1.0 / np.sqrt(np.maximum(self.truth, COVER_TOLERANCE)), 0.0)
        self._cover.open(np.maximum(upper, 0.0), np.concatenate([cost, cost]))
        columns = np.array([*target.columns, *(c + n for c in target.columns)], dtype=np.int32)
        coefs = np.array([*target.coefs, *(-c for c in target.coefs)]) * (1.0 if upward else -1.0)
        need = (target.need_high if upward else target.need_low) / self.scale
        move = self._cover.cheapest(columns, coefs, need * COVER_MARGIN, recheck=False)
        if move is None:
            farthest = self._cover.farthest(columns, coefs)
            if farthest is None:
                return np.zeros(0, dtype=np.int64)
            value = float(np.dot(target.coefs, self.truth[list(target.columns)]))
            if (need - farthest) * self.scale > _shortfall_tolerance(value * self.scale):  # as ``Interval``
                return None
            margin = COVER_MARGIN if farthest >= need * COVER_MARGIN else 1.0  # the former: presolve erred (rare)
            move = self._cover.cheapest(columns, coefs, need * margin, recheck=True)
        if move is None or not len(move):
            return np.zeros(0, dtype=np.int64)  # the solver found none
        return np.flatnonzero(charged & (move[:n] + move[n:] > COVER_TOLERANCE))

    def _spread(self, objective: sparse.csr_matrix, need: np.ndarray, upward: bool) -> np.ndarray | None:
        """The spread solve (``programmes.spread_point``): hidden columns free to move, the rest as published."""
        room = np.where(self.hidden, self.truth, 0.0), np.where(self.hidden, HIDDEN_VALUE_CAP - self.truth, 0.0)
        return spread_point(self.matrix, self.truth, room, objective, (need, COVER_MARGIN), upward)

    def _step_along(
        self,
        moves: np.ndarray,
        objective: sparse.csr_matrix,
        value: np.ndarray,
        low_seen: np.ndarray,
        high_seen: np.ndarray,
    ) -> None:
        """Widen the targets by the longest step each direction (a row of ``moves``) allows here, both ways: a
        direction must leave this programme's free cells alone and keep its sums and links (within the solver's
        tolerance); the step ends where a hidden value would leave [0, cap]."""
        if not len(moves):
            return
        moving, touching_free = np.abs(moves).max(axis=1) > 0, np.abs(moves[:, ~self.hidden]).max(axis=1, initial=0)
        moves = moves[moving & (touching_free == 0)]
        columns = np.ascontiguousarray(moves.T)
        broken = np.abs(self.matrix @ columns).max(axis=0, initial=0.0)
        up, down = HIDDEN_VALUE_CAP - self.truth, self.truth
        with np.errstate(divide="ignore", invalid="ignore"):
            limit = FEASIBILITY / broken  # no step may break a sum by more than the tolerance
            forward = np.where(moves > 0, up / moves, np.where(moves < 0, down / -moves, np.inf)).min(axis=1)
            backward = np.where(moves > 0, down / moves, np.where(moves < 0, up / -moves, np.inf)).min(axis=1)
        shift = objective @ columns  # targets x directions
        for step in (np.minimum(forward, limit), -np.minimum(backward, limit)):
            reach = shift * step
            np.minimum(low_seen, value + reach.min(axis=1, initial=0.0), out=low_seen)
            np.maximum(high_seen, value + reach.max(axis=1, initial=0.0), out=high_seen)

    def _binding_free_columns(self) -> tuple[int, ...]:
        """Free columns whose published value holds the last optimum back (non-zero reduced cost), most first."""
        reduced = np.abs(np.asarray(self.highs.getSolution().col_dual))
        limiting = np.flatnonzero((reduced > 1e-9) & ~self.hidden)
        return tuple(int(c) for c in limiting[np.argsort(-reduced[limiting], kind="stable")])

    def _solve(self, cost: np.ndarray, sense: highspy.ObjSense, exact: bool = True) -> tuple[float, np.ndarray | None]:
        """The optimum and a solution; a batch solve (``exact=False``) that fails only proves nothing."""
        highs, n = self.highs, len(cost)
        highs.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        highs.changeObjectiveSense(sense)
        for attempt in range(2):
            status = run(highs)
            if status == highspy.HighsModelStatus.kUnbounded:
                return (float("-inf") if sense == highspy.ObjSense.kMinimize else float("inf")), None
            if status == highspy.HighsModelStatus.kOptimal:
                value = float(highs.getInfo().objective_function_value)
                return value, np.asarray(highs.getSolution().col_value)
            if not exact:
                return float("nan"), None
            if attempt == 0:
                highs.clearSolver()  # a numerical dead end from the last basis: once more from scratch
        raise RuntimeError(f"disclosure audit LP ended {highs.modelStatusToString(status)}")
