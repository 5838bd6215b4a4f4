"""Run the ``tokenstats`` command in its own process, as operators and Airflow do, and read back what it left.

Used by the reliability tests (crash safety, hostile reports, isolation, concurrency): a process can be killed,
can race another one, and shows its exit code and any traceback exactly as an operator would see them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import duckdb

SCRIPT = Path(sys.executable).with_name("tokenstats")
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "pipelines.cli.commands"]
# The GX run time in Data Docs paths (docs/<provider>/<submission>/validations/.../<run time>/...): time-dependent.
GX_RUN_TIME = re.compile(r"\d{8}T\d{6}\.\d+Z")
# Marks every process of one run (inherited through fork, forkserver and exec) so survivors can be found.
RUN_TAG = "TOKENSTATS_TEST_RUN_TAG"


def cli_env(data_dir: Path, **settings: object) -> dict[str, str]:
    """The environment of a run: no TOKENSTATS_* setting of the calling process leaks in; ``settings`` are
    given by name (``max_rows=10`` sets ``TOKENSTATS_MAX_ROWS``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENSTATS_")}
    env.update(TOKENSTATS_DATA_DIR=str(data_dir), GX_ANALYTICS_ENABLED="false")
    env.update({f"TOKENSTATS_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def run_cli(
    data_dir: Path, *args: str, timeout: float = 300, env: dict[str, str] | None = None, **settings: object
) -> subprocess.CompletedProcess:
    """``tokenstats <args>`` in a new process; returns the completed process (never raises on exit codes).
    ``env`` adds or replaces other environment variables (e.g. PYTHONHASHSEED)."""
    return subprocess.run(
        [*COMMAND, *args],
        env={**cli_env(data_dir, **settings), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_tag() -> dict[str, str]:
    """An environment entry that marks a run's processes (pass as ``env``; see ``processes_left``)."""
    return {RUN_TAG: uuid.uuid4().hex}


def processes_left(tag: dict[str, str], wait_seconds: float = 15.0) -> list[str]:
    """Command lines of processes still alive with a run's tag, after giving them ``wait_seconds`` to end."""
    marker = "=".join(next(iter(tag.items()))).encode() + b"\0"
    deadline = time.monotonic() + wait_seconds
    while True:
        alive = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if marker in (proc / "environ").read_bytes():
                    status = (proc / "status").read_text()
                    if "\nState:\tZ" not in status:  # a zombie has ended; only its parent has not reaped it
                        alive.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
            except OSError:  # ended meanwhile, or not ours to read
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def start_cli(data_dir: Path, *args: str, env: dict[str, str] | None = None, **settings: object) -> subprocess.Popen:
    return subprocess.Popen(
        [*COMMAND, *args],
        env={**cli_env(data_dir, **settings), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def normalise(text: str, data_dir: Path) -> str:
    """Text with the data directory and GX run times replaced, to compare two runs in different folders.
    A sibling's data directory (``<root>/<other>/data``, the folder a state was copied from) counts as the same."""
    text = text.replace(str(data_dir), "<data>")
    text = re.sub(re.escape(str(data_dir.parent.parent)) + r"/[^/\s\"']+/data(?=/)", "<data>", text)
    return GX_RUN_TIME.sub("<gx-run>", text)


def warehouse_tables(data_dir: Path, tables: tuple[str, ...] = ("core.submissions", "core.usage")) -> dict:
    """Every row of the given warehouse tables, sorted, values as normalised text (receipt numbers as ranks)."""
    out = {}
    with duckdb.connect(str(data_dir / "warehouse" / "tokenstats.duckdb"), read_only=True) as con:
        for table in tables:
            relation = con.sql(f"select * from {table}")
            if "receipt_seq" in relation.columns:  # the bureau's clock: compare the order, not the instants
                relation = relation.select("* replace (dense_rank() over (order by receipt_seq) as receipt_seq)")
            rows = relation.order("all").fetchall()
            out[table] = [tuple(normalise(str(v), data_dir) for v in row) for row in rows]
    return out


def file_tree(data_dir: Path, folders: tuple[str, ...]) -> dict[str, object]:
    """Every file under the given folders: JSON documents parsed (timings dropped), others by sha256."""
    out: dict[str, object] = {}
    for folder in folders:
        for path in sorted((data_dir / folder).rglob("*")):
            if not path.is_file() or path.name.endswith(".lock") or path.name == ".receipt_seq":  # locks, the clock
                continue
            key = str(path.relative_to(data_dir))
            if path.suffix == ".json":
                document = json.loads(normalise(path.read_text(encoding="utf-8"), data_dir))
                if isinstance(document, dict):
                    document.pop("stats", None)  # seconds per validation layer
                    document.pop("receipt_seq", None)  # the bureau's clock at claim (its order: warehouse_tables)
                out[key] = document
            else:
                out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def publish_generated_months(data_dir: Path, months: tuple[str, ...], **generate: object) -> dict[str, list]:
    """Generated reports of each month (``generate_month``'s arguments), ingested and published through the CLI in
    this process (the caller sets ``TOKENSTATS_DATA_DIR``); the reports by month."""
    from pipelines.cli.commands import main
    from pipelines.synthetic.generate import generate_month

    reports = {month: generate_month(data_dir, month, **generate) for month in months}
    assert main(["ingest"]) == 0
    assert main(["publish", *(arg for month in months for arg in ("--period", month))]) == 0
    return reports


def resend_report(data_dir: Path, provider: str, month: str, change: object, name: str = "resent.parquet") -> Path:
    """The provider's archived report of the month, changed by ``change`` (a Polars frame to frame), into its inbox."""
    import polars as pl

    archived = next((data_dir / "archive" / provider / month).rglob("*.parquet"))
    target = data_dir / "inbox" / provider / name
    change(pl.read_parquet(archived)).write_parquet(target)
    return target
