"""The primary rules: which cells are confidential by themselves, whatever else is published.

A cell backed by fewer than ``min_contributors`` enterprise groups is ``A``; one dominated by its largest
contributor is ``O`` (the p% rule: the rest of the cell, net of the second largest contributor, would estimate the
largest within p%). A group contributes when any of its measures is non-zero; the rules are applied to **every
measure** (tokens of each kind, requests, amount). Providers of one group are one contributor, with the groups of
the registry as it stands when publishing. Inputs are *cell groups*: one row per cell and enterprise group
(``GROUP``) with a column per measure. What must be withheld beside them, and why, is ``disclosure.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from pipelines.statistics.cells import DIMENSIONS

if TYPE_CHECKING:
    from pipelines.core.config import Settings

GROUP = "enterprise_group"
FREE, FEW, DOMINANT, SECONDARY = "F", "A", "O", "D"
ABSENT = "-"  # a cell with no data in a version: not published, known to be zero


@dataclass(frozen=True)
class Rules:
    min_contributors: int = 3
    dominance_p_percent: float = 10.0
    protection_percent: float = 10.0  # a confidential value stays uncertain by this much, either way
    secondary_percent: float = 1.0  # a cell hidden only to protect others must not be recoverable either

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        """The rules as configured (``TOKENSTATS_MIN_CONTRIBUTORS`` and the others)."""
        return cls(
            settings.min_contributors,
            settings.dominance_p_percent,
            settings.protection_percent,
            settings.secondary_protection_percent,
        )

    def required(self, status: str) -> float:
        return (self.secondary_percent if status == SECONDARY else self.protection_percent) / 100.0

    def digest(self, key: bytes) -> str:
        """A keyed hash of the parameters: proves later which rules a release used, without publishing them."""
        return hmac.new(key, json.dumps(asdict(self), sort_keys=True).encode(), hashlib.sha256).hexdigest()


def measures_of(cell_groups: pl.DataFrame, keys: tuple[str, ...] = DIMENSIONS) -> list[str]:
    """The measure columns of cell groups (all but the keys and the group)."""
    return [c for c in cell_groups.columns if c not in (*keys, GROUP)]


def compute_rule_figures(cell_groups: pl.DataFrame, keys: tuple[str, ...] = DIMENSIONS) -> pl.DataFrame:
    """Per cell (``keys``): the groups contributing (any measure non-zero) and, per measure, the sum of the groups'
    magnitudes and the largest two. Works for changes too (a group's change may be negative)."""
    measures = measures_of(cell_groups, keys)
    magnitudes = cell_groups.with_columns(pl.col(measures).cast(pl.Float64).abs())
    return magnitudes.group_by(keys).agg(
        pl.any_horizontal(pl.col(measures) > 0).sum().alias("contributors"),
        *(pl.col(m).sum().alias(f"{m}:sum") for m in measures),
        *(pl.col(m).max().alias(f"{m}:top1") for m in measures),
        *(pl.when(pl.len() > 1).then(pl.col(m).top_k(2).min()).otherwise(0.0).alias(f"{m}:top2") for m in measures),
    )


def apply_primary_rules(figures: pl.DataFrame, rules: Rules) -> np.ndarray:
    """``A``, ``O`` or ``F`` for every row of ``compute_rule_figures``."""
    contributors = figures["contributors"].to_numpy()
    dominated = np.zeros(figures.height, dtype=bool)
    for m in (c.removesuffix(":sum") for c in figures.columns if c.endswith(":sum")):
        total, x1, x2 = (figures[f"{m}:{part}"].to_numpy() for part in ("sum", "top1", "top2"))
        dominated |= (total - x1 - x2) < rules.dominance_p_percent / 100.0 * x1
    status = np.full(figures.height, FREE, dtype="<U1")
    status[(contributors >= rules.min_contributors) & dominated] = DOMINANT
    status[(contributors > 0) & (contributors < rules.min_contributors)] = FEW
    return status


def change_groups(new: pl.DataFrame, old: pl.DataFrame) -> pl.DataFrame:
    """Each group's change in each cell between two versions' cell groups (new minus old)."""
    measures = measures_of(new)
    joined = new.join(old, on=[*DIMENSIONS, GROUP], how="full", coalesce=True, suffix=":old")
    before = (pl.col(f"{m}:old").cast(pl.Float64).fill_null(0) for m in measures)
    after = (pl.col(m).cast(pl.Float64).fill_null(0) for m in measures)
    changes = ((a - b).alias(m) for a, b, m in zip(after, before, measures, strict=True))
    return joined.select(*DIMENSIONS, GROUP, *changes)
