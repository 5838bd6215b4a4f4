"""HTML presentation of a release: a self-contained statistical bulletin in one file that works offline.

Inline CSS and inline SVG charts drawn here; no script, font, image or request leaves the file. Every figure is
a published value of the release's tables: nothing is derived from, or drawn for, a confidential cell, which is
shown empty with its CONF_STATUS flag. Numbers follow one convention, stated in the bulletin's notes: tokens in
trillions (10^12, 万亿) in the headline and charts and in billions (10^9, 十亿) in the tables, amounts in yuan.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from pathlib import Path

import polars as pl

from pipelines.contract.contract import read_code_list
from pipelines.release.release_model import CONF_STATUS, OBS_STATUS, SUPPRESSED_NOTE, ReleaseInfo

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
TOTAL = "_T"
#: schematic tile-grid cartogram of the 31 provinces: code -> (column, row)
TILES = {
    "230000": (7, 0),
    "150000": (4, 1), "110000": (5, 1), "210000": (6, 1), "220000": (7, 1),
    "650000": (0, 2), "630000": (1, 2), "620000": (2, 2), "640000": (3, 2), "140000": (4, 2), "130000": (5, 2),
    "120000": (6, 2),
    "540000": (1, 3), "510000": (2, 3), "610000": (3, 3), "410000": (4, 3), "370000": (5, 3),
    "500000": (3, 4), "420000": (4, 4), "340000": (5, 4), "320000": (6, 4), "310000": (7, 4),
    "530000": (2, 5), "520000": (3, 5), "430000": (4, 5), "360000": (5, 5), "330000": (6, 5),
    "450000": (3, 6), "440000": (4, 6), "350000": (5, 6),
    "460000": (4, 7),
}  # fmt: skip
TABLE_NAMES = ("by_region", "by_modality", "by_sector", "use_type")
SHORT_NAMES = {"150000": "Inner Mong."}
ZH_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
#: share of national final use (%) -> tile class; the legend reads these bounds
SHARE_CLASSES = (10.0, 5.0, 2.0, 1.0, 0.0)
BLUES = ("#08519c", "#3182bd", "#6baed6", "#9ecae1", "#deebf7")
INK, MUTED, RULE, BAR = "#1b2a3a", "#5b6770", "#d5dbe1", "#2f5d8a"
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


@dataclass(frozen=True)
class _Names:
    """English and Chinese names of every code the bulletin shows."""

    en: dict[str, dict[str, str]]
    zh: dict[str, dict[str, str]]
    zone_of: dict[str, str]

    def of(self, dimension: str, code: str) -> tuple[str, str]:
        return self.en[dimension].get(code, code), self.zh[dimension].get(code, "")


def write_bulletin(path: Path, tables: dict[str, pl.DataFrame], release: ReleaseInfo) -> Path:
    """Write the release's bulletin to ``path`` (one HTML file, offline, deterministic); return ``path``."""
    names = _names()
    rows = {name: table.to_dicts() for name, table in tables.items()}
    body = "\n".join(
        [
            _masthead(release, "revisions" in rows),
            '<main id="content">',
            _headline(rows, release),
            _main_points(rows, names),
            _regions_section(rows, names),
            _mix_section(rows, names),
            _flows_section(rows, names),
            _tables_section(rows, names),
            _revisions_section(rows, names, release),
            _methodology(rows, release),
            _legend(),
            "</main>",
            _footer(release),
        ]
    )
    title = f"Token statistics, {_month(release.period)} ({release.status}) | TokenStats"
    html = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8", newline="\n")
    return path


# ---------------------------------------------------------------------------------------------------- values


def _free(row: dict) -> bool:
    return row.get("conf_status") == "F"


def _value(row: dict | None, measure: str) -> int | float | Decimal | None:
    """A published value: None for a confidential cell (whatever it holds) or a value not available."""
    if row is None or not _free(row):
        return None
    return row.get(measure)


def _fmt(value: int | float | Decimal, scale: Decimal = Decimal(1), decimals: int = 1, sign: bool = False) -> str:
    """A value in ``scale`` units, thousands separated, rounded to ``decimals``; "<0.1" for a tiny positive value
    (not "0.0", which would say it is nothing); a minus sign, or with ``sign`` a plus sign, where it is not zero."""
    number = Decimal(str(value)) / scale
    rounded = number.quantize(Decimal(1).scaleb(-decimals))
    if number > 0 and not rounded and not sign:
        return f"&lt;{Decimal(1).scaleb(-decimals)}"
    rounded = rounded if rounded else abs(rounded)
    text = f"{rounded:{'+' if sign and rounded else ''},.{decimals}f}"
    return text.replace("-", "&minus;")


def _month(period: str) -> str:
    year, month = period.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def _month_zh(period: str) -> str:
    year, month = period.split("-")
    return f"{year}年{int(month)}月"


def _previous_period(period: str) -> str:
    year, month = (int(p) for p in period.split("-"))
    return f"{year - 1}-12" if month == 1 else f"{year}-{month - 1:02d}"


def _by(rows: list[dict], *dimensions: str) -> dict:
    """Rows keyed by the value(s) of the given dimension(s)."""
    if len(dimensions) == 1:
        return {r[dimensions[0]]: r for r in rows}
    return {tuple(r[d] for d in dimensions): r for r in rows}


def _names() -> _Names:
    provinces = read_code_list("provinces.csv")
    zones = read_code_list("economic_zones.csv")
    sectors = read_code_list("sectors.csv")
    modalities = read_code_list("modalities.csv")
    region_en = {r["region_code"]: r["name"] for r in provinces} | {r["zone_code"]: f"{r['name']} zone" for r in zones}
    region_zh = {r["region_code"]: r["name_zh"] for r in provinces} | {r["zone_code"]: r["name_zh"] for r in zones}
    en = {
        "region_code": region_en | {TOTAL: "China (all provinces)"},
        "compute_region_code": region_en | {"_X": "Not reported", TOTAL: "All data centres"},
        "sector_code": {r["sector_code"]: r["name"] for r in sectors} | {"_X": "Unspecified", TOTAL: "All sectors"},
        "modality": {r["modality"]: r["name"] for r in modalities} | {TOTAL: "All modalities"},
        "use_type": {"final": "Final use", "intermediate": "Intermediate use (resold)", TOTAL: "All uses"},
    }
    zh = {
        "region_code": region_zh | {TOTAL: "全国"},
        "compute_region_code": region_zh | {"_X": "未报告", TOTAL: "全部数据中心"},
        "sector_code": {r["sector_code"]: r["name_zh"] for r in sectors} | {"_X": "未指明", TOTAL: "全部行业"},
        "modality": {r["modality"]: r["name_zh"] for r in modalities} | {TOTAL: "全部模态"},
        "use_type": {"final": "最终使用", "intermediate": "中间使用（转售）", TOTAL: "合计"},
    }
    return _Names(en, zh, {r["region_code"]: r["economic_zone"] for r in provinces})


