"""The provider registry is a validated input: every problem named with its line; generate never replaces it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.contract.registry import COLUMNS, RegistryError, read_registry, write_registry
from pipelines.core.config import UsageError
from pipelines.synthetic.generate import generate_month
from pipelines.synthetic.providers import generate_registry

GOOD = "qingluan-models,Qingluan Models Co.,Qingluan Group,110000,2025-01"


def _registry(tmp_path: Path, *lines: str, bom: bool = False) -> Path:
    path = tmp_path / "providers.csv"
    text = "\n".join([",".join(COLUMNS), *lines]) + "\n"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return path


def test_a_registry_saved_with_a_byte_order_mark_reads(tmp_path):
    (provider,) = read_registry(_registry(tmp_path, GOOD, bom=True))
    assert provider.provider_id == "qingluan-models"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("qingluan-models,Q,Group,999999,2025-01", "line 3: registered_province '999999' is not a province code"),
        ("qingluan-models,Q,Group,810000,2025-01", "'810000' is not a province code"),  # Hong Kong: not in scope
        ("qingluan-models,Q,Group,110000,2025-13", "line 3: active_from '2025-13' is not a month"),
        ("qingluan-models,Q,,110000,2025-01", "line 3: enterprise_group '' is empty"),
        ("qingluan-models,Q,   ,110000,2025-01", "enterprise_group '' is empty"),
        ("qingluan-models,,Group,110000,2025-01", "line 3: name '' is empty"),
        ("Qingluan,Q,Group,110000,2025-01", "provider_id 'Qingluan' is not"),
        ("-rf,Q,Group,110000,2025-01", "provider_id '-rf' is not"),
    ],
)
def test_each_bad_field_is_named_with_its_line(tmp_path, line, message):
    with pytest.raises(RegistryError, match="is invalid") as error:
        read_registry(_registry(tmp_path, GOOD.replace("qingluan", "other"), line))
    assert message in str(error.value)


def test_a_duplicate_provider_is_named_with_both_lines(tmp_path):
    with pytest.raises(RegistryError) as error:
        read_registry(_registry(tmp_path, GOOD, "other,O,G,120000,2025-01", GOOD.replace("Qingluan Group", "Other")))
    assert "line 4: provider_id 'qingluan-models' is already on line 2" in str(error.value)


def test_missing_columns_empty_and_non_utf8_registries_are_refused(tmp_path):
    path = tmp_path / "providers.csv"
    path.write_text("provider,name\nx,y\n")
    with pytest.raises(RegistryError, match="lacks columns"):
        read_registry(path)
    with pytest.raises(RegistryError, match="lists no provider"):
        read_registry(_registry(tmp_path))
    path.write_bytes(",".join(COLUMNS).encode() + b"\n\xff\xfe,x,y,110000,2025-01\n")
    with pytest.raises(RegistryError, match="not UTF-8"):
        read_registry(path)


def test_generate_keeps_an_existing_registry_unless_forced(tmp_path):
    data = tmp_path / "data"
    registry = data / "registry" / "providers.csv"
    generate_month(data, "2026-09", rows=200, providers=2)
    generate_month(data, "2026-10", rows=200, providers=2)  # the same registry: fine
    bureau = [*generate_registry(2, 20261)[:1], *generate_registry(3, 99)[2:]]
    write_registry(registry, bureau)
    before = registry.read_bytes()
    with pytest.raises(UsageError, match="--force"):
        generate_month(data, "2026-11", rows=200, providers=2)
    assert registry.read_bytes() == before
    generate_month(data, "2026-11", rows=200, providers=2, force=True)
    assert read_registry(registry) == generate_registry(2, 20261)
