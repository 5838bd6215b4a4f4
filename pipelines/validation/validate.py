"""Validation of one received report, in three layers that all report into the same ``Verdict``:

1. structure (``structure.py``): readable Parquet, the contract's columns and logical types, limits,
   one provider (the folder's) and one period;
2. the Great Expectations suite ``expectations/usage_report.json`` (``expectations.py``), run by GX on
   DuckDB over the Parquet file: code lists, ranges, not-null, cross-column rules, key uniqueness;
3. registration and history (``check_registered``, ``check_history``), in the warehouse when the report
   is loaded: a registered provider, and totals and prices not far off its previous accepted months.

Layers 1-2 need no warehouse, so files validate in parallel; layer 3 runs in the single writer.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from pipelines.contract.contract import load_contract
from pipelines.contract.reasons import Received, RuleFailure, Verdict
from pipelines.core.config import Settings
from pipelines.core.database import connect_memory, fetch_first_row, quote_literal, read_sql, run_sql
from pipelines.core.usage_store import write_report_rows
from pipelines.validation.structure import (
    check_file,
    check_identity,
    check_schema,
    check_string_lengths,
    describe_unreadable_data,
)

HISTORY_MONTHS = 3
# What the figures may total. Every count is int64 from the report to the published cell; a row is at most
# 10^15 (the contract), so enough valid rows could pass 2^63 (9.2 x 10^18) in a sum. The contract therefore
# also bounds totals: one report at most 10^17 of each count (30 national months at the end of 2025), one
# month's accepted reports together at most 10^18, so any published sum, total_tokens = input + output
# included, stays below 2^63 with room to spare. Beyond either bound a report is rejected with its reason.
COUNT_MEASURES = ("input_tokens", "cached_input_tokens", "output_tokens", "requests")
REPORT_TOTAL_LIMIT = 10**17
MONTH_TOTAL_LIMIT = 10**18
# DuckDB answers min/max and prunes filters (``where x < 0``, even ``sum(case when ...)``) with the file's own
# footer statistics and page index, which a hostile file can forge: values out of range behind statistics that
# say they are in range passed every check (hostile-report tests). Checks must read the values themselves.
DISTRUST_FILE_STATISTICS = (
    "set global disabled_optimizers = 'filter_pushdown,statistics_propagation,row_group_pruner,top_n,"
    "late_materialization,join_filter_pushdown'; set global parquet_use_page_index = false"
)


def validate_report(path: Path, received: Received, settings: Settings, rows_to: Path | None = None) -> Verdict:
    """Structure and expectation layers for the file at ``path``; never raises on bad input. An accepted
    report's rows are written to ``rows_to`` as the warehouse keeps them (here, in parallel, rather than in the
    load's single writer)."""
    contract = load_contract()
    verdict = Verdict(received=received, contract_version=contract.version)
    started = time.perf_counter()
    failures, parquet = check_file(path, settings)
    verdict.failures.extend(failures)
    if parquet is None:
        return verdict
    verdict.row_count = parquet.metadata.num_rows
    verdict.failures.extend(check_schema(parquet, contract))
    if verdict.failures:
        return verdict
    verdict.failures.extend(check_string_lengths(path, contract, settings))
    if verdict.failures:
        return verdict

    con = connect_memory(settings)
    try:
        con.execute(DISTRUST_FILE_STATISTICS)
        failures, period = check_identity(con, path, received.provider_id, settings)
        verdict.failures.extend(failures)
        verdict.report_period = period
        verdict.stats["structure_seconds"] = round(time.perf_counter() - started, 3)
        if verdict.failures:
            return verdict
        from pipelines.validation.expectations import run_suite  # GX is heavy: import only when a file gets this far

        started = time.perf_counter()
        con.execute(read_sql("validation/report_batch").format(path=quote_literal(str(path))))
        failures, verdict.docs_path = run_suite(con, "report", period, verdict.row_count, settings, received)
        verdict.failures.extend(failures)
        verdict.stats["expectations_seconds"] = round(time.perf_counter() - started, 3)
        if verdict.accepted:
            verdict.totals = _totals(con)
            verdict.failures.extend(_check_report_bounds(verdict.totals))
        if verdict.accepted and rows_to is not None:
            started = time.perf_counter()
            write_report_rows(con, received.submission_id, path, rows_to)
            verdict.stats["rows_seconds"] = round(time.perf_counter() - started, 3)
    except duckdb.Error as error:
        # Data the footer did not reveal as broken (bad UTF-8, a damaged or lying page, a decompression bomb)
        # fails a read: that is the file's fault, a rejection, not a crash of the run (hostile-report tests).
        verdict.failures.append(describe_unreadable_data(error, path))
    finally:
        con.close()
    return verdict


