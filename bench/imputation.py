"""How much imputation reduces the revision of first estimates, on a generated run of months with late providers.

Each month is generated for every provider; from the second month on, ``--late`` providers (drawn at random,
seeded) hold their report back. The others are ingested (the real ingest: claim, validation, load) and the first
estimate is taken as v1 would compute it, twice: with the late providers estimated (``imputation.py``) and
without (reports only). Then the late reports arrive and are ingested: the latest figures. For final use of the
national total and of each modality (total tokens), the revision is latest − first; the script prints the mean
absolute revision with and without imputation (tokens; percent of the latest, over all these cells and over the
national total alone) and writes the figures as JSON.
It measures the estimator on the cells before disclosure control (every month and modality counts); a
release's ``revision_analysis`` shows the same revisions on its free cells.

    uv run --frozen python bench/imputation.py --months 12 --rows 20000 --providers 12 --late 2
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipelines.core.config import Settings  # noqa: E402
from pipelines.core.database import open_warehouse  # noqa: E402
from pipelines.intake.ingest import ingest_inbox  # noqa: E402
from pipelines.statistics.imputation import store_estimates  # noqa: E402
from pipelines.statistics.marts import list_current_submissions, read_month_contributions  # noqa: E402
from pipelines.synthetic.generate import generate_month  # noqa: E402


def measure_imputation(data_dir: Path, months: list[str], rows: int, providers: int, late: int, seed: int) -> dict:
    """First estimates with and without imputation against the latest figures, month by month; the means."""
    settings = Settings.from_env(data_dir=data_dir, settle_seconds=0)
    draw = random.Random(seed)
    held = data_dir / "held"
    held.mkdir(parents=True, exist_ok=True)
    figures = []
    for index, period in enumerate(months):
        reports = generate_month(data_dir, period, rows=rows, providers=providers, seed=seed)
        late_ids = draw.sample(sorted(r.provider_id for r in reports), late) if index else []
        for report in reports:
            if report.provider_id in late_ids:
                os.replace(report.path, held / report.path.name)
        ingest_inbox(settings)
        with open_warehouse(settings) as con:
            submissions = list_current_submissions(con, period)
            with_imputation = _final_use_totals(con, period, submissions, store_estimates(con, period))
            without_imputation = _final_use_totals(con, period, submissions, ())
        for report in reports:
            if report.provider_id in late_ids:
                os.replace(held / report.path.name, report.path)
        ingest_inbox(settings)
        with open_warehouse(settings) as con:
            latest = _final_use_totals(con, period, list_current_submissions(con, period), ())
        if late_ids:
            figures.append(
                latest.join(with_imputation, on="modality", suffix="_with")
                .join(without_imputation, on="modality", suffix="_without")
                .with_columns(reference_period=pl.lit(period), late=pl.lit(", ".join(late_ids)))
            )
    table = pl.concat(figures).rename({"tokens": "latest"})
    result = {"months": months, "rows": rows, "providers": providers, "late_per_month": late, "seed": seed}
    for variant in ("with", "without"):
        revision = (pl.col("latest") - pl.col(f"tokens_{variant}")).cast(pl.Float64)
        percent = revision.abs() / pl.col("latest") * 100
        means = table.select(
            revision.abs().mean().alias("tokens"),
            percent.mean().alias("pct"),
            percent.filter(pl.col("modality") == "_T").mean().alias("national_pct"),
        )
        result[f"mean_absolute_revision_{variant}_imputation"] = means.row(0, named=True)
    result["cells"] = table.select(pl.all().cast(pl.String)).to_dicts()
    return result


def _final_use_totals(con, period: str, submissions: tuple[str, ...], estimates: tuple[str, ...]) -> pl.DataFrame:
    """Total tokens of final use: national (modality _T) and by modality."""
    contributions = pl.from_arrow(read_month_contributions(con, period, submissions, estimates))
    final = contributions.filter(pl.col("use_type") == "final").select(
        "modality", pl.col("total_tokens").cast(pl.Int64)
    )
    by_modality = final.group_by("modality").agg(pl.col("total_tokens").sum())
    national = final.select(pl.lit("_T").alias("modality"), pl.col("total_tokens").sum())
    return pl.concat([national, by_modality]).rename({"total_tokens": "tokens"})


def _months(first: str, count: int) -> list[str]:
    year, month = (int(x) for x in first.split("-"))
    return [f"{year + (month - 1 + i) // 12}-{(month - 1 + i) % 12 + 1:02d}" for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", default="2025-11", help="first month (YYYY-MM)")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--rows", type=int, default=20_000, help="rows a month, all providers")
    parser.add_argument("--providers", type=int, default=12)
    parser.add_argument("--late", type=int, default=2, help="providers late each month from the second on")
    parser.add_argument("--seed", type=int, default=20261)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "imputation.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tokenstats-imputation-") as scratch:
        result = measure_imputation(
            Path(scratch) / "data", _months(args.first, args.months), args.rows, args.providers, args.late, args.seed
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for variant in ("with", "without"):
        mean = result[f"mean_absolute_revision_{variant}_imputation"]
        print(
            f"mean absolute revision, {variant:7} imputation: {mean['tokens']:.4g} tokens, {mean['pct']:.2f}% "
            f"(national and modality totals), {mean['national_pct']:.2f}% (national total)"
        )
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
