"""Earlier releases are verified when read: a tampered one stops the publish, names the file, changes nothing."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines.synthetic.generate import generate_month
from tests.cli_process import run_cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_months(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("integrity") / "data"
    generate_month(data, "2026-09", rows=3_000, providers=8)
    assert run_cli(data, "ingest").returncode == 0
    assert run_cli(data, "publish", "--period", "2026-09").returncode == 0
    generate_month(data, "2026-10", rows=3_000, providers=8)
    assert run_cli(data, "ingest").returncode == 0
    return data


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def copy(two_months: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(two_months, data, symlinks=True)
    return data


def _inflate(path: Path) -> None:
    """The attack of issue #15: an altered total in an earlier release's table."""
    table = pl.read_parquet(path)
    table.with_columns(pl.col("total_tokens") * 1_000_000).write_parquet(path)


@pytest.mark.parametrize(
    ("period", "reason"), [("2026-09", "the previous version (revisions)"), ("2026-10", "the previous month (change)")]
)
def test_a_tampered_release_stops_the_publish_and_names_the_file(copy, period, reason):
    national = copy / "published" / "2026-09" / "v1" / "tables" / "national.parquet"
    _inflate(national)
    before = _digests(copy / "published")
    done = run_cli(copy, "publish", "--period", period, "--force")
    assert done.returncode == 1, reason
    assert str(national) in done.stderr and "does not match" in done.stderr and "Traceback" not in done.stderr
    assert _digests(copy / "published") == before, "nothing published, nothing changed"
    assert not (copy / "published" / period / "v2").exists()


def test_a_deleted_or_added_table_is_refused_too(copy):
    release = copy / "published" / "2026-09" / "v1"
    (release / "tables" / "by_sector.parquet").unlink()
    done = run_cli(copy, "publish", "--period", "2026-09", "--force")
    assert done.returncode == 1 and "by_sector.parquet is listed" in done.stderr
    shutil.copy(release / "tables" / "national.parquet", release / "tables" / "by_sector.parquet")
    (release / "tables" / "revisions.parquet").write_bytes((release / "tables" / "national.parquet").read_bytes())
    done = run_cli(copy, "publish", "--period", "2026-09", "--force")
    assert done.returncode == 1 and "does not match" in done.stderr


def test_intact_releases_publish_as_before(copy):
    done = run_cli(copy, "publish", "--period", "2026-09", "--period", "2026-10", "--force")
    assert done.returncode == 0, done.stderr
    assert (copy / "published" / "2026-09" / "v2" / "tables" / "revisions.parquet").exists()
    assert (copy / "published" / "2026-10" / "v1").exists()
