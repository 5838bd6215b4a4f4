"""The published record of a month as one object: what an attacker holding every version can learn.

Scenarios of the confidentiality issue, through the CLI: a one-provider correction and its v2 (differencing),
a month dominated by one provider (shares of a withheld total), a merger of enterprise groups after publishing
(stale groups). Truth comes from the archived reports and the registry, never from the marts' SQL; the attacker
is ``tests/record_attacker.py`` (scipy's LP over the finest cells of both versions).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.cli.commands import main
from pipelines.contract.contract import read_code_list
from pipelines.contract.registry import read_registry, write_registry
from pipelines.core.config import Settings
from pipelines.release.publish import read_record
from pipelines.statistics.disclosure import protect_record
from pipelines.statistics.primary import Rules
from pipelines.synthetic.generate import generate_month
from tests.confidentiality import assert_release_is_safe, finest_cells
from tests.oracle import read_reports
from tests.record_attacker import Attacker, Version

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERIOD = "2026-09"
DIMENSIONS = ("use_type", "region_code", "compute_region_code", "modality", "sector_code")
CELL_TABLES = ("national", "by_region", "by_modality", "by_sector", "cube", "compute_flows", "use_type")
COUNTS = ("total_tokens", "input_tokens", "cached_input_tokens", "output_tokens", "requests")
MEASURES = (*COUNTS, "settlement_amount")
ZONES = {r["region_code"]: r["economic_zone"] for r in read_code_list("provinces.csv")}


@pytest.fixture(scope="module")
def corrected(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """v1 of a month; then one provider resubmits without its Zhejiang rows, and v2 goes out."""
    data = tmp_path_factory.mktemp("record") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENSTATS_DATA_DIR", str(data))
        reports = generate_month(data, PERIOD, rows=30_000, providers=12, seed=7)
        assert main(["ingest"]) == 0
        assert main(["publish", "--period", PERIOD]) == 0
        first = reports[0]
        archived = next((data / "archive" / first.provider_id).rglob("*.parquet"))
        correction = data / "inbox" / first.provider_id / "correction.parquet"
        pl.read_parquet(archived).filter(pl.col("region_code") != "330000").write_parquet(correction)
        assert main(["ingest"]) == 0
        assert main(["publish", "--period", PERIOD]) == 0
    return data


def test_both_versions_pass_the_release_scan(corrected: Path):
    for version in ("v1", "v2"):
        assert_release_is_safe(corrected, corrected / "published" / PERIOD / version)


def test_no_cell_is_free_in_both_versions_with_a_different_value(corrected: Path):
    """One group changed: any difference published between versions would be that group's own change."""
    v1, v2 = (_cells(corrected / "published" / PERIOD / v) for v in ("v1", "v2"))
    both = v1.join(v2, on=list(DIMENSIONS), suffix="_v2").filter(
        (pl.col("conf_status") == "F") & (pl.col("conf_status_v2") == "F")
    )
    assert both.height > 0, "unchanged cells stay published"
    for measure in MEASURES:
        moved = both.filter(pl.col(measure) != pl.col(f"{measure}_v2"))
        assert moved.is_empty(), (measure, moved.head(5))
    revisions = pl.read_parquet(corrected / "published" / PERIOD / "v2" / "tables" / "revisions.parquet")
    assert revisions.filter(pl.col("difference").is_not_null()).is_empty()
    assert revisions.height > 0, "the revisions table still lists the cells withheld since v1"


