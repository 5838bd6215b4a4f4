"""No orphaned workers: ``kill -9`` of ``tokenstats ingest`` while it validates in several processes leaves
none of them running (the fork server and every validation worker die with it)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from pipelines.synthetic.generate import generate_month
from tests.cli_process import RUN_TAG, processes_left, run_tag, start_cli

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("started", [3, 5], ids=["fork-server-starting", "workers-validating"])
def test_kill_9_of_ingest_during_validation_leaves_no_process(tmp_path: Path, started: int):
    """Killed once ``started`` processes run (ingest, resource tracker, fork server, workers)."""
    data = tmp_path / "data"
    generate_month(data, "2026-10", rows=60_000, providers=6)
    tag = run_tag()
    ingest = start_cli(data, "ingest", env=tag, validate_workers=2)
    try:
        deadline = time.monotonic() + 120
        while len(processes_left(tag, wait_seconds=0)) < started:
            assert ingest.poll() is None, ingest.communicate()
            assert time.monotonic() < deadline, "the validation workers never started"
            time.sleep(0.2)
        assert not list((data / "landing").glob("*/*/verdict.json")), "killed while validating, as intended"
        ingest.send_signal(signal.SIGKILL)
        ingest.wait(30)
    finally:
        if ingest.poll() is None:
            ingest.kill()
    assert processes_left(tag) == [], f"processes of the killed run still alive ({RUN_TAG}={tag[RUN_TAG]})"