def _short_zh(name: str) -> str:
    for suffix in ZH_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name.removesuffix(suffix)
    return name


def _national(rows: dict[str, list[dict]]) -> dict | None:
    national = rows.get("national") or []
    return national[0] if national else None


# ---------------------------------------------------------------------------------------------------- sections


def _masthead(release: ReleaseInfo, revised: bool) -> str:
    status = "Provisional 初步数" if release.provisional else "Revised 修订数"
    revises = f" · revises version {release.previous_version}" if release.previous_version else ""
    return f"""<header class="masthead">
<div class="wrap">
<p class="agency">TokenStats <span lang="zh-Hans">全国词元使用统计</span> ·
Statistical release <span lang="zh-Hans">统计公报</span></p>
<h1>Token use in China: {_month(release.period)}
<span class="zh" lang="zh-Hans">{_month_zh(release.period)}全国词元使用情况</span></h1>
<p class="status"><span class="badge {release.status}">{status}</span>
Reference period {release.period} · Version {release.version}{revises}</p>
<nav aria-label="Contents">{_nav(revised)}</nav>
</div>
</header>"""


SECTIONS = {
    "headline": "Headline",
    "regions": "Regions",
    "mix": "Modality and sector",
    "flows": "Compute flows",
    "tables": "Tables",
    "revisions": "Revisions",
    "methodology": "Methodology",
    "flags": "Flags",
}


def _nav(revised: bool) -> str:
    return "".join(f'<a href="#{id_}">{t}</a>' for id_, t in SECTIONS.items() if revised or id_ != "revisions")


def _headline(rows: dict[str, list[dict]], release: ReleaseInfo) -> str:
    national = _national(rows)
    tokens = _value(national, "total_tokens")
    change = _value(national, "change_on_previous_month_pct")
    settlement = _value(national, "settlement_amount")
    price = _value(national, "price_per_million_tokens")
    previous = _month(_previous_period(release.period))
    cards = [
        _card(
            "Final use of tokens",
            "最终使用词元总量",
            None if tokens is None else f"{_fmt(tokens, Decimal(10) ** 12)}<small> trillion</small>",
            "tokens (10<sup>12</sup>, 万亿词元)"
            + (f"<br>{_change_text(change)} on {previous}" if change is not None else ""),
            national,
            "headline-tokens",
        ),
        _card(
            "Amount settled",
            "结算金额",
            None if settlement is None else f"{_fmt(settlement, Decimal(10) ** 9, 2)}<small> bn</small>",
            "yuan (CNY billion, 十亿元)",
            national,
            "headline-settlement",
        ),
        _card(
            "Average price",
            "平均单价",
            None if price is None else f"{_fmt(price, decimals=2)}",
            "yuan per million tokens (元/百万词元)",
            national,
            "headline-price",
        ),
        _coverage_card(rows),
    ]
    return f"""<section id="headline" aria-labelledby="headline-h">
<h2 id="headline-h">Headline figures <span class="zh" lang="zh-Hans">主要数据</span></h2>
<div class="cards">{"".join(cards)}</div>
</section>"""


def _change_text(change: float) -> str:
    arrow = "▲" if change > 0 else "▼" if change < 0 else "■"
    word = "up" if change > 0 else "down" if change < 0 else "unchanged"
    return f'<span class="chg">{arrow} {word} {_fmt(abs(change))}%</span>' if change else f"{arrow} unchanged"


def _card(title: str, title_zh: str, figure: str | None, unit: str, row: dict | None, id_: str) -> str:
    if figure is None:
        flag = row.get("conf_status") if row else None
        figure = _flag(flag) if flag and flag != "F" else '<span class="na">..</span>'
    return f"""<div class="card" id="{id_}"><p class="card-title">{title}<span lang="zh-Hans">{title_zh}</span></p>
<p class="figure">{figure}</p><p class="unit">{unit}</p></div>"""


def _coverage_card(rows: dict[str, list[dict]]) -> str:
    coverage = (rows.get("coverage") or [None])[0]
    expected = coverage and coverage.get("providers_expected")
    reported = coverage and coverage.get("providers_reported")
    figure = None if reported is None or expected is None else f"{reported}<small> of {expected}</small>"
    return _card("Providers reported", "报送企业", figure, "registered providers, reports accepted", None, "coverage")


