"""The Great Expectations layer: ``expectations/usage_report.json`` run by GX's SQL engine on DuckDB.

GX is the engine of record: the suite is GX 1.x JSON, loaded and run through GX's own API, and GX builds
the Data Docs page of every validation. Two things make it fast and correct on DuckDB:

- GX's SQL engine closes its connection between a query and reading its result (great_expectations
  #10738); on duckdb-engine that rollback discards the result. ``_PersistentEngine`` keeps one
  connection open for its lifetime, as GX itself does for SQLite (tests pin this);
- the suite runs once with ``BOOLEAN_ONLY`` results (GX bundles the column checks into few scans); only
  expectations that failed run again for counts and sample rows, which a rejected file needs;
- GX's context, with the suite, datasource and asset, is built once per process (``_Session``) and reused by
  every file the process validates; each file gets a new GX execution engine on its own connection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import logging
import os
import shutil
import threading
import warnings
from collections.abc import Generator
from pathlib import Path
from typing import Any, Literal

import duckdb

from pipelines.contract.contract import load_contract
from pipelines.contract.reasons import MAX_SAMPLES, Received, RuleFailure, clean_sample
from pipelines.core.config import EXPECTATIONS_DIR, Settings
from pipelines.core.periods import list_month_days
from pipelines.validation.datadocs import publish_page

SUITE_FILE = EXPECTATIONS_DIR / "usage_report.json"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def preload() -> None:
    """Import GX now (a per-process cost of several seconds) rather than inside the first validation."""
    _gx()


def build_expectation_parameters(period: str) -> dict[str, Any]:
    """The suite's ``$PARAMETER`` values: code lists from ``schemas/`` (never copied into the JSON) and the
    first and last day of the report's month."""
    contract = load_contract()
    days = list_month_days(period)
    return {
        **{name: contract.code_list(name) for name in contract.code_list_specs},
        "period_start": days[0].isoformat(),
        "period_end": days[-1].isoformat(),
    }


def run_suite(
    con: duckdb.DuckDBPyConnection,
    table: str,
    period: str,
    rows: int | None,
    settings: Settings,
    received: Received,
) -> tuple[list[RuleFailure], str | None]:
    """Validate ``table`` on ``con``; the failures (with counts and samples) and the Data Docs page."""
    session = _session(settings.docs_dir, table, os.getpid())
    parameters = build_expectation_parameters(period)
    with session.lock, session.connected(con):
        identifier = None
        try:
            result, identifier = session.validate(parameters)
            failed = [r.expectation_config for r in result.results if not r.success]
            failures = _explain(session.batch_definition, failed, parameters, con, table, rows) if failed else []
            gx_page = session.render(identifier)
            if gx_page is None:
                return failures, None
            page = publish_page(gx_page, settings.docs_dir, received.provider_id, period, received.submission_id)
            return failures, str(page)
        finally:
            session.forget(identifier)


