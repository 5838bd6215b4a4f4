"""Reference months (``YYYY-MM``): parsing, neighbours and days."""

from __future__ import annotations

import calendar
import datetime as dt
import re

PERIOD = re.compile(r"^2\d{3}-(0[1-9]|1[0-2])$")  # 2000-01 to 2999-12: no AI token before, no calendar trouble


def previous_period(period: str) -> str:
    """The month before ``YYYY-MM``."""
    year, month = (int(x) for x in period.split("-"))
    return f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"


def list_month_days(period: str) -> list[dt.date]:
    """Every day of a month ``YYYY-MM``."""
    year, month = (int(x) for x in period.split("-"))
    return [dt.date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
