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
    "2026-09/v1/bulletin.html": "9e430f6435fb1df26b184d5e2afc831600941bc4536c71f0c7bfcc296ec10d9f",
    "2026-09/v1/manifest.json": "0baada9b50ee72b02abe0f90a46007cf091568e177e06c309f417f647dd1f9b1",
    "2026-09/v1/sdmx/data.csv": "39d7740518a90264274d32e21d830e998bcf98ddda24f3335c17bedd2c5c1698",
    "2026-09/v1/sdmx/price_index_data.csv": "fd3d99eeecf542c1be74f4f431a2a3224050da4d378092b417b05734fcff8415",
    "2026-09/v1/sdmx/price_index_structure.xml": "864e7da2ad8a9c9f1e7236fb375a782806d44992c4f0d13b2c46922b3eeb6424",
    "2026-09/v1/sdmx/structure.xml": "8f8e02460cb088d75bdfb3bed26498b801b52e90716b2094ab4328927336e223",
    "2026-09/v1/tables/by_modality.csv": "4f06a2b468fc196b56cd1a67e3589b5d4f8244d51a4b90e5e5b9dc24d41d5e21",
    "2026-09/v1/tables/by_modality.parquet": "f01a79a790af84bda1ee307258440a37f7a8a7ecb209fcb92d243923bd36aea1",
    "2026-09/v1/tables/by_region.csv": "4470a2bcca4ddc281db81fd04aaac6af51a4860b943d2d2bca426d090aba7747",
    "2026-09/v1/tables/by_region.parquet": "cb017008d44a1bc7e778c6080d3238e9dd9391e898582cc3ee7544e751545a6a",
    "2026-09/v1/tables/by_sector.csv": "f442c509387c45ac16a2196f3a94b130aea43fc22556fe20e16a38c5d6b9b0e2",
    "2026-09/v1/tables/by_sector.parquet": "63a267290da9c717ab2a3c3b76a37c4b255740d1cd67ed21afbde4006216cbf2",
    "2026-09/v1/tables/compute_flows.csv": "60310755475c6610a128d50444c7036ee35958a6c8c194cac54996ebf6155896",
    "2026-09/v1/tables/compute_flows.parquet": "b12f02730ef927a22bc104503aae547011c3fa19d519dd21cecebff936cf5bc2",
    "2026-09/v1/tables/coverage.csv": "68479397a26d95587dc925d5ea39e70589ffeccc14edc812580bc031cf4cdc5f",
    "2026-09/v1/tables/coverage.parquet": "f88b2877afb77c20fbc13d19e743c017e919407859de180852d4dafc0b31fa40",
    "2026-09/v1/tables/cube.csv": "0791acbccfc6968736dec656a0c6b17b06090d3c89e5557df258a60e06e34a94",
    "2026-09/v1/tables/cube.parquet": "a2dfd52264cfda736adce54fd3be9e2a693e34c6cf02fd6dc71d1d1ef8d90092",
    "2026-09/v1/tables/national.csv": "1434f50ab098ada7a99d31131abb1b354bdcb7e30614cff28ac564caff9eb91c",
    "2026-09/v1/tables/national.parquet": "a08a7ce21f8304f0696526a99577b99a0278a224157c6941b1cc30235f7edc0c",
    "2026-09/v1/tables/price_index.csv": "1ccb500f9adafd80ecf4d385f0ca365a026ea2265f62eb7757ef7a7908943d33",
    "2026-09/v1/tables/price_index.parquet": "cb1deb18bd37c7a1778f56cfdc7cd1e1343e6b83d2cf3f849c44660e43b08701",
    "2026-09/v1/tables/series_by_modality.csv": "512c45c2264eb5562f15901ecfe214f209966e026267b71f652ba2ee4d390d0a",
    "2026-09/v1/tables/series_by_modality.parquet": "08c39f3e63816b48b6acf0faec5778db52f27b793609c33e4acbb5f7ce117979",
    "2026-09/v1/tables/series_by_region.csv": "16c2e0ee342d291d446c3f7fffde8df9a0dddf0c6dd3f6b7fdf79c4254e5f3db",
    "2026-09/v1/tables/series_by_region.parquet": "871b6ef29e5d0d8fb66526388b694b3b1822fa98cf91f0baa51346bdd469f180",
    "2026-09/v1/tables/series_by_sector.csv": "b354518556a3dc1aafe92c68f5738e58c2fe88561e794a93dae7487124285aef",
    "2026-09/v1/tables/series_by_sector.parquet": "b0a5611932f8044b320900defff61552465a8bcc197c610a819de14d83b3dab5",
    "2026-09/v1/tables/series_national.csv": "aadfc80215fc80d4253bf7756da190010b4d55a0aff7a0068cf7ae7e7978f801",
    "2026-09/v1/tables/series_national.parquet": "bbaa51d198383d9781151ac6fd45b6757c2169ef8a1decf62969b6d1f1ab00d7",
    "2026-09/v1/tables/series_use_type.csv": "b66363933f27e811542001455421a9fb265c6c8d34df6b8f67ce3fe08945480b",
    "2026-09/v1/tables/series_use_type.parquet": "21b00559b06ec80a4ea8ff41eeb6fcd2eea501a58b8dbcbb857aba60a3479122",
    "2026-09/v1/tables/use_type.csv": "892c90b3e05ca02da65ca1ca5fa4688ac9bb95063397d4a4598bec150fea502d",
    "2026-09/v1/tables/use_type.parquet": "bbc522fe0d57d783d6b9f53ddd5ab376e474c2d20fb1c6e60da4da0392537aa1",
    "2026-09/v1/tokenstats_2026-09_v1.xlsx": "a20b6489445898a4b034b702620b658b1f66b25e3b52ba6d52edf10e7e21ce15",
    "2026-10/v1/bulletin.html": "5a1a4f6ce6a6b3d031428048e4733aa3e2c77f00de52a389210148d6d589a4bb",
    "2026-10/v1/manifest.json": "9611f9caa5267a5e1f1dd13a3cd9fe2567947c1b46e72342b06529ce96e48976",
    "2026-10/v1/sdmx/data.csv": "45a80d37b78ecfb4a3102038b2fb60b618206395e227505a936308f6ba52d192",
    "2026-10/v1/sdmx/price_index_data.csv": "cc1d5afd6434332c244123b91441d9d447d5505b3e8a4788147a3e0785879b07",
    "2026-10/v1/sdmx/price_index_structure.xml": "91bab8912f0e7d199f0369f3147dbef6c5594d0be4b44e05dbececcc1b99222d",
    "2026-10/v1/sdmx/structure.xml": "757ac7e7394bccfe79ed4e7a9fce8f5aba96c423edf5ec0db860be9915947272",
    "2026-10/v1/tables/by_modality.csv": "3ebbad163dbee4508ce475d7c50f06a2223ec80f30afc17d541f23e62affef4c",
    "2026-10/v1/tables/by_modality.parquet": "0b4385683a3c98d8103c20cfce81844285af5a474374a944bb4b4a9b6776490e",
    "2026-10/v1/tables/by_region.csv": "d648cf078ebfdf39e8222efda47c45ec9707ea9ac731eb8f5fc176ea978065e9",
    "2026-10/v1/tables/by_region.parquet": "43c5e6e4e69b33a53cadbb9882e9dc1f27952acced35459ab3f7f75f2a79f321",
    "2026-10/v1/tables/by_sector.csv": "83a14d5fcf6ef7e0d9e0d6a5f71c9db59b6c32aed36fad29939ea23ee20b7338",
    "2026-10/v1/tables/by_sector.parquet": "f813870a332dd13987f534a51825beb1266f4494aecc5a3aee28eacbb0e81e17",
    "2026-10/v1/tables/compute_flows.csv": "1a6c981e9749b49279623f25cd3c0dcdc02e912ebfcaefb24a2275a8ba51d4fb",
    "2026-10/v1/tables/compute_flows.parquet": "8606e3d254ac88f3051d610e60c559abbfe3edbc4a115896315fef644237788f",
    "2026-10/v1/tables/coverage.csv": "0ab35009d24b0d30065ea72d941c0def78c0b6b603c56be4095527e29820bed6",
    "2026-10/v1/tables/coverage.parquet": "6cc3e852542ba2638b6d92675e21ae971acf476994be04801d2217a8517a0823",
    "2026-10/v1/tables/cube.csv": "353284cb95e9861204f8b60f59680c0f5c8f6e929bea66d630f40ffd6cfbc805",
    "2026-10/v1/tables/cube.parquet": "785ff306c99f2b392b7803a7e9186f9c576e1782dae6424ef8ad75f016207e28",
    "2026-10/v1/tables/national.csv": "8eb47a469dfaab0d4528afa9242c5170bebd457f2a9dfcb0d94ad3a6e20ea949",
    "2026-10/v1/tables/national.parquet": "66b51f5cc52a07484d0faa41cc57d378204be3198c275531e2e99bd3022d3850",
    "2026-10/v1/tables/price_index.csv": "cd338ab49036df3d5f89caa3b5272345629b112e9485a4d2dcb4e7f6290d535e",
    "2026-10/v1/tables/price_index.parquet": "bc7b7f7530b895975fb7e742ed5d29d5708349252f6ca6ad167098e36c9db9af",
    "2026-10/v1/tables/series_by_modality.csv": "d12bcfb4f73600af65788c8f0d2069f6f4f7919d2c09d33abebc08fe58074644",
    "2026-10/v1/tables/series_by_modality.parquet": "2d359b59c31a37658731ef5854f8b86e84093e3b2400f3a27fbb76c8aaf7368d",
    "2026-10/v1/tables/series_by_region.csv": "9c4e6bfdfa6f9c7559938084375a67a1bd803cab729de4e82f2d4d5e3ff5b3b4",
    "2026-10/v1/tables/series_by_region.parquet": "194876ee9438277e5f7dd3eca5d23b97a3fb3f8f57aa95e7cc998e595912fcca",
    "2026-10/v1/tables/series_by_sector.csv": "a830624e7f7b94add197e48012a3afec3b5e799ac68f0b01026a021a0eeadb07",
    "2026-10/v1/tables/series_by_sector.parquet": "a4d0870abefc1a457f26031a040241c27d916ada7053db6b7db80b99c8826bdb",
    "2026-10/v1/tables/series_national.csv": "04f9ff4932bbc9772d5d6da60ff131eb56936ebd137840d449628447694327f4",
    "2026-10/v1/tables/series_national.parquet": "2b9ba053b6286fcea735655635bf7b457608747b1559f1251d807218cbaa395e",
    "2026-10/v1/tables/series_use_type.csv": "09b40ef839866aa973db72e3daf698c9b3edf6cc7ac4092f8bf94cfaf712b5c5",
    "2026-10/v1/tables/series_use_type.parquet": "1937be308f121caeab81f7f78766fcef9d0f42ba8db216869fdabf365e06cb58",
    "2026-10/v1/tables/use_type.csv": "cc40d14c48887fba589e561021df47113f927989b8a7a1c7b2a00156a13a144c",
    "2026-10/v1/tables/use_type.parquet": "a2135448ac06678d1bf544ee98dbb100bad7f13ee46d3b508d4e71bbe6ab47eb",
    "2026-10/v1/tokenstats_2026-10_v1.xlsx": "ba7717b0d1bcc869af79033769430adfe011668d8cfc87191e493c399eccf229",
    "2026-10/v2/bulletin.html": "fa7c08de8fef21a92e0d51b9b45d9502dc7edfa38ebb9f3c9745b9da74a23dac",
    "2026-10/v2/manifest.json": "c96a722d66260aa5cb378cb99ce2c632dbf58781aa5d17d88fc1221397d2eaf1",
    "2026-10/v2/sdmx/data.csv": "6a3467a51ce9d955e25cb8dee1917c2f3cf4cf6c20d2b50db0c27bd948ca9b05",
    "2026-10/v2/sdmx/price_index_data.csv": "56057ba03d32cc8f29d67bb4c35b490baedcf8c5c425f21087ee259308827d56",
    "2026-10/v2/sdmx/price_index_structure.xml": "878ed8e6bb10fed169eca3b64a5efe09f8598ec7eb62f647ea173b4512ea10ca",
    "2026-10/v2/sdmx/structure.xml": "73b043c182bbec37c968979d83a0c34b22ac6169c3c3eea4e5750d296030a15f",
    "2026-10/v2/tables/by_modality.csv": "d15dac97fee1ece522762054d19a23817731716ecb105b545474a2ec9ac60438",
    "2026-10/v2/tables/by_modality.parquet": "5e138ab6ba1ce35d0aca84f93089aff7dd347c72146672ac56b63f11ab28c06e",
    "2026-10/v2/tables/by_region.csv": "e4ca37b8c6f40d815b7457ece410a209e8525befcf3856e81619430a30f37938",
    "2026-10/v2/tables/by_region.parquet": "3cee34be8be23cfa24e0223dfad20c2ca05aa8d95f91f4f467fd91a7a3bb0b83",
    "2026-10/v2/tables/by_sector.csv": "305fce89b7e91e91f71619bc9d1aff199b224fef477d03d16d9dc4e2ceaf4f00",
    "2026-10/v2/tables/by_sector.parquet": "3c5f992b773c0eabe63fc75141c5f8d216bb6d6c9106f3d8129d12df61bf0d35",
    "2026-10/v2/tables/compute_flows.csv": "0f3763caa55a67ac79cb53134d60e3eb97698da58d9446ca500f98b64ca11528",
    "2026-10/v2/tables/compute_flows.parquet": "bf73fabaa9525a597e2a9e321a039134d12bf237c2fd7a82b60fed096a4acd94",
    "2026-10/v2/tables/coverage.csv": "0ab35009d24b0d30065ea72d941c0def78c0b6b603c56be4095527e29820bed6",
    "2026-10/v2/tables/coverage.parquet": "6cc3e852542ba2638b6d92675e21ae971acf476994be04801d2217a8517a0823",
    "2026-10/v2/tables/cube.csv": "8ccf2ccd68c1c9f8dfddfacb125c1034bff28992b01580e78deb9036da072ab6",
    "2026-10/v2/tables/cube.parquet": "9084b9d4d34532634115e81ae5d9768914834ab708ae24ada8ab9796376a148c",
    "2026-10/v2/tables/national.csv": "e7a81faec71cca6fd97a38fb13f8352038726b958c8a6b010646fd8b35cd9e3a",
    "2026-10/v2/tables/national.parquet": "027e4094d582422542737da0438e26e72487b86cfea89081df09d7c2d947a004",
    "2026-10/v2/tables/price_index.csv": "05cd25cc01df5b9fed78ac4e07fd038c74976683a3ad6342399694bfe5e4abc5",
    "2026-10/v2/tables/price_index.parquet": "b86846f092eca88102f109a153610e6ce5dad218dee2cbc653952e7cbe939431",
    "2026-10/v2/tables/revision_analysis.csv": "8e5074a20b7dd62429eb0e8c9b0bd0a79fa250f820bc7dc382723373096a171c",
    "2026-10/v2/tables/revision_analysis.parquet": "3fde7261ec993c0513e8bff199d0b9de13a725df6950fafcec6a9da0b61bc61b",
    "2026-10/v2/tables/revisions.csv": "55c046231cff3335d218ac00277490bd1be56972438b4498ae326075c14cfbde",
    "2026-10/v2/tables/revisions.parquet": "52487a7af885675246fb9f83e011b791c0f4119cb3baeac34c08bd3bb2d9d981",
    "2026-10/v2/tables/series_by_modality.csv": "b3bf8cc46b6323929ffc9983107199e934e19a960d1f238167d28a0217fbc14b",
    "2026-10/v2/tables/series_by_modality.parquet": "6252f0c7caf356d47f83a59e7055f1587909a3673ab0c65c3076164cfbe0f7f2",
    "2026-10/v2/tables/series_by_region.csv": "5b23b0a5d0becf14d3efeab4b6a94f06f3f46026e54825531b8daf7466f56f15",
    "2026-10/v2/tables/series_by_region.parquet": "b4e02f9129a9a3e89a674c9a90238c36245ff75b823092c3264c96d30372af8e",
    "2026-10/v2/tables/series_by_sector.csv": "c443285aaa9e9e37e55032d636efcc7270710b778c2981d5012a021944afb392",
    "2026-10/v2/tables/series_by_sector.parquet": "33975a0179387ec978f3fc00f60656ac7699db58d6107c14ea39b6af39c62392",
    "2026-10/v2/tables/series_national.csv": "27b6924708b56302ef1db76f8cecaf1f9a5e2fdb2d9d47aa0b487592602f7daa",
    "2026-10/v2/tables/series_national.parquet": "a6107262a5b283789e1c1879af293b3b2a8436894f1550b55925061f1397bc51",
    "2026-10/v2/tables/series_use_type.csv": "8d43dab316e1f1e4fc631040b964eee17e77269ed52fae8c1336757c16e1ca52",
    "2026-10/v2/tables/series_use_type.parquet": "f97e3ad9d5f7e3159b4b7100e3f6470e04d54fb7dfa33e78ded4d044ea434f52",
    "2026-10/v2/tables/use_type.csv": "984b643fde96ea82b9e40aa752070284a71d304c305c5644b7806d3289dee21f",
    "2026-10/v2/tables/use_type.parquet": "9615a3aafe2b66e758dca8be59bde5552ecc2d67978e3dfe00eda176046a691b",
    "2026-10/v2/tokenstats_2026-10_v2.xlsx": "87b6c251c7bc395dc97c5e3ab9642b3590032028c7b1dc10ea5cdbd156dd2737",
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
                    load_accepted_report(con, report.path, period, seq, RECEIVED_AT + dt.timedelta(seconds=seq))
            publish_months(con, list(PERIODS), settings, created_at=CREATED_AT)
            load_accepted_report(
                con,
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
