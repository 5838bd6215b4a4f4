"""The bulletin's names, published values, number format and chart geometry (charts.html.j2 draws the charts).

Every chart is a dict of what its template needs, coordinates and labels computed here: the SVG's size, title and
description, and one entry per bar, tile or cell. A confidential value is never drawn: its shape is hatched and
shows its CONF_STATUS flag. Within a chart, ``hatch`` is the fill that refers to that chart's own hatch pattern.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup

from pipelines.contract.contract import read_code_list

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
SHORT_NAMES = {"150000": "Inner Mong."}
ZH_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
#: share of national final use (%) -> tile class; the legend reads these bounds
SHARE_CLASSES = (10.0, 5.0, 2.0, 1.0, 0.0)
BLUES = ("#08519c", "#3182bd", "#6baed6", "#9ecae1", "#deebf7")
INK, MUTED = "#1b2a3a", "#5b6770"
#: the English and Chinese names of the codes no code list has, by dimension
SPECIAL_NAMES = {
    "region_code": {TOTAL: ("China (all provinces)", "全国")},
    "compute_region_code": {"_X": ("Not reported", "未报告"), TOTAL: ("All data centres", "全部数据中心")},
    "sector_code": {"_X": ("Unspecified", "未指明"), TOTAL: ("All sectors", "全部行业")},
    "modality": {TOTAL: ("All modalities", "全部模态")},
    "use_type": {
        "final": ("Final use", "最终使用"),
        "intermediate": ("Intermediate use (resold)", "中间使用（转售）"),
        TOTAL: ("All uses", "合计"),
    },
}


@dataclass(frozen=True)
class Names:
    """English and Chinese names of every code the bulletin shows."""

    en: dict[str, dict[str, str]]
    zh: dict[str, dict[str, str]]
    zone_of: dict[str, str]

    def of(self, dimension: str, code: str) -> tuple[str, str]:
        """The English and Chinese name of a code (the code itself, and no Chinese, when unknown)."""
        return self.en[dimension].get(code, code), self.zh[dimension].get(code, "")


def read_names() -> Names:
    """The names of every code, from the contract's code lists."""
    provinces = read_code_list("provinces.csv")
    regions = [(r["region_code"], r["name"], r["name_zh"]) for r in provinces] + [
        (r["zone_code"], f"{r['name']} zone", r["name_zh"]) for r in read_code_list("economic_zones.csv")
    ]
    listed = {
        "region_code": regions,
        "compute_region_code": regions,
        "sector_code": [(r["sector_code"], r["name"], r["name_zh"]) for r in read_code_list("sectors.csv")],
        "modality": [(r["modality"], r["name"], r["name_zh"]) for r in read_code_list("modalities.csv")],
        "use_type": [],
    }
    en, zh = (
        {
            dimension: {code: names[i] for code, *names in codes}
            | {c: n[i] for c, n in SPECIAL_NAMES[dimension].items()}
            for dimension, codes in listed.items()
        }
        for i in (0, 1)
    )
    return Names(en, zh, {r["region_code"]: r["economic_zone"] for r in provinces})


def is_free(row: dict) -> bool:
    """Whether a cell is published (CONF_STATUS F)."""
    return row.get("conf_status") == "F"


def pick_value(row: dict | None, measure: str) -> int | float | Decimal | None:
    """A published value: None for a confidential cell (whatever it holds) or a value not available."""
    if row is None or not is_free(row):
        return None
    return row.get(measure)


def format_number(
    value: int | float | Decimal, scale: Decimal = Decimal(1), decimals: int = 1, sign: bool = False
) -> Markup:
    """A value in ``scale`` units, thousands separated, rounded to ``decimals``; "<0.1" for a tiny positive value
    (not "0.0", which would say it is nothing); a minus sign, or with ``sign`` a plus sign, where it is not zero."""
    number = Decimal(str(value)) / scale
    rounded = number.quantize(Decimal(1).scaleb(-decimals))
    if number > 0 and not rounded and not sign:
        return Markup(f"&lt;{Decimal(1).scaleb(-decimals)}")
    rounded = rounded if rounded else abs(rounded)
    text = f"{rounded:{'+' if sign and rounded else ''},.{decimals}f}"
    return Markup(text.replace("-", "&minus;"))


def key_rows(rows: list[dict], *dimensions: str) -> dict:
    """Rows keyed by the value(s) of the given dimension(s)."""
    if len(dimensions) == 1:
        return {r[dimensions[0]]: r for r in rows}
    return {tuple(r[d] for d in dimensions): r for r in rows}