def test_an_attacker_with_both_versions_cannot_narrow_a_confidential_value_or_the_correction(corrected: Path):
    rules = {"protection": 0.10, "secondary": 0.01}
    releases = [corrected / "published" / PERIOD / v for v in ("v1", "v2")]
    truths = [_atoms(corrected, r) for r in releases]
    published = [_cells(r) for r in releases]
    keys = [list(p.select(DIMENSIONS).iter_rows()) for p in published]
    flags = [dict(zip(k, p["conf_status"], strict=True)) for k, p in zip(keys, published, strict=True)]
    checked = 0
    for measure in ("total_tokens", "settlement_amount", "requests"):
        per_atom = [t.group_by(DIMENSIONS).agg(pl.col(measure).sum()) for t in truths]
        atoms = [{r[:-1]: float(r[-1]) for r in a.iter_rows()} for a in per_atom]
        values = [_cell_values(a) for a in atoms]
        versions = [
            Version(atoms[v], {k: (values[v](k) if flags[v][k] == "F" else None) for k in keys[v]}) for v in (0, 1)
        ]
        attacker = Attacker(versions)
        # The largest confidential values never published free, in either version.
        never_free = [k for k in keys[1] if flags[1][k] in ("A", "O") and flags[0].get(k) != "F"]
        for key in sorted(never_free, key=lambda k: -values[1](k))[:8]:
            low, high = attacker.bounds(attacker.row(1, key))
            value, need = values[1](key), rules["protection"] * values[1](key)
            assert low <= value - need * (1 - 1e-6) and high >= value + need * (1 - 1e-6), (measure, key, low, high)
            checked += 1
        # The correction: every cell it changed that v1 published free.
        changed = [k for k in keys[0] if flags[0][k] == "F" and k in flags[1] and values[0](k) != values[1](k)]
        for key in sorted(changed, key=lambda k: -abs(values[1](k) - values[0](k)))[:12]:
            assert flags[1][key] != "F", key
            delta = values[1](key) - values[0](key)
            low, high = attacker.bounds(attacker.row(1, key) - attacker.row(0, key))
            need = rules["protection"] * abs(delta)
            room_low = min(need, values[1](key))
            assert low <= delta - room_low * (1 - 1e-6) and high >= delta + need * (1 - 1e-6), (measure, key)
            checked += 1
    assert checked > 20


def test_the_manifest_carries_a_certificate_of_the_whole_record(corrected: Path):
    manifest = json.loads((corrected / "published" / PERIOD / "v2" / "manifest.json").read_text())
    certificate = manifest["disclosure"]
    assert certificate["versions_covered"] == [1, 2]
    assert set(certificate["measures"]) == set(MEASURES)
    assert certificate["targets"]["change"] > 0 and certificate["targets"]["cell"] > 0
    assert certificate["smallest_margin"] >= 1 and certificate["unprotectable"] == 0
    assert certificate["solver"].startswith("HiGHS") and len(certificate["rules_hash"]) == 64
    text = json.dumps(manifest)
    assert "min_contributors" not in text and "dominance" not in text and "protection_percent" not in text


def test_each_versions_audit_replayed_from_the_published_record_gives_its_published_flags(corrected: Path):
    """Re-running disclosure for a past version (``read_record``, as ``bench/replay.py`` does) reads what its
    audit read and ends where it ended: the same flag for every cell, the same certificate."""
    settings = Settings(data_dir=corrected)
    for version in (1, 2):
        release = corrected / "published" / PERIOD / f"v{version}"
        with duckdb.connect(str(settings.warehouse_file), read_only=True) as con:
            cell_groups, earlier, atoms = read_record(con, PERIOD, settings, version)
        assert [p.version for p in earlier] == list(range(1, version))
        protected, certificate = protect_record(cell_groups, earlier, Rules.from_settings(settings), atoms=atoms)
        published = _cells(release).select(*DIMENSIONS, "conf_status")
        again = published.join(protected, on=list(DIMENSIONS), how="left", suffix="_again")
        assert again.height > 100 and (again["conf_status"] == again["conf_status_again"]).all()
        manifest = json.loads((release / "manifest.json").read_text())["disclosure"]
        assert {**certificate.to_json(), "rules_hash": manifest["rules_hash"]} == manifest


