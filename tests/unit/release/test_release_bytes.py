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
from pipelines.core.database import open_warehouse
from pipelines.release.publish import publish_months
from pipelines.synthetic.generate import generate_month
from tests.loading import load_accepted_report

CREATED_AT = dt.datetime(2026, 11, 5, 8, 30, tzinfo=dt.UTC)
KEY = bytes(range(32))  # stands in for the installation's random secret
PERIODS = ("2026-09", "2026-10")
RECEIVED_AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)

PINNED = {
    "2026-09/v1/bulletin.html": "6a70e3cea9e8dae914de6d330793b4b6f8a11503c701ca36e88629e8a6683f69",
    "2026-09/v1/manifest.json": "4399a9cdc8083ea99df46036c7888fc990da72934c55e88618c3f95ed2d2874f",
    "2026-09/v1/sdmx/data.csv": "6447afa562572d214e1afa487bb2433dbc0105ae2c3b3d729b01121c31afc440",
    "2026-09/v1/sdmx/price_index_data.csv": "fd3d99eeecf542c1be74f4f431a2a3224050da4d378092b417b05734fcff8415",
    "2026-09/v1/sdmx/price_index_structure.xml": "864e7da2ad8a9c9f1e7236fb375a782806d44992c4f0d13b2c46922b3eeb6424",
    "2026-09/v1/sdmx/structure.xml": "8f8e02460cb088d75bdfb3bed26498b801b52e90716b2094ab4328927336e223",
    "2026-09/v1/tables/by_modality.csv": "4f06a2b468fc196b56cd1a67e3589b5d4f8244d51a4b90e5e5b9dc24d41d5e21",
    "2026-09/v1/tables/by_modality.parquet": "f01a79a790af84bda1ee307258440a37f7a8a7ecb209fcb92d243923bd36aea1",
    "2026-09/v1/tables/by_region.csv": "62c3c3ffacbdbd2cfb627d7ee60c32ba49377b626ae7c0bbc54ec5eee586a1f9",
    "2026-09/v1/tables/by_region.parquet": "5397a731a0f83e6765ffd239ca3962ebce65c5a5a2b424a5fa5bc49b9ddb9e8c",
    "2026-09/v1/tables/by_sector.csv": "f442c509387c45ac16a2196f3a94b130aea43fc22556fe20e16a38c5d6b9b0e2",
    "2026-09/v1/tables/by_sector.parquet": "63a267290da9c717ab2a3c3b76a37c4b255740d1cd67ed21afbde4006216cbf2",
    "2026-09/v1/tables/compute_flows.csv": "355e75187933c093504aa59eaa016f907d7e0c3823901cb2bf460928e62e6ebf",
    "2026-09/v1/tables/compute_flows.parquet": "4ab9d7df939d7d3a770c20319242cbfaca82cad41a29b133ee4fbcb4280cf8fa",
    "2026-09/v1/tables/coverage.csv": "68479397a26d95587dc925d5ea39e70589ffeccc14edc812580bc031cf4cdc5f",
    "2026-09/v1/tables/coverage.parquet": "f88b2877afb77c20fbc13d19e743c017e919407859de180852d4dafc0b31fa40",
    "2026-09/v1/tables/cube.csv": "85953487f84699248858c0c451ad44d4617375f864e7def074b921642034c211",
    "2026-09/v1/tables/cube.parquet": "c483b974ac606013b00cdbfc13cd8a05256edb50325dc449ef1b1cf0ab6e4be2",
    "2026-09/v1/tables/national.csv": "1434f50ab098ada7a99d31131abb1b354bdcb7e30614cff28ac564caff9eb91c",
    "2026-09/v1/tables/national.parquet": "a08a7ce21f8304f0696526a99577b99a0278a224157c6941b1cc30235f7edc0c",
    "2026-09/v1/tables/price_index.csv": "1ccb500f9adafd80ecf4d385f0ca365a026ea2265f62eb7757ef7a7908943d33",
    "2026-09/v1/tables/price_index.parquet": "cb1deb18bd37c7a1778f56cfdc7cd1e1343e6b83d2cf3f849c44660e43b08701",
    "2026-09/v1/tables/series_by_modality.csv": "512c45c2264eb5562f15901ecfe214f209966e026267b71f652ba2ee4d390d0a",
    "2026-09/v1/tables/series_by_modality.parquet": "08c39f3e63816b48b6acf0faec5778db52f27b793609c33e4acbb5f7ce117979",
    "2026-09/v1/tables/series_by_region.csv": "ee1652d85231c6e2c0771ed9137af672a4d63482e3fe71b8e3953ca853650457",
    "2026-09/v1/tables/series_by_region.parquet": "1680216a071e85003644dd7f5692940b984c3406ea4f53614d7606126f3c351b",
    "2026-09/v1/tables/series_by_sector.csv": "b354518556a3dc1aafe92c68f5738e58c2fe88561e794a93dae7487124285aef",
    "2026-09/v1/tables/series_by_sector.parquet": "b0a5611932f8044b320900defff61552465a8bcc197c610a819de14d83b3dab5",
    "2026-09/v1/tables/series_national.csv": "aadfc80215fc80d4253bf7756da190010b4d55a0aff7a0068cf7ae7e7978f801",
    "2026-09/v1/tables/series_national.parquet": "bbaa51d198383d9781151ac6fd45b6757c2169ef8a1decf62969b6d1f1ab00d7",
    "2026-09/v1/tables/series_use_type.csv": "b66363933f27e811542001455421a9fb265c6c8d34df6b8f67ce3fe08945480b",
    "2026-09/v1/tables/series_use_type.parquet": "21b00559b06ec80a4ea8ff41eeb6fcd2eea501a58b8dbcbb857aba60a3479122",
    "2026-09/v1/tables/use_type.csv": "892c90b3e05ca02da65ca1ca5fa4688ac9bb95063397d4a4598bec150fea502d",
    "2026-09/v1/tables/use_type.parquet": "bbc522fe0d57d783d6b9f53ddd5ab376e474c2d20fb1c6e60da4da0392537aa1",
    "2026-09/v1/tokenstats_2026-09_v1.xlsx": "e1be0c9627b6fb15d9cc517e1af3ae7541eeb328e28d2db1ca2e3bdbde9b59ef",
    "2026-10/v1/bulletin.html": "c78356008c960f652189a572da7dde153776e7e2f0e15851ac66cd8b1c686dfb",
    "2026-10/v1/manifest.json": "2b4d386bc0497878435d2947637e33d5ed33007cb8dc9237eb9d31211facbab5",
    "2026-10/v1/sdmx/data.csv": "060f1a3d8465360bb4763e797df4cbfdd87131f019daaf0828b4f4b011d2746a",
    "2026-10/v1/sdmx/price_index_data.csv": "cc1d5afd6434332c244123b91441d9d447d5505b3e8a4788147a3e0785879b07",
    "2026-10/v1/sdmx/price_index_structure.xml": "91bab8912f0e7d199f0369f3147dbef6c5594d0be4b44e05dbececcc1b99222d",
    "2026-10/v1/sdmx/structure.xml": "757ac7e7394bccfe79ed4e7a9fce8f5aba96c423edf5ec0db860be9915947272",
    "2026-10/v1/tables/by_modality.csv": "3ebbad163dbee4508ce475d7c50f06a2223ec80f30afc17d541f23e62affef4c",
    "2026-10/v1/tables/by_modality.parquet": "0b4385683a3c98d8103c20cfce81844285af5a474374a944bb4b4a9b6776490e",
    "2026-10/v1/tables/by_region.csv": "379474a85259ddc66bd861e2087bc01aa4c64e029a7fdea6bb2039b85fd83b23",
    "2026-10/v1/tables/by_region.parquet": "ee4038d99a26a8d212d7efaf9aa45ab566cf0ad12a293eef02882a3d21ddf57a",
    "2026-10/v1/tables/by_sector.csv": "d4a43169d545146ec14e006413d29989f809248e497fbe78c590d7729ac3a3d7",
    "2026-10/v1/tables/by_sector.parquet": "56ece71ff1c39757b43daec7ef7b6e8d13a9b533ef43af5304c3c8a1300fbd4a",
    "2026-10/v1/tables/compute_flows.csv": "f6a2c02035d72a23821d449aa6a8981b5206dd75e0380881823bee7d1da73c5a",
    "2026-10/v1/tables/compute_flows.parquet": "89240e14f0563f3ccf04dd45484a128d8e3c438a94dc98d8cec72239ee345530",
    "2026-10/v1/tables/coverage.csv": "0ab35009d24b0d30065ea72d941c0def78c0b6b603c56be4095527e29820bed6",
    "2026-10/v1/tables/coverage.parquet": "6cc3e852542ba2638b6d92675e21ae971acf476994be04801d2217a8517a0823",
    "2026-10/v1/tables/cube.csv": "824638a491b90324517b7e8999c00d7b58031904d3a633c232eafe84fa198d18",
    "2026-10/v1/tables/cube.parquet": "afbcd8874ed0edd4d77ee2ade5c53e43cf7d7168cd6165b8a3a35445bf8afa39",
    "2026-10/v1/tables/national.csv": "8eb47a469dfaab0d4528afa9242c5170bebd457f2a9dfcb0d94ad3a6e20ea949",
    "2026-10/v1/tables/national.parquet": "66b51f5cc52a07484d0faa41cc57d378204be3198c275531e2e99bd3022d3850",
    "2026-10/v1/tables/price_index.csv": "cd338ab49036df3d5f89caa3b5272345629b112e9485a4d2dcb4e7f6290d535e",
    "2026-10/v1/tables/price_index.parquet": "bc7b7f7530b895975fb7e742ed5d29d5708349252f6ca6ad167098e36c9db9af",
    "2026-10/v1/tables/series_by_modality.csv": "d12bcfb4f73600af65788c8f0d2069f6f4f7919d2c09d33abebc08fe58074644",
    "2026-10/v1/tables/series_by_modality.parquet": "2d359b59c31a37658731ef5854f8b86e84093e3b2400f3a27fbb76c8aaf7368d",
    "2026-10/v1/tables/series_by_region.csv": "24bfa359b9faadb93ce411cda62c9495c9dfd3a193ba8ee0359fcca7d9ce30b4",
    "2026-10/v1/tables/series_by_region.parquet": "c01ac6b18f1e8cc2f4417786724c12a00d6d7c9979496dd57174b05bf6447797",
    "2026-10/v1/tables/series_by_sector.csv": "ee29d4e735bbeb2d549a7222315baff1b8f34ee76c7fa874dc5c0108798c81bf",
    "2026-10/v1/tables/series_by_sector.parquet": "30dcadd64c4df6ef7f634ca18905cfcb5428702fb44dbb5ad01b6a33985c6444",
    "2026-10/v1/tables/series_national.csv": "04f9ff4932bbc9772d5d6da60ff131eb56936ebd137840d449628447694327f4",
    "2026-10/v1/tables/series_national.parquet": "2b9ba053b6286fcea735655635bf7b457608747b1559f1251d807218cbaa395e",
    "2026-10/v1/tables/series_use_type.csv": "09b40ef839866aa973db72e3daf698c9b3edf6cc7ac4092f8bf94cfaf712b5c5",
    "2026-10/v1/tables/series_use_type.parquet": "1937be308f121caeab81f7f78766fcef9d0f42ba8db216869fdabf365e06cb58",
    "2026-10/v1/tables/use_type.csv": "cc40d14c48887fba589e561021df47113f927989b8a7a1c7b2a00156a13a144c",
    "2026-10/v1/tables/use_type.parquet": "a2135448ac06678d1bf544ee98dbb100bad7f13ee46d3b508d4e71bbe6ab47eb",
    "2026-10/v1/tokenstats_2026-10_v1.xlsx": "3eb644a90c3c3bd77d55e57454d4db90bf05f4d62564371177258dd50a4b34ea",
    "2026-10/v2/bulletin.html": "34ef3ab6005a4c9390de1a4af4b2593b96dfe50039da3eb57134b2385573f18d",
    "2026-10/v2/manifest.json": "b3d8b94c3ad4439706a2bc9d64b0794e1dcee416b84729bba5d23753d4ba6b01",
    "2026-10/v2/sdmx/data.csv": "695fb987538940fea5a3015c64d8cfc41c9a2be385b1a95e550d9f9f233a8968",
    "2026-10/v2/sdmx/price_index_data.csv": "56057ba03d32cc8f29d67bb4c35b490baedcf8c5c425f21087ee259308827d56",
    "2026-10/v2/sdmx/price_index_structure.xml": "878ed8e6bb10fed169eca3b64a5efe09f8598ec7eb62f647ea173b4512ea10ca",
    "2026-10/v2/sdmx/structure.xml": "73b043c182bbec37c968979d83a0c34b22ac6169c3c3eea4e5750d296030a15f",
    "2026-10/v2/tables/by_modality.csv": "d15dac97fee1ece522762054d19a23817731716ecb105b545474a2ec9ac60438",
    "2026-10/v2/tables/by_modality.parquet": "5e138ab6ba1ce35d0aca84f93089aff7dd347c72146672ac56b63f11ab28c06e",
    "2026-10/v2/tables/by_region.csv": "837e587115ef7e1e1bec6426d2148a7b8309a6d896b0fdd1721dd282c1e834ef",
    "2026-10/v2/tables/by_region.parquet": "435738fc7c06a196015619a5cc6419b85f306e9a3ae476554603229eb085f8e7",
    "2026-10/v2/tables/by_sector.csv": "97a470269fe5ae9682a490ff242e1de25ec7e3cbdd048060d58a9f44f18a1c9a",
    "2026-10/v2/tables/by_sector.parquet": "f5c903630cc2eee8cfbe23ae2f064f41c976e7e63fd7d0d27b37fea926b9d15d",
    "2026-10/v2/tables/compute_flows.csv": "b8be4cc947aaac89bbc1c814379a86cce6f2feaa56d45e56359bb25fee30a0b4",
    "2026-10/v2/tables/compute_flows.parquet": "67a5a8fccb18c3f9da1963a8d3a255a865996a41ac945acfb1e33b5913288bd8",
    "2026-10/v2/tables/coverage.csv": "0ab35009d24b0d30065ea72d941c0def78c0b6b603c56be4095527e29820bed6",
    "2026-10/v2/tables/coverage.parquet": "6cc3e852542ba2638b6d92675e21ae971acf476994be04801d2217a8517a0823",
    "2026-10/v2/tables/cube.csv": "e10e2112073a89123628653af84a338f612ba2387e8ca9231986c3aa6a7cf20f",
    "2026-10/v2/tables/cube.parquet": "d165237f837a155f9da49efafe1afcc12c65197f402c320f53013be1ea77957a",
    "2026-10/v2/tables/national.csv": "e7a81faec71cca6fd97a38fb13f8352038726b958c8a6b010646fd8b35cd9e3a",
    "2026-10/v2/tables/national.parquet": "027e4094d582422542737da0438e26e72487b86cfea89081df09d7c2d947a004",
    "2026-10/v2/tables/price_index.csv": "05cd25cc01df5b9fed78ac4e07fd038c74976683a3ad6342399694bfe5e4abc5",
    "2026-10/v2/tables/price_index.parquet": "b86846f092eca88102f109a153610e6ce5dad218dee2cbc653952e7cbe939431",
    "2026-10/v2/tables/revision_analysis.csv": "8e5074a20b7dd62429eb0e8c9b0bd0a79fa250f820bc7dc382723373096a171c",
    "2026-10/v2/tables/revision_analysis.parquet": "3fde7261ec993c0513e8bff199d0b9de13a725df6950fafcec6a9da0b61bc61b",
    "2026-10/v2/tables/revisions.csv": "a741fd08d5670b77920677d942e7670a654e7c0c838ff397334a64de5271fc91",
    "2026-10/v2/tables/revisions.parquet": "19df468576d36d40d77347565144808c70b5778bb29c2bacdb0334fadc948c4d",
    "2026-10/v2/tables/series_by_modality.csv": "b3bf8cc46b6323929ffc9983107199e934e19a960d1f238167d28a0217fbc14b",
    "2026-10/v2/tables/series_by_modality.parquet": "6252f0c7caf356d47f83a59e7055f1587909a3673ab0c65c3076164cfbe0f7f2",
    "2026-10/v2/tables/series_by_region.csv": "7a1cbcd133b3ef5967f2e2b1d759ca57c419df93f1161e2d20d9de448b318b41",
    "2026-10/v2/tables/series_by_region.parquet": "cc535d1fa316368d740519f2a6f0f2ee27bfc0f7aa99fa875139787883cefac9",
    "2026-10/v2/tables/series_by_sector.csv": "9113138cb119bf26e3c1e9e6045fbd256a640a658a3aad36d692d0aa48a6ef07",
    "2026-10/v2/tables/series_by_sector.parquet": "e74c7e5ae7fce1044df4c40527047a5c8fd873b10b50c6660a45815cd87d80f0",
    "2026-10/v2/tables/series_national.csv": "27b6924708b56302ef1db76f8cecaf1f9a5e2fdb2d9d47aa0b487592602f7daa",
    "2026-10/v2/tables/series_national.parquet": "a6107262a5b283789e1c1879af293b3b2a8436894f1550b55925061f1397bc51",
    "2026-10/v2/tables/series_use_type.csv": "8d43dab316e1f1e4fc631040b964eee17e77269ed52fae8c1336757c16e1ca52",
    "2026-10/v2/tables/series_use_type.parquet": "f97e3ad9d5f7e3159b4b7100e3f6470e04d54fb7dfa33e78ded4d044ea434f52",
    "2026-10/v2/tables/use_type.csv": "984b643fde96ea82b9e40aa752070284a71d304c305c5644b7806d3289dee21f",
    "2026-10/v2/tables/use_type.parquet": "9615a3aafe2b66e758dca8be59bde5552ecc2d67978e3dfe00eda176046a691b",
    "2026-10/v2/tokenstats_2026-10_v2.xlsx": "f233b97876a28ec3a26b6dc48c8ce13d6fb0af6c4ef2ae40a533c8dc6b7cb188",
}


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
                    load_accepted_report(
                        con, settings, report.path, period, seq, RECEIVED_AT + dt.timedelta(seconds=seq)
                    )
            publish_months(con, list(PERIODS), settings, created_at=CREATED_AT)
            load_accepted_report(
                con,
                settings,
                _corrected(reports["2026-10"][-1].path),
                "2026-10",
                seq + 1,
                RECEIVED_AT + dt.timedelta(seconds=seq + 1),
            )
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
