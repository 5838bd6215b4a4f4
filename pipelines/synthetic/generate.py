"""Synthetic national month: a provider registry and one usage report per provider, realistic and seeded.

The shape follows what the bureau sees: a handful of large providers and a long tail, eastern provinces
dominant, text far ahead of code, image, audio and video, sector I dominant among enterprises, a share of
reseller rows, compute served from the national hub provinces, weekday seasonality and prices per million
tokens that differ by modality and model. Each provider has a line of models per modality, the same from month to
month: a new generation every ``GENERATION_MONTHS`` enters cheaper and becomes the most used, the oldest leaves,
and every model's price falls at a rate of its modality (text fastest). National volume is about 3x10^15 tokens a
month whatever the row count: more rows only means finer detail.

Reports stream to disk a row group at a time, so memory stays bounded at any size, and each is written to
a temporary name and renamed, so ingest never sees half a file. The same seed gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.contract.contract import load_contract, read_code_list
from pipelines.contract.registry import Provider
from pipelines.core.config import UsageError
from pipelines.core.periods import list_month_days
from pipelines.synthetic import faults as inject
from pipelines.synthetic.providers import generate_registry, write_synthetic_registry
from pipelines.synthetic.series import (
    CUSTOMER_TYPES,
    MODALITIES,
    OUTPUT_SHARE,
    TOKENS_PER_REQUEST,
    Lineup,
    compute_day_factors,
    months_from_anchor,
    sample_series,
)

NATIONAL_MONTHLY_TOKENS = 3.0e15
ROW_GROUP_ROWS = 1_000_000


@dataclass(frozen=True)
class GeneratedReport:
    provider_id: str
    path: Path
    rows: int
    fault: str | None


def generate_month(
    data_dir: Path,
    period: str,
    rows: int = 1_000_000,
    providers: int = 12,
    seed: int = 20261,
    faults: list[str] | None = None,
    force: bool = False,
) -> list[GeneratedReport]:
    """Write the registry and one report per provider into ``<data_dir>/inbox/<provider_id>/``.

    An existing registry is left alone if it is the same, and replaced by a different one only with ``force``.

    ``faults`` holds ``kind`` or ``kind=provider_id``; without a provider, each fault goes to its own
    provider, taken from the smallest upwards.
    """
    registry = generate_registry(providers, seed)
    write_synthetic_registry(data_dir / "registry" / "providers.csv", registry, force)
    fault_by_provider = _assign_faults(faults or [], registry)
    shares = _provider_shares(len(registry))
    rows_by_provider = _split_rows(rows, shares)
    reports = []
    for index, provider in enumerate(registry):
        fault = fault_by_provider.get(provider.provider_id)
        target = data_dir / "inbox" / provider.provider_id / f"{provider.provider_id}_{period}.parquet"
        rng = np.random.default_rng([seed, 1, index, *map(int, period.split("-"))])
        monthly_tokens = NATIONAL_MONTHLY_TOKENS * shares[index] * _month_growth(period)
        lineup = Lineup.draw(seed, index)
        chunks = _report_chunks(provider, period, rows_by_provider[index], monthly_tokens, rng, registry, lineup)
        written = _write_report(target, chunks, fault, registry, index)
        reports.append(GeneratedReport(provider.provider_id, target, written, fault))
    return reports


def _assign_faults(faults: list[str], registry: list[Provider]) -> dict[str, str]:
    ids = [p.provider_id for p in registry]
    assigned: dict[str, str] = {}
    free = list(reversed(ids))
    for spec in faults:
        kind, _, provider_id = spec.partition("=")
        if kind not in inject.FAULTS:
            raise UsageError(f"unknown fault {kind!r}; known: {', '.join(inject.FAULTS)}")
        if provider_id and provider_id not in ids:
            raise UsageError(f"fault {spec!r} names unknown provider {provider_id!r}")
        if not provider_id:
            free = [p for p in free if p not in assigned]
            if not free:
                raise UsageError("more faults than providers; name a provider with kind=provider_id")
            provider_id = free[0]
        if provider_id in assigned:
            raise UsageError(f"provider {provider_id} already has fault {assigned[provider_id]!r}")
        assigned[provider_id] = kind
    return assigned


def _provider_shares(n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** 1.3
    return weights / weights.sum()


def _split_rows(total: int, shares: np.ndarray) -> list[int]:
    """Bigger providers report more rows, less than in proportion to volume; the counts sum to ``total``."""
    weights = shares**0.6
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts))[: total - counts.sum()]] += 1
    return [int(c) for c in counts]


def _month_growth(period: str) -> float:
    """National volume grows about 4% a month (relative to 2026-10)."""
    return 1.04 ** months_from_anchor(period)


def _report_chunks(
    provider: Provider,
    period: str,
    rows: int,
    monthly_tokens: float,
    rng: np.random.Generator,
    registry: list[Provider],
    lineup: Lineup,
) -> Iterator[pa.Table]:
    """The report as Arrow tables of about ROW_GROUP_ROWS rows each, day by day."""
    provinces = [r["region_code"] for r in read_code_list("provinces.csv")]
    sections = load_contract().code_list("report_sectors")
    days = list_month_days(period)
    full, extra = divmod(rows, len(days))
    count = full + (1 if extra else 0)
    if count == 0:
        return
    series = sample_series(provider, period, count, rng, provinces, sections, lineup)
    # The last slice started mid-month when rows do not divide evenly into days.
    last_series_days = extra if extra else len(days)

    day_factor = compute_day_factors(days)
    noise_sigma = 0.15
    expected = (series.base * day_factor[series.customer_type].sum(axis=1)).sum()
    if extra:
        expected -= series.base[-1] * day_factor[series.customer_type[-1], last_series_days:].sum()
    scale = monthly_tokens / (expected * np.exp(noise_sigma**2 / 2))

    province_codes = np.array(provinces)
    section_codes = np.array(sections)
    days_per_chunk = max(1, ROW_GROUP_ROWS // count)
    epoch = dt.date(1970, 1, 1)
    for first in range(0, len(days), days_per_chunk):
        chunk_days = range(first, min(first + days_per_chunk, len(days)))
        day_index = np.repeat(np.array(chunk_days), count)
        s = np.tile(np.arange(count), len(chunk_days))
        if extra:
            keep = (s < count - 1) | (day_index < last_series_days)
            day_index, s = day_index[keep], s[keep]
        n = len(s)
        volume = series.base[s] * day_factor[series.customer_type[s], day_index] * scale
        total = np.minimum(volume * rng.lognormal(0.0, noise_sigma, n), 9e14).astype(np.int64)
        modality = series.modality[s]
        output = (total * np.array(OUTPUT_SHARE)[modality] * rng.uniform(0.8, 1.2, n)).astype(np.int64)
        output = np.minimum(output, total)
        input_tokens = total - output
        cache_share = np.where(modality <= 1, rng.uniform(0.0, 0.6, n), rng.uniform(0.0, 0.1, n))
        cached = (input_tokens * cache_share).astype(np.int64)
        per_request = np.array(TOKENS_PER_REQUEST)[modality] * rng.lognormal(0.0, 0.3, n)
        requests = np.where(total > 0, np.maximum(1, np.round(total / per_request)), 0).astype(np.int64)
        price_in = series.input_price[s]
        yuan = ((input_tokens - cached) * price_in + cached * price_in * 0.25 + output * series.output_price[s]) / 1e6
        amount_units = np.round(yuan * 1e4).astype(np.int64)  # ten-thousandths of a yuan

        compute = series.compute[s]
        sector = series.sector[s]
        dates = np.array([(days[d] - epoch).days for d in chunk_days], dtype=np.int32)
        yield pa.table(
            {
                "report_period": pa.repeat(pa.scalar(period, pa.string()), n),
                "provider_id": pa.repeat(pa.scalar(provider.provider_id, pa.string()), n),
                "usage_date": pa.array(dates[day_index - first], pa.int32()).cast(pa.date32()),
                "region_code": _codes(province_codes, series.region[s]),
                "compute_region_code": _codes(province_codes, compute, null=compute < 0),
                "modality": _codes(np.array(MODALITIES), modality),
                "customer_type": _codes(np.array(CUSTOMER_TYPES), series.customer_type[s]),
                "sector_code": _codes(section_codes, sector, null=sector < 0),
                "model_id": _codes(np.array(series.model_ids), series.model[s]),
                "input_tokens": pa.array(input_tokens, pa.int64()),
                "cached_input_tokens": pa.array(cached, pa.int64()),
                "output_tokens": pa.array(output, pa.int64()),
                "requests": pa.array(requests, pa.int64()),
                "settlement_amount": _decimal_from_units(amount_units),
            }
        )


def _codes(dictionary: np.ndarray, index: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    indices = pa.array(np.maximum(index, 0).astype(np.int32), mask=null)
    return pa.DictionaryArray.from_arrays(indices, pa.array(dictionary, pa.string())).cast(pa.string())


def _decimal_from_units(units: np.ndarray, precision: int = 20, scale: int = 4) -> pa.Array:
    """A decimal128 array from non-negative integers counted in units of 10^-scale (exact, no floats)."""
    words = np.zeros((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = np.where(units < 0, -1, 0)
    return pa.Array.from_buffers(pa.decimal128(precision, scale), len(units), [None, pa.py_buffer(words)])


# Each provider's toolchain writes strings its own way; the contract accepts every Arrow encoding.
_STRING_ENCODINGS: list[Callable[[pa.Array], pa.Array]] = [
    lambda a: a,
    lambda a: a.cast(pa.large_string()),
    lambda a: a.dictionary_encode(),
]


def _encode_strings(table: pa.Table, provider_index: int) -> pa.Table:
    encode = _STRING_ENCODINGS[provider_index % len(_STRING_ENCODINGS)]
    columns = [encode(c.combine_chunks()) if pa.types.is_string(c.type) else c for c in table.columns]
    return pa.table(columns, names=table.column_names)


def _write_report(
    target: Path, chunks: Iterator[pa.Table], fault: str | None, registry: list[Provider], provider_index: int
) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    written = 0
    writer: pq.ParquetWriter | None = None
    try:
        for number, chunk in enumerate(chunks):
            table = inject.apply_to_chunk(fault, chunk, number, registry) if fault else chunk
            table = _encode_strings(table, provider_index)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
            written += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no rows: still a valid, empty report
        pq.write_table(load_contract().arrow_schema().empty_table(), tmp)
    if fault:
        written = inject.apply_to_file(fault, tmp, written)
    os.replace(tmp, target)
    return written
