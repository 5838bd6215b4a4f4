"""First validation layer: is this a readable Parquet report of the contract's shape, from this provider?

Everything here reads only the file's footer, plus one light DuckDB query over the provider and period
columns, so a broken or hostile file is refused before any heavy work. Each check returns data
(``RuleFailure``), never raises on bad input.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.contract.contract import Contract
from pipelines.contract.reasons import RuleFailure
from pipelines.core.config import Settings
from pipelines.core.database import run_sql
from pipelines.core.periods import PERIOD

MAGIC = b"PAR1"
# A Parquet value expands by at most this factor per row beyond the declared string limit: more is a bomb.
MAX_EXPANSION_PER_ROW = 64


@dataclass(frozen=True)
class Shape:
    """What the structure layer learned about a readable report."""

    row_count: int
    report_period: str | None


def check_file(path: Path, settings: Settings) -> tuple[list[RuleFailure], pq.ParquetFile | None]:
    """The file itself: a regular, non-empty Parquet file within the size limits."""
    info = path.lstat()
    if not stat.S_ISREG(info.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a regular file"
        return [_fail("file.not_regular", f"the upload is {kind}; upload the report file itself")], None
    if info.st_size == 0:
        return [_fail("file.empty", "the file is empty (0 bytes); the upload may have failed, send it again")], None
    if info.st_size > settings.max_file_bytes:
        return [
            _fail(
                "file.too_large",
                f"the file is {info.st_size:,} bytes, over the limit of {settings.max_file_bytes:,}; "
                "contact the bureau to agree on splitting it",
                details={"size_bytes": info.st_size, "limit_bytes": settings.max_file_bytes},
            )
        ], None
    with path.open("rb") as f:
        head = f.read(4)
        f.seek(max(0, info.st_size - 4))
        tail = f.read(4)
    if head != MAGIC:
        return [
            _fail(
                "file.not_parquet",
                "the file is not Parquet (it does not start with PAR1); export the report as Parquet, not CSV or Excel",
            )
        ], None
    if tail != MAGIC:
        return [
            _fail(
                "file.corrupt",
                "the Parquet file is incomplete (no footer): it was probably cut off during upload; send it again",
            )
        ], None
    try:
        parquet = pq.ParquetFile(path)
        rows = parquet.metadata.num_rows
    except Exception as error:  # pyarrow raises many types for a damaged footer
        return [_fail("file.corrupt", f"the Parquet file cannot be read: {_short(error)}")], None
    if rows == 0:
        return [
            _fail(
                "file.no_rows",
                "the report has no rows; a month with no usage still has rows with zero tokens, or contact the bureau",
            )
        ], None
    if rows > settings.max_rows:
        return [
            _fail(
                "file.too_many_rows",
                f"the report has {rows:,} rows, over the limit of {settings.max_rows:,}",
                details={"rows": rows, "limit": settings.max_rows},
            )
        ], None
    expanded = sum(
        parquet.metadata.row_group(g).column(c).total_uncompressed_size
        for g in range(parquet.metadata.num_row_groups)
        for c in range(parquet.metadata.num_columns)
    )
    budget = rows * parquet.metadata.num_columns * settings.max_string_bytes * MAX_EXPANSION_PER_ROW
    if expanded > max(budget, settings.max_file_bytes):
        return [
            _fail(
                "file.too_large",
                f"the file expands to {expanded:,} bytes, far beyond what {rows:,} rows can hold",
                details={"uncompressed_bytes": expanded},
            )
        ], None
    return [], parquet


def check_schema(parquet: pq.ParquetFile, contract: Contract) -> list[RuleFailure]:
    """Required columns present, none unexpected, each of the contract's logical type."""
    try:
        schema = parquet.schema_arrow
    except Exception as error:
        return [_fail("file.corrupt", f"the Parquet schema cannot be read: {_short(error)}", layer="file")]
    failures = []
    names = schema.names
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        failures.append(_fail("schema.duplicate_column", f"columns appear more than once: {duplicated}"))
    missing = [c for c in contract.column_names if c not in names]
    if missing:
        failures.append(
            _fail(
                "schema.missing_column",
                f"required columns are missing: {', '.join(missing)}",
                details={"missing": missing},
            )
        )
    unexpected = [n for n in dict.fromkeys(names) if n not in contract.column_names]
    if unexpected:
        shown = [_short(n, 64) for n in unexpected[:20]]
        failures.append(
            _fail(
                "schema.unexpected_column",
                f"columns not in the contract: {', '.join(shown)}; "
                "remove them (the bureau does not accept undeclared fields)",
                details={"unexpected": shown, "count": len(unexpected)},
            )
        )
    for field in schema:
        if field.name in contract.column_names and field.name not in duplicated:
            column = contract.column(field.name)
            if not column.accepts(field.type):
                failures.append(
                    _fail(
                        "schema.type",
                        _type_message(field.name, column.type, field.type),
                        column=field.name,
                        details={"expected": column.type, "found": str(field.type)},
                    )
                )
    return failures