@pytest.fixture(scope="module")
def dominated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One provider thirty times its size outside ten western provinces: the national total is dominated."""
    data = tmp_path_factory.mktemp("dominated") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENSTATS_DATA_DIR", str(data))
        reports = generate_month(data, PERIOD, rows=40_000, providers=8, seed=3)
        big = reports[0].path
        west = ["450000", "500000", "510000", "520000", "530000", "540000", "610000", "620000", "630000", "640000"]
        scaled = pl.read_parquet(big).with_columns(
            pl.when(pl.col("region_code").is_in(west)).then(pl.col(c)).otherwise(pl.col(c) * 30).alias(c)
            for c in ("input_tokens", "cached_input_tokens", "output_tokens", "requests", "settlement_amount")
        )
        scaled.write_parquet(big)
        assert main(["ingest"]) == 0
        assert main(["publish", "--period", PERIOD]) == 0
    return data


def test_no_share_is_published_beside_a_withheld_national_total(dominated: Path):
    release = dominated / "published" / PERIOD / "v1"
    national = pl.read_parquet(release / "tables" / "national.parquet")
    assert national["conf_status"][0] != "F", "the scenario dominates the month"
    for name in CELL_TABLES:
        table = pl.read_parquet(release / "tables" / f"{name}.parquet")
        assert table["share_of_total_pct"].null_count() == table.height, name
    sdmx = pl.read_csv(release / "sdmx" / "data.csv", infer_schema=False)
    shares = sdmx.filter(pl.col("MEASURE") == "share_of_total_pct") if "MEASURE" in sdmx.columns else sdmx.head(0)
    assert shares.filter(pl.col("OBS_VALUE").is_not_null() & (pl.col("OBS_VALUE") != "")).is_empty()
    assert_release_is_safe(dominated, release)


def test_a_merger_of_enterprise_groups_is_a_reason_to_re_protect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    data = tmp_path / "data"
    monkeypatch.setenv("TOKENSTATS_DATA_DIR", str(data))
    generate_month(data, PERIOD, rows=20_000, providers=6, seed=5)
    assert main(["ingest"]) == 0 and main(["publish", "--period", PERIOD]) == 0
    assert main(["publish", "--period", PERIOD]) == 0
    assert not (data / "published" / PERIOD / "v2").exists(), "nothing changed: nothing new"
    registry = data / "registry" / "providers.csv"
    providers = read_registry(registry)
    groups = sorted({p.enterprise_group for p in providers})
    merged = [
        p if p.enterprise_group != groups[1] else p.__class__(**{**p.__dict__, "enterprise_group": groups[0]})
        for p in providers
    ]
    write_registry(registry, merged)
    assert main(["publish", "--period", PERIOD]) == 0
    v1, v2 = (_cells(data / "published" / PERIOD / v) for v in ("v1", "v2"))
    assert (data / "published" / PERIOD / "v2" / "manifest.json").exists(), "groups changed: re-protected"
    assert v2.filter(pl.col("conf_status") == "F").height <= v1.filter(pl.col("conf_status") == "F").height
    assert_release_is_safe(data, data / "published" / PERIOD / "v2")  # primary rules with the merged groups


# --- the truth, from the archived reports --------------------------------------------------------------------


def _cells(release: Path) -> pl.DataFrame:
    frames = [pl.read_parquet(release / "tables" / f"{name}.parquet") for name in CELL_TABLES]
    cells = pl.concat([f.select(*DIMENSIONS, *MEASURES, "conf_status") for f in frames], how="vertical_relaxed")
    return cells.unique(subset=list(DIMENSIONS), keep="first").with_columns(
        pl.col("settlement_amount").cast(pl.Float64)
    )


def _atoms(data: Path, release: Path) -> pl.DataFrame:
    """The finest cells of the release's submissions, read from the archived report files."""
    submissions = json.loads((release / "manifest.json").read_text())["inputs"]["submissions"]
    paths = [p for s in submissions for p in (data / "archive").rglob(f"{s}/*.parquet")]
    assert len(paths) == len(submissions)
    rows = read_reports(paths).with_columns(
        (pl.col("input_tokens") + pl.col("output_tokens")).alias("total_tokens"),
        pl.col("settlement_amount").cast(pl.Float64),
    )
    return finest_cells(rows.select(*DIMENSIONS[1:], "customer_type", "total_tokens", "requests", "settlement_amount"))


def _cell_values(atoms: dict[tuple, float]):
    keys = list(atoms)
    codes = {d: np.array([k[i] for k in keys], dtype=object) for i, d in enumerate(DIMENSIONS)}
    zone = np.array([ZONES.get(k[1], "") for k in keys], dtype=object)
    weights = np.array([atoms[k] for k in keys])

    def value(cell: tuple) -> float:
        inside = np.ones(len(keys), dtype=bool)
        for d, c in zip(DIMENSIONS, cell, strict=True):
            if c != "_T":
                inside &= (codes[d] == c) | ((zone == c) if d == "region_code" else False)
        return float(weights[inside].sum())

    return value
