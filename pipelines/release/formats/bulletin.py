"""HTML presentation of a release: a self-contained statistical bulletin in one file that works offline.

This module computes the bulletin's view model (numbers formatted, flags, chart geometry from
``bulletin_charts``); the Jinja2 templates in ``templates/bulletin/`` render it, with the stylesheet inlined and
charts as inline SVG: no script, font, image or request leaves the file. Every figure is a published value of the
release's tables: nothing is derived from, or drawn for, a confidential cell, which is shown empty with its
CONF_STATUS flag. Numbers follow one convention, stated in the bulletin's notes: tokens in trillions (10^12, 万亿)
in the headline and charts and in billions (10^9, 十亿) in the tables, amounts in yuan.
"""

from __future__ import annotations

import html
from decimal import Decimal
from functools import cache
from pathlib import Path

import jinja2
import polars as pl
from markupsafe import Markup

from pipelines.release.formats.bulletin_charts import (
    TOTAL,
    Names,
    format_number,
    is_free,
    key_rows,
    make_bar_item,
    pick_value,
    plot_bars,
    plot_flows,
    plot_tile_map,
    read_names,
)
from pipelines.release.formats.bulletin_trends import plot_prices, plot_trends
from pipelines.release.release_model import CONF_STATUS, OBS_STATUS, SUPPRESSED_NOTE, ReleaseInfo

TEMPLATES = Path(__file__).parent / "templates" / "bulletin"
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
#: the main tables: id, caption, Chinese caption, table, dimension
MAIN_TABLES = (
    (
        "t-region",
        "Table 1. Final use by customer province and economic zone",
        "分地区最终使用",
        "by_region",
        "region_code",
    ),
    ("t-modality", "Table 2. Final use by modality", "分模态最终使用", "by_modality", "modality"),
    ("t-sector", "Table 3. Final use by sector", "分行业最终使用", "by_sector", "sector_code"),
    ("t-use", "Table 4. Final and intermediate use", "最终使用与中间使用", "use_type", "use_type"),
)
#: table columns: measure -> (English heading, Chinese heading, unit note, scale, decimals)
COLUMNS = {
    "total_tokens": ("Total tokens", "词元总量", "bn", Decimal(10) ** 9, 1),
    "input_tokens": ("Input tokens", "输入词元", "bn", Decimal(10) ** 9, 1),
    "output_tokens": ("Output tokens", "输出词元", "bn", Decimal(10) ** 9, 1),
    "requests": ("Requests", "请求次数", "mn", Decimal(10) ** 6, 1),
    "settlement_amount": ("Amount settled", "结算金额", "CNY mn", Decimal(10) ** 6, 1),
    "price_per_million_tokens": ("Price", "单价", "CNY per mn tokens", Decimal(1), 2),
    "share_of_total_pct": ("Share", "占比", "%", Decimal(1), 1),
    "change_on_previous_month_pct": ("Change on month", "环比", "%", Decimal(1), 1),
}
TRILLION, BILLION, MILLION = Decimal(10) ** 12, Decimal(10) ** 9, Decimal(10) ** 6


def write_bulletin(path: Path, tables: dict[str, pl.DataFrame], release: ReleaseInfo) -> Path:
    """Write the release's bulletin to ``path`` (one HTML file, offline, deterministic); return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_bulletin(tables, release), encoding="utf-8", newline="\n")
    return path


def render_bulletin(tables: dict[str, pl.DataFrame], release: ReleaseInfo) -> str:
    """The release's bulletin as one HTML document."""
    names = read_names()
    rows = {name: table.to_dicts() for name, table in tables.items()}
    page = _environment().get_template("bulletin.html.j2")
    return page.render(
        css=Markup((TEMPLATES / "bulletin.css").read_text(encoding="utf-8")),
        release=_release(release, "revisions" in rows),
        headline=_headline(rows, release),
        points=_main_points(rows, names),
        regions=_regions(rows, names),
        mix=_mix(rows, names),
        trend_charts=plot_trends(rows, names, release.period),
        price_charts=plot_prices(rows, names),
        flows=plot_flows(rows.get("compute_flows", []), names),
        tables=_tables(rows, names),
        revisions=_revisions(rows, names, release),
        methodology=_methodology(rows),
        legend={"obs": OBS_STATUS, "conf": CONF_STATUS},
    )


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        finalize=_escape_as_published,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["g"] = lambda number: format(number, "g")
    environment.globals["CONF_STATUS"] = CONF_STATUS
    return environment