def _main_points(rows: dict[str, list[dict]], names: _Names) -> str:
    points = []
    national = _national(rows)
    tokens, change = _value(national, "total_tokens"), _value(national, "change_on_previous_month_pct")
    if tokens is not None:
        text = f"Final use of AI model tokens totalled <b>{_fmt(tokens, Decimal(10) ** 12)} trillion</b>"
        points.append(text + (f", {_change_text(change)} on the previous month." if change is not None else "."))
    regions = [r for r in rows.get("by_region", []) if _free(r) and r.get("share_of_total_pct") is not None]
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
        z = zones[0]
        points.append(
            f"The {escape(names.of('region_code', z['region_code'])[0])} accounted for "
            f"<b>{_fmt(z['share_of_total_pct'])}%</b> of final use."
        )
    provinces = sorted((r for r in regions if r["region_code"].isdigit()), key=lambda r: -r["share_of_total_pct"])[:3]
    if provinces:
        listed = ", ".join(
            f"{escape(names.of('region_code', r['region_code'])[0])} ({_fmt(r['share_of_total_pct'])}%)"
            for r in provinces
        )
        points.append(f"Among the provinces published, the largest users were {listed}.")
    for table, dimension, noun in (("by_modality", "modality", "modality"), ("by_sector", "sector_code", "sector")):
        parts = [
            r
            for r in rows.get(table, [])
            if _free(r) and r[dimension] != TOTAL and r.get("share_of_total_pct") is not None
        ]
        if parts:
            top = max(parts, key=lambda r: r["share_of_total_pct"])
            label = names.of(dimension, top[dimension])[0]
            points.append(
                f"By {noun}, <i>{escape(label)}</i> accounted for the largest share, "
                f"<b>{_fmt(top['share_of_total_pct'])}%</b>."
            )
    uses = _by(rows.get("use_type", []), "use_type")
    intermediate = _value(uses.get("intermediate"), "total_tokens")
    if intermediate is not None:
        points.append(
            f"A further {_fmt(intermediate, Decimal(10) ** 12)} trillion tokens were resold between providers "
            "(intermediate use); they are not counted in final use."
        )
    if not points:
        return ""
    items = "".join(f"<li>{p}</li>" for p in points)
    return f"""<section id="main-points" aria-labelledby="points-h">
<h2 id="points-h">Main points <span class="zh" lang="zh-Hans">要点</span></h2>
<ul class="points">{items}</ul>
</section>"""


def _regions_section(rows: dict[str, list[dict]], names: _Names) -> str:
    regions = _by(rows.get("by_region", []), "region_code")
    zones = [code for code in names.en["region_code"] if not code.isdigit() and code != TOTAL and code in regions]
    bars = [_bar_item(names.of("region_code", z), regions[z]) for z in zones]
    return f"""<section id="regions" aria-labelledby="regions-h">
<h2 id="regions-h">Final use by customer province <span class="zh" lang="zh-Hans">分地区最终使用</span></h2>
<p class="lead">Share of national final use of tokens, by the province of the customer. Each province is one tile,
placed roughly where it lies; the map is schematic.</p>
<div class="figures">
<figure class="map">{_tile_map(regions, names)}
<figcaption>Figure 1. Share of national final use (%), by customer province.</figcaption></figure>
<figure class="side">{
        _bar_chart("zones", "Final use by economic zone", bars, unit="trillion tokens", width=320, stacked=True)
    }
<figcaption>Figure 2. Final use by economic zone, trillion tokens (share %).</figcaption></figure>
</div>
</section>"""


def _mix_section(rows: dict[str, list[dict]], names: _Names) -> str:
    modality = [
        _bar_item(names.of("modality", r["modality"]), r)
        for r, _ in _ordered(rows.get("by_modality", []), "modality", names)
        if r["modality"] != TOTAL
    ]
    sectors = [r for r in rows.get("by_sector", []) if r["sector_code"] != TOTAL]
    sectors.sort(key=lambda r: (not _free(r), -(_value(r, "total_tokens") or 0), r["sector_code"]))
    sector = [_bar_item(_sector_label(r["sector_code"], names), r) for r in sectors]
    return f"""<section id="mix" aria-labelledby="mix-h">
<h2 id="mix-h">Modality and sector mix <span class="zh" lang="zh-Hans">模态与行业结构</span></h2>
<div class="figures">
<figure class="half">{_bar_chart("modality", "Final use by modality", modality, unit="trillion tokens")}
<figcaption>Figure 3. Final use by modality, trillion tokens (share %).</figcaption></figure>
<figure class="wide">{
        _bar_chart("sector", "Final use by sector", sector, unit="trillion tokens", label_width=330, width=760)
    }
<figcaption>Figure 4. Final use by sector of the customer (GB/T 4754-2017 section; HH households),
trillion tokens (share %).</figcaption></figure>
</div>
</section>"""


def _sector_label(code: str, names: _Names) -> tuple[str, str]:
    en, zh = names.of("sector_code", code)
    if len(en) > 42:
        en = en[:40].rsplit(" ", 1)[0].rstrip(",") + " …"
    return (f"{code} {en}" if len(code) == 1 else en), zh


def _flows_section(rows: dict[str, list[dict]], names: _Names) -> str:
    return f"""<section id="flows" aria-labelledby="flows-h">
<h2 id="flows-h">Where tokens are served <span class="zh" lang="zh-Hans">算力服务流向</span></h2>
<p class="lead">Final use by the province of the data centre that served the tokens (rows) and the province of the
customer (columns): the largest compute provinces and customer provinces, in trillion tokens.</p>
<figure class="full">{_flow_matrix(rows.get("compute_flows", []), names)}
<figcaption>Figure 5. Tokens served, by compute province and customer province, trillion tokens. Darker cells
are larger flows; a hatched cell is confidential.</figcaption></figure>
</section>"""


def _tables_section(rows: dict[str, list[dict]], names: _Names) -> str:
    regions = rows.get("by_region", [])
    region_order = {code: i for i, code in enumerate(names.en["region_code"])}
    grouped = []
    by_code = _by(regions, "region_code")
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
    parts = [
        _table(
            "t-region",
            "Table 1. Final use by customer province and economic zone",
            "分地区最终使用",
            "region_code",
            grouped,
            names,
        ),
        _table(
            "t-modality",
            "Table 2. Final use by modality",
            "分模态最终使用",
            "modality",
            _ordered(rows.get("by_modality", []), "modality", names),
            names,
        ),
        _table(
            "t-sector",
            "Table 3. Final use by sector",
            "分行业最终使用",
            "sector_code",
            _ordered(rows.get("by_sector", []), "sector_code", names),
            names,
        ),
        _table(
            "t-use",
            "Table 4. Final and intermediate use",
            "最终使用与中间使用",
            "use_type",
            _ordered(rows.get("use_type", []), "use_type", names),
            names,
        ),
        _coverage_table(rows),
    ]
    return f"""<section id="tables" aria-labelledby="tables-h">
<h2 id="tables-h">Main tables <span class="zh" lang="zh-Hans">主要统计表</span></h2>
<p class="lead">Tokens in billions (十亿), requests in millions, amounts in million yuan. A confidential cell is
empty and shows its flag; <span class="na">..</span> not available.{_status_note(rows)} Every table is published in
full with this bulletin (CSV, Parquet, XLSX, SDMX).</p>
{"".join(parts)}
</section>"""


