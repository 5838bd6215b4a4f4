"""The audit's linear programmes as HiGHS models (``audit.py`` changes their costs and bounds and solves them)."""

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
    # Each solve changes only the objective or a few bounds: primal simplex from the last basis; presolve drops
    # the fixed (free) cells first.
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


def cover_model(matrix: sparse.csc_matrix, truth: np.ndarray) -> highspy.Highs:
    """Columns: each column's move up and move down from its true value; rows: every sum and link still holds."""
    highs = fixed_model(sparse.hstack([matrix, -matrix], format="csc"), np.zeros(2 * matrix.shape[1]))
    residual = -(matrix @ truth)  # the true values satisfy the sums to the float: moves restore exactly that
    highs.changeRowsBounds(len(residual), np.arange(len(residual), dtype=np.int32), residual, residual)
    return highs


def run(highs: highspy.Highs) -> highspy.HighsModelStatus:
    """Solve; an infeasible verdict is checked once more without presolve. Its tolerances called a feasible
    programme infeasible (the atoms' at 100M rows: values from 1e-10 of the largest up, the truth itself a
    solution), and an infeasible cover sets its target aside as beyond protection: that must be the
    programme's, never the solver's."""
    highs.run()
    if highs.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
        return highs.getModelStatus()
    _, presolve = highs.getOptionValue("presolve")
    highs.clearSolver()
    highs.setOptionValue("presolve", "off")
    try:
        highs.run()
    finally:
        highs.setOptionValue("presolve", presolve)
    return highs.getModelStatus()


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
