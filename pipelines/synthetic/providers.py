"""A synthetic provider registry: brand names, enterprise groups (about one provider in five shares the
previous one's), home provinces; seeded, so the same seed gives the same registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.contract.registry import Provider, read_registry, write_registry
from pipelines.core.config import UsageError

HOME_PROVINCES = ["110000", "310000", "330000", "440000", "320000", "510000"]
BRANDS = [
    "tianqiong",
    "hexin",
    "lanyun",
    "qingluan",
    "mingshu",
    "ruifeng",
    "jinhai",
    "yunlan",
    "xingbo",
    "zhihe",
    "anlan",
    "boyu",
    "chenguang",
    "dingxin",
    "fanxing",
    "guanghe",
    "haina",
    "jiuzhou",
    "kunpeng",
    "lingxi",
]
KINDS = ["cloud", "ai", "models", "tech", "intelligence"]


def generate_registry(n_providers: int, seed: int) -> list[Provider]:
    """A registry of ``n_providers``; about one in five shares an enterprise group with the previous one."""
    rng = np.random.default_rng([seed, 0])
    names = [f"{brand}-{kind}" for kind in KINDS for brand in BRANDS]
    order = rng.permutation(len(names))
    providers: list[Provider] = []
    for i in range(n_providers):
        provider_id = names[order[i % len(names)]] + (f"-{i // len(names) + 1}" if i >= len(names) else "")
        brand = provider_id.split("-")[0].capitalize()
        shares_group = i > 0 and rng.random() < 0.2
        group = providers[-1].enterprise_group if shares_group else f"{brand} Group {i + 1:02d}"
        providers.append(
            Provider(
                provider_id=provider_id,
                name=f"{brand} {provider_id.split('-')[1].capitalize()} Co., Ltd.",
                enterprise_group=group,
                registered_province=HOME_PROVINCES[int(rng.integers(len(HOME_PROVINCES)))],
                active_from="2025-01",
            )
        )
    return providers


def write_synthetic_registry(path: Path, registry: list[Provider], force: bool) -> None:
    """Write the registry, unless a different one is there (replaced only with ``force``)."""
    if path.exists() and not force:
        try:
            if read_registry(path) == registry:
                return
        except ValueError:  # an invalid registry is still the bureau's file
            pass
        raise UsageError(
            f"a different provider registry exists at {path}; it is left as it is "
            "(pass --force to replace it with the synthetic one)"
        )
    write_registry(path, registry)