def _escape_as_published(value: object) -> object:
    """Text escaped as ``html.escape`` does (``&quot;``, ``&#x27;``), as the bulletin always has: markupsafe's
    ``&#34;``/``&#39;`` would change the bytes of a release. Markup (formatted numbers, macros) passes as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return Markup(html.escape(value))
    return value


# ---------------------------------------------------------------------------------------------------- values


def _month(period: str) -> str:
    year, month = period.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def _previous_period(period: str) -> str:
    year, month = (int(p) for p in period.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def _national(rows: dict[str, list[dict]]) -> dict | None:
    national = rows.get("national") or []
    return national[0] if national else None


def _coverage(rows: dict[str, list[dict]]) -> dict | None:
    return (rows.get("coverage") or [None])[0]


# ---------------------------------------------------------------------------------------------------- sections


def _release(release: ReleaseInfo, revised: bool) -> dict:
    year, month = release.period.split("-")
    return {
        "period": release.period,
        "version": release.version,
        "previous_version": release.previous_version,
        "provisional": release.provisional,
        "status": release.status,
        "month": _month(release.period),
        "month_zh": f"{year}年{int(month)}月",
        "revised": revised,
        "pipeline_version": release.pipeline_version,
        "contract_version": release.contract_version,
    }


def _change(change: float) -> dict:
    """The change on the previous month in words: arrow, direction and size (None when unchanged)."""
    arrow = "▲" if change > 0 else "▼" if change < 0 else "■"
    word = "up" if change > 0 else "down" if change < 0 else "unchanged"
    return {"arrow": arrow, "word": word, "amount": format_number(abs(change)) if change else None}


def _headline(rows: dict[str, list[dict]], release: ReleaseInfo) -> dict:
    national = _national(rows)
    tokens = pick_value(national, "total_tokens")
    change = pick_value(national, "change_on_previous_month_pct")
    settlement = pick_value(national, "settlement_amount")
    price = pick_value(national, "price_per_million_tokens")
    coverage = _coverage(rows)
    expected = coverage and coverage.get("providers_expected")
    reported = coverage and coverage.get("providers_reported")
    flag = national.get("conf_status") if national else None
    return {
        "tokens": None if tokens is None else (format_number(tokens, TRILLION), " trillion"),
        "change": None if change is None else _change(change),
        "previous_month": _month(_previous_period(release.period)),
        "settlement": None if settlement is None else (format_number(settlement, BILLION, 2), " bn"),
        "price": None if price is None else (format_number(price, decimals=2), ""),
        "coverage": None if reported is None or expected is None else (reported, f" of {expected}"),
        "flag": flag if flag != "F" else None,
    }


def _main_points(rows: dict[str, list[dict]], names: Names) -> list[dict]:
    points = []
    national = _national(rows)
    tokens, change = pick_value(national, "total_tokens"), pick_value(national, "change_on_previous_month_pct")
    if tokens is not None:
        shown = format_number(tokens, TRILLION)
        points.append({"kind": "total", "tokens": shown, "change": None if change is None else _change(change)})
    regions = [r for r in rows.get("by_region", []) if is_free(r) and r.get("share_of_total_pct") is not None]
    zones = sorted(
        (
            r
            for r in regions
            if r["region_code"] in names.zh["region_code"]
            and not r["region_code"].isdigit()
            and r["region_code"] != TOTAL
        ),
        key=lambda r: -r["share_of_total_pct"],
    )
    if zones:
        name = names.of("region_code", zones[0]["region_code"])[0]
        points.append({"kind": "zone", "name": name, "share": format_number(zones[0]["share_of_total_pct"])})
    provinces = sorted((r for r in regions if r["region_code"].isdigit()), key=lambda r: -r["share_of_total_pct"])[:3]
    if provinces:
        listed = [
            (names.of("region_code", r["region_code"])[0], format_number(r["share_of_total_pct"])) for r in provinces
        ]
        points.append({"kind": "provinces", "provinces": listed})
    for table, dimension, noun in (("by_modality", "modality", "modality"), ("by_sector", "sector_code", "sector")):
        parts = [
            r
            for r in rows.get(table, [])
            if is_free(r) and r[dimension] != TOTAL and r.get("share_of_total_pct") is not None
        ]
        if parts:
            top = max(parts, key=lambda r: r["share_of_total_pct"])
            name = names.of(dimension, top[dimension])[0]
            share = format_number(top["share_of_total_pct"])
            points.append({"kind": "largest", "noun": noun, "name": name, "share": share})
    intermediate = pick_value(key_rows(rows.get("use_type", []), "use_type").get("intermediate"), "total_tokens")
    if intermediate is not None:
        points.append({"kind": "intermediate", "tokens": format_number(intermediate, TRILLION)})
    return points


def _regions(rows: dict[str, list[dict]], names: Names) -> dict:
    regions = key_rows(rows.get("by_region", []), "region_code")
    zones = [code for code in names.en["region_code"] if not code.isdigit() and code != TOTAL and code in regions]
    bars = [make_bar_item(names.of("region_code", z), regions[z]) for z in zones]
    title = "Final use by economic zone"
    return {
        "map": plot_tile_map(regions, names),
        "zones": plot_bars("zones", title, bars, unit="trillion tokens", width=320, stacked=True),
    }


def _mix(rows: dict[str, list[dict]], names: Names) -> dict:
    modality = [
        make_bar_item(names.of("modality", r["modality"]), r)
        for r, _ in _ordered(rows.get("by_modality", []), "modality", names)
        if r["modality"] != TOTAL
    ]
    sectors = [r for r in rows.get("by_sector", []) if r["sector_code"] != TOTAL]
    sectors.sort(key=lambda r: (not is_free(r), -(pick_value(r, "total_tokens") or 0), r["sector_code"]))
    sector = [make_bar_item(_sector_label(r["sector_code"], names), r) for r in sectors]
    return {
        "modality": plot_bars("modality", "Final use by modality", modality, unit="trillion tokens"),
        "sector": plot_bars(
            "sector", "Final use by sector", sector, unit="trillion tokens", label_width=330, width=760
        ),
    }


def _sector_label(code: str, names: Names) -> tuple[str, str]:
    en, zh = names.of("sector_code", code)
    if len(en) > 42:
        en = en[:40].rsplit(" ", 1)[0].rstrip(",") + " …"
    return (f"{code} {en}" if len(code) == 1 else en), zh


def _tables(rows: dict[str, list[dict]], names: Names) -> dict:
    regions = rows.get("by_region", [])
    region_order = {code: i for i, code in enumerate(names.en["region_code"])}
    grouped = []
    by_code = key_rows(regions, "region_code")
    if TOTAL in by_code:
        grouped.append((by_code[TOTAL], "total"))
    for zone in (c for c in names.en["region_code"] if not c.isdigit() and c != TOTAL):
        members = sorted(
            (r for r in regions if names.zone_of.get(r["region_code"]) == zone), key=lambda r: r["region_code"]
        )
        if zone in by_code:
            grouped.append((by_code[zone], "zone"))
        grouped.extend((r, "member") for r in members)
    known = {id(r) for r, _ in grouped}
    grouped.extend(
        (r, "") for r in sorted(regions, key=lambda r: region_order.get(r["region_code"], 999)) if id(r) not in known
    )
    ordered = {"by_region": grouped} | {
        table: _ordered(rows.get(table, []), dimension, names) for *_, table, dimension in MAIN_TABLES[1:]
    }
    coverage = _coverage(rows)
    counts = ("providers_expected", "providers_reported", "providers_rejected", "providers_missing")
    return {
        "columns": [(en, zh, unit) for en, zh, unit, _, _ in COLUMNS.values()],
        "status": _common_status(rows),
        "main": [
            _table(id_, caption, caption_zh, dimension, ordered[table], names)
            for id_, caption, caption_zh, table, dimension in MAIN_TABLES
        ],
        "coverage": None if coverage is None else [coverage.get(c) for c in counts],
    }


def _common_status(rows: dict[str, list[dict]]) -> tuple[str, str] | None:
    """The observation status and its meaning, when every cell of the tables shares it (the lead says it once)."""
    statuses = {r.get("obs_status") for *_, name, _ in MAIN_TABLES for r in rows.get(name, [])}
    if len(statuses) != 1 or None in statuses:
        return None
    (status,) = statuses
    return status, OBS_STATUS.get(status, status).lower()


def _ordered(rows: list[dict], dimension: str, names: Names) -> list[tuple[dict, str]]:
    order = {code: i for i, code in enumerate(names.en[dimension])}
    ordered = sorted(rows, key=lambda r: (r[dimension] != TOTAL, order.get(r[dimension], 999), r[dimension]))
    return [(r, "total" if r[dimension] == TOTAL else "") for r in ordered]


def _table(id_: str, caption: str, caption_zh: str, dimension: str, rows: list[tuple[dict, str]], names: Names) -> dict:
    """One of the main tables; an OBS_STATUS column only where its rows' statuses differ (else the lead says it)."""
    body = []
    for row, kind in rows:
        en, zh = names.of(dimension, row[dimension])
        if dimension == "sector_code" and len(row[dimension]) == 1:
            en = f"{row[dimension]} {en}"
        status = row.get("obs_status") or ""
        cells = [_cell(row, measure) for measure in COLUMNS]
        body.append(
            {"kind": kind, "en": en, "zh": zh, "cells": cells, "status": status,
             "status_meaning": OBS_STATUS.get(status, status)}
        )  # fmt: skip
    mixed = len({row.get("obs_status") for row, _ in rows}) > 1
    return {"id": id_, "caption": caption, "caption_zh": caption_zh, "rows": body, "mixed": mixed}