def _status_note(rows: dict[str, list[dict]]) -> str:
    """The observation status, said once when every cell of the tables shares it."""
    statuses = {r.get("obs_status") for name in TABLE_NAMES for r in rows.get(name, [])}
    if len(statuses) != 1 or None in statuses:
        return ""
    (status,) = statuses
    return f" All values are {OBS_STATUS.get(status, status).lower()}s (OBS_STATUS {escape(status)})."


def _ordered(rows: list[dict], dimension: str, names: _Names) -> list[tuple[dict, str]]:
    order = {code: i for i, code in enumerate(names.en[dimension])}
    ordered = sorted(rows, key=lambda r: (r[dimension] != TOTAL, order.get(r[dimension], 999), r[dimension]))
    return [(r, "total" if r[dimension] == TOTAL else "") for r in ordered]


def _table(id_: str, caption: str, caption_zh: str, dimension: str, rows: list[tuple[dict, str]], names: _Names) -> str:
    """One of the main tables; an OBS_STATUS column only where its rows' statuses differ (else the lead says it)."""
    mixed = len({row.get("obs_status") for row, _ in rows}) > 1
    heads = "".join(
        f'<th scope="col">{en}<span lang="zh-Hans">{zh}</span><span class="u">{unit}</span></th>'
        for en, zh, unit, _, _ in COLUMNS.values()
    )
    if mixed:
        heads += '<th scope="col">Status<span lang="zh-Hans">状态</span></th>'
    body = []
    for row, kind in rows:
        en, zh = names.of(dimension, row[dimension])
        if dimension == "sector_code" and len(row[dimension]) == 1:
            en = f"{row[dimension]} {en}"
        label = f'{escape(en)} <span class="zhc" lang="zh-Hans">{escape(zh)}</span>' if zh else escape(en)
        cells = "".join(_td(row, measure) for measure in COLUMNS)
        if mixed:
            status = row.get("obs_status") or ""
            meaning = escape(OBS_STATUS.get(status, status))
            cells += f'<td class="st"><abbr title="{meaning}">{escape(status)}</abbr></td>'
        body.append(f'<tr class="{kind}"><th scope="row">{label}</th>{cells}</tr>')
    span = len(COLUMNS) + 1 + mixed
    content = "".join(body) or f'<tr><td colspan="{span}" class="empty">No data published.</td></tr>'
    return f"""<div class="tbl"><table id="{id_}">
<caption>{caption} <span lang="zh-Hans">{caption_zh}</span></caption>
<thead><tr><th scope="col"></th>{heads}</tr></thead>
<tbody>{content}</tbody></table></div>"""


def _td(row: dict, measure: str) -> str:
    if not _free(row):
        return f'<td class="conf">{_flag(row.get("conf_status"))}</td>'
    value = row.get(measure)
    if value is None:
        return '<td class="na" title="not available">..</td>'
    _, _, _, scale, decimals = COLUMNS[measure]
    return f"<td>{_fmt(value, scale, decimals, sign=measure == 'change_on_previous_month_pct')}</td>"


def _flag(flag: str | None) -> str:
    flag = flag or "?"
    meaning = escape(CONF_STATUS.get(flag, "Confidential"))
    return f'<abbr class="flag" title="{meaning}" aria-label="confidential, flag {flag}">{escape(flag)}</abbr>'


def _coverage_table(rows: dict[str, list[dict]]) -> str:
    coverage = (rows.get("coverage") or [None])[0]
    labels = (
        ("providers_expected", "Expected", "应报"),
        ("providers_reported", "Reported (accepted)", "已报"),
        ("providers_rejected", "Rejected", "退回"),
        ("providers_missing", "Missing", "未报"),
    )
    heads = "".join(f'<th scope="col">{en}<span lang="zh-Hans">{zh}</span></th>' for _, en, zh in labels)
    if coverage is None:
        body = f'<tr><td colspan="{len(labels)}" class="empty">No data published.</td></tr>'
    else:
        body = (
            "<tr>"
            + "".join(f"<td>{'..' if coverage.get(c) is None else coverage[c]}</td>" for c, _, _ in labels)
            + "</tr>"
        )
    return f"""<div class="tbl narrow"><table id="t-coverage">
<caption>Table 5. Coverage: registered providers and their reports <span lang="zh-Hans">报送情况</span></caption>
<thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table></div>"""


def _revisions_section(rows: dict[str, list[dict]], names: _Names, release: ReleaseInfo) -> str:
    revisions = rows.get("revisions")
    if revisions is None:
        return ""
    if not revisions:
        return f"""<section id="revisions" aria-labelledby="revisions-h">
<h2 id="revisions-h">Revisions <span class="zh" lang="zh-Hans">数据修订</span></h2>
<p class="lead">No published figure or flag has changed since version {release.previous_version}.</p>
</section>"""
    regional = [
        r for r in revisions
        if r["use_type"] == "final" and all(r[d] == TOTAL for d in ("compute_region_code", "modality", "sector_code"))
    ]  # fmt: skip
    keyed = _by(regional, "region_code", "measure")
    codes = [c for c in names.en["region_code"] if not c.isdigit() and any(k[0] == c for k in keyed)]
    by_size = sorted(
        {r["region_code"] for r in regional if r["region_code"].isdigit()},
        key=lambda c: (-abs((keyed.get((c, "total_tokens")) or {}).get("difference") or 0), c),
    )
    codes = [*([TOTAL] if TOTAL in codes else []), *(c for c in codes if c != TOTAL), *by_size[:5]]
    body = []
    for code in codes:
        en, zh = names.of("region_code", code)
        cells = []
        for measure, scale in (("total_tokens", Decimal(10) ** 9), ("settlement_amount", Decimal(10) ** 6)):
            r = keyed.get((code, measure))
            for column, flags in (
                ("previous_value", ("previous_conf_status",)),
                ("value", ("conf_status",)),
                ("difference", ("previous_conf_status", "conf_status")),
            ):
                cells.append(_revision_td(r, column, flags, scale))
        kind = "total" if code == TOTAL else "zone" if not code.isdigit() else ""
        body.append(
            f'<tr class="{kind}"><th scope="row">{escape(en)} <span class="zhc" lang="zh-Hans">{escape(zh)}</span>'
            f"</th>{''.join(cells)}</tr>"
        )
    previous = release.previous_version or (revisions[0].get("previous_version") if revisions else "")
    heads = "".join(
        f'<th scope="col">{h}<span class="u">{u}</span></th>'
        for h, u in (
            (f"Tokens, v{previous}", "bn"), (f"Tokens, v{release.version}", "bn"), ("Revision", "bn"),
            (f"Settled, v{previous}", "CNY mn"), (f"Settled, v{release.version}", "CNY mn"), ("Revision", "CNY mn"),
        )
    )  # fmt: skip
    return f"""<section id="revisions" aria-labelledby="revisions-h">
<h2 id="revisions-h">Revisions <span class="zh" lang="zh-Hans">数据修订</span></h2>
<p class="lead">This release revises version {previous}: late and corrected provider reports replace earlier ones.
National and zone totals and the largest provincial revisions; the release's revisions table lists every revised
cell.</p>
<div class="tbl"><table id="t-revisions"><caption>Table 6. Revisions of final use since version {previous}
<span lang="zh-Hans">修订情况</span></caption>
<thead><tr><th scope="col"></th>{heads}</tr></thead><tbody>{"".join(body)}</tbody></table></div>
</section>"""


