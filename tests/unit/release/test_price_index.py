"""The token price index: the formulas against hand computation, confidentiality of its cells, and a generated
year in which new, cheaper models take share (the quality effect the matched indices take out)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook
from pysdmx.io import get_datasets, read_sdmx

from pipelines.contract.reference import load_reference_tables
from pipelines.core.config import Settings
from pipelines.core.database import open_warehouse, read_sql
from pipelines.release.formats.price_index_sdmx import write_price_index_sdmx
from pipelines.release.formats.workbook import write_workbook
from pipelines.release.price_index import (
    ITEM,
    Panel,
    elementary_aggregates,
    list_index_submissions,
    price_index_table,
)
from pipelines.release.release_model import ReleaseInfo
from pipelines.release.vintages import store_vintages
from pipelines.statistics.marts import build_marts
from pipelines.statistics.primary import GROUP, Rules
from pipelines.synthetic.generate import generate_month
from tests.loading import load_accepted_report

OPEN = Rules(min_contributors=1, dominance_p_percent=-100.0)  # every cell free (never dominated): formulas alone
MONTHS = ["2026-01", "2026-02", "2026-03"]
# (amount in yuan, unit value in yuan per million tokens) of items A and B in each month
HAND = [((100, 10), (200, 20)), ((90, 9), (300, 20)), ((120, 8), (150, 15))]


def _items(prices: list[tuple], modality: str = "text", groups: str = "AB") -> list[dict]:
    rows = []
    for month, month_prices in zip(MONTHS, prices, strict=True):
        for name, group, price in zip("ABCD", groups, month_prices, strict=False):
            if price is None:
                continue
            amount, unit_value = price
            rows.append(
                {
                    "month": month,
                    "provider_id": f"p{name}",
                    "model_id": f"{modality}-{name}",
                    "modality": modality,
                    "enterprise_group": f"G{group}",
                    "amount": float(amount),
                    "tokens": amount / unit_value * 1e6,
                }
            )
    return rows


def _log_t(j: int, k: int) -> float:
    """ln of the bilateral Törnqvist between months j and k of HAND, written out."""
    (a_j, p_j), (b_j, q_j) = HAND[j]
    (a_k, p_k), (b_k, q_k) = HAND[k]
    wa_j, wa_k = a_j / (a_j + b_j), a_k / (a_k + b_k)
    return 0.5 * (wa_j + wa_k) * math.log(p_k / p_j) + 0.5 * ((1 - wa_j) + (1 - wa_k)) * math.log(q_k / q_j)


def test_chained_tornqvist_and_geks_equal_the_hand_computed_three_month_example():
    table = price_index_table(pl.DataFrame(_items(HAND)), "2026-03", "P", OPEN).filter(pl.col("modality") == "text")
    # By hand: shares of A 1/3, 90/390, 120/270; A's price 10 → 9 → 8, B's 20 → 20 → 15.
    assert _log_t(0, 1) == pytest.approx(0.5 * (1 / 3 + 90 / 390) * math.log(0.9), rel=1e-12)
    chained = [100.0, 100 * math.exp(_log_t(0, 1)), 100 * math.exp(_log_t(0, 1) + _log_t(1, 2))]
    # GEKS over the window {0, 1, 2}: ln G(j, 2) = mean over l of [ln T(j, l) + ln T(l, 2)]; month 1's window is
    # {0, 1} (G = T); month 2 is spliced on months 0 and 1 by the geometric mean.
    g02 = (2 * _log_t(0, 2) + _log_t(0, 1) + _log_t(1, 2)) / 3
    g12 = (-_log_t(0, 1) + _log_t(0, 2) + 2 * _log_t(1, 2)) / 3
    geks = [100.0, chained[1], 100 * math.exp(((0 + g02) + (_log_t(0, 1) + g12)) / 2)]
    unit_values = [300 / (10 + 10), 390 / (10 + 15), 270 / (15 + 10)]
    assert table["price_index"].to_list() == pytest.approx(chained, rel=1e-9)
    assert table["geks_index"].to_list() == pytest.approx(geks, rel=1e-9)
    assert table["unit_value_index"].to_list() == pytest.approx([100 * u / unit_values[0] for u in unit_values])
    assert table["change_on_previous_month_pct"].to_list()[1:] == pytest.approx(
        [(chained[1] / 100 - 1) * 100, (chained[2] / chained[1] - 1) * 100], rel=1e-6
    )
    assert table["matched_items"].to_list() == [None, 2, 2]
    assert geks[2] != pytest.approx(chained[2], rel=1e-6)  # the example tells the two apart


def test_geks_is_transitive_within_its_window():
    panel = Panel.of(pl.DataFrame(_items(HAND)), MONTHS)
    # without chain drift, GEKS over a window that holds every month equals the direct GEKS comparison
    levels = panel.geks_levels()
    assert math.isclose(levels[1], _log_t(0, 1), rel_tol=1e-12)
    assert levels[0] == 0.0


def test_a_link_from_two_groups_is_withheld_and_bridged_by_the_all_modality_link():
    text = _items(
        [((100, 10), (200, 20), (150, 5)), ((90, 9), (300, 20), (140, 5)), ((120, 8), (150, 15), (100, 4))],
        groups="ABC",
    )
    # video: three groups each month, but only two of its models are sold in both January and February
    video = _items(
        [
            ((50, 40), (60, 50), (40, 30), None),
            ((30, 39), (70, 20), None, (40, 25)),
            ((35, 38), (60, 19), None, (30, 24)),
        ],
        modality="video",
        groups="ABCC",
    )
    table = price_index_table(pl.DataFrame(text + video), "2026-03", "A", Rules())
    rows = {(r["month"], r["modality"]): r for r in table.iter_rows(named=True)}
    february, march = rows[("2026-02", "video")], rows[("2026-03", "video")]
    assert february["conf_status"] == "A"
    assert all(february[c] is None for c in ("price_index", "geks_index", "unit_value_index", "matched_items"))
    assert march["change_on_previous_month_pct"] is None  # it would give February's level away
    assert (march["conf_status"], march["obs_status"]) == ("F", "E")
    # March is January, the all-modality February link in place of video's own, and video's March link
    total = table.filter(pl.col("modality") == "_T")["price_index"].to_list()
    panel = Panel.of(pl.DataFrame(video), MONTHS)
    own_march = panel.log_tornqvist(1, 2)
    assert march["price_index"] == pytest.approx(total[1] * math.exp(own_march), rel=1e-9)
    withheld = 100 * math.exp(panel.log_tornqvist(0, 1))
    assert f"{withheld:.5f}"[:-1] not in table.write_csv()


def test_formats_carry_the_index_and_leave_withheld_values_empty(tmp_path: Path):
    info = ReleaseInfo("2026-03", 2, 1, "test", "1")
    video = _items([*HAND[:2], ((120, 8), (150, 12))], "video", groups="AA")
    table = price_index_table(pl.DataFrame(_items(HAND) + video), "2026-03", "A", OPEN)
    table = table.with_columns(  # one row withheld, its value left in place: the writers must blank it
        pl.when(pl.col("modality") == "video").then(pl.lit("O")).otherwise(pl.col("conf_status")).alias("conf_status")
    )
    structure, data = write_price_index_sdmx(tmp_path / "sdmx", table, info)
    workbook = write_workbook(tmp_path / "book.xlsx", {"price_index": table}, info)
    message = read_sdmx(structure, validate=True)  # XSD-validated
    assert {f.id for f in message.get_dataflows()} == {"DF_TOKEN_PRICES_M"}
    (dataset,) = get_datasets(data, structure)
    observations = dataset.data
    free = observations[observations["CONF_STATUS"] == "F"]
    text = table.filter(pl.col("modality") == "text").to_dicts()
    index = free[(free["MODALITY"] == "text") & (free["MEASURE"] == "PRICE_INDEX")].sort_values("TIME_PERIOD")
    assert [float(v) for v in index["OBS_VALUE"]] == pytest.approx([r["price_index"] for r in text], rel=1e-12)
    withheld = observations[observations["MODALITY"] == "video"]
    assert len(withheld) and withheld["OBS_VALUE"].isna().all()
    assert set(observations["OBS_STATUS"]) == {"A"}
    video = table.filter(pl.col("modality") == "video", pl.col("month") == "2026-03")["price_index"].item()
    sheet = load_workbook(workbook)["price_index"]
    assert all(video not in [c.value for c in row] for row in sheet.iter_rows())
    assert f"{video:.7f}"[:-2] not in data.read_text()


# --- a generated year ------------------------------------------------------------------------------------------

YEAR = [f"{2025 + (m + 10) // 12}-{(m + 10) % 12 + 1:02d}" for m in range(12)]  # 2025-11 .. 2026-10


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Twelve generated months loaded straight into a warehouse (ingest has its own tests)."""
    data = tmp_path_factory.mktemp("year") / "data"
    settings = Settings.from_env(data_dir=data)
    for period in YEAR:
        generate_month(data, period, rows=10_000, providers=12)
    with open_warehouse(settings) as con:
        load_reference_tables(con, settings)
        for n, path in enumerate(sorted((data / "inbox").glob("*/*.parquet"))):
            period = path.stem.rsplit("_", 1)[1]
            load_accepted_report(con, settings, path, period, n, dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    return settings


@pytest.fixture(scope="module")
def year_index(year: Settings) -> pl.DataFrame:
    with open_warehouse(year) as con:
        aggregates = elementary_aggregates(con, list_index_submissions(con, YEAR[-1]))
    # Without confidentiality: small modalities of a small sample are often dominated by the largest provider,
    # and the year is about the index, not its protection (tested above and on every release).
    return price_index_table(aggregates, YEAR[-1], "P", OPEN)


def _last(table: pl.DataFrame, modality: str, column: str) -> float:
    return table.filter(pl.col("modality") == modality, pl.col("month") == YEAR[-1])[column].item()


ROWS_ORACLE = """
select u.report_period, u.provider_id, u.model_id, u.modality, p.enterprise_group,
       sum(u.input_tokens + u.output_tokens)::hugeint as tokens, sum(u.settlement_amount) as amount
from core.usage as u join ref.providers as p using (provider_id) join ref.customer_types as c using (customer_type)
where c.use_type = 'final' and list_contains($ids, u.submission_id)
group by all having sum(u.input_tokens + u.output_tokens) > 0 order by all
"""


def test_each_report_is_summed_once_and_its_rows_never_read_again(year: Settings):
    """The year's elementary aggregates are what summing the rows gives (the oracle above reads them), and once
    every report is summed, a publish reads no row nor file of any month: the rows' files moved away change
    nothing (a national year would otherwise read every month's rows again at every publish)."""
    with open_warehouse(year) as con:
        submissions = list_index_submissions(con, YEAR[-1])
        summed = elementary_aggregates(con, submissions)
        expected = con.sql(ROWS_ORACLE, params={"ids": list(submissions)}).fetchall()
        aside = year.data_dir / "rows-aside"
        year.usage_dir.rename(aside)
        try:
            again = elementary_aggregates(con, submissions)
        finally:
            aside.rename(year.usage_dir)
    got = summed.select("month", *ITEM, GROUP, pl.col("tokens").cast(pl.Int64), "amount").rows()
    assert [row[:6] for row in got] == [(*row[:5], int(row[5])) for row in expected]
    assert [row[6] for row in got] == pytest.approx([float(row[6]) for row in expected], rel=1e-12)
    assert again.equals(summed)


def test_over_a_generated_year_text_prices_fall_faster_than_video(year_index: pl.DataFrame):
    assert _last(year_index, "text", "price_index") < _last(year_index, "video", "price_index") < 100
    assert _last(year_index, "text", "geks_index") < _last(year_index, "video", "geks_index") < 100


def test_unit_values_fall_faster_than_matched_models_as_cheaper_new_models_take_share(year_index: pl.DataFrame):
    for modality in ("_T", "text", "video"):
        matched = _last(year_index, modality, "price_index")
        assert _last(year_index, modality, "unit_value_index") < 0.9 * matched, modality


def test_the_year_is_one_series_from_a_base_of_100(year_index: pl.DataFrame):
    first = year_index.filter(pl.col("month") == YEAR[0])
    assert first["price_index"].to_list() == [100.0] * first.height
    assert sorted(year_index["month"].unique()) == YEAR
    assert year_index.filter(pl.col("month") > YEAR[0], pl.col("modality") == "_T")["matched_items"].min() > 10
    assert year_index.height == 12 * 6 and set(year_index["conf_status"]) == {"F"}


def test_the_analysts_price_relatives_are_each_items_unit_value_on_the_previous_month(year: Settings):
    with open_warehouse(year) as con:
        build_marts(con, YEAR[-1])  # the other views read the marts and the record of releases
        store_vintages(con, year)
        con.execute(read_sql("release/analyst_views"))
        relatives = con.sql("select * from analyst.price_relatives").pl()
    first = relatives.filter(pl.col("report_period") == YEAR[0])
    assert first["price_relative"].null_count() == first.height
    later = relatives.filter(pl.col("price_relative").is_not_null()).sort("provider_id", "model_id", "report_period")
    assert later.height > 100
    median = later.group_by("modality").agg(pl.col("price_relative").cast(pl.Float64).median())
    by_modality = dict(median.iter_rows())
    assert by_modality["text"] < by_modality["video"] < 1  # text prices fall fastest
    assert set(relatives.columns) >= {"enterprise_group", "unit_value", "total_tokens", "settlement_amount"}
