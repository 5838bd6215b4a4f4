"""The bulletin's trend charts, from the release's series tables and its price index (trends.html.j2 draws them).

Three charts, each drawn only from published values of the series (a month whose cell was withheld in its latest
release is a gap in a line, or a hatched part of a column, never a value): national final use over time, the
modality mix over time (each modality's share of national final use), and the five largest provinces of the
release's month over time. No trend section before the record holds two months. Two price charts from the
``price_index`` table: the three all-modality indices side by side (the gap between the matched indices and the
unit value is the effect of new, cheaper models), and the headline index by modality.
"""

from __future__ import annotations

import math

from pipelines.release.formats.bulletin_charts import TOTAL, Names, is_free, key_rows, pick_value, shorten_zh

PALETTE = ("#08519c", "#e6550d", "#31a354", "#756bb1", "#636363")
WIDTH, HEIGHT, LEFT, TOP, BOTTOM, RIGHT = 560, 240, 52, 12, 34, 16
INDEX_BASE = 100.0  # every price index is 100 in its first month
MONTHS_SHORT = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def plot_trends(rows: dict[str, list[dict]], names: Names, period: str) -> dict | None:
    """The three trend charts of a release, or None while its series holds fewer than two months."""
    national = [r for r in rows.get("series_national", []) if r["use_type"] == "final"]
    months = sorted({r["reference_period"] for r in national})
    if len(months) < 2:
        return None
    total = key_rows(national, "reference_period")
    national_line = [("China", "全国", PALETTE[0], [_trillions(total.get(m)) for m in months])]
    return {
        "national": plot_lines("trend-national", "National final use by month", months, national_line),
        "mix": plot_mix(rows.get("series_by_modality", []), names, months),
        "provinces": plot_lines(
            "trend-provinces",
            "Final use in the five largest provinces by month",
            months,
            _largest_provinces(rows.get("series_by_region", []), names, months, period),
        ),
    }


def plot_prices(rows: dict[str, list[dict]], names: Names) -> dict | None:
    """The price charts of a release, or None while its index holds fewer than two months."""
    index = rows.get("price_index", [])
    months = sorted({r["month"] for r in index})
    if len(months) < 2:
        return None
    cells = key_rows(index, "month", "modality")

    def line(modality: str, column: str) -> list[float | None]:
        return [_published(cells.get((m, modality)), column) for m in months]

    series = (
        ("Törnqvist (headline)", "price_index"),
        ("GEKS-Törnqvist", "geks_index"),
        ("Unit value", "unit_value_index"),
    )
    overall = [(en, "", color, line(TOTAL, column)) for (en, column), color in zip(series, PALETTE, strict=False)]
    codes = [code for code in names.en["modality"] if code != TOTAL]
    by_modality = [
        (*names.of("modality", code), color, line(code, "price_index"))
        for code, color in zip(codes, PALETTE, strict=True)
    ]
    unit, base = "(first month = 100)", INDEX_BASE
    return {
        "overall": plot_lines("price-overall", "Token price indices, all modalities", months, overall, unit, base),
        "modality": plot_lines("price-modality", "Token price index by modality", months, by_modality, unit, base),
    }


def plot_lines(
    id_: str,
    title: str,
    months: list[str],
    lines: list[tuple[str, str, str, list]],
    unit: str = "trillion tokens",
    base: float | None = None,
) -> dict:
    """Lines of values by month (``unit`` names them); a withheld month breaks its line (no point is drawn there).
    Volumes are drawn from zero; an index (``base``, its first month's value) over the range of its values and the
    base, so that a fall of a few percent a month is visible rather than flattened against zero."""
    bottom, top = _value_range([v for *_, values in lines for v in values if v is not None], base)
    x = _x_positions(months)
    plotted, described = [], []
    for en, zh, color, values in lines:
        segments, current, points = [], [], []
        for month, xi, value in zip(months, x, values, strict=True):
            if value is None:
                segments, current = segments + ([current] if current else []), []
                continue
            y = TOP + (HEIGHT - TOP - BOTTOM) * (1 - (value - bottom) / (top - bottom))
            current.append(f"{xi:.1f},{y:.1f}")
            points.append({"x": round(xi, 1), "y": round(y, 1), "tooltip": f"{en} {month}: {value:,.1f}"})
        segments += [current] if current else []
        plotted.append({"en": en, "zh": zh, "color": color, "segments": [" ".join(s) for s in segments]})
        plotted[-1]["points"] = points
        shown = ", ".join(f"{m} {'..' if v is None else f'{v:,.1f}'}" for m, v in zip(months, values, strict=True))
        described.append(f"{en}: {shown} {unit}")
    ticks = [
        {"y": round(TOP + (HEIGHT - TOP - BOTTOM) * (1 - f), 1), "label": f"{bottom + (top - bottom) * f:,.1f}"}
        for f in (0, 0.5, 1)
    ]
    return _frame(id_, title, months, described) | {"lines": plotted, "ticks": ticks}


