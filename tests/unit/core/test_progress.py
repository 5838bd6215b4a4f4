"""The progress display's plain mode (what a log file gets) and its arithmetic."""

from __future__ import annotations

import io
import re
import time

from pipelines.core.progress import Phase, Progress, _duration


def test_plain_lines_per_phase_and_file_with_rate_and_eta():
    stream = io.StringIO()
    with Progress(stream, interval=60, live=False) as progress:
        progress.phase("validate", files=2, rows=300)
        progress.done("a/a.parquet", 100, "accepted")
        progress.done("b/b.parquet", 200, "2 rule(s) failed: key.unique")
    lines = stream.getvalue().splitlines()
    assert [re.sub(r"^\S+Z ", "", line).split(";")[0] for line in lines] == [
        "validate: 2 files, 300 rows",
        "validate a/a.parquet accepted",
        "validate b/b.parquet 2 rule(s) failed: key.unique",
    ]
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", line) for line in lines)
    assert "validate: 2/2 files, 300/300 rows" in lines[-1] and "ETA 0:00:00" in lines[-1]


def test_a_long_file_gets_lines_while_it_runs():
    stream = io.StringIO()
    with Progress(stream, interval=0.2, live=False) as progress:
        progress.phase("load", files=1, rows=10)
        time.sleep(1.0)
    ticks = [line for line in stream.getvalue().splitlines() if "still working; load: 0/1 files" in line]
    assert len(ticks) >= 2


def test_eta_from_the_rate_so_far():
    phase = Phase("validate", files=4, rows=1_000, started=time.monotonic() - 10)
    assert phase.eta_seconds() is None  # nothing done yet: no rate
    phase.advance(250)
    assert 24.9 < phase.rate() <= 25
    assert 30 <= phase.eta_seconds() < 30.2  # 750 rows left at 25 rows/s
    assert _duration(3725) == "1:02:05"
