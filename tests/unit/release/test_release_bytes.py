"""Release bytes pinned: a small seeded quarter of releases (September, October, and October's revision) must
come out byte for byte as pinned here, whatever the code's layout. Any change to a published byte fails this
test; when the change is meant, re-pin with ``TOKENSTATS_REPIN=1`` and say why in the commit.

The reports are generated with a seed and loaded with the loader's own SQL (validation is tested elsewhere and
costs seconds per file in GX); publishing runs every stage as the command line does. What legitimately varies
per run is fixed: the creation time (an argument of the publish) and the installation's disclosure secret
(a known key written where the installation keeps its own), which keys the manifest's hashes."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import polars as pl
import pytest

from pipelines.contract.reference import load_reference_tables
from pipelines.core.config import disclosure_key, load_settings
from pipelines.core.database import open_warehouse, run_sql
from pipelines.release.publish import publish_months
from pipelines.synthetic.generate import generate_month

CREATED_AT = dt.datetime(2026, 11, 5, 8, 30, tzinfo=dt.UTC)
KEY = bytes(range(32))  # stands in for the installation's random secret
PERIODS = ("2026-09", "2026-10")
RECEIVED_AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)

PINNED = {
    "2026-09/v1/bulletin.html": "487de72fdf238d7e334a137640183917e07b9a5fd218e2b457f601f827fbfc4e",
    "2026-09/v1/manifest.json": "9dd01decf66a3c9d47d396cc36f5acd6122570877c7f948838d2f72778dac66e",
    "2026-09/v1/sdmx/data.csv": "1a716e211c98d6bedda2192d0de485f4f33eed7546a63919b411213810a52d98",
    "2026-09/v1/sdmx/structure.xml": "fa1c95ea4cf3b2dfb053936e5f53eb84240aa15179c49de14f7cbc66dcde9d7f",
    "2026-09/v1/tables/by_modality.csv": "5dd8b573e850e8fe9ca8a9af236b886ef71b22b16ccd6ed7ded1449cc671b343",
    "2026-09/v1/tables/by_modality.parquet": "f1bf241fc9d6d1a03c4cfa618b4d4390db90efd331cece32a69f9b11c77364ad",
    "2026-09/v1/tables/by_region.csv": "674144d424ffcc759a036d917eea8a5f8c847323405fb52b95eba69ca352d61e",
    "2026-09/v1/tables/by_region.parquet": "c173be0707117cb6cc6543fee169f5d85805347771ed7c7fdd6c58d7bcd1162c",
    "2026-09/v1/tables/by_sector.csv": "7edfa34871d2979a764a7256e9f22ad3e488d3889816d1ea789a0e8281b84269",
    "2026-09/v1/tables/by_sector.parquet": "0ca023639816ce11e6eb89fba7da739cfd6e455c1d8e1298197574e75e131a1c",
    "2026-09/v1/tables/compute_flows.csv": "19cc2ba4d3d0a39ce0f5375ae7893f47e7866594b32c9a68cb6a5e9419015645",
    "2026-09/v1/tables/compute_flows.parquet": "23b9e0939ede6d74dc4d433fb1470cee15a727ca9fdd4858cd061d4c0c3d9d75",
    "2026-09/v1/tables/coverage.csv": "68479397a26d95587dc925d5ea39e70589ffeccc14edc812580bc031cf4cdc5f",
    "2026-09/v1/tables/coverage.parquet": "f88b2877afb77c20fbc13d19e743c017e919407859de180852d4dafc0b31fa40",
    "2026-09/v1/tables/cube.csv": "a355fd93b95e6aa6f7e42fcfaa2f08fa0db82085fdeca5e7041cd7979cc4aaf6",
    "2026-09/v1/tables/cube.parquet": "bdd6bd44379ab8b479bc797ac49cd7adfa539bc95e0fd5340697eedd99e1671d",
    "2026-09/v1/tables/national.csv": "1434f50ab098ada7a99d31131abb1b354bdcb7e30614cff28ac564caff9eb91c",
    "2026-09/v1/tables/national.parquet": "a08a7ce21f8304f0696526a99577b99a0278a224157c6941b1cc30235f7edc0c",
    "2026-09/v1/tables/use_type.csv": "7df52e27ed04110b2edef5afb68e42ee7ad78a72e57e6ea209839afba81b2b23",
    "2026-09/v1/tables/use_type.parquet": "db4036fa047fa452562d364300ff2b2e1fe107226e66e29f2b5b12068c510dab",
    "2026-09/v1/tokenstats_2026-09_v1.xlsx": "d0bc06d218054fbf9df693851e308aea46d75f21934ea02ab5a1eee115411af0",
    "2026-10/v1/bulletin.html": "23b6f417098cc44c92c9f6b0a37f0ca0963a5bee6c97c650706358200bce1902",
    "2026-10/v1/manifest.json": "a8ffdf34dddacc8caa72b1d1c806c9d8bbb087a53878ae4e6b971792cc6c0ef3",
    "2026-10/v1/sdmx/data.csv": "d6832c86b03c6e320f0027ee45d950bc4b2494da2ec1b86c91d452941c7794fa",
    "2026-10/v1/sdmx/structure.xml": "741fb4cc9cb0d78d89d30053103bba8b3046635e582778bf021f7b95570bbb52",
    "2026-10/v1/tables/by_modality.csv": "36d92ba17beeae03a8a9edbffa15756cbb2a570bc0ab37a7e62287ce5c407858",
    "2026-10/v1/tables/by_modality.parquet": "2fe6d2d73d823140aecebe58dd310a31b3790669563cf3a68fb7b7e8fac40854",
    "2026-10/v1/tables/by_region.csv": "114ac064a72cec8b02e2bff7a86184011f7c770828facd413337eb00fc13648c",
    "2026-10/v1/tables/by_region.parquet": "dd73ac9cc493e66f8512fdd1c44ea0c83ac5a175f70fa31b8c762b4ee6034a7f",
    "2026-10/v1/tables/by_sector.csv": "5284185c05ede48e479c764d4aea2354d149ced9682a4992c8910a346d6e8eb4",
    "2026-10/v1/tables/by_sector.parquet": "5112fb9bf82c2ddb2f0cd675403eb86edd7d6d22e6d9b5b8527041ae75310374",
    "2026-10/v1/tables/compute_flows.csv": "51e74869d9da4e1b01ac896f624784e348afde80d221affc626d19451a78a1af",
    "2026-10/v1/tables/compute_flows.parquet": "de16d76d0c1ac23db20a4199fad8e8b73c9f7302a28307b49b5964c85389d462",
    "2026-10/v1/tables/coverage.csv": "0ab35009d24b0d30065ea72d941c0def78c0b6b603c56be4095527e29820bed6",
    "2026-10/v1/tables/coverage.parquet": "6cc3e852542ba2638b6d92675e21ae971acf476994be04801d2217a8517a0823",
    "2026-10/v1/tables/cube.csv": "6d4600fec7a7e6a9618c9efe4243bd525beb9c9c961e24f146ab8e1feeabf4fa",
    "2026-10/v1/tables/cube.parquet": "75c745750d6ffc94ab1de351fa0c032622383e63c4ad14ec76195b75b8fe83a4",
    "2026-10/v1/tables/national.csv": "42cfc683f7dcdbca37ce0a67ccdc2453cffad75420e88b8512c4c8ec84b9de2d",
    "2026-10/v1/tables/national.parquet": "94186014e103dfee779d41921b7dad56f1e000b3d51c7cd67c920f87f0d51ff5",
    "2026-10/v1/tables/use_type.csv": "c7f18c9509db64de238505d6fa2bab87386ea602e5faa849a9f2ffac0119f494",
    "2026-10/v1/tables/use_type.parquet": "3a92bc2acf19852b6449f92d83a38badddd53b22ecefe93ea1b1985444cc4838",
    "2026-10/v1/tokenstats_2026-10_v1.xlsx": "1bb3c5f3afd5a69ba1dcb5136ee622d1f9b89797d08eb203380593c7af194b5d",
    "2026-10/v2/bulletin.html": "b96faf494f6475ae58a19a6992cb905f0f566527ef53308fbd2ca85721bbadd0",
    "2026-10/v2/manifest.json": "aadd097a976ae79f030d305483d03a162deee21733b89a918e097b7ee70466ff",
    "2026-10/v2/sdmx/data.csv": "937aa0a86a01dbb1d3c8f991da400bb461edf6026bcae073d67b3752ff51c7dc",
    "2026-10/v2/sdmx/structure.xml": "a1d362f48c250bae2e266ebd7fd50e603d1ec747bcb74516727e85faaf95772a",
    "2026-10/v2/tables/by_modality.csv": "e018117a830b1eca73468e06e6ba8b3b9df40e1b3409c6af2869152dc6edb90d",
    "2026-10/v2/tables/by_modality.parquet": "b9e5b2e5c5a8f2cb24696eb1aa9ae2baebb17e8c3935322ee1c64b11464dc2e3",
    "2026-10/v2/tables/by_region.csv": "f707c8d3fba951321f827ff010b3c8b958114bb8a96b2f675b917640c38e9624",
    "2026-10/v2/tables/by_region.parquet": "0350dc80392cbf2d319593c6250d30ad6b2b68e74759ce4ec48e71f077c6304d",
    "2026-10/v2/tables/by_sector.csv": "6befc20754e06ca2023bd806ef697fd673a2ad8e52fbf612a140094c90503e00",
    "2026-10/v2/tables/by_sector.parquet": "a99fc8a090652566a23adb72b7ee0aef7559c66c4195e2efac1a148f640a2549",
    "2026-10/v2/tables/compute_flows.csv": "f2d6f9947af7e2b85cbe209d9844a4685340bdc5357203e063b3c1ddeb323166",
    "2026-10/v2/tables/compute_flows.parquet": "d2fdc1b2046b3929927c5bfdbaecc9c2023bacf16e15c1f3972c51d6d83ee78a",
    "2026-10/v2/tables/coverage.csv": "0ab35009d24b0d30065ea72d941c0def78c0b6b603c56be4095527e29820bed6",
    "2026-10/v2/tables/coverage.parquet": "6cc3e852542ba2638b6d92675e21ae971acf476994be04801d2217a8517a0823",
    "2026-10/v2/tables/cube.csv": "17b92de85d1c58a5eccf3e28825fb72275ece220413033dccc317091ac022e42",
    "2026-10/v2/tables/cube.parquet": "5f9295f324074464fbec3c623c92e759f0dd29a64bebe9a9a2b378340197106c",
    "2026-10/v2/tables/national.csv": "e7a81faec71cca6fd97a38fb13f8352038726b958c8a6b010646fd8b35cd9e3a",
    "2026-10/v2/tables/national.parquet": "027e4094d582422542737da0438e26e72487b86cfea89081df09d7c2d947a004",
    "2026-10/v2/tables/revisions.csv": "be8bd0752ac5a356c83e67fb423815f700ff7047ca46ef75db6b0b859e78097b",
    "2026-10/v2/tables/revisions.parquet": "aa2557e1717c4f7ea63c595bcdcbe7a474ceff5403d26ddf50ff1e6b11c2e806",
    "2026-10/v2/tables/use_type.csv": "60d78c56441976d8c46c3510c9cb2f1886bf1762a14169282684c642632da25d",
    "2026-10/v2/tables/use_type.parquet": "0be2cc70eabaa05a1efa03f018f16e01c73568cfea8e3e552e2dd59130238d93",
    "2026-10/v2/tokenstats_2026-10_v2.xlsx": "777c7be6d3bfcbeeadb2c8c6c71d6feda3fa37f4dc62976f7cfe4c9779e29aca",
}


def _load(con, path: Path, period: str, receipt_seq: int) -> None:
    """Record one report as accepted and load its rows, as the loader does after validation."""
    provider = path.parent.name
    submission = hashlib.sha256(path.read_bytes()).hexdigest()
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    run_sql(
        con,
        "intake/insert_submission",
        submission_id=submission,
        provider_id=provider,
        report_period=period,
        file_name=path.name,
        size_bytes=path.stat().st_size,
        row_count=rows,
        received_at=RECEIVED_AT + dt.timedelta(seconds=receipt_seq),
        receipt_seq=receipt_seq,
        status="accepted",
        reason="",
        reason_path=None,
        docs_path=None,
        stored_path=str(path),
        contract_version="1",
    )
    run_sql(con, "intake/insert_usage", submission_id=submission, path=str(path))
    run_sql(con, "intake/supersede", provider_id=provider, report_period=period)


def _corrected(path: Path) -> Path:
    """The provider's corrected report: a million more output tokens on every row."""
    report = pl.read_parquet(path).with_columns(pl.col("output_tokens") + 1_000_000)
    target = path.with_name(f"{path.stem}_corrected.parquet")
    report.write_parquet(target)
    return target


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("bytes") / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENSTATS_DATA_DIR", str(data))
        settings = load_settings()
        reports = {period: generate_month(data, period, rows=3_000, providers=20, seed=11) for period in PERIODS}
        settings.warehouse_file.parent.mkdir(parents=True)
        settings.warehouse_file.with_name("disclosure.key").write_bytes(KEY)
        assert disclosure_key(settings) == KEY
        with open_warehouse(settings) as con:
            load_reference_tables(con, settings)
            seq = 0
            for period, generated in reports.items():
                for report in generated:
                    seq += 1
                    _load(con, report.path, period, seq)
            publish_months(con, list(PERIODS), settings, created_at=CREATED_AT)
            _load(con, _corrected(reports["2026-10"][-1].path), "2026-10", seq + 1)
            publish_months(con, ["2026-10"], settings, created_at=CREATED_AT)
    return data / "published"


def _digests(published: Path) -> dict[str, str]:
    return {
        path.relative_to(published).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(published.rglob("*"))
        if path.is_file()
    }


def test_every_release_file_has_its_pinned_bytes(releases):
    digests = _digests(releases)
    if os.environ.get("TOKENSTATS_REPIN"):
        print("PINNED = {")
        for name, digest in digests.items():
            print(f'    "{name}": "{digest}",')
        print("}")
    assert {"2026-09/v1", "2026-10/v1", "2026-10/v2"} <= {"/".join(name.split("/")[:2]) for name in digests}
    assert any(name.endswith("revisions.csv") for name in digests)
    assert digests == PINNED