def _revision_td(row: dict | None, column: str, flags: tuple[str, ...], scale: Decimal) -> str:
    statuses = [row.get(f) for f in flags] if row is not None else [None]
    if None in statuses:  # a cell new in this version, or no longer published
        return '<td class="na">..</td>'
    hidden = [s for s in statuses if s != "F"]
    if hidden:
        return f'<td class="conf">{_flag(hidden[0])}</td>'
    value = row.get(column)
    if value is None:
        return '<td class="na">..</td>'
    return f"<td>{_fmt(value, scale, 1, sign=column == 'difference')}</td>"


def _methodology(rows: dict[str, list[dict]], release: ReleaseInfo) -> str:
    coverage = (rows.get("coverage") or [None])[0]
    covered = ""
    if coverage and coverage.get("providers_reported") is not None and coverage.get("providers_expected"):
        covered = (
            f" For this release, the reports of {coverage['providers_reported']} of the "
            f"{coverage['providers_expected']} registered providers were accepted."
        )
    status = (
        "This is the first, provisional release for the month (flag P): reports that arrive late or are corrected "
        "are taken into a later, revised version, which lists its revisions."
        if release.provisional
        else f"This is version {release.version} of the month, revising version {release.previous_version}; "
        "its figures replace those published before (flag A), and its revisions are listed."
    )
    return f"""<section id="methodology" aria-labelledby="methodology-h">
<h2 id="methodology-h">Methodology <span class="zh" lang="zh-Hans">说明</span></h2>
<div class="cols">
<div>
<h3>Sources <span lang="zh-Hans">资料来源</span></h3>
<p>Every registered provider of AI model services reports its token usage for the month to the bureau: daily
figures by customer province, province of the serving data centre, modality, customer type and sector. Each report
is validated against the published data contract (types, code lists, ranges, consistency with the provider's
history) before it is accepted; a rejected report is returned with its reasons, and a corrected report replaces
the earlier one.{covered}</p>
<h3>Final and intermediate use <span lang="zh-Hans">最终使用与中间使用</span></h3>
<p>Final use is the tokens used by enterprises, government and individual consumers (households, HH). Tokens sold
to another registered provider that serves them again are intermediate use: they are shown apart and excluded from
final use, so that every token is counted once in the national totals.</p>
<h3>Measures <span lang="zh-Hans">指标</span></h3>
<p>Total tokens are input plus output tokens; input tokens include cached input. The amount settled is in yuan
(CNY); the price is the amount settled per million total tokens. Shares are of the table's total; the change on
the previous month compares total tokens with the latest release of that month, where both are published.</p>
</div>
<div>
<h3>Revisions <span lang="zh-Hans">修订</span></h3>
<p>{status}</p>
<h3>Confidentiality <span lang="zh-Hans">保密处理</span></h3>
<p>No published figure may reveal the business of an enterprise group; providers of one group count as one
contributor. A cell with too few contributing groups (flag A) or dominated by one group (flag O) is suppressed
(primary confidentiality). Further cells are suppressed (flag D, secondary confidentiality) so that no suppressed
value can be derived from the published totals by arithmetic; this is verified for every release by a
linear-programming audit of the range an intruder could derive for each suppressed value. The thresholds of the
rules are not published. {escape(SUPPRESSED_NOTE)}</p>
<h3>Conventions <span lang="zh-Hans">数据约定</span></h3>
<p>Tokens are shown in trillions (10<sup>12</sup>, 万亿) in the headline and charts and in billions
(10<sup>9</sup>, 十亿) in the tables; amounts in yuan, in billions or millions as labelled. Figures are rounded
independently, so parts may not add up to totals. The tile map is schematic: every province has the same size.
Exact values are in the data files of the release.</p>
</div>
</div>
</section>"""


def _legend() -> str:
    obs = "".join(f'<tr><th scope="row">{c}</th><td>{escape(t)}</td></tr>' for c, t in OBS_STATUS.items())
    conf = "".join(
        f'<tr><th scope="row">{_flag(c) if c != "F" else c}</th><td>{escape(t)}</td></tr>'
        for c, t in CONF_STATUS.items()
    )
    return f"""<section id="flags" aria-labelledby="flags-h">
<h2 id="flags-h">Flags <span class="zh" lang="zh-Hans">标识说明</span></h2>
<div class="cols">
<table class="legend"><caption>Observation status (OBS_STATUS)</caption><tbody>{obs}</tbody></table>
<table class="legend"><caption>Confidentiality status (CONF_STATUS)</caption><tbody>{conf}
<tr><th scope="row"><span class="na">..</span></th><td>Not available</td></tr></tbody></table>
</div>
</section>"""


