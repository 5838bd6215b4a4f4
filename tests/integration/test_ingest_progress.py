"""``tokenstats ingest`` piped into a log: timestamped progress lines on stderr arrive while the work runs (each
flushed when written), not all at the end; stdout keeps the results."""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path

import pytest

from pipelines.synthetic.generate import generate_month
from tests.cli_process import start_cli

pytestmark = pytest.mark.integration

STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) (.*)$")
PROVIDERS = 3


def test_piped_ingest_reports_progress_as_it_happens(tmp_path: Path):
    data = tmp_path / "data"
    reports = generate_month(data, "2026-10", rows=30_000, providers=PROVIDERS)
    # One validation process: files finish one after another, and each takes longer than the interval.
    process = start_cli(data, "ingest", validate_workers=1, progress_seconds=0.5)
    arrivals: list[tuple[dt.datetime, str]] = []  # (when the line was read here, the line)

    def read_stderr() -> None:
        for line in process.stderr:
            arrivals.append((dt.datetime.now(dt.UTC), line.rstrip("\n")))

    reader = threading.Thread(target=read_stderr)
    reader.start()
    stdout = process.stdout.read()
    process.wait(timeout=300)
    reader.join(timeout=30)
    ended = dt.datetime.now(dt.UTC)
    assert process.returncode == 0, "\n".join(line for _, line in arrivals)
    assert f"{PROVIDERS} accepted" in stdout and not STAMP.match(stdout)

    stamped = [(arrived, STAMP.match(line)) for arrived, line in arrivals]
    assert all(match for _, match in stamped), arrivals
    # Flushed as written: each line was read within a couple of seconds of its own timestamp (second precision).
    for arrived, match in stamped:
        written = dt.datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        assert dt.timedelta(seconds=-1) <= arrived - written < dt.timedelta(seconds=2), (arrived, match[0])
    texts = [match[2] for _, match in stamped]
    for report in reports:
        label = f"{report.provider_id}/{report.path.name}"
        assert any(t.startswith(f"validate {label} accepted;") for t in texts), texts
        assert any(t.startswith(f"load {label} accepted;") for t in texts), texts
    # A line per file with files, rows, rate and ETA; and while a file takes long, lines saying the work goes on.
    summary = re.compile(rf"validate: {PROVIDERS}/{PROVIDERS} files, [\d,]+/[\d,]+ rows, [\d,]+ rows/s, ETA ")
    assert any(summary.search(t) for t in texts), texts
    assert any(t.startswith("still working; validate: ") for t in texts), texts
    # Lines arrived over the run, not in one burst at its end.
    first_file = next(arrived for arrived, match in stamped if match[2].startswith("validate ") and "/" in match[2])
    assert ended - first_file > dt.timedelta(seconds=1), (first_file, ended)