class _Session:
    """GX's side of validation, built once per process (and data folder): the context, the DuckDB datasource,
    the table's asset and the suite. Each file brings its own DuckDB connection, which gives it a new GX
    execution engine (GX builds one when the datasource's engine arguments change), so no metric, batch or
    column reflected for an earlier file is ever reused; its result is stored, rendered and forgotten."""

    def __init__(self, docs_dir: Path, table: str) -> None:
        gx = _gx()
        # GX renders into a scratch site; each page then joins the one offline site (datadocs.py). The folder is
        # the process's own, with no parent shared with other validating processes: removing a shared parent
        # once empty raced with another process creating its site in it (GX failed to render that page).
        self.scratch = docs_dir / f".scratch-gx-{os.getpid()}"
        self.lock = threading.Lock()
        self.context = gx.get_context(mode="ephemeral", project_config=_project_config(self.scratch))
        self.context.variables.progress_bars = _progress_bars_off()
        self.suite = self.context.suites.add(load_suite())
        self.table = table
        self.source: Any = None
        self.batch_definition: Any = None

    @contextlib.contextmanager
    def connected(self, con: duckdb.DuckDBPyConnection) -> Generator[None, None, None]:
        """GX reads ``con`` for the block, through a new engine closed at its end."""
        kwargs = {
            "creator": functools.partial(_dbapi_connection, con),
            "poolclass": _sqlalchemy().pool.QueuePool,
            "pool_reset_on_return": None,  # nothing to roll back: GX only reads
        }
        if self.batch_definition is None:  # registered once, with the first file's connection (GX tests the table)
            source = self.context.data_sources.add_or_update_duckdb_sa(  # replaces one a failed attempt left
                name="report",
                connection_string="duckdb:///:memory:",  # selects the dialect; the creator supplies the connection
                kwargs=kwargs,
            )
            asset = source.add_table_asset(name=self.table, table_name=self.table)
            self.batch_definition = asset.add_batch_definition_whole_table("all")
            self.source = source
        else:
            self.source.kwargs = kwargs
        try:
            yield
        finally:  # release GX's connections while the DuckDB database they point to is still open
            engine = self.source.get_execution_engine()
            engine.close()
            engine.engine.dispose()
            self.source.get_engine().dispose()

    def validate(self, parameters: dict[str, Any]) -> tuple[Any, Any]:
        """The suite on the batch, as GX's ``ValidationDefinition.run`` does it, without its store round trips
        (the definition's freshness check and save, a quarter of a file's GX time): the result and its key."""
        from great_expectations.core.run_identifier import RunIdentifier
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
            ValidationResultIdentifier,
        )
        from great_expectations.validator.v1_validator import Validator

        validator = Validator(batch_definition=self.batch_definition, result_format="BOOLEAN_ONLY")
        result = validator.validate_expectation_suite(self.suite, parameters)
        run_id = RunIdentifier(run_time=dt.datetime.now(dt.UTC))
        result.meta.update(run_id=run_id, validation_time=run_id.run_time, batch_parameters=None)
        identifier = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=self.suite.name),
            run_id=run_id,
            batch_identifier=result.batch_id,
        )
        self.context.validation_results_store.set(identifier, result)
        return result, identifier

    def render(self, identifier: Any) -> Path | None:
        """GX's page of the validation only: not the suite's page nor GX's index, which the site never shows
        (datadocs.py publishes this page and writes its own index)."""
        self.context.build_data_docs(site_names=["tokenstats"], resource_identifiers=[identifier], build_index=False)
        docs = self.context.get_docs_sites_urls(resource_identifier=identifier, site_names=["tokenstats"])
        url = docs[0]["site_url"] if docs else None  # None when GX could not render it (GX logged why)
        return Path(url.removeprefix("file://")) if url else None

    def forget(self, identifier: Any) -> None:
        """Drop the file's result and scratch pages: the session does not grow from file to file."""
        if identifier is not None:
            self.context.validation_results_store.remove_key(identifier)
        shutil.rmtree(self.scratch, ignore_errors=True)


@functools.lru_cache(maxsize=1)
def _session(docs_dir: Path, table: str, pid: int) -> _Session:
    """The process's session (``pid``: a forked child builds its own, never sharing its parent's scratch)."""
    return _Session(docs_dir, table)


@functools.cache
def _load_suite_json() -> dict[str, Any]:
    """The suite file as JSON."""
    return json.loads(SUITE_FILE.read_text(encoding="utf-8"))


def load_suite() -> Any:
    """The suite as a GX ``ExpectationSuite``; fails loudly if GX drops an expectation it cannot parse."""
    gx = _gx()
    raw = dict(_load_suite_json())
    suite = gx.ExpectationSuite(**raw)
    if len(suite.expectations) != len(raw["expectations"]):
        raise ValueError(f"{SUITE_FILE}: {len(raw['expectations']) - len(suite.expectations)} expectations invalid")
    return suite


def _explain(
    batch_definition: Any,
    failed: list[Any],
    parameters: dict,
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: int | None,
) -> list[RuleFailure]:
    """Run each failed expectation again for counts and sample rows (a rejected file only)."""
    key = list(load_contract().key)
    batch = batch_definition.get_batch()
    failures = []
    for config in failed:
        expectation = config.to_domain_obj()
        result_format = {"result_format": "SUMMARY", "partial_unexpected_count": MAX_SAMPLES}
        if "column" in config.kwargs or "column_A" in config.kwargs:
            result_format["unexpected_index_column_names"] = key
        detail = batch.validate(expectation, expectation_parameters=parameters, result_format=result_format)
        failure = _failure(config, detail.result or {}, con, table, rows)
        if failure is not None:
            failures.append(failure)
    return failures


