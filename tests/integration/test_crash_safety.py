"""Crash safety: SIGKILL ``tokenstats ingest`` and ``tokenstats publish`` at every named crash point, then run
them again and require the outcome of an uninterrupted run on the same input, byte for byte.

The crash points are ``pipelines.core.failpoints.POINTS`` (claim, validation, the load transaction, filing away, marts,
disclosure, each staged table, the release rename, the snapshot copy and swap). A run is killed with
``TOKENSTATS_CRASH_AT=<point>@<n>`` (the n-th time the point is reached); it must die by SIGKILL (a killed
validation worker makes the run exit 1 instead, a system fault). Before the rerun, nothing may be half done:
no accepted submission is partly loaded, every input file is in the inbox, in landing or in the ledger, every
visible release folder is complete, the analyst snapshot opens and is consistent. After the rerun: the same
ledger, usage rows, totals, archive and quarantine (reason.json included), the same release bytes (the manifest
differs only in created_at) and the same analyst snapshot as the uninterrupted run.

Scenario: September accepted for three providers (their history), then an October inbox in which provider A
is accepted, B is refused by the suite, C by its history (prices in cents), A's correction supersedes A, and a
copy of A's first file is a duplicate. Load-phase crashes start from the state a first crash left (all claims
validated, nothing loaded): a crash, a restart that crashes elsewhere, and a restart that completes.
No process of a killed run (validation workers, their fork server) may be left running.
Cases run two at a time (each in its own data directory); the assertions are per crash point.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pytest

import pipelines
from pipelines.core.failpoints import POINTS
from pipelines.synthetic.generate import generate_month
from tests.cli_process import file_tree, processes_left, run_cli, run_tag, warehouse_tables
from tests.confidentiality import assert_release_is_safe

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERIOD, HISTORY = "2026-10", "2026-09"
T0 = 1_790_000_000  # mtime of the first report (seconds); every later arrival is a fixed step after it
INGEST_FOLDERS = ("inbox", "landing", "archive", "quarantine")
LEDGER_TABLES = ("core.submissions", "core.usage", "core.submission_totals")

# (point, n-th hit, start state, validation workers, expected exit code). Load order of October:
# 1 A accepted, 2 B rejected (suite), 3 C rejected (history), 4 A's correction (supersedes 1), 5 duplicate of 1.
INGEST_CASES = [
    ("claim.before_rename", 2, "s0", 1, -signal.SIGKILL),
    ("claim.after_rename", 3, "s0", 1, -signal.SIGKILL),
    ("validate.before_verdict", 2, "s0", 1, -signal.SIGKILL),
    ("validate.after_verdict", 4, "s0", 1, -signal.SIGKILL),
    ("validate.after_verdict", 1, "s0", 2, 1),  # a validation worker killed (say, by the OOM killer)
    ("load.after_ledger_insert", 1, "s0", 2, -signal.SIGKILL),  # leaves state s1: all validated, none loaded
    ("load.after_ledger_insert", 3, "s1", 1, -signal.SIGKILL),
    ("load.after_rows_stored", 2, "s1", 1, -signal.SIGKILL),
    ("load.before_commit", 4, "s1", 1, -signal.SIGKILL),
    ("load.after_commit", 3, "s1", 1, -signal.SIGKILL),  # a history rejection committed, not yet quarantined
    ("load.after_commit", 4, "s1", 1, -signal.SIGKILL),
    ("load.after_commit", 5, "s1", 1, -signal.SIGKILL),
    ("file_away.before_move", 2, "s1", 1, -signal.SIGKILL),
    ("file_away.before_move", 3, "s1", 1, -signal.SIGKILL),
    ("file_away.after_move", 4, "s1", 1, -signal.SIGKILL),
]
PUBLISH_POINTS = [p for p in POINTS if p.split(".")[0] in ("publish", "release", "snapshot")]
PUBLISH_CASES = [(p, 3 if p == "release.table_written" else 1) for p in PUBLISH_POINTS]


@dataclass
class Outcome:
    """What a crashed run, the state it left and the run that resumed it came to."""

    returncode: int
    stderr: str
    problems: list[str]  # invariants broken in the state the crash left
    state: dict  # after the resumed run
    resumed_returncode: int
    resumed_stderr: str


@dataclass
class World:
    root: Path
    states: dict[str, Path] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)  # sha256 of every October input -> its inbox path
    reference: dict[str, dict] = field(default_factory=dict)
    ingest: dict[tuple, Outcome] = field(default_factory=dict)
    publish: dict[tuple, Outcome] = field(default_factory=dict)


# --- the scenario ---------------------------------------------------------------------------------------------


def _settle(paths: list[Path], start: int) -> None:
    for i, path in enumerate(paths):
        os.utime(path, ns=((T0 + start + i) * 10**9,) * 2)


def _build_s0(data: Path) -> dict[str, str]:
    """September loaded; October's five files in the inbox. Returns the October inputs by sha256."""
    september = generate_month(data, HISTORY, rows=1_200, providers=3, seed=11)
    _settle([r.path for r in september], 0)
    result = run_cli(data, "ingest")
    assert result.returncode == 0 and "3 accepted" in result.stdout, result.stdout + result.stderr
    october = generate_month(data, PERIOD, rows=1_200, providers=3, seed=11, faults=["cents_for_yuan", "wrong_type"])
    first = next(r for r in october if r.fault is None)
    correction = first.path.with_name(f"{first.provider_id}_{PERIOD}_corrected.parquet")
    pl.read_parquet(first.path).with_columns(pl.col("output_tokens") + 1).write_parquet(correction)
    copy = first.path.with_name(f"{first.provider_id}_{PERIOD}_again.parquet")
    shutil.copyfile(first.path, copy)
    faulted = {r.fault: r.path for r in october if r.fault}
    _settle([first.path, faulted["wrong_type"], faulted["cents_for_yuan"], correction, copy], 100)
    return {hashlib.sha256(p.read_bytes()).hexdigest(): str(p.relative_to(data)) for p in data.glob("inbox/*/*")}