def _value_range(values: list[float], base: float | None) -> tuple[float, float]:
    """The y-axis of a line chart: zero to 10% above the largest value; with a ``base`` (an index), the values and
    the base with a tenth of their span either side, on whole numbers (a flat series gets ±5)."""
    if base is None:
        return 0.0, max(values, default=0.0) * 1.1 or 1.0
    low, high = min([*values, base]), max([*values, base])
    margin = max((high - low) / 10, 5.0 if high == low else 0.0)
    return float(math.floor(low - margin)), float(math.ceil(high + margin))


def plot_mix(modality_rows: list[dict], names: Names, months: list[str]) -> dict:
    """Columns of each modality's share of national final use by month; the withheld rest hatched."""
    cells = key_rows([r for r in modality_rows if r["modality"] != TOTAL], "reference_period", "modality")
    codes = [code for code in names.en["modality"] if code != TOTAL]
    x, plot_h = _x_positions(months), HEIGHT - TOP - BOTTOM
    width = min(40.0, (WIDTH - LEFT - RIGHT) / len(months) * 0.6)
    columns, described = [], []
    for month, xi in zip(months, x, strict=True):
        bottom, parts, shares = float(HEIGHT - BOTTOM), [], []
        for code, color in zip(codes, PALETTE, strict=True):
            share = pick_value(cells.get((month, code)), "share_of_total_pct")
            if share is None:
                continue
            h = plot_h * float(share) / 100
            bottom -= h
            parts.append({"y": round(bottom, 1), "h": round(h, 1), "fill": color, "tooltip": f"{code} {share:.1f}%"})
            shares.append(f"{names.of('modality', code)[0]} {share:.1f}%")
        hidden = bottom - TOP > 0.5 and any(not is_free(cells.get((month, c), {})) for c in codes)
        columns.append({"x": round(xi - width / 2, 1), "w": round(width, 1), "parts": parts, "hidden_h": None})
        if hidden:
            columns[-1]["hidden_h"] = round(bottom - TOP, 1)
        described.append(
            f"{month}: " + (", ".join(shares) or "not available") + ("; rest confidential" if hidden else "")
        )
    legend = [
        {"en": names.of("modality", c)[0], "zh": names.of("modality", c)[1], "color": p}
        for c, p in zip(codes, PALETTE, strict=True)
    ]
    ticks = [{"y": round(TOP + plot_h * (1 - f), 1), "label": f"{100 * f:.0f}%"} for f in (0, 0.5, 1)]
    return _frame("trend-mix", "Modality mix of final use by month", months, described) | {
        "columns": columns,
        "legend": legend,
        "ticks": ticks,
    }


def _largest_provinces(rows: list[dict], names: Names, months: list[str], period: str) -> list[tuple]:
    """The five provinces with the most final use published free in the release's month, their lines."""
    provinces = [r for r in rows if r["region_code"].isdigit()]
    latest = [r for r in provinces if r["reference_period"] == period and is_free(r)]
    latest.sort(key=lambda r: (-(pick_value(r, "total_tokens") or 0), r["region_code"]))
    cells = key_rows(provinces, "reference_period", "region_code")
    lines = []
    for row, color in zip(latest[:5], PALETTE, strict=False):
        en, zh = names.of("region_code", row["region_code"])
        lines.append((en, shorten_zh(zh), color, [_trillions(cells.get((m, row["region_code"]))) for m in months]))
    return lines


def _published(row: dict | None, column: str) -> float | None:
    """A price index value as published: None where the row is withheld or the value empty."""
    value = row.get(column) if row is not None and is_free(row) else None
    return None if value is None else float(value)


def _trillions(row: dict | None) -> float | None:
    value = pick_value(row, "total_tokens")
    return None if value is None else float(value) / 1e12


def _x_positions(months: list[str]) -> list[float]:
    step = (WIDTH - LEFT - RIGHT) / len(months)
    return [LEFT + step * (i + 0.5) for i in range(len(months))]


def _frame(id_: str, title: str, months: list[str], described: list[str]) -> dict:
    """Size, title, description and month labels every trend chart shares."""
    labels = [
        {"x": round(x, 1), "label": f"{MONTHS_SHORT[int(m[5:]) - 1]} {m[2:4]}"}
        for x, m in zip(_x_positions(months), months, strict=True)
    ]
    return {
        "id": id_,
        "width": WIDTH,
        "height": HEIGHT,
        "title": title,
        "desc": "; ".join(described),
        "months": labels,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "base": HEIGHT - BOTTOM,
    }
