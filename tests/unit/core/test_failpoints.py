"""Crash points: inert unless TOKENSTATS_CRASH_AT names them; then SIGKILL at the chosen hit, nothing after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from pipelines.core.failpoints import CRASH_ENV, POINTS, crash_point

SCRIPT = """
from pipelines.core.failpoints import crash_point
for i in range(1, 5):
    crash_point("load.after_commit")
    print(i, flush=True)
"""


def _run(crash_at: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("crash_at", "printed", "code"),
    [
        (None, "1 2 3 4", 0),
        ("release.before_rename", "1 2 3 4", 0),  # another point: no effect
        ("load.after_commit", "", -signal.SIGKILL),  # the first hit
        ("load.after_commit@3", "1 2", -signal.SIGKILL),  # the third hit
        ("load.after_commit@9", "1 2 3 4", 0),  # never reached
    ],
)
def test_a_crash_point_kills_only_when_named_and_at_the_chosen_hit(crash_at, printed, code):
    result = _run(crash_at)
    assert (result.returncode, " ".join(result.stdout.split())) == (code, printed)


def test_points_are_unique_and_named_by_stage(monkeypatch):
    assert len(set(POINTS)) == len(POINTS)
    assert {p.split(".")[0] for p in POINTS} == {
        "claim",
        "validate",
        "load",
        "file_away",
        "publish",
        "release",
        "snapshot",
    }
    monkeypatch.delenv(CRASH_ENV, raising=False)
    crash_point(POINTS[0])  # inert in this process