def _cell(row: dict, measure: str) -> tuple[str, object]:
    if not is_free(row):
        return "conf", row.get("conf_status")
    value = row.get(measure)
    if value is None:
        return "na", "not available"
    _, _, _, scale, decimals = COLUMNS[measure]
    return "value", format_number(value, scale, decimals, sign=measure == "change_on_previous_month_pct")


def _revisions(rows: dict[str, list[dict]], names: Names, release: ReleaseInfo) -> dict | None:
    revisions = rows.get("revisions")
    if revisions is None:
        return None
    regional = [
        r for r in revisions
        if r["use_type"] == "final" and all(r[d] == TOTAL for d in ("compute_region_code", "modality", "sector_code"))
    ]  # fmt: skip
    keyed = key_rows(regional, "region_code", "measure")
    codes = [c for c in names.en["region_code"] if not c.isdigit() and any(k[0] == c for k in keyed)]
    by_size = sorted(
        {r["region_code"] for r in regional if r["region_code"].isdigit()},
        key=lambda c: (-abs((keyed.get((c, "total_tokens")) or {}).get("difference") or 0), c),
    )
    codes = [*([TOTAL] if TOTAL in codes else []), *(c for c in codes if c != TOTAL), *by_size[:5]]
    body = []
    for code in codes:
        en, zh = names.of("region_code", code)
        cells = [
            _revision_cell(keyed.get((code, measure)), column, flags, scale)
            for measure, scale in (("total_tokens", BILLION), ("settlement_amount", MILLION))
            for column, flags in (
                ("previous_value", ("previous_conf_status",)),
                ("value", ("conf_status",)),
                ("difference", ("previous_conf_status", "conf_status")),
            )
        ]
        kind = "total" if code == TOTAL else "zone" if not code.isdigit() else ""
        body.append({"kind": kind, "en": en, "zh": zh, "cells": cells})
    previous = release.previous_version or (revisions[0].get("previous_version") if revisions else "")
    return {"rows": body, "previous": previous}


def _revision_cell(row: dict | None, column: str, flags: tuple[str, ...], scale: Decimal) -> tuple[str, object]:
    statuses = [row.get(f) for f in flags] if row is not None else [None]
    if None in statuses:  # a cell new in this version, or no longer published
        return "na", ""
    hidden = [s for s in statuses if s != "F"]
    if hidden:
        return "conf", hidden[0]
    value = row.get(column)
    if value is None:
        return "na", ""
    return "value", format_number(value, scale, 1, sign=column == "difference")


def _methodology(rows: dict[str, list[dict]]) -> dict:
    coverage = _coverage(rows)
    covered = None
    if coverage and coverage.get("providers_reported") is not None and coverage.get("providers_expected"):
        covered = (coverage["providers_reported"], coverage["providers_expected"])
    return {"covered": covered, "suppressed_note": SUPPRESSED_NOTE}
