"""Reference months (``YYYY-MM``): parsing, neighbours and days."""

from __future__ import annotations

import calendar
import datetime as dt
import re

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def previous_period(period: str) -> str:
    year, month = (int(x) for x in period.split("-"))
    return f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"


def month_days(period: str) -> list[dt.date]:
    year, month = (int(x) for x in period.split("-"))
    return [dt.date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
