"""The audit's linear programmes as HiGHS models: the attacker's (``fixed_model``: ``audit.py`` changes its costs
and bounds and solves it), the cover's (cheapest and farthest moves), the spread solve's; and how each is solved."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

import highspy
import numpy as np
from scipy import sparse


def fixed_model(matrix: sparse.csc_matrix, fixed_values: np.ndarray) -> highspy.Highs:
    """Rows: relations and links (= 0). Columns: cells of every version, each fixed at its value until hidden."""
    with _stdout_silenced():  # HiGHS prints its banner from C, past Python's sys.stdout
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", False)
    highs.setOptionValue("presolve", "on")  # drops the fixed (free) cells first
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


class CoverProgramme:
    """Columns: each column's move up and move down from its true value; rows: every sum and link still holds.
    ``open`` sets how far each may move and what a unit moved costs, then ``cheapest`` or ``farthest`` solves.

    Each solve starts from scratch, by dual simplex. From the last cover's state (HiGHS keeps it when the
    target's row is deleted, though the basis is then invalid), a cover of the atoms' programme took up to 12 s
    (December at 100M rows: 16 covers, 101 s of a 220 s audit), against 0.6 s from scratch; and the covers found
    from there withheld more cells: 2,081 of a 100M month's 5,147, against 1,395."""

    def __init__(self, matrix: sparse.csc_matrix, truth: np.ndarray) -> None:
        self.width = 2 * matrix.shape[1]
        self.highs = fixed_model(sparse.hstack([matrix, -matrix], format="csc"), np.zeros(self.width))
        residual = -(matrix @ truth)  # the true values satisfy the sums to the float: moves restore exactly that
        self.highs.changeRowsBounds(len(residual), np.arange(len(residual), dtype=np.int32), residual, residual)
        self.cost = np.zeros(self.width)

    def open(self, upper: np.ndarray, cost: np.ndarray) -> None:
        self.highs.changeColsBounds(self.width, np.arange(self.width, dtype=np.int32), np.zeros(self.width), upper)
        self.cost = cost

    def cheapest(self, columns: np.ndarray, coefs: np.ndarray, need: float, recheck: bool) -> np.ndarray | None:
        """The cheapest moves with the target (a row: ``columns``, ``coefs``) moved at least ``need``; None when
        infeasible (checked again without presolve if ``recheck``), empty when the solver found no optimum."""
        self.highs.changeColsCost(self.width, np.arange(self.width, dtype=np.int32), self.cost)
        self.highs.addRow(need, highspy.kHighsInf, len(columns), columns, coefs)
        try:
            self.highs.clearSolver()
            status = run(self.highs, recheck=recheck)
            if status == highspy.HighsModelStatus.kInfeasible:
                return None
            if status != highspy.HighsModelStatus.kOptimal:
                return np.zeros(0)
            return np.asarray(self.highs.getSolution().col_value)
        finally:
            self.highs.deleteRows(1, np.array([self.highs.getNumRow() - 1], dtype=np.int32))

    def farthest(self, columns: np.ndarray, coefs: np.ndarray) -> float | None:
        """How far the moves carry the target; None without an optimum (never infeasible: no move is a move)."""
        cost = np.zeros(self.width)
        cost[columns] = -coefs  # the programme minimises
        self.highs.changeColsCost(self.width, np.arange(self.width, dtype=np.int32), cost)
        self.highs.clearSolver()
        if run(self.highs) != highspy.HighsModelStatus.kOptimal:
            return None
        return -float(self.highs.getInfo().objective_function_value)


def spread_point(
    matrix: sparse.csc_matrix,
    truth: np.ndarray,
    room: tuple[np.ndarray, np.ndarray],
    objective: sparse.csr_matrix,
    need: tuple[np.ndarray, float],
    upward: bool,
) -> np.ndarray | None:
    """A point of the audit's programme that moves each target (a row of ``objective``) up to its need (scaled)
    the ``upward`` way, as many as far as they go together; None without an optimum. ``room``: how far each
    column may move down and up; ``need``: each target's, and the share past it that may count.

    Its own programme: a progress column per target, capped there, at most the target's move; their sum relative
    to each need is maximised, so moving a target the wrong way counts against. (A weighted sum of the targets
    instead runs a few as far as they go.) Each is new: interior point, then a vertex (warm-started simplex on
    the targets left, tried, was 1.6 times slower)."""
    (n, k), (need, margin), sign = (len(truth), objective.shape[0]), need, 1.0 if upward else -1.0
    # Rows: every sum and link kept by the move from the truth; progress - sign * (target's move) <= 0.
    highs = fixed_model(
        sparse.bmat([[matrix, None], [-sign * objective, sparse.identity(k)]], format="csc"), np.zeros(n + k)
    )
    highs.setOptionValue("solver", "ipm")
    lower = np.concatenate([-room[0], np.full(k, -highspy.kHighsInf)])
    upper = np.concatenate([room[1], need * margin])
    highs.changeColsBounds(n + k, np.arange(n + k, dtype=np.int32), lower, upper)
    rows = matrix.shape[0]
    residual = -(matrix @ truth)  # as in the cover: moves restore the sums to the float
    highs.changeRowsBounds(
        rows + k,
        np.arange(rows + k, dtype=np.int32),
        np.concatenate([residual, np.full(k, -highspy.kHighsInf)]),
        np.concatenate([residual, np.zeros(k)]),
    )
    highs.changeColsCost(n + k, np.arange(n + k, dtype=np.int32), np.concatenate([np.zeros(n), weights_by_need(need)]))
    highs.changeObjectiveSense(highspy.ObjSense.kMaximize)
    if run(highs) != highspy.HighsModelStatus.kOptimal:
        return None
    return truth + np.asarray(highs.getSolution().col_value)[:n]


def weights_by_need(need: np.ndarray) -> np.ndarray:
    """Each target weighted to its size (1 / need, the largest weight 1), within six orders of magnitude: a wider
    range is ill-posed for the solver."""
    weights = 1.0 / np.maximum(need, 1e-9)
    return np.maximum(weights / weights.max(), 1e-6)


def run(highs: highspy.Highs, recheck: bool = True) -> highspy.HighsModelStatus:
    """Solve. Most solves change only the objective or a few bounds: primal simplex from the last basis, which
    stays feasible. Without one, dual simplex (two to three times faster on the audit's programmes, and more on
    the cover's).

    An infeasible verdict is checked once more without presolve (``recheck``): its tolerances called a feasible
    programme infeasible (the atoms' at 100M rows: values from 1e-10 of the largest up, the truth itself a
    solution), and the publish stopped. (Whether a cover exists is not left to such a verdict: ``farthest``.)"""
    _choose_simplex(highs)
    highs.run()
    if not recheck or highs.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
        return highs.getModelStatus()
    _, presolve = highs.getOptionValue("presolve")
    highs.clearSolver()
    highs.setOptionValue("presolve", "off")
    _choose_simplex(highs)
    try:
        highs.run()
    finally:
        highs.setOptionValue("presolve", presolve)
    return highs.getModelStatus()


def _choose_simplex(highs: highspy.Highs) -> None:
    highs.setOptionValue("simplex_strategy", 4 if highs.getBasis().valid else 1)


_SILENCING = threading.Lock()  # the descriptor is the process's: one thread at a time may swap it


@contextlib.contextmanager
def _stdout_silenced() -> Iterator[None]:
    with _SILENCING:
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