def shorten_zh(name: str) -> str:
    """A Chinese province name without its administrative suffix (省, 市, 自治区, …)."""
    for suffix in ZH_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name.removesuffix(suffix)
    return name


def make_bar_item(label: tuple[str, str], row: dict) -> tuple[str, str, float | None, float | None, str]:
    """One bar: English and Chinese label, trillion tokens, share (%) and flag of a row."""
    tokens = pick_value(row, "total_tokens")
    share = pick_value(row, "share_of_total_pct")
    return label[0], label[1], None if tokens is None else float(tokens) / 1e12, share, row.get("conf_status") or ""


def plot_bars(
    id_: str,
    title: str,
    items: list[tuple[str, str, float | None, float | None, str]],
    *,
    unit: str,
    label_width: int = 190,
    width: int = 560,
    stacked: bool = False,
) -> dict | None:
    """Horizontal bars of published values (a confidential item: a hatched stub with its flag); None for no items.

    ``stacked`` puts each label above its bar (for a narrow column) instead of to its left."""
    if not items:
        return None
    row_h, value_w = (44, 104) if stacked else (30, 112)
    x0 = 0 if stacked else label_width
    bar_y = 20 if stacked else 5
    plot = width - x0 - value_w
    top = max((v for _, _, v, _, _ in items if v is not None), default=0.0) or 1.0
    bars, described = [], []
    for i, (en, zh, value, share, flag) in enumerate(items):
        bar = {"y": i * row_h, "bar_y": i * row_h + bar_y, "en": en, "zh": zh}
        if value is None:
            hidden = flag != "F"
            stub = max(plot * 0.12, 24)
            note = f"confidential [{flag}]" if hidden else "not available"
            bar |= {"width": f"{stub:g}", "hidden": hidden, "note": note, "note_x": x0 + stub + 6}
            described.append(f"{en}: {note}")
        else:
            w = max(plot * value / top, 1.0)
            shown = f"{value:,.1f}" if value >= 0.05 or value == 0 else "<0.1"
            label = shown + (f" ({share:.1f}%)" if share is not None else "")
            bar |= {"width": f"{w:.1f}", "note": None, "label": label, "label_x": x0 + w + 6}
            described.append(f"{en}: {shown} {unit}" + (f", {share:.1f}%" if share is not None else ""))
        bars.append(bar)
    height = len(items) * row_h + 4
    return _chart(id_, width, height, title, described) | {"bars": bars, "x0": x0, "stacked": stacked}


def plot_tile_map(regions: dict[str, dict], names: Names) -> dict:
    """The tile map of the provinces' shares of national final use, with its legend."""
    tile_w, tile_h, gap = 80, 56, 4
    tiles, described = [], []
    for code, (col, row) in TILES.items():
        name = names.en["region_code"].get(code, code)
        record = regions.get(code)
        share = pick_value(record, "share_of_total_pct")
        if record is not None and not is_free(record):
            fill, ink, note = "url(#map-hatch)", INK, f"[{record.get('conf_status')}]"
            described.append(f"{name}: confidential")
        elif share is None:
            fill, ink, note = "#f3f4f5", MUTED, ".."
            described.append(f"{name}: not available")
        else:
            cls = next(i for i, bound in enumerate(SHARE_CLASSES) if share >= bound)
            fill, ink, note = BLUES[cls], "#ffffff" if cls < 2 else INK, f"{share:.1f}%"
            described.append(f"{name}: {share:.1f}%")
        x, y = col * (tile_w + gap), row * (tile_h + gap)
        en = SHORT_NAMES.get(code, name)
        zh = shorten_zh(names.zh["region_code"].get(code, ""))
        tiles.append({"x": x, "y": y, "fill": fill, "ink": ink, "en": en, "zh": zh, "note": note})
    # legend, bottom left (the grid is empty south-west of Xizang)
    bounds = [f"≥ {SHARE_CLASSES[0]:g}%"] + [f"{lo:g}–{hi:g}%" for hi, lo in itertools.pairwise(SHARE_CLASSES)]
    bounds[-1] = f"< {SHARE_CLASSES[-2]:g}%"
    keys = [(colour, label, False) for colour, label in zip(BLUES, bounds, strict=True)]
    keys.append(("url(#map-hatch)", "confidential", True))
    if any(code not in regions for code in TILES):
        keys.append(("#f3f4f5", "not published", True))
    width, height = 8 * (tile_w + gap), 8 * (tile_h + gap)
    title = "Share of national final use of tokens by customer province (tile map)"
    return _chart("map", width, height, title, described) | {
        "tiles": tiles,
        "tile_w": tile_w,
        "tile_h": tile_h,
        "legend_y": 4 * (tile_h + gap) + 18,
        "legend": keys,
    }