def _copy(source: Path, target: Path) -> Path:
    """A copy of a data directory (copy2: mtimes, hence received_at, kept to the nanosecond), without the GX
    Data Docs (megabytes per validation; nothing reads them back)."""
    shutil.copytree(source, target, symlinks=True, ignore=lambda folder, _: ["docs"] if Path(folder) == source else [])
    return target


def _ingest_state(data: Path) -> dict:
    return {**warehouse_tables(data, LEDGER_TABLES), "files": file_tree(data, INGEST_FOLDERS)}


def _publish_state(data: Path) -> dict:
    release = {}
    for path in sorted((data / "published").rglob("*")):
        if path.is_file():
            key = str(path.relative_to(data))
            if path.name == "manifest.json":
                manifest = json.loads(path.read_text(encoding="utf-8"))
                manifest.pop("created_at")
                release[key] = manifest
            else:
                release[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {
        "release": release,
        "months": sorted(p.name for p in (data / "published" / PERIOD).iterdir()),
        "analyst_folder": sorted(p.relative_to(data / "analyst").as_posix() for p in (data / "analyst").rglob("*")),
        "snapshot": _snapshot_summary(data),
        **warehouse_tables(data, ("mart.cells", "core.submissions")),
    }


def _snapshot_summary(data: Path) -> tuple:
    with duckdb.connect(str(data / "analyst" / "tokenstats.duckdb"), read_only=True) as con:
        return con.sql(
            "select (select count(*) from analyst.submissions), (select count(*) from analyst.usage), "
            "(select sum(total_tokens) from analyst.usage), (select count(*) from analyst.cells), "
            "(select count(*) filter (where conf_status is null) from analyst.cells)"
        ).fetchall()[0]


# --- invariants in the state a crash left -------------------------------------------------------------------


def _ingest_problems(data: Path, inputs: dict[str, str]) -> list[str]:
    problems = []
    with duckdb.connect(str(data / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        partial = con.sql(
            "select s.file_name, s.row_count, count(u.submission_id) from core.submissions as s "
            "left join core.usage as u using (submission_id) where s.status in ('accepted', 'superseded') "
            "group by all having count(u.submission_id) <> s.row_count"
        ).fetchall()
        stray = con.sql(
            "select distinct submission_id from core.usage where submission_id not in "
            "(select submission_id from core.submissions where status in ('accepted', 'superseded'))"
        ).fetchall()
        current = con.sql(
            "select provider_id, report_period from core.submissions where status = 'accepted' "
            "group by all having count(*) > 1"
        ).fetchall()
        recorded = {r[0] for r in con.sql("select submission_id from core.submissions").fetchall()}
    problems += [f"partly loaded: {row}" for row in partial]
    problems += [f"rows of an unrecorded or rejected submission: {row}" for row in stray]
    problems += [f"two current reports: {row}" for row in current]
    held = {hashlib.sha256(p.read_bytes()).hexdigest() for p in data.glob("inbox/*/*")}
    held |= {hashlib.sha256(p.read_bytes()).hexdigest() for p in data.glob("landing/*/*/*.parquet")}
    problems += [f"lost: {path}" for sha, path in inputs.items() if sha not in held | recorded]
    return problems


def _publish_problems(data: Path, snapshots: set[tuple]) -> list[str]:
    problems = []
    for entry in sorted((data / "published" / PERIOD).iterdir()):
        if entry.name.startswith("."):
            continue  # staging: hidden, never a release
        manifest = entry / "manifest.json"
        if not (entry.name[0] == "v" and entry.name[1:].isdigit() and manifest.exists()):
            problems.append(f"visible but not a complete release: {entry.name}")
            continue
        for item in json.loads(manifest.read_text(encoding="utf-8"))["files"]:
            path = entry / item["path"]
            if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != item["sha256"]:
                problems.append(f"{entry.name}/{item['path']} missing or not as its manifest says")
    try:
        summary = _snapshot_summary(data)
    except duckdb.Error as error:
        problems.append(f"the analyst snapshot does not open: {error}")
    else:
        if summary not in snapshots:
            problems.append(f"the analyst snapshot is neither the old nor the new one: {summary}")
    return problems


# --- running the cases --------------------------------------------------------------------------------------


def _crash_and_resume(
    source: Path,
    target: Path,
    command: list[str],
    point: str,
    nth: int,
    check: Callable[[Path], list[str]],
    state: Callable[[Path], dict],
    keep: Path | None = None,
    **settings: object,
) -> Outcome:
    data = _copy(source, target)
    tag = run_tag()
    crashed = run_cli(data, *command, crash_at=f"{point}@{nth}", env=tag, **settings)
    problems = check(data) + [f"process left running: {p}" for p in processes_left(tag)]
    if keep is not None:
        _copy(data, keep)
    resumed = run_cli(data, *command, **settings)
    return Outcome(crashed.returncode, crashed.stderr, problems, state(data), resumed.returncode, resumed.stderr)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    world = World(tmp_path_factory.mktemp("crash"))
    s0 = world.root / "s0" / "data"
    world.inputs = _build_s0(s0)
    world.states["s0"] = s0

    def reference_ingest() -> None:
        data = _copy(s0, world.root / "reference" / "data")
        result = run_cli(data, "ingest")
        assert result.returncode == 0, result.stderr
        world.reference["ingest"] = _ingest_state(data)
        world.states["ingested"] = data

    def ingest_case(case: tuple, keep: Path | None = None) -> None:
        point, nth, start, workers, _ = case
        world.ingest[case] = _crash_and_resume(
            world.states[start],
            world.root / f"ingest-{point}-{nth}-{workers}" / "data",
            ["ingest"],
            point,
            nth,
            lambda data: _ingest_problems(data, world.inputs),
            _ingest_state,
            keep=keep,
            validate_workers=workers,
        )

    s1_maker = next(c for c in INGEST_CASES if c[2] == "s0" and c[0].startswith("load."))
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(reference_ingest), pool.submit(ingest_case, s1_maker, world.root / "s1" / "data")]
        for job in jobs:
            job.result()
    world.states["s1"] = world.root / "s1" / "data"

    # Publish: October v1 and its snapshot exist; a late correction makes v2 due. That publish is crashed.
    p0 = _copy(world.states["ingested"], world.root / "p0" / "data")
    assert run_cli(p0, "publish", "--period", PERIOD).returncode == 0
    world.reference["snapshot_before"] = _snapshot_summary(p0)
    archived = next((p0 / "archive").glob(f"*/{PERIOD}/*/*_corrected.parquet"))
    late = p0 / "inbox" / archived.parent.parent.parent.name / "late.parquet"
    pl.read_parquet(archived).with_columns(pl.col("input_tokens") + 7).write_parquet(late)
    _settle([late], 1_000)
    assert "1 accepted" in run_cli(p0, "ingest").stdout
    world.states["p0"] = p0

    def reference_publish() -> None:
        data = _copy(p0, world.root / "publish-reference" / "data")
        result = run_cli(data, "publish", "--period", PERIOD)
        assert result.returncode == 0, result.stderr
        world.reference["publish"] = _publish_state(data)
        world.states["published"] = data

    reference_publish()
    snapshots = {world.reference["snapshot_before"], world.reference["publish"]["snapshot"]}

    def publish_case(case: tuple) -> None:
        point, nth = case
        world.publish[case] = _crash_and_resume(
            p0,
            world.root / f"publish-{point}-{nth}" / "data",
            ["publish", "--period", PERIOD],
            point,
            nth,
            lambda data: _publish_problems(data, snapshots),
            _publish_state,
        )

    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(ingest_case, case) for case in INGEST_CASES if case != s1_maker]
        jobs += [pool.submit(publish_case, case) for case in PUBLISH_CASES]
        for job in jobs:
            job.result()
    return world


# --- the tests ------------------------------------------------------------------------------------------------


def test_every_crash_point_is_exercised():
    sources = "".join(p.read_text() for p in sorted(Path(pipelines.__file__).parent.rglob("*.py")))
    declared = {p for p in POINTS if f'crash_point("{p}")' in sources}
    assert declared == set(POINTS), set(POINTS) - declared
    covered = {case[0] for case in INGEST_CASES} | set(PUBLISH_POINTS)
    assert covered == set(POINTS), set(POINTS) - covered


def test_the_reference_scenario_has_every_outcome(world):
    statuses = sorted((r[1], r[3], r[7]) for r in world.reference["ingest"]["core.submissions"] if PERIOD in r[3])
    assert [s[2] for s in statuses].count("accepted") == 1
    assert sorted(s[2] for s in statuses) == ["accepted", "duplicate", "rejected", "rejected", "superseded"]
    reasons = [r for path, r in world.reference["ingest"]["files"].items() if path.endswith("reason.json")]
    rules = {f["rule"] for r in reasons for f in r["failures"]}
    assert {"schema.type", "history.price_per_million_tokens"} <= rules


@pytest.mark.parametrize("case", INGEST_CASES, ids=lambda c: f"{c[0]}@{c[1]}-from-{c[2]}-workers{c[3]}")
def test_ingest_killed_at_a_crash_point_converges(world, case):
    outcome = world.ingest[case]
    assert outcome.returncode == case[4], outcome.stderr[-2000:]
    if case[4] == 1:
        assert "terminated abruptly" in outcome.stderr
    assert outcome.problems == []
    assert outcome.resumed_returncode == 0, outcome.resumed_stderr[-2000:]
    reference = world.reference["ingest"]
    for key in LEDGER_TABLES:
        assert outcome.state[key] == reference[key], key
    assert outcome.state["files"] == reference["files"]


@pytest.mark.parametrize("case", PUBLISH_CASES, ids=lambda c: f"{c[0]}@{c[1]}")
def test_publish_killed_at_a_crash_point_converges(world, case):
    outcome = world.publish[case]
    assert outcome.returncode == -signal.SIGKILL, outcome.stderr[-2000:]
    assert outcome.problems == []
    assert outcome.resumed_returncode == 0, outcome.resumed_stderr[-2000:]
    reference = world.reference["publish"]
    assert outcome.state["months"] == ["v1", "v2"], "no staging folder is left once the release is out"
    folder = outcome.state["analyst_folder"]  # the link analysts open, and the two generations it points into
    assert [name for name in folder if "/" not in name] == ["generations", "tokenstats.duckdb"], folder
    assert set(folder) - {"generations", "tokenstats.duckdb"} <= {"generations/a.duckdb", "generations/b.duckdb"}, (
        "no temporary snapshot is left"
    )
    assert outcome.state == reference


def test_the_releases_the_crash_tests_built_are_safe(world):
    data = world.states["published"]
    for release in ("v1", "v2"):
        assert_release_is_safe(data, data / "published" / PERIOD / release)
