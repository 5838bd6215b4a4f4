"""What every output format of a release shares: the release's identity, the measures and the flags.

The tables themselves are Polars DataFrames keyed by table name (``marts.TABLES`` plus ``coverage`` and,
from version 2, ``revisions``); their columns are described in ``COLUMNS`` and ``MEASURES``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReleaseInfo:
    period: str  # reference month, YYYY-MM
    version: int  # 1, 2, ...
    previous_version: int | None  # the release this one revises
    pipeline_version: str
    contract_version: str

    @property
    def provisional(self) -> bool:
        """The first release of a month is provisional; later versions revise it."""
        return self.version == 1

    @property
    def status(self) -> str:
        return "provisional" if self.provisional else "revised"


AGENCY = "TOKENSTATS"
DIMENSIONS = {
    "use_type": "Use type: final use, or intermediate use (tokens resold to another registered provider)",
    "region_code": "Customer's province (GB/T 2260), economic zone (East, Central, West, Northeast) or _T",
    "compute_region_code": "Province of the data centre that served the tokens; _X not reported; _T all",
    "modality": "Modality of the tokens: text, code, image, audio, video; _T all",
    "sector_code": "Customer's sector, GB/T 4754-2017 section A-T; HH households (individual consumers); _T all",
}
MEASURES = {
    "total_tokens": ("Total tokens (input + output)", "tokens"),
    "input_tokens": ("Input tokens, cached included", "tokens"),
    "cached_input_tokens": ("Cached input tokens", "tokens"),
    "output_tokens": ("Output tokens", "tokens"),
    "requests": ("Requests", "requests"),
    "settlement_amount": ("Amount settled", "CNY"),
    "price_per_million_tokens": ("Average price: amount settled per million total tokens", "CNY per million tokens"),
    "share_of_total_pct": (
        "Share of national final use (total tokens); intermediate use is shown against it too",
        "percent",
    ),
    "change_on_previous_month_pct": (
        "Change of total tokens on the previous month's latest release, where both are published",
        "percent",
    ),
}
OBS_STATUS = {"A": "Normal value", "P": "Provisional value", "E": "Estimated value"}
COVERAGE_RATIO_NOTE = (
    "Share of the cell's total tokens that was reported (0 to 1), in a release that estimates a late provider "
    "(OBS_STATUS E where an estimate enters the cell): 1 without an estimate; empty where the cell is withheld, "
    "or where the reported or the estimated part alone would be confidential."
)
CONF_STATUS = {
    "F": "Free: published",
    "A": "Primary confidential: fewer contributing enterprise groups than the threshold",
    "O": "Primary confidential: dominated by one enterprise group",
    "D": "Secondary confidential: withheld so that a confidential value cannot be derived",
}
SUPPRESSED_NOTE = (
    "A confidential (suppressed) cell is published empty, with all its measures; its flag says why. "
    "Totals include the suppressed cells."
)