def _footer(release: ReleaseInfo) -> str:
    return f"""<footer class="foot"><div class="wrap">
<p>TokenStats · Reference period {release.period}, version {release.version} ({release.status}) · pipeline
{escape(release.pipeline_version)} · data contract {escape(release.contract_version)}</p>
</div></footer>"""


# ---------------------------------------------------------------------------------------------------- charts


def _bar_item(label: tuple[str, str], row: dict) -> tuple[str, str, float | None, float | None, str]:
    tokens = _value(row, "total_tokens")
    share = _value(row, "share_of_total_pct")
    return (
        label[0],
        label[1],
        None if tokens is None else float(tokens) / 1e12,
        share,
        row.get("conf_status") or "",
    )


def _svg(id_: str, width: int, height: int, title: str, desc: str, content: Iterable[str]) -> str:
    """An accessible inline SVG; ``url(#hatch)`` in the content refers to this chart's own hatch pattern."""
    body = "".join(content).replace("url(#hatch)", f"url(#{id_}-hatch)")
    return (
        f'<svg id="chart-{id_}" class="chart" role="img" aria-labelledby="{id_}-title {id_}-desc" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f'<title id="{id_}-title">{escape(title)}</title><desc id="{id_}-desc">{escape(desc)}</desc>'
        f"{_HATCH.replace('{id}', id_)}{body}</svg>"
    )


_HATCH = (
    '<defs><pattern id="{id}-hatch" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)">'
    '<rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" stroke="#bcc4cb" '
    'stroke-width="2"/></pattern></defs>'
)


def _text(x: float, y: float, text: str, cls: str = "", anchor: str = "start", lang: str = "") -> str:
    attrs = f' class="{cls}"' if cls else ""
    attrs += f' text-anchor="{anchor}"' if anchor != "start" else ""
    attrs += f' lang="{lang}"' if lang else ""
    return f'<text x="{x:g}" y="{y:g}"{attrs}>{escape(text)}</text>'


def _bar_chart(
    id_: str,
    title: str,
    items: list[tuple[str, str, float | None, float | None, str]],
    *,
    unit: str,
    label_width: int = 190,
    width: int = 560,
    stacked: bool = False,
) -> str:
    """Horizontal bars of published values; a confidential item is a hatched stub with its flag.

    ``stacked`` puts each label above its bar (for a narrow column) instead of to its left."""
    if not items:
        return '<p class="empty">No data published.</p>'
    row_h, value_w = (44, 104) if stacked else (30, 112)
    x0 = 0 if stacked else label_width
    bar_y = 20 if stacked else 5
    plot = width - x0 - value_w
    top = max((v for _, _, v, _, _ in items if v is not None), default=0.0) or 1.0
    parts, described = [], []
    for i, (en, zh, value, share, flag) in enumerate(items):
        y = i * row_h
        if stacked:
            zh_span = f' <tspan class="lbl-zh" lang="zh-Hans">{escape(zh)}</tspan>' if zh else ""
            parts.append(f'<text x="0" y="{y + 13}" class="lbl">{escape(en)}{zh_span}</text>')
        else:
            parts.append(_text(0, y + 13, en, "lbl"))
            parts.append(_text(0, y + 25, zh, "lbl-zh", lang="zh-Hans") if zh else "")
        if value is None:
            hidden = flag != "F"
            stub = max(plot * 0.12, 24)
            parts.append(
                f'<rect x="{x0}" y="{y + bar_y}" width="{stub:g}" height="18" '
                f'fill="{"url(#hatch)" if hidden else "none"}" stroke="#9aa5ae" stroke-width="0.8"/>'
            )
            note = f"confidential [{flag}]" if hidden else "not available"
            parts.append(_text(x0 + stub + 6, y + bar_y + 13, note, "val muted"))
            described.append(f"{en}: {note}")
            continue
        w = max(plot * value / top, 1.0)
        parts.append(f'<rect x="{x0}" y="{y + bar_y}" width="{w:.1f}" height="18" fill="{BAR}"/>')
        shown = f"{value:,.1f}" if value >= 0.05 or value == 0 else "<0.1"
        label = shown + (f" ({share:.1f}%)" if share is not None else "")
        parts.append(_text(x0 + w + 6, y + bar_y + 13, label, "val"))
        described.append(f"{en}: {shown} {unit}" + (f", {share:.1f}%" if share is not None else ""))
    height = len(items) * row_h + 4
    if not stacked:
        parts.append(f'<line x1="{x0}" y1="0" x2="{x0}" y2="{height - 4}" stroke="{MUTED}" stroke-width="1"/>')
    return _svg(id_, width, height, title, "; ".join(described), parts)


def _share_class(share: float) -> int:
    return next(i for i, bound in enumerate(SHARE_CLASSES) if share >= bound)