def plot_flows(flows: list[dict], names: Names, max_rows: int = 10, max_cols: int = 12) -> dict | None:
    """The matrix of tokens served by the largest compute provinces to the largest customer provinces."""
    cells = {(r["compute_region_code"], r["region_code"]): r for r in flows}
    served = {c: r for (c, region), r in cells.items() if region == TOTAL and c != TOTAL}
    used = {region: r for (c, region), r in cells.items() if c == TOTAL and region != TOTAL}
    if not served or not used:
        return None

    def size(row: dict) -> float:
        value = pick_value(row, "total_tokens")
        return -float(value) if value is not None else math.inf

    compute = sorted(served, key=lambda c: (size(served[c]), c))[:max_rows]
    customers = sorted(used, key=lambda c: (size(used[c]), c))[:max_cols]
    inner = [
        float(v)
        for c in compute
        for region in customers
        if (v := pick_value(cells.get((c, region)), "total_tokens")) is not None
    ]
    top = max(inner, default=0.0) or 1.0
    label_w, cell_w, cell_h, head_h, total_w = 150, 62, 34, 44, 86
    columns = [
        {
            "x": label_w + j * cell_w + cell_w / 2,
            "en": SHORT_NAMES.get(region, names.en["region_code"].get(region, region)),
            "zh": shorten_zh(names.zh["region_code"].get(region, "")),
        }
        for j, region in enumerate(customers)
    ]
    rows, described = [], []
    for i, c in enumerate(compute):
        y = head_h + i * cell_h
        en, zh = names.of("compute_region_code", c)
        row_total = served[c]
        total = (
            f"[{row_total.get('conf_status')}]"
            if not is_free(row_total)
            else _trillions(pick_value(row_total, "total_tokens"))
        )
        row_cells = [
            _flow_cell(cells.get((c, region)), label_w + j * cell_w, y, cell_w, cell_h, top)
            for j, region in enumerate(customers)
        ]
        rows.append({"y": y, "en": en, "zh": shorten_zh(zh), "cells": row_cells, "total": total})
        described.append(f"{en} serves {total} trillion tokens in all")
    width = label_w + len(customers) * cell_w + total_w + 10
    height = head_h + len(compute) * cell_h + 6
    title = "Tokens served by compute province (rows) to customer province (columns), trillion tokens"
    return _chart("flows", width, height, title, described) | {
        "columns": columns,
        "rows": rows,
        "total_x": label_w + len(customers) * cell_w + total_w / 2 + 4,
        "total_value_x": label_w + len(customers) * cell_w + 8 + total_w - 10,
        "cell_h": cell_h,
    }


def _chart(id_: str, width: int, height: int, title: str, described: list[str]) -> dict:
    return {"id": id_, "width": width, "height": height, "title": title, "desc": "; ".join(described)}


def _trillions(value: int | float | Decimal | None) -> str:
    if value is None:
        return ".."
    number = float(value) / 1e12
    return "<0.1" if 0 < number < 0.05 else f"{number:,.1f}"


def _flow_cell(row: dict | None, x: int, y: int, w: int, h: int, top: float) -> dict:
    """One cell of the matrix: its rectangle, fill, tooltip and text."""
    cell = {"x": x + 1, "y": y + 1, "w": w - 2, "h": h - 2, "text_x": x + w / 2, "text_y": y + h / 2 + 4}
    if row is None:
        return cell | {"fill": "#fafafa", "tooltip": None, "text": None}
    if not is_free(row):
        flag = row.get("conf_status")
        return cell | {
            "fill": "url(#flows-hatch)",
            "tooltip": f"confidential [{flag}]",
            "text": f"[{flag}]",
            "cls": "val",
        }
    value = pick_value(row, "total_tokens")
    if value is None:
        return cell | {"fill": "#fafafa", "tooltip": None, "text": "..", "cls": "val muted"}
    strength = math.sqrt(float(value) / top) if top else 0.0
    text = _trillions(value)
    return cell | {
        "fill": _blend("#f1f5f9", "#08306b", strength),
        # as published since v1: the tooltip's "<0.1" unescaped (the HTML parser reads "<0" as text)
        "tooltip": Markup(f"{text} trillion tokens"),
        "text": text,
        "cls": "val inv" if strength > 0.55 else "val",
    }


def _blend(low: str, high: str, t: float) -> str:
    t = min(max(t, 0.0), 1.0)
    a = [int(low[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(high[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))
