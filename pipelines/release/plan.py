"""Release planning: which months need a new release, and what each one will be.

The folders are the record: the latest version's manifest says which inputs it used, so publishing again
with the same inputs plans nothing, and new or corrected submissions plan the next version. A plan is small
enough for an Airflow XCom (``ReleasePlan.to_json``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

import pipelines
from pipelines.contract.contract import load_contract
from pipelines.contract.reference import load_reference_tables
from pipelines.core.config import Settings, UsageError, disclosure_key
from pipelines.core.database import run_sql
from pipelines.core.periods import previous_period
from pipelines.intake.ledger import COVERAGE_KEYS, count_coverage, read_period_status
from pipelines.release.price_index import list_index_submissions
from pipelines.release.release_check import MANIFEST
from pipelines.release.release_model import ReleaseInfo
from pipelines.statistics.imputation import store_estimates
from pipelines.statistics.marts import list_current_submissions


@dataclass(frozen=True)
class Inputs:
    """Everything a release's figures depend on; equal inputs give an equal release."""

    period: str
    submissions: tuple[str, ...]  # accepted, current submission ids of the month
    previous_month_release: str | None  # e.g. "2026-09/v2": the base of change on the previous month
    pipeline_version: str
    contract_version: str
    groups: str  # keyed hash of the month's providers' enterprise groups: a merger is a reason to re-protect
    estimates: tuple[str, ...] = ()  # ids in mart.estimates: late providers estimated (imputation.py)
    # accepted, current submission ids of every earlier month: the price index's history (chained), so a correction
    # of an earlier month changes the inputs of every later month's release
    earlier_submissions: tuple[str, ...] = ()

    def to_json(self) -> dict:
        listed = {
            "submissions": list(self.submissions),
            "earlier_submissions": list(self.earlier_submissions),
            "previous_month_release": self.previous_month_release,
            "pipeline_version": self.pipeline_version,
            "contract_version": self.contract_version,
            "groups": self.groups,
        }
        return listed | ({"estimates": list(self.estimates)} if self.estimates else {})  # manifests before kept


def _release_inputs(
    con: duckdb.DuckDBPyConnection, period: str, previous_month_release: str | None, settings: Settings
) -> Inputs:
    """What a release of the month would depend on now."""
    memberships = run_sql(con, "release/month_groups", period=period).fetchall()
    return Inputs(
        period=period,
        submissions=list_current_submissions(con, period),
        previous_month_release=previous_month_release,
        pipeline_version=pipelines.__version__,
        contract_version=load_contract().version,
        groups=hmac.new(disclosure_key(settings), json.dumps(memberships).encode(), hashlib.sha256).hexdigest(),
        estimates=store_estimates(con, period),
        earlier_submissions=list_index_submissions(con, previous_period(period)),
    )


def find_latest_release(settings: Settings, period: str) -> Path | None:
    """The newest complete release folder of a month (one with a manifest), if any."""
    versions = list_published_versions(settings, period)
    return versions[-1] if versions else None


def list_published_versions(settings: Settings, period: str) -> list[Path]:
    """Every complete release folder of a month (one with a manifest), oldest first."""
    folder = settings.published_dir / period
    versions = [p for p in folder.glob("v*") if p.name[1:].isdigit() and (p / MANIFEST).exists()]
    return sorted(versions, key=lambda p: int(p.name[1:]))


def list_later_published_months(settings: Settings, period: str) -> list[str]:
    """Every month after ``period`` with a published release: the months a revision of ``period`` reaches."""
    months = (p.name for p in settings.published_dir.glob("????-??") if p.is_dir() and p.name > period)
    return sorted(month for month in months if find_latest_release(settings, month) is not None)


def find_series_sources(settings: Settings, period: str, staged: dict[str, Path]) -> tuple[Path, ...]:
    """The release folder of every month before ``period``: its latest, or the one staged in this run."""

    months = {p.name for p in settings.published_dir.glob("????-??") if p.is_dir()} | set(staged)
    folders = (staged.get(month) or find_latest_release(settings, month) for month in sorted(months) if month < period)
    return tuple(folder for folder in folders if folder is not None)


@dataclass(frozen=True)
class ReleasePlan:
    """What the next release of a month will be; small enough for an Airflow XCom (``to_json``)."""

    info: ReleaseInfo
    inputs: Inputs
    coverage: dict[str, int]
    staging: Path
    previous_month: Path | None  # the folder whose tables are the base of change on the previous month
    series_sources: tuple[Path, ...] = ()  # every earlier month's latest (or staged) release: the series

    def to_json(self) -> dict:
        return {
            "info": asdict(self.info),
            "inputs": asdict(self.inputs),
            "coverage": self.coverage,
            "staging": str(self.staging),
            "previous_month": str(self.previous_month) if self.previous_month else None,
            "series_sources": [str(p) for p in self.series_sources],
        }

    @classmethod
    def from_json(cls, data: dict) -> ReleasePlan:
        inputs = data["inputs"]
        return cls(
            ReleaseInfo(**data["info"]),
            Inputs(
                **{
                    **inputs,
                    **{key: tuple(inputs[key]) for key in ("submissions", "estimates", "earlier_submissions")},
                }
            ),
            {key: data["coverage"][key] for key in COVERAGE_KEYS},  # XCom in PostgreSQL (jsonb) reorders keys
            Path(data["staging"]),
            Path(data["previous_month"]) if data["previous_month"] else None,
            tuple(Path(p) for p in data.get("series_sources", ())),
        )


def plan_releases(
    con: duckdb.DuckDBPyConnection, periods: list[str], settings: Settings, force: bool = False
) -> list[ReleasePlan]:
    """Stage "coverage": who reported, and which months need a new release, oldest first.

    A month's change on the previous month is measured against the previous month's release: the one
    planned in the same run if there is one (so later stages must run month after month, oldest first),
    else its latest. A new release of a month therefore revises every later month's too (their change on the
    month, series and chained price index rest on it): each later month already published is planned after it
    when its inputs changed (``force`` applies to the months asked for only)."""
    load_reference_tables(con, settings)  # groups as the registry stands now: re-read and validated
    plans: list[ReleasePlan] = []
    asked = set(periods)
    for period in sorted(asked | set(list_later_published_months(settings, min(asked, default="")))):
        earlier = next((p for p in plans if p.info.period == previous_period(period)), None)
        if earlier is not None:
            base_id, base = f"{earlier.info.period}/v{earlier.info.version}", earlier.staging
        else:
            base = find_latest_release(settings, previous_period(period))
            base_id = f"{base.parent.name}/{base.name}" if base else None
        inputs = _release_inputs(con, period, base_id, settings)
        if not inputs.submissions:
            raise UsageError(f"no accepted reports for {period}: nothing to publish")
        latest = find_latest_release(settings, period)
        forced = force and period in asked
        if latest is not None and not forced and read_manifest(latest)["inputs"] == inputs.to_json():
            continue
        version = 1 if latest is None else int(latest.name[1:]) + 1
        info = ReleaseInfo(
            period, version, None if latest is None else version - 1, inputs.pipeline_version, inputs.contract_version
        )
        staging = settings.published_dir / period / f".v{version}.staging"
        coverage = count_coverage(read_period_status(con, period))
        sources = find_series_sources(settings, period, {p.info.period: p.staging for p in plans})
        plans.append(ReleasePlan(info, inputs, coverage, staging, base, sources))
    return plans


def read_manifest(release: Path) -> dict:
    """A release's manifest."""
    return json.loads((release / MANIFEST).read_text(encoding="utf-8"))