def check_history(con: duckdb.DuckDBPyConnection, verdict: Verdict, settings: Settings) -> list[RuleFailure]:
    """Totals and prices against the provider's previous accepted months (the warehouse's view)."""
    history = run_sql(
        con,
        "validation/provider_history",
        provider_id=verdict.received.provider_id,
        report_period=verdict.report_period,
        months=HISTORY_MONTHS,
    ).fetchall()
    if not history:
        return []  # a first report has nothing to compare with
    failures = []
    tokens_now = sum(int(t["total_tokens"]) for t in verdict.totals)
    tokens_before = sum(int(row[1]) for row in history) / len({row[0] for row in history})
    factor = settings.history_volume_factor
    if tokens_before > 0 and not (1 / factor <= tokens_now / tokens_before <= factor):
        failures.append(
            RuleFailure(
                "history.total_tokens",
                "history",
                f"total tokens {tokens_now:,} are {tokens_now / tokens_before:,.1f} times your average over your "
                f"previous {HISTORY_MONTHS} accepted months ({tokens_before:,.0f}); check the units and resend, or "
                "contact the bureau if the change is real",
                details={"total_tokens": tokens_now, "previous_average": round(tokens_before)},
            )
        )
    before = {}
    for _, tokens, amount, modality in history:
        t, a = before.get(modality, (0, 0.0))
        before[modality] = (t + int(tokens), a + float(amount))
    factor = settings.history_price_factor
    for now in verdict.totals:
        tokens, amount = before.get(now["modality"], (0, 0.0))
        if not tokens or not amount or not int(now["total_tokens"]):
            continue
        price_now = float(now["settlement_amount"]) / int(now["total_tokens"]) * 1e6
        price_before = amount / tokens * 1e6
        if not (1 / factor <= price_now / price_before <= factor):
            failures.append(
                RuleFailure(
                    "history.price_per_million_tokens",
                    "history",
                    f"{now['modality']}: {price_now:,.2f} yuan per million tokens is {price_now / price_before:,.1f} "
                    f"times your previous months ({price_before:,.2f}); settlement_amount must be in yuan, not cents",
                    column="settlement_amount",
                    details={
                        "modality": now["modality"],
                        "price_per_million_tokens": round(price_now, 4),
                        "previous": round(price_before, 4),
                    },
                )
            )
    return failures


def _check_report_bounds(totals: list[dict]) -> list[RuleFailure]:
    """The report's totals of each count, exactly, against ``REPORT_TOTAL_LIMIT``."""
    hint = "over the report; check the units (tokens, not thousandths) and resend"
    return _beyond("contract.report_total", "structure", _count_totals(totals), REPORT_TOTAL_LIMIT, hint)


def check_month_bound(con: duckdb.DuckDBPyConnection, verdict: Verdict) -> list[RuleFailure]:
    """The month's accepted totals with this report (replacing its provider's current one) against
    ``MONTH_TOTAL_LIMIT``: what keeps every published sum of the month within int64."""
    others = run_sql(
        con,
        "validation/count_totals",
        report_period=verdict.report_period,
        provider_id=verdict.received.provider_id,
    ).fetchall()[0]
    own = _count_totals(verdict.totals)
    totals = {m: int(before) + total for (m, total), before in zip(own.items(), others, strict=True)}
    hint = "for the month's accepted reports with this one; contact the bureau"
    return _beyond("contract.month_total", "history", totals, MONTH_TOTAL_LIMIT, hint)


def _count_totals(totals: list[dict]) -> dict[str, int]:
    """A report's exact total of each count measure, from its totals by modality."""
    return {m: sum(int(t[m]) for t in totals) for m in COUNT_MEASURES}


def _beyond(rule: str, layer: str, totals: dict[str, int], limit: int, hint: str) -> list[RuleFailure]:
    return [
        RuleFailure(
            rule,
            layer,
            f"{measure} totals {total:,} {hint}: beyond the contract's bound of {limit:,}",
            column=measure,
            details={"total": str(total), "limit": str(limit)},
        )
        for measure, total in totals.items()
        if total > limit
    ]


def _totals(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per modality: rows, total tokens, settlement and each count, exact (hugeint, kept as text in JSON)."""
    counts = ", ".join(f"sum({m})::hugeint" for m in COUNT_MEASURES)
    rows = con.sql(
        f"select modality, count(*), sum(input_tokens + output_tokens)::hugeint, sum(settlement_amount), {counts} "
        "from report group by modality order by modality"
    ).fetchall()
    return [
        {
            "modality": modality,
            "rows": n,
            "total_tokens": str(tokens),
            "settlement_amount": str(amount),
            **{m: str(total) for m, total in zip(COUNT_MEASURES, sums, strict=True)},
        }
        for modality, n, tokens, amount, *sums in rows
    ]


def check_registered(con: duckdb.DuckDBPyConnection, verdict: Verdict) -> list[RuleFailure]:
    """Only registered providers may report: checked against the registry the load reads, never a stale copy."""
    provider = verdict.received.provider_id
    if fetch_first_row(con, "select 1 from ref.providers where provider_id = $p", {"p": provider}):
        return []
    return [
        RuleFailure(
            "provider.registered",
            "structure",
            f"{provider!r} is not a registered provider; only registered providers may report",
        )
    ]
