"""A small run of the benchmark: it must run from the documented command and write its JSON (no timings are
asserted: speed is measured by the benchmark itself, never in tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_benchmark_runs_at_one_million_rows_and_writes_its_json(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--rows",
            "1M",
            "--providers",
            "6",
            "--naive",
            "yes",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "bench_1000000.json").read_text())
    assert report["rows"] == 1_000_000
    stages = report["stages"]
    assert {"floor", "naive", "ingest.validate", "ingest.load", "publish.disclosure", "publish.formats"} <= set(stages)
    assert stages["ingest.load"]["accepted"] == 6, "every generated report passes validation"
    assert stages["naive"]["success"], "the naive baseline validates the same suite, and it passes"
    assert stages["floor"]["cells"] == stages["naive"]["cells"], "floor and baseline compute the same rollup"
    assert stages["fair_floor"]["files"] == 6 and stages["fair_floor"]["rule_breaks"] == 0, "valid reports pass it"
    assert report["ratio_pipeline_to_floor"] > 0 and report["ratio_pipeline_to_fair_floor"] > 0
    assert report["ratio_naive_to_pipeline"] < report["ratio_naive_to_ingest_and_marts"], "the same work is less"
    assert all(s["peak_rss_mib"] > 0 for s in stages.values())
    validate = stages["ingest.validate"]  # its work runs in the fork server's workers, which wait4 never sees
    assert validate["workers_peak_rss_mib"] > 0 and validate["peak_rss_mib"] >= validate["workers_peak_rss_mib"]
    assert "pipeline / fair floor" in done.stdout and "pipeline / floor" in done.stdout
    assert "naive / pipeline" in done.stdout and "naive / (ingest + marts)" in done.stdout