def _failure(
    config: Any, result: dict, con: duckdb.DuckDBPyConnection, table: str, rows: int | None
) -> RuleFailure | None:
    meta = config.meta or {}
    rule = meta.get("rule", config.type)
    column = config.kwargs.get("column") or config.kwargs.get("column_B")
    if "confirm_query" in meta:  # a rule checked on a hash: exact SQL names the rows (and rules out a collision)
        samples = _sample_rows(con, meta["confirm_query"], table, limit=None)
        if not samples:
            return None
        count = len(samples)
    elif config.type == "unexpected_rows_expectation":
        count = result.get("observed_value")
        samples = _sample_rows(con, config.kwargs["unexpected_rows_query"], table)
    else:
        count = result.get("unexpected_count")
        samples = result.get("partial_unexpected_index_list") or [
            {column: v} for v in result.get("partial_unexpected_list") or []
        ]
    count_text = f"{count:,} of {rows:,} rows" if isinstance(count, int) and rows else "some rows"
    return RuleFailure(
        rule=rule,
        layer="expectations",
        message=f"{count_text} break the rule: {meta.get('hint', config.type)}",
        column=column,
        failing_rows=count if isinstance(count, int) else None,
        total_rows=rows,
        samples=[clean_sample(dict(s)) for s in samples[:MAX_SAMPLES]],
        details={"expectation": config.type},
    )


def _sample_rows(con: duckdb.DuckDBPyConnection, query: str, table: str, limit: int | None = MAX_SAMPLES) -> list[dict]:
    """Rows of an unexpected-rows query (GX returns them only in COMPLETE results), a few or all."""
    sql = query.replace("{batch}", f"(select * from {table}) as batch")
    relation = con.cursor().sql(f"select * from ({sql})" + (f" limit {int(limit)}" if limit else ""))
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


# --- GX on DuckDB ----------------------------------------------------------------------------------------


def _dbapi_connection(con: duckdb.DuckDBPyConnection) -> Any:
    """A new DuckDB connection to the same in-memory database, in duckdb-engine's DB-API wrapper."""
    from duckdb_engine import ConnectionWrapper

    return ConnectionWrapper(con.cursor())


@functools.cache
def _gx() -> Any:
    """Import GX once, quietly, and register the DuckDB datasource type with it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.datasource.fluent import SQLDatasource
        from great_expectations.execution_engine import SqlAlchemyExecutionEngine
    for name in ("great_expectations", "duckdb_engine", "sqlalchemy", "posthog"):
        logging.getLogger(name).setLevel(logging.ERROR)
    _keep_compiled_templates()

    class _PersistentEngine(SqlAlchemyExecutionEngine):
        """Keeps one connection for its lifetime, as GX does for SQLite: closing it would roll back the
        result GX is about to read (great_expectations #10738)."""

        @contextlib.contextmanager
        def get_connection(self) -> Generator[Any, None, None]:
            if self._connection is None or self._connection.closed:
                self._connection = self.engine.connect()
            yield self._connection

    class DuckDBDatasource(SQLDatasource):
        """A SQL datasource on a DuckDB connection we own (``context.data_sources.add_duckdb_sa``)."""

        type: Literal["duckdb_sa"] = "duckdb_sa"

        @property
        def execution_engine_type(self) -> type[SqlAlchemyExecutionEngine]:
            return _PersistentEngine

    return gx


def _keep_compiled_templates() -> None:
    """Compile GX's Data Docs templates once per process: GX gives every page renderer a new jinja
    environment, which compiles every template again (a quarter of a file's validation time, profiled).
    A jinja bytecode cache keyed, as jinja does, by template name and source checksum keeps the pages
    byte for byte what they were."""
    import jinja2
    from great_expectations.render.view.view import DefaultJinjaView

    class _MemoryBytecodeCache(jinja2.BytecodeCache):
        def __init__(self) -> None:
            self.code: dict[str, bytes] = {}

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            if bucket.key in self.code:
                bucket.bytecode_from_string(self.code[bucket.key])

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            self.code[bucket.key] = bucket.bytecode_to_string()

    cache = _MemoryBytecodeCache()
    gx_init = DefaultJinjaView.__init__

    def init_with_cache(self: Any, *args: Any, **kwargs: Any) -> None:
        gx_init(self, *args, **kwargs)
        self.env.bytecode_cache = cache

    DefaultJinjaView.__init__ = init_with_cache


def _sqlalchemy() -> Any:
    import sqlalchemy

    return sqlalchemy


def _project_config(docs_dir: Path) -> Any:
    """An in-memory context whose only Data Docs site is the given scratch folder (GX's default
    ephemeral context would also build a site in a fresh temporary directory for every validation)."""
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    site = {
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
    }
    return DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        data_docs_sites={"tokenstats": site},
    )


def _progress_bars_off() -> Any:
    from great_expectations.data_context.types.base import ProgressBarsConfig

    return ProgressBarsConfig(globally=False, metric_calculations=False)