def _tile_map(regions: dict[str, dict], names: _Names) -> str:
    tile_w, tile_h, gap, left, top = 80, 56, 4, 0, 0
    parts, described = [], []
    for code, (col, row) in TILES.items():
        x, y = left + col * (tile_w + gap), top + row * (tile_h + gap)
        en = SHORT_NAMES.get(code, names.en["region_code"].get(code, code))
        zh = _short_zh(names.zh["region_code"].get(code, ""))
        record = regions.get(code)
        share = _value(record, "share_of_total_pct")
        if record is not None and not _free(record):
            fill, ink, note = "url(#hatch)", INK, f"[{record.get('conf_status')}]"
            described.append(f"{names.en['region_code'].get(code, code)}: confidential")
        elif share is None:
            fill, ink, note = "#f3f4f5", MUTED, ".."
            described.append(f"{names.en['region_code'].get(code, code)}: not available")
        else:
            cls = _share_class(share)
            fill, ink, note = BLUES[cls], "#ffffff" if cls < 2 else INK, f"{share:.1f}%"
            described.append(f"{names.en['region_code'].get(code, code)}: {share:.1f}%")
        parts.append(
            f'<g class="tile"><rect x="{x}" y="{y}" width="{tile_w}" height="{tile_h}" rx="3" fill="{fill}" '
            f'stroke="#ffffff" stroke-width="1"/>'
            f'<text x="{x + 6}" y="{y + 15}" class="t-en" fill="{ink}">{escape(en)}</text>'
            f'<text x="{x + 6}" y="{y + 29}" class="t-zh" fill="{ink}" lang="zh-Hans">{escape(zh)}</text>'
            f'<text x="{x + tile_w - 6}" y="{y + tile_h - 8}" class="t-val" text-anchor="end" fill="{ink}">'
            f"{escape(note)}</text></g>"
        )
    # legend, bottom left (the grid is empty south-west of Xizang)
    lx, ly = 0, 4 * (tile_h + gap) + 18
    parts.append(_text(lx, ly, "Share of final use", "lbl"))
    bounds = [f"≥ {SHARE_CLASSES[0]:g}%"] + [f"{lo:g}–{hi:g}%" for hi, lo in itertools.pairwise(SHARE_CLASSES)]
    bounds[-1] = f"< {SHARE_CLASSES[-2]:g}%"
    for i, (colour, label) in enumerate(zip(BLUES, bounds, strict=True)):
        parts.append(f'<rect x="{lx}" y="{ly + 8 + i * 20}" width="18" height="14" fill="{colour}"/>')
        parts.append(_text(lx + 24, ly + 19 + i * 20, label, "val"))
    extra = [("url(#hatch)", "confidential")]
    if any(code not in regions for code in TILES):
        extra.append(("#f3f4f5", "not published"))
    for i, (fill, label) in enumerate(extra, start=len(BLUES)):
        parts.append(f'<rect x="{lx}" y="{ly + 8 + i * 20}" width="18" height="14" fill="{fill}" stroke="#9aa5ae"/>')
        parts.append(_text(lx + 24, ly + 19 + i * 20, label, "val"))
    width, height = 8 * (tile_w + gap), 8 * (tile_h + gap)
    return _svg(
        "map",
        width,
        height,
        "Share of national final use of tokens by customer province (tile map)",
        "; ".join(described),
        parts,
    )


def _flow_matrix(flows: list[dict], names: _Names, max_rows: int = 10, max_cols: int = 12) -> str:
    cells = {(r["compute_region_code"], r["region_code"]): r for r in flows}
    served = {c: r for (c, region), r in cells.items() if region == TOTAL and c != TOTAL}
    used = {region: r for (c, region), r in cells.items() if c == TOTAL and region != TOTAL}
    if not served or not used:
        return '<p class="empty">No data published.</p>'

    def size(row: dict) -> float:
        value = _value(row, "total_tokens")
        return -float(value) if value is not None else math.inf

    compute = sorted(served, key=lambda c: (size(served[c]), c))[:max_rows]
    customers = sorted(used, key=lambda c: (size(used[c]), c))[:max_cols]
    inner = [
        float(v)
        for c in compute
        for region in customers
        if (v := _value(cells.get((c, region)), "total_tokens")) is not None
    ]
    top = max(inner, default=0.0) or 1.0
    label_w, cell_w, cell_h, head_h, total_w = 150, 62, 34, 44, 86
    parts, described = [], []
    for j, region in enumerate(customers):
        x = label_w + j * cell_w + cell_w / 2
        en = SHORT_NAMES.get(region, names.en["region_code"].get(region, region))
        parts.append(_text(x, 16, en, "lbl-s", "middle"))
        parts.append(_text(x, 32, _short_zh(names.zh["region_code"].get(region, "")), "lbl-zh", "middle", "zh-Hans"))
    parts.append(_text(label_w + len(customers) * cell_w + total_w / 2 + 4, 16, "All customers", "lbl-s", "middle"))
    parts.append(_text(label_w + len(customers) * cell_w + total_w / 2 + 4, 32, "合计", "lbl-zh", "middle", "zh-Hans"))
    for i, c in enumerate(compute):
        y = head_h + i * cell_h
        en, zh = names.of("compute_region_code", c)
        parts.append(_text(0, y + 15, en, "lbl"))
        parts.append(_text(0, y + 28, _short_zh(zh), "lbl-zh", lang="zh-Hans"))
        for j, region in enumerate(customers):
            x = label_w + j * cell_w
            parts.append(_flow_cell(cells.get((c, region)), x, y, cell_w, cell_h, top))
        x = label_w + len(customers) * cell_w + 8
        row_total = served[c]
        value = _value(row_total, "total_tokens")
        text = f"[{row_total.get('conf_status')}]" if not _free(row_total) else _trillions(value)
        parts.append(_text(x + total_w - 10, y + cell_h / 2 + 4, text, "val b", "end"))
        described.append(f"{en} serves {text} trillion tokens in all")
    width = label_w + len(customers) * cell_w + total_w + 10
    height = head_h + len(compute) * cell_h + 6
    return _svg(
        "flows",
        width,
        height,
        "Tokens served by compute province (rows) to customer province (columns), trillion tokens",
        "; ".join(described),
        parts,
    )


def _trillions(value: int | float | Decimal | None) -> str:
    if value is None:
        return ".."
    number = float(value) / 1e12
    return "<0.1" if 0 < number < 0.05 else f"{number:,.1f}"


def _flow_cell(row: dict | None, x: float, y: float, w: float, h: float, top: float) -> str:
    rect = f'<rect x="{x + 1}" y="{y + 1}" width="{w - 2}" height="{h - 2}"'
    if row is None:
        return f'{rect} fill="#fafafa"/>'
    if not _free(row):
        flag = row.get("conf_status")
        return f'{rect} fill="url(#hatch)"><title>confidential [{flag}]</title></rect>' + _text(
            x + w / 2, y + h / 2 + 4, f"[{flag}]", "val", "middle"
        )
    value = _value(row, "total_tokens")
    if value is None:
        return f'{rect} fill="#fafafa"/>' + _text(x + w / 2, y + h / 2 + 4, "..", "val muted", "middle")
    strength = math.sqrt(float(value) / top) if top else 0.0
    fill = _blend("#f1f5f9", "#08306b", strength)
    text = _trillions(value)
    return f'{rect} fill="{fill}"><title>{text} trillion tokens</title></rect>' + _text(
        x + w / 2, y + h / 2 + 4, text, "val inv" if strength > 0.55 else "val", "middle"
    )


