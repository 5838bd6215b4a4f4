"""The imputation measurement from its documented command, on three small months: imputation must reduce the
revision of the first estimate (no timings are asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_imputation_reduces_the_revision_of_first_estimates(tmp_path):
    out = tmp_path / "imputation.json"
    command = [sys.executable, str(REPO / "bench" / "imputation.py"), "--months", "3", "--rows", "4000"]
    command += ["--providers", "8", "--late", "2", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    with_, without = (result[f"mean_absolute_revision_{v}_imputation"] for v in ("with", "without"))
    assert sum(cell["modality"] == "_T" for cell in result["cells"]) == 2  # two months with late providers
    assert with_["tokens"] < without["tokens"]
    assert with_["national_pct"] < without["national_pct"]
    assert "without imputation" in done.stdout
