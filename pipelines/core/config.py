"""Runtime configuration: where the data lives and the limits and rule parameters of each stage.

Everything has a default; each field can be overridden by an environment variable named
``TOKENSTATS_<FIELD>`` (upper case). Disclosure-control parameters live here, not in any release.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# Orchestration names shared by the DAGs (dags/ builds the Airflow objects from them).
WAREHOUSE_ASSET = "tokenstats_warehouse"
WAREHOUSE_ASSET_URI = "file:///tokenstats/warehouse/core.usage"
WAREHOUSE_POOL = "tokenstats_warehouse"
# Celery queues: validation runs on any worker; warehouse writers only on the one worker on the warehouse's host
# (the pool serializes them; the queue pins them to the host that holds the DuckDB file). Other tasks: "default".
VALIDATE_QUEUE = "validate"
WAREHOUSE_QUEUE = "warehouse"
SCHEMAS_DIR = REPO_ROOT / "schemas"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"


class UsageError(ValueError):
    """A request that cannot be carried out as asked (bad arguments, nothing to do): exit code 2."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    # Ingest limits: a report beyond them is rejected before it is read.
    max_file_bytes: int = 8 * 1024**3
    max_rows: int = 500_000_000
    max_string_bytes: int = 256
    # Seconds a landed file must be left unmodified before ingest treats it as complete.
    settle_seconds: float = 0.0
    # Processes validating files at once on the command line (0: one per core); Airflow maps a task per file.
    validate_workers: int = 0
    # Off a terminal, a progress line at least this often while a long file is worked on (tokenstats ingest).
    progress_seconds: float = 10.0
    # Day of the month by which every registered provider must have reported the previous month (deadline DAG).
    reporting_deadline_day: int = 3
    # How long a warehouse writer waits for another to finish before giving up (a retry will follow).
    lock_wait_seconds: float = 600.0
    # DuckDB resources; memory stays bounded whatever the size of a report.
    duckdb_memory_limit: str = "1536MB"  # peak RSS stays under 2 GiB with Python and Arrow on top
    duckdb_threads: int = 0  # 0: one per core
    # Plausibility against the provider's accepted history: reject beyond this factor either way.
    history_volume_factor: float = 10.0
    history_price_factor: float = 10.0
    # Disclosure control (primary rules): minimum enterprise groups per cell and the p% dominance rule.
    min_contributors: int = 3
    dominance_p_percent: float = 10.0
    # The audit: a confidential cell must stay uncertain by at least this share of its value, either way;
    # a cell suppressed only to protect others, by at least the secondary share (not recoverable).
    protection_percent: float = 10.0
    secondary_protection_percent: float = 1.0
    # GX Data Docs: validation pages older than this many days are deleted when the index is rebuilt (0: keep).
    docs_retention_days: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = env.get(f"TOKENSTATS_{field.name.upper()}")
            if raw is not None:
                values[field.name] = _parse(field.type, raw)
        values.update(overrides)
        settings = cls(**values)
        return dataclasses.replace(settings, data_dir=Path(settings.data_dir).resolve())

    # The layout of the data directory (DESIGN.md).
    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def registry_file(self) -> Path:
        return self.data_dir / "registry" / "providers.csv"

    @property
    def landing_dir(self) -> Path:
        """Claimed files being processed; named by submission id so a crash can be resumed."""
        return self.data_dir / "landing"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / "quarantine"

    @property
    def docs_dir(self) -> Path:
        """GX Data Docs, one site for every validation."""
        return self.data_dir / "docs"

    @property
    def warehouse_file(self) -> Path:
        return self.data_dir / "warehouse" / "tokenstats.duckdb"

    @property
    def usage_dir(self) -> Path:
        """Accepted reports' rows, one Parquet file each (``core.usage``; ``core/usage_store.py``)."""
        return self.data_dir / "warehouse" / "usage"

    @property
    def published_dir(self) -> Path:
        return self.data_dir / "published"

    @property
    def scratch_dir(self) -> Path:
        """Where in-memory DuckDB work spills what does not fit in memory (provider-level rows: private)."""
        return self.data_dir / "scratch"

    @property
    def analyst_file(self) -> Path:
        return self.data_dir / "analyst" / "tokenstats.duckdb"


def _parse(kind: object, raw: str) -> object:
    kind = str(kind)
    if "Path" in kind:
        return Path(raw)
    if "int" in kind:
        return int(raw)
    if "float" in kind:
        return float(raw)
    return raw


def disclosure_key(settings: Settings) -> bytes:
    """The installation's secret for keyed hashes in manifests (rule parameters, group memberships): without it
    nobody can test guesses against them. Created once (random, owner-only) beside the warehouse."""
    path = settings.warehouse_file.with_name("disclosure.key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with (
            contextlib.suppress(FileExistsError),
            os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f,
        ):
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


def load_settings(**overrides: object) -> Settings:
    """The settings from the environment, with ``overrides`` on top."""
    return Settings.from_env(**overrides)