def _blend(low: str, high: str, t: float) -> str:
    t = min(max(t, 0.0), 1.0)
    a = [int(low[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(high[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


CSS = """
:root { --ink: #1b2a3a; --muted: #5b6770; --rule: #d5dbe1; --navy: #14365a; --pale: #f4f6f8; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff; font: 15px/1.55 "Helvetica Neue", Arial, "Noto Sans",
  "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; }
.wrap, main { max-width: 1120px; margin: 0 auto; padding: 0 28px; }
.masthead { background: var(--navy); color: #fff; padding: 22px 0 0; }
.masthead .agency { margin: 0; font-size: 13px; letter-spacing: .04em; color: #c9d6e3; }
.masthead h1 { margin: 8px 0 6px; font-size: 32px; line-height: 1.2; font-weight: 600; }
.masthead h1 .zh { display: block; font-size: 20px; font-weight: 400; color: #dbe4ee; margin-top: 4px; }
.status { margin: 0 0 14px; font-size: 14px; color: #dbe4ee; }
.badge { display: inline-block; padding: 2px 9px; margin-right: 8px; border-radius: 2px; font-weight: 600;
  font-size: 13px; background: #f0b429; color: #1b2a3a; }
.badge.revised { background: #9fd3c7; }
nav { display: flex; flex-wrap: wrap; gap: 2px 18px; border-top: 1px solid #2f5377; padding: 8px 0 10px;
  font-size: 13px; }
nav a { color: #fff; text-decoration: none; }
nav a:hover { text-decoration: underline; }
section { padding: 26px 0 6px; border-bottom: 1px solid var(--rule); }
h2 { font-size: 22px; font-weight: 600; margin: 0 0 12px; color: var(--navy); }
h2 .zh { font-weight: 400; color: var(--muted); font-size: 17px; margin-left: 6px; }
h3 { font-size: 15px; margin: 16px 0 4px; color: var(--navy); }
h3 span { font-weight: 400; color: var(--muted); margin-left: 4px; }
.lead { color: var(--muted); margin: -4px 0 14px; max-width: 860px; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; }
.card { border-top: 4px solid var(--navy); background: var(--pale); padding: 12px 16px 14px; }
.card-title { margin: 0; font-size: 13px; font-weight: 600; color: var(--muted); }
.card-title span { display: block; font-weight: 400; }
.figure { margin: 6px 0 2px; font-size: 32px; font-weight: 600; line-height: 1.15; color: var(--navy);
  font-variant-numeric: tabular-nums; }
.figure small { font-size: 16px; font-weight: 400; color: var(--muted); }
.unit { margin: 0; font-size: 13px; color: var(--muted); }
.chg { color: var(--ink); font-weight: 600; }
.points { margin: 0; padding-left: 20px; max-width: 900px; }
.points li { margin: 3px 0; }
.figures { display: flex; flex-wrap: wrap; gap: 18px 34px; align-items: flex-start; }
figure { margin: 0 0 16px; }
figcaption { font-size: 12.5px; color: var(--muted); margin-top: 6px; max-width: 700px; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 12px; }
svg .lbl { font-size: 12.5px; fill: var(--ink); }
svg .lbl-s { font-size: 11px; fill: var(--ink); }
svg .lbl-zh { font-size: 10.5px; fill: var(--muted); }
svg .val { font-size: 11.5px; fill: var(--ink); font-variant-numeric: tabular-nums; }
svg .val.b { font-weight: 600; }
svg .muted { fill: var(--muted); }
svg .inv { fill: #fff; }
svg .t-en { font-size: 11px; font-weight: 600; }
svg .t-zh { font-size: 11px; }
svg .t-val { font-size: 12px; font-variant-numeric: tabular-nums; }
.tbl { overflow-x: auto; margin: 0 0 22px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
.tbl table { width: 100%; }
caption { text-align: left; font-weight: 600; color: var(--navy); padding: 0 0 6px; font-size: 14px; }
caption span { font-weight: 400; color: var(--muted); margin-left: 4px; }
thead th { text-align: right; vertical-align: bottom; font-weight: 600; padding: 6px 8px; border-bottom: 2px solid
  var(--navy); border-top: 1px solid var(--rule); font-size: 12.5px; }
thead th span { display: block; font-weight: 400; color: var(--muted); }
thead th span.u { font-style: italic; }
tbody th { text-align: left; font-weight: 400; padding: 4px 8px; min-width: 190px; max-width: 330px; }
tbody td { text-align: right; padding: 4px 8px; white-space: nowrap; }
tbody tr { border-bottom: 1px solid #edf0f2; }
tr.total th, tr.total td { font-weight: 700; border-bottom: 1px solid var(--muted); }
tr.zone th, tr.zone td { font-weight: 600; background: var(--pale); }
tr.member th { padding-left: 22px; }
.zhc { color: var(--muted); font-size: 12px; white-space: nowrap; }
td.conf { background: repeating-linear-gradient(45deg, #fff, #fff 4px, #eef0f2 4px, #eef0f2 6px); }
.flag { display: inline-block; min-width: 18px; padding: 0 3px; border: 1px solid #9aa5ae; border-radius: 2px;
  font-size: 11px; line-height: 15px; text-align: center; color: var(--ink); background: #fff;
  text-decoration: none; cursor: help; }
td.st { text-align: center; color: var(--muted); }
.na { color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
.narrow table { width: auto; min-width: 460px; }
.narrow td { text-align: right; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 0 40px; align-items: start; }
#methodology p { margin: 0 0 8px; max-width: 640px; }
table.legend { margin: 0 0 16px; }
table.legend th { text-align: center; width: 44px; }
table.legend td { text-align: left; white-space: normal; }
.foot { color: var(--muted); font-size: 12.5px; padding: 14px 0 30px; }
@media (max-width: 860px) { .cards { grid-template-columns: repeat(2, 1fr); } .cols { grid-template-columns: 1fr; } }
@media print {
  .masthead { background: #fff; color: var(--ink); border-bottom: 3px solid var(--navy); }
  .masthead .agency, .masthead h1 .zh, .status { color: var(--muted); }
  nav { display: none; }
  section, figure, table { break-inside: avoid; }
}
"""
