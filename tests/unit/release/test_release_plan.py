"""A release plan travels between Airflow tasks as XCom JSON; the release must not depend on how the metadata DB
stores it (PostgreSQL's jsonb reorders object keys: shorter keys first)."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.intake.ledger import COVERAGE_KEYS
from pipelines.release.plan import Inputs, ReleasePlan
from pipelines.release.release_model import ReleaseInfo


def test_coverage_keeps_its_order_whatever_the_xcom_backend_did():
    coverage = {"providers_expected": 6, "providers_reported": 5, "providers_rejected": 1, "providers_missing": 0}
    plan = ReleasePlan(
        ReleaseInfo("2026-10", 1, None, "0.1.0", "1"),
        Inputs("2026-10", ("a", "b"), None, "0.1.0", "1", "groups-digest", ("c",)),
        coverage,
        Path("/data/published/2026-10/.v1.staging"),
        None,
    )
    stored = plan.to_json()
    as_jsonb = {**stored, "coverage": dict(sorted(stored["coverage"].items(), key=lambda kv: (len(kv[0]), kv[0])))}
    assert list(as_jsonb["coverage"]) != list(COVERAGE_KEYS)  # the reordering this guards against
    restored = ReleasePlan.from_json(json.loads(json.dumps(as_jsonb)))
    assert list(restored.coverage) == list(COVERAGE_KEYS) and restored.coverage == coverage
    assert restored == plan
