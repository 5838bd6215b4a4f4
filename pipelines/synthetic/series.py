"""What a provider's customers look like: series (a customer slice served every day) with their province,
compute hub, modality, customer type, sector and model, sampled with the bureau's realistic skew.

Models come from the provider's ``Lineup``, the same from month to month: a new generation every
``GENERATION_MONTHS`` enters cheaper (``LAUNCH_DISCOUNT``) and becomes the most used, the oldest leaves, and every
model's price falls at a rate of its modality (text fastest), so matched-model and unit-value price indices differ
by the effect of new models."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from pipelines.contract.registry import Provider

MODALITIES = ["text", "code", "image", "audio", "video"]
CUSTOMER_TYPES = ["enterprise", "government", "individual", "reseller"]


# Shares of series (a customer slice served every day) and relative size of a series, by dimension.
CUSTOMER_TYPE_SHARE = [0.55, 0.08, 0.25, 0.12]
MODALITY_SHARE = [0.62, 0.18, 0.10, 0.06, 0.04]
MODALITY_VOLUME = [1.0, 0.9, 0.6, 0.45, 0.35]
OUTPUT_SHARE = [0.25, 0.30, 0.60, 0.50, 0.70]
TOKENS_PER_REQUEST = [1800, 4500, 1200, 900, 6000]
INPUT_PRICE_RANGE = [(0.5, 40.0), (1.0, 30.0), (20.0, 150.0), (10.0, 80.0), (40.0, 300.0)]  # yuan per million
PRICE_FACTOR_BY_CUSTOMER = [1.0, 0.9, 1.0, 0.7]
MONTHLY_PRICE_DECLINE = [0.045, 0.035, 0.025, 0.02, 0.01]  # a model's price falls this much a month, by modality
GENERATION_MONTHS = 3  # a provider launches a new generation of each modality's model this often
LAUNCH_DISCOUNT = 0.9  # a new generation's price against the previous one's, at the same time
FIRST_GENERATION = 30  # model versions are named from this generation number (3.0) at 2026-10
PROVINCE_WEIGHT = {
    "440000": 14,
    "110000": 12,
    "310000": 11,
    "330000": 10,
    "320000": 9,
    "370000": 5,
    "510000": 4,
    "420000": 3,
    "350000": 3,
    "410000": 2.5,
    "430000": 2,
    "340000": 2,
    "500000": 2,
    "610000": 1.8,
    "120000": 1.5,
    "130000": 1.5,
    "210000": 1.2,
    "360000": 0.9,
    "450000": 0.8,
    "530000": 0.7,
    "140000": 0.7,
    "520000": 0.7,
    "220000": 0.6,
    "230000": 0.6,
    "650000": 0.5,
    "150000": 0.5,
    "460000": 0.5,
    "620000": 0.4,
    "640000": 0.3,
    "630000": 0.2,
    "540000": 0.1,
}
COMPUTE_HUB_WEIGHT = {
    "150000": 25,
    "520000": 20,
    "640000": 12,
    "620000": 10,
    "130000": 10,
    "340000": 5,
    "440000": 6,
    "510000": 5,
    "500000": 2,
    "320000": 3,
    "330000": 2,
}
ENTERPRISE_SECTOR_WEIGHT = {
    "I": 38,
    "C": 12,
    "J": 9,
    "F": 7,
    "M": 6,
    "L": 5,
    "R": 4,
    "P": 4,
    "Q": 3,
    "G": 3,
    "K": 2,
    "E": 2,
    "D": 1.5,
    "H": 1.5,
    "O": 1,
    "N": 1,
    "B": 0.8,
    "A": 0.7,
    "S": 0.3,
    "T": 0.2,
}
GOVERNMENT_SECTOR_WEIGHT = {"S": 55, "P": 12, "Q": 10, "N": 8, "G": 5, "D": 4, "M": 4, "I": 2}


def months_from_anchor(period: str) -> int:
    """Months from 2026-10 (the generator's anchor month) to ``period``."""
    year, month = (int(x) for x in period.split("-"))
    return (year - 2026) * 12 + month - 10


@dataclass(frozen=True)
class Lineup:
    """One provider's models, stable across months: the generation on sale and its price, by modality."""

    seed: int
    provider_index: int
    phase: np.ndarray  # months into its generation cycle at 2026-10, by modality
    base_price: np.ndarray  # yuan per million input tokens of the newest model at 2026-10, by modality

    @classmethod
    def draw(cls, seed: int, provider_index: int) -> Lineup:
        """The provider's lineup for a generation seed (the same in every month)."""
        rng = np.random.default_rng([seed, 2, provider_index])
        low, high = np.log(np.array(INPUT_PRICE_RANGE)).T
        return cls(seed, provider_index, rng.integers(GENERATION_MONTHS, size=5), np.exp(rng.uniform(low, high)))

    def models(self, period: str, per_modality: int) -> list[tuple[int, str, float, float]]:
        """(modality, model_id, input price, output price) of the ``per_modality`` newest generations of each
        modality on sale in ``period``, newest (most used) first."""
        month = months_from_anchor(period)
        catalogue = []
        for m in range(5):
            newest = (month + int(self.phase[m])) // GENERATION_MONTHS
            for generation in range(newest, newest - per_modality, -1):
                rng = np.random.default_rng([self.seed, 3, self.provider_index, m, generation + 1000])
                price = (
                    self.base_price[m]
                    * LAUNCH_DISCOUNT**generation
                    * np.exp(-MONTHLY_PRICE_DECLINE[m] * month)
                    * rng.lognormal(0.0, 0.15)
                )
                version = FIRST_GENERATION + generation
                name = f"{MODALITIES[m]}-{version // 10}.{version % 10}"
                catalogue.append((m, name, price, price * rng.uniform(2.0, 4.0)))
        return catalogue


def _weigh(mapping: dict[str, float], codes: list[str]) -> np.ndarray:
    w = np.array([mapping.get(c, 0.0) for c in codes], dtype=float)
    return w / w.sum()


@dataclass(frozen=True)
class Series:
    """Customer slices of one provider: each is one row a day (the report's key without the date)."""

    region: np.ndarray
    compute: np.ndarray  # index into provinces, -1 = unknown
    modality: np.ndarray
    customer_type: np.ndarray
    sector: np.ndarray  # index into sections, -1 = none
    model: np.ndarray  # index into model_ids
    model_ids: list[str]
    base: np.ndarray  # relative daily volume
    input_price: np.ndarray  # yuan per million input tokens
    output_price: np.ndarray


def sample_series(
    provider: Provider,
    period: str,
    count: int,
    rng: np.random.Generator,
    provinces: list[str],
    sections: list[str],
    lineup: Lineup,
) -> Series:
    """``count`` customer series of a provider, each with its slice's codes and relative volume."""
    region_w = _weigh(PROVINCE_WEIGHT, provinces) * rng.dirichlet(np.full(len(provinces), 20.0))
    region_w[provinces.index(provider.registered_province)] *= 2.0
    region = rng.choice(len(provinces), count, p=region_w / region_w.sum())
    hub = rng.choice(len(provinces), count, p=_weigh(COMPUTE_HUB_WEIGHT, provinces))
    draw = rng.random(count)
    compute = np.where(draw < 0.03, -1, np.where(draw < 0.33, region, hub))
    modality = rng.choice(5, count, p=MODALITY_SHARE)
    customer_type = rng.choice(4, count, p=CUSTOMER_TYPE_SHARE)
    sector = np.full(count, -1)
    for ctype, weights in ((0, ENTERPRISE_SECTOR_WEIGHT), (1, GOVERNMENT_SECTOR_WEIGHT)):
        rows = customer_type == ctype
        sector[rows] = rng.choice(len(sections), int(rows.sum()), p=_weigh(weights, sections))

    # A model catalogue per modality; large providers (more series) list more models, the newest most used.
    per_modality = max(1, min(12, int(np.log10(count + 1) * 2)))
    brand = provider.provider_id.split("-")[0][:3]
    lineup_models = lineup.models(period, per_modality)
    catalogue = [(m, f"{brand}-{name}") for m, name, _, _ in lineup_models]
    _skip_former_model_draws(rng, len(catalogue))
    zipf = 1.0 / np.arange(1, per_modality + 1) ** 1.1
    pick = rng.choice(per_modality, count, p=zipf / zipf.sum())
    model = modality * per_modality + pick
    _skip_former_model_draws(rng, 0, prices=len(catalogue))
    model_input_price = np.array([price for _, _, price, _ in lineup_models])
    model_output_price = np.array([price for _, _, _, price in lineup_models])
    model_ids = [name for _, name in catalogue]

    # The same slice drawn twice is another deployment of the model (a customer's fine-tune).
    key = ((((region * 32 + compute + 1) * 8 + modality) * 4 + customer_type) * 32 + sector + 1) * 256 + model
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    starts = np.r_[True, sorted_key[1:] != sorted_key[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(count), 0))
    rank = np.empty(count, dtype=np.int64)
    rank[order] = np.arange(count) - group_start
    if rank.max() > 0:
        names = np.array(model_ids, dtype=object)[model]
        tuned = rank > 0
        names[tuned] = [f"{n}-ft{r:05d}" for n, r in zip(names[tuned], rank[tuned], strict=True)]
        model_ids, model = np.unique(names.astype(str), return_inverse=True)
        model_ids = model_ids.tolist()
        base_model = np.array([n.split("-ft")[0] for n in model_ids])
        price_of = dict(zip([name for _, name in catalogue], range(len(catalogue)), strict=True))
        model_price_index = np.array([price_of[b] for b in base_model])
        model_input_price = model_input_price[model_price_index]
        model_output_price = model_output_price[model_price_index]

    base = rng.lognormal(0.0, 1.5, count) * np.array(MODALITY_VOLUME)[modality]
    discount = np.array(PRICE_FACTOR_BY_CUSTOMER)[customer_type]
    return Series(
        region,
        compute,
        modality,
        customer_type,
        sector,
        model,
        model_ids,
        base,
        model_input_price[model] * discount,
        model_output_price[model] * discount,
    )


def _skip_former_model_draws(rng: np.random.Generator, names: int, prices: int = 0) -> None:
    """Take the draws that named and priced a month's models before models were stable across months (now
    ``Lineup``), so every other column of a generated month keeps its values."""
    for _ in range(names):
        rng.integers(10)
    if prices:
        rng.uniform(np.zeros(prices), np.ones(prices))
        rng.uniform(2.0, 4.0, prices)


def compute_day_factors(days: list[dt.date]) -> np.ndarray:
    """Relative volume by customer type (rows) and day (columns): offices work weekdays, people weekends."""
    weekend = np.array([d.weekday() >= 5 for d in days])
    trend = 1.0 + 0.004 * np.arange(len(days))
    business = np.where(weekend, 0.7, 1.15) * trend
    people = np.where(weekend, 1.15, 0.95) * trend
    return np.vstack([business, business, people, business])