def check_string_lengths(path: Path, contract: Contract, settings: Settings) -> list[RuleFailure]:
    """Text within the length limit, measured on each column's dictionary where the file has one, so that a
    dictionary page of one huge value referenced by every row (a small file that expands to gigabytes) is
    refused before any reader expands it (hostile-report tests: DuckDB took 20 s on a 1 MB such file)."""
    columns = [c.name for c in contract.columns if c.type == "string"]
    try:
        reader = pq.ParquetFile(path, read_dictionary=columns)
        for batch in reader.iter_batches(batch_size=1 << 20, columns=columns):
            for name, values in zip(batch.schema.names, batch.columns, strict=True):
                values = values.dictionary if pa.types.is_dictionary(values.type) else values
                longest = pc.max(pc.binary_length(values.cast(pa.large_binary()))).as_py() or 0
                if longest > settings.max_string_bytes:
                    return [
                        _fail(
                            "schema.string_length",
                            f"a value of {name} is {longest:,} bytes long, over the limit of "
                            f"{settings.max_string_bytes}",
                            column=name,
                        )
                    ]
    except Exception as error:  # pyarrow raises many types for damaged pages
        return [_fail("file.corrupt", f"the Parquet data cannot be read: {_short(error, 200)}")]
    return []


def check_identity(
    con: duckdb.DuckDBPyConnection, path: Path, provider_id: str, settings: Settings
) -> tuple[list[RuleFailure], str | None]:
    """One provider, one period, printable model ids, every value decodable (``duckdb.Error`` otherwise);
    returns the report period when single. Text lengths were checked before (``check_string_lengths``)."""
    row = run_sql(con, "validation/identity", provider=provider_id, path=str(path)).fetchall()[0]
    periods, period, foreign_rows, foreign_id, unprintable, unprintable_sample, _ = row
    failures = []
    if foreign_rows:
        failures.append(
            _fail(
                "provider.matches_folder",
                f"{foreign_rows:,} rows name a provider_id other than {provider_id!r}, the folder the file arrived "
                "in; a provider reports only its own usage, in its own folder",
                column="provider_id",
                failing_rows=foreign_rows,
                details={"found": _short(foreign_id or "(null)", 64)},
            )
        )
    if unprintable:
        failures.append(
            _fail(
                "model_id.printable",
                f"{unprintable:,} rows have a model_id with characters other than printable ASCII "
                f"(e.g. {_short(unprintable_sample.encode('unicode_escape').decode(), 60)!r})",
                column="model_id",
                failing_rows=unprintable,
            )
        )
    if periods != 1:
        failures.append(
            _fail(
                "report_period.single",
                f"the report holds {periods} reference periods; send one file per month",
                column="report_period",
            )
        )
        return failures, None
    if not PERIOD.match(period or ""):
        failures.append(
            _fail(
                "report_period.single",
                f"report_period {_short(period or '(null)', 32)!r} is not a month written YYYY-MM",
                column="report_period",
            )
        )
        return failures, None
    return failures, period


def describe_unreadable_data(error: duckdb.Error, path: Path) -> RuleFailure:
    """A read of the file's data failed: the file is damaged, or built to exhaust the reader's memory."""
    # DuckDB's first line says what is wrong; it names our copy of the file, which the provider knows by name.
    detail = _short(str(error).strip().splitlines()[0].replace(str(path), path.name), 200)
    if isinstance(error, duckdb.OutOfMemoryException) or "out of buffer" in detail.lower():
        return _fail(
            "file.too_large",
            f"the file's data expands far beyond its size when read ({detail}); send the report as plainly "
            "encoded Parquet",
        )
    return _fail("file.corrupt", f"the Parquet data cannot be read: {detail}; export the report again and resend")


def _type_message(name: str, expected: str, found: pa.DataType) -> str:
    hint = {
        "int64": "counts must be int64 (int32 overflows past 2,147,483,647; floats lose tokens)",
        "decimal(20,4)": "money must be a decimal with 4 decimal places, in yuan",
        "date32": "dates must be date32 (a calendar day, Beijing time), not a timestamp or text",
        "string": "must be text",
    }[expected]
    return f"column {name} is {found}; {hint}"


def _fail(rule: str, message: str, layer: str = "structure", **kwargs) -> RuleFailure:
    if rule.startswith("file."):
        layer = "file"
    return RuleFailure(rule=rule, layer=layer, message=message, **kwargs)


def _short(value: object, limit: int = 300) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"
