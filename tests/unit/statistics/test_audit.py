"""The audit's cover: the cells it withholds for a weak target must open a move that protects it, checked by an
LP written here (scipy over the table's own sums), not by the audit's programme."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import highspy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse
from scipy.optimize import linprog

from pipelines.statistics import audit as audit_module
from pipelines.statistics.audit import RecordAudit, Target
from pipelines.statistics.programmes import fixed_model, run

DATA = Path(__file__).parent / "data"

# A 2 x 3 table with its margins: cells 0-5 (row-major), row totals 6-7, column totals 8-10, the grand total 11.
VALUES = np.array([40.0, 25.0, 35.0, 60.0, 30.0, 10.0, 100.0, 100.0, 100.0, 55.0, 45.0, 200.0])
RELATIONS = [(6, (0, 1, 2)), (7, (3, 4, 5)), (8, (0, 3)), (9, (1, 4)), (10, (2, 5)), (11, (6, 7)), (11, (8, 9, 10))]


def _range(hidden: np.ndarray, target: int) -> tuple[float, float]:
    """What an attacker derives about one cell: free cells at their values, hidden ones anywhere >= 0."""
    equalities = np.zeros((len(RELATIONS), len(VALUES)))
    for r, (parent, children) in enumerate(RELATIONS):
        equalities[r, parent], equalities[r, list(children)] = 1.0, -1.0
    bounds = [(0, None) if hidden[c] else (v, v) for c, v in enumerate(VALUES)]
    cost = np.zeros(len(VALUES))
    cost[target] = 1.0
    low, high = (
        linprog(sign * cost, A_eq=equalities, b_eq=np.zeros(len(RELATIONS)), bounds=bounds) for sign in (1, -1)
    )
    assert low.status == 0 and high.status in (0, 3)  # above, unbounded (3) when the hidden cells form a cycle
    return low.fun, np.inf if high.status == 3 else -high.fun


def test_the_cover_of_a_lone_hidden_cell_opens_a_move_that_protects_it():
    audit = RecordAudit(VALUES, RELATIONS, np.zeros((0, 2), dtype=np.int64))
    audit.hide(np.array([0]))
    need = 0.1 * VALUES[0]
    (interval,) = audit.intervals([Target((0,), (1.0,), need, need, 0, "cell")])
    assert not interval.protected and interval.short_below and interval.short_above  # pinned by its free row

    withheld = audit.cover(interval, np.arange(1, len(VALUES)))

    assert 0 < len(withheld) <= 5 and 0 not in withheld
    hidden = np.zeros(len(VALUES), dtype=bool)
    hidden[[0, *withheld]] = True
    low, high = _range(hidden, 0)
    assert low <= VALUES[0] - need and high >= VALUES[0] + need
    (after,) = audit.intervals([interval.target])
    assert after.protected


def test_no_cover_when_nothing_may_move():
    """None, not an empty cover: no cell withheld now could protect it (so none is withheld for it). The farthest
    move says so; no infeasible verdict is proven twice (without presolve: the demo's costliest solve)."""
    audit = RecordAudit(VALUES, RELATIONS, np.zeros((0, 2), dtype=np.int64))
    audit.hide(np.array([0]))
    (interval,) = audit.intervals([Target((0,), (1.0,), 4.0, 4.0, 0, "cell")])
    assert not interval.protected
    with _no_verdict_rechecked():
        assert audit.cover(interval, np.array([], dtype=np.int64)) is None


def _no_verdict_rechecked():
    """A verdict is rechecked without presolve (``programmes.run``): switching presolve off is the sign."""
    real = highspy.Highs.setOptionValue

    def guarded(highs, name, value):
        if (name, value) == ("presolve", "off"):
            raise AssertionError("a verdict rechecked")
        return real(highs, name, value)

    return mock.patch.object(highspy.Highs, "setOptionValue", guarded)


@pytest.mark.parametrize("need", [39.5, 40.0, 40.0 + 1e-8])
def test_a_cover_just_within_reach_moves_the_target_its_need(need):
    """The cell can fall 40 at most (to zero): a need of 39.5, or all 40, has no move a margin past it, but one
    to it; a need past 40 by less than the audit's tolerance (1e-9 of the value) counts as reached."""
    audit = RecordAudit(VALUES, RELATIONS, np.zeros((0, 2), dtype=np.int64))
    audit.hide(np.array([0]))
    (interval,) = audit.intervals([Target((0,), (1.0,), need, 1.0, 0, "cell")])
    assert interval.short_below

    with _no_verdict_rechecked():
        withheld = audit.cover(interval, np.arange(1, len(VALUES)))

    assert withheld is not None and len(withheld)
    hidden = np.zeros(len(VALUES), dtype=bool)
    hidden[[0, *withheld]] = True
    assert _range(hidden, 0)[0] <= VALUES[0] - need + 1e-9 * VALUES[0]


def test_a_programme_presolve_alone_calls_infeasible_is_solved():
    """The atoms' programme of a 100M-row month at an exact solve after its spreads (``bench/disclosure.py --rows
    100M --providers 50``, written out by HiGHS): the true values are a solution, yet HiGHS with presolve calls it
    infeasible (values from 1e-10 of the largest up). The audit's solves check that verdict without presolve:
    the publish failed on it, and an infeasible cover sets its target aside as beyond any protection."""
    highs = fixed_model(sparse.csc_matrix((0, 0)), np.zeros(0))  # the audit's options
    highs.readModel(str(DATA / "atoms_presolve_infeasible.mps.gz"))
    highs.run()
    assert highs.getModelStatus() == highspy.HighsModelStatus.kInfeasible  # HiGHS's verdict, the case pinned
    highs.clearSolver()
    assert run(highs) == highspy.HighsModelStatus.kOptimal
    assert highs.getOptionValue("presolve")[1] == "on"  # the next solves presolve again


@pytest.mark.parametrize(
    ("spread_after", "spread_first"),
    [((audit_module.SPREAD_TRIAL, audit_module.SPREAD_MIN_TARGETS), False), ((0, 1), False), (None, True)],
    ids=["as configured", "spread after the batch solves", "spread first (the atoms' programme)"],
)
@settings(max_examples=40, deadline=None)
@given(
    hidden=st.lists(st.booleans(), min_size=len(VALUES), max_size=len(VALUES)).filter(lambda h: sum(h) >= 2),
    percent=st.floats(min_value=1.0, max_value=150.0),
)
def test_the_audit_proves_exactly_what_an_attacker_cannot_narrow(spread_after, spread_first, hidden, percent):
    """Every hidden cell a target at once (batch solves and the spread solve as configured, the spread solve at the
    first one-by-one solve, or no batch solve and the spread solve at once):
    what the audit proves about each lies within the attacker's exact range, and it is found protected when, and
    only when, that range leaves its need either way."""
    hidden = np.array(hidden)
    audit = RecordAudit(VALUES, RELATIONS, np.zeros((0, 2), dtype=np.int64), spread_first=spread_first)
    audit.hide(np.flatnonzero(hidden))
    targets = [Target((c,), (1.0,), percent / 100 * v, percent / 100 * v, c, "cell") for c, v in enumerate(VALUES)]
    targets = [t for t in targets if hidden[t.cell]]

    trial, least = spread_after or (audit_module.SPREAD_TRIAL, audit_module.SPREAD_MIN_TARGETS)
    with (
        mock.patch.object(audit_module, "SPREAD_TRIAL", trial),
        mock.patch.object(audit_module, "SPREAD_MIN_TARGETS", least),
    ):
        intervals = audit.intervals(targets)

    for interval in intervals:
        need, value = interval.target.need_low, VALUES[interval.target.cell]
        low, high = _range(hidden, interval.target.cell)
        tolerance = 1e-6 * VALUES.max()
        assert low - tolerance <= interval.low and interval.high <= high + tolerance  # reached by a point
        room = min(value - low, high - value)
        if interval.protected:
            assert room >= need * (1 - 1e-6)
        elif room >= need * (1 + 1e-6):
            raise AssertionError(f"cell {interval.target.cell}: the attacker's room {room} was not proven")
