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
    "2026-09/v1/bulletin.html": "1f4bc6501e0ed578c984122860dd162b93f9b47e34c69852836c749a622a8af9",
    "2026-09/v1/manifest.json": "fb70860e2a0160cefbb1804b0c4c6f337a62c8abdcde77ddd29238bafd7aa315",
    "2026-09/v1/sdmx/data.csv": "a597ef158cb3192b50f81f92c98d98305142756af034c459982f9f1a6488bc39",
    "2026-09/v1/sdmx/price_index_data.csv": "3944a6d714aa3f52072e2b58b968438f2e2b7ba3a194b6aa676b595a6923aa19",
    "2026-09/v1/sdmx/price_index_structure.xml": "864e7da2ad8a9c9f1e7236fb375a782806d44992c4f0d13b2c46922b3eeb6424",
    "2026-09/v1/sdmx/structure.xml": "8f8e02460cb088d75bdfb3bed26498b801b52e90716b2094ab4328927336e223",
    "2026-09/v1/tables/by_modality.csv": "2de5774410aefbccf32fd48720fb0afbb4938b74fe5a1841082d7374c44f4da1",
    "2026-09/v1/tables/by_modality.parquet": "7e25cf22cffdbf32661d3f142ab85fa77aae253ad6600a0ea11c393484a36218",
    "2026-09/v1/tables/by_region.csv": "38855ddc1f40c567eff7bf5ecf884e006acf4e3e87c879ecbef82d50a46b04d0",
    "2026-09/v1/tables/by_region.parquet": "c6f1509fc257d6cf6c9826b6bb087d6370096f402fd5ef499605ea19399b0d76",
    "2026-09/v1/tables/by_sector.csv": "986973efbb26f4a8427ec40f86a2aa40dcddabbf1ba4b582d94df943a709fecc",
    "2026-09/v1/tables/by_sector.parquet": "2a2fde5218bfd3d9a76a6d576133783387824f14dd8beab1ba666d71f0cb5f3f",
    "2026-09/v1/tables/compute_flows.csv": "a1ce77dee98e54e3bab65fd2bbd5504ec14cecff99a051ba7ab556cf1cf1e349",
    "2026-09/v1/tables/compute_flows.parquet": "2ea6278e4659d337a4d91d831be904f6b584d39d850e6ae488d540ae454f4d20",
    "2026-09/v1/tables/coverage.csv": "68479397a26d95587dc925d5ea39e70589ffeccc14edc812580bc031cf4cdc5f",
    "2026-09/v1/tables/coverage.parquet": "f88b2877afb77c20fbc13d19e743c017e919407859de180852d4dafc0b31fa40",
    "2026-09/v1/tables/cube.csv": "1157910b9c6f9080ae39226ba79e0de8a35b2747c0bf69792d04e40a043ab18c",
    "2026-09/v1/tables/cube.parquet": "8d3ef3f5349f16383a54cf4997992ab3a113d2f829d28a8118ebec8005c0454e",
    "2026-09/v1/tables/national.csv": "f5647aefc56225593aeeb0d0b6e66829a3b779f5835e426d8cede3ed384c6462",
    "2026-09/v1/tables/national.parquet": "8be7097c961a80cd96343ff90fb8a598212761c87c6ea4439c6dfa27ca2cf667",
    "2026-09/v1/tables/price_index.csv": "b23461143f66a0f5416efb39ece059760efaa37d74857d8da5dd36daeaeeb5c9",
    "2026-09/v1/tables/price_index.parquet": "c176d0a26c93fb216a2eec03e3f35fcc1c08511770ae170a06cbeaf2043fcdbc",
    "2026-09/v1/tables/series_by_modality.csv": "94a5c9352c68df8bec9e3d902fec4d07251a49e378065d8ae28e43a1aba1e355",
    "2026-09/v1/tables/series_by_modality.parquet": "4c26dd92fa2195d8fbf32caa84e44654126ff04f90d1f224afc53309890f40db",
    "2026-09/v1/tables/series_by_region.csv": "9302fc613bd2ac348c76921c21798ad88b2555b831369b71a06c611129310c18",
    "2026-09/v1/tables/series_by_region.parquet": "6c6b5038e783f1279345f6536e90964dbb0c4b2cf44eb43059d70a0363579e9e",
    "2026-09/v1/tables/series_by_sector.csv": "719bbd49134f4a64ec997784b0ba4820e5aea5220ceba526ad0054f96ebc4ea0",
    "2026-09/v1/tables/series_by_sector.parquet": "a1cd1f053a9ab0f697c28355fd5bf424cd0d657418af196330c351f62e5a5f6b",
    "2026-09/v1/tables/series_national.csv": "083994e82b8c343c0e5e8de5673fd785411d2b09c846e9889cb57db9598b83bd",
    "2026-09/v1/tables/series_national.parquet": "e24ddfb97ca018777f405cd6d4ce9550654b401e9791d173ac131aac82320253",
    "2026-09/v1/tables/series_use_type.csv": "bfa833e4bcbe35b643f5e4251fc6cffd7fa90f85ebe020fae50c626ec0fee435",
    "2026-09/v1/tables/series_use_type.parquet": "95f3893cfcce65443b1d40d6bea76416d37103c688e77eb612a133cd336b3ba6",
    "2026-09/v1/tables/use_type.csv": "d60707bfd478028c944e8520c96bb28cefada0bb571c885c3ab354ba1082ea7a",
    "2026-09/v1/tables/use_type.parquet": "e68987f5742a6b74bc7e81f434487294e49e36b2da943aae301fa044d71bdc98",
    "2026-09/v1/tokenstats_2026-09_v1.xlsx": "5ac6d3dedde06dab4a3b4e373168e6b89c2227c1e5829369738df0755bb05a6d",
    "2026-10/v1/bulletin.html": "cb487f23ba90eac9cadfdefbe27dce20ae5f722b16ee641bc62eccb91dc2946d",
    "2026-10/v1/manifest.json": "93147b49603a7d1a6327bf3bd1daa6facad6b3e01b6cfa73842e061b57375d9d",
    "2026-10/v1/sdmx/data.csv": "34955bfdcf6a5e98bc18a4b19b26870328c9b57fe857080ffbe2c6bdf823e4ba",
    "2026-10/v1/sdmx/price_index_data.csv": "2d7333072a083438c3e90cd8a17c15238c22bdc8ad2dee66346f894bab5811d0",
    "2026-10/v1/sdmx/price_index_structure.xml": "91bab8912f0e7d199f0369f3147dbef6c5594d0be4b44e05dbececcc1b99222d",
    "2026-10/v1/sdmx/structure.xml": "757ac7e7394bccfe79ed4e7a9fce8f5aba96c423edf5ec0db860be9915947272",
    "2026-10/v1/tables/by_modality.csv": "d300084566bc9ef3652fe16d7a8d290741ba69ff63d5e18d850233a4ec13659b",
    "2026-10/v1/tables/by_modality.parquet": "ca0237e1d37a226617cb5f78b4d633d8994a67e493557f72c07e53a13f702768",
    "2026-10/v1/tables/by_region.csv": "8f82e55c545c66a6ab8152c8f6d018a4a54aadea249ee0a9aa28bb5aa8d54b6b",
    "2026-10/v1/tables/by_region.parquet": "b9c32216bae1e78499774fa6f839eddd7e022359089f032ea5c6fb95fbf172e1",
    "2026-10/v1/tables/by_sector.csv": "4c2e8e482d9d6db91c795355c8471b3fd7e09be602484a7e1415517916998612",
    "2026-10/v1/tables/by_sector.parquet": "8a81436b442f1bea0a0fe273090ea0928e4d0472af15b884fed57cf3e306ef60",
    "2026-10/v1/tables/compute_flows.csv": "8956735d06cd4e4f1b9d45880936de42d4466eaea6c3e7fae15e7ad29c231a17",
    "2026-10/v1/tables/compute_flows.parquet": "73996c76db42c57902e9516d2ef2d3c77c74b3e76a38459bd48c7e40566329eb",
    "2026-10/v1/tables/coverage.csv": "0ab35009d24b0d30065ea72d941c0def78c0b6b603c56be4095527e29820bed6",
    "2026-10/v1/tables/coverage.parquet": "6cc3e852542ba2638b6d92675e21ae971acf476994be04801d2217a8517a0823",
    "2026-10/v1/tables/cube.csv": "5871968f448929b211d4fed75fc023858db87ec477a772bcf2f2c95ce59cd189",
    "2026-10/v1/tables/cube.parquet": "6567a65372447bfeabe7b6493d5109ee2515262c5b7d359c0a51d06fd919017d",
    "2026-10/v1/tables/national.csv": "45ced0335b061ca80ed4ed4273b075dcdbc715e3c06deecaa9c0ffb4b1fa4a04",
    "2026-10/v1/tables/national.parquet": "bdeccc482fb7000da33d6cd4977840286cc7eff7fac8c1a55b952ced89229ef0",
    "2026-10/v1/tables/price_index.csv": "40a77049fc18be5db793c5305b30d9224fe30cab4dd6f7ce7ea6cb7a58c01c85",
    "2026-10/v1/tables/price_index.parquet": "6ee0db665a83293878d85fd8735f655a8eecee03703075500d586a09ebb06419",
    "2026-10/v1/tables/series_by_modality.csv": "a9ba494fac3fe16da97f2256d90ef1285b9c8b868a0ae8dc07d5c792803b9921",
    "2026-10/v1/tables/series_by_modality.parquet": "a23041bb3fc278e91ec0f1db1d30e3574d69e18c964c5bc22f9c6071b4387440",
    "2026-10/v1/tables/series_by_region.csv": "8d7d2493023ca5fadbd11defc62312fe9c27e5cabe0bc6fdd563e9b2cb0c9233",
    "2026-10/v1/tables/series_by_region.parquet": "65058958668cd29e6631bae9fbfe72e926c8e1e101023bfa6cae57ffc8f6cfd6",
    "2026-10/v1/tables/series_by_sector.csv": "b6718e6af1654dbba9e9c2f413e0f0eaf82129dbda6d6dbbaffbb569358331a9",
    "2026-10/v1/tables/series_by_sector.parquet": "8f8ae14b3796892b751fd91269880034fc36afc7a2d5d82d45c7056c24dc546f",
    "2026-10/v1/tables/series_national.csv": "aaa50e5799fff774b6eafb931f5bf32fd38aa4430c4413b65c8e11a2b731c0be",
    "2026-10/v1/tables/series_national.parquet": "6a07dad690b229d32e7634c3d7bb0ee7247ffc77e7b4be4058e321d9e8756974",
    "2026-10/v1/tables/series_use_type.csv": "c9e3d583458b936ca20e7ce27f01775caa2b62876ca4e8678e08006abe2b78d7",
    "2026-10/v1/tables/series_use_type.parquet": "0d38723a97cb8c208ec5202b3c13dd1fe047a4ec27e04b6476c9df4cf09d758c",
    "2026-10/v1/tables/use_type.csv": "6e4358415be41a0e5ceddef2bf46a1b9820a565b3782bbf3871f75d587df58e8",
    "2026-10/v1/tables/use_type.parquet": "a88bffdd8dd836575fdd399c7956f27a7f5adcb2c3ed3dab246a6cb90e4b65cc",
    "2026-10/v1/tokenstats_2026-10_v1.xlsx": "f4ed5f6b2fa7230a4605a972b313ff2ad23d6a110303c4e7825abd4276c61446",
    "2026-10/v2/bulletin.html": "fb9b731d5411b613a46c7f2c2757476d99428feef589852888582783236de81b",
    "2026-10/v2/manifest.json": "60404f8ca44819277b6f86e5c932f3e833b01d692a72acd2b637be2ed3195ffc",
    "2026-10/v2/sdmx/data.csv": "d21312cb571576a4ef85105cc88420b3ff9094165fe8b902c420a4bec85eb4bb",
    "2026-10/v2/sdmx/price_index_data.csv": "44ac4bf565a0a48ac278829662da06c16d0463d9c099d77751281427135a9835",
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
    "2026-10/v2/tables/price_index.csv": "12b6b66bd7017626102f0d7e4c520fd2344cb558ee1023619a661cbd330057fe",
    "2026-10/v2/tables/price_index.parquet": "7d156b27cdb1aabc6701e2aa3eb235a12b6b439886e4173da05ef38651633fb0",
    "2026-10/v2/tables/revision_analysis.csv": "e016a7c544654d932e616c3c1d0ef59d841af3a18ececa47083756f49a5d0144",
    "2026-10/v2/tables/revision_analysis.parquet": "2661912023d8f88698432ebdf1bc8c3cba8c8c01bbb2d28b3231f8c2652ef8c6",
    "2026-10/v2/tables/revisions.csv": "a741fd08d5670b77920677d942e7670a654e7c0c838ff397334a64de5271fc91",
    "2026-10/v2/tables/revisions.parquet": "19df468576d36d40d77347565144808c70b5778bb29c2bacdb0334fadc948c4d",
    "2026-10/v2/tables/series_by_modality.csv": "8bfb4ed18c00811af1e7e705a2998383cfff7d46462b7dcad060756d1f183084",
    "2026-10/v2/tables/series_by_modality.parquet": "05cb52897460c665bbb411fa9b94bb78ea37ee9a27951da7c2dcd047389e6dd9",
    "2026-10/v2/tables/series_by_region.csv": "3ceb22aabc4c38dce5139dd450fb7ac6ac71364646097283cccb08e8ac0d911d",
    "2026-10/v2/tables/series_by_region.parquet": "ca66665376ee5c75919f57975ec988eb339cb3d3ff91aed34c4c38477285066e",
    "2026-10/v2/tables/series_by_sector.csv": "e4676e48d97803ceae1ea77a1aab2a085ec4a4fc49874df7dfd70d9276b99c38",
    "2026-10/v2/tables/series_by_sector.parquet": "d8ed54c4d9538dcc82e44e501724c6ce1881f3b8aa9259e53e04d62eb00640c5",
    "2026-10/v2/tables/series_national.csv": "10e5033b852004b6dc46781a0a69fd4c98b93383b3adb2b04be5ee8fbea85db2",
    "2026-10/v2/tables/series_national.parquet": "31b375eac741968e2367d0931a6e8b339306b1d1d410ad5e0e4ed3161ff15920",
    "2026-10/v2/tables/series_use_type.csv": "92fe47adb6e79f556de31dadd519a827b46e94ad1389342ee2bb2bfe5770ffc7",
    "2026-10/v2/tables/series_use_type.parquet": "995c423ada446895b24efb1834644edeb74e7506f900970be042801074cea989",
    "2026-10/v2/tables/use_type.csv": "984b643fde96ea82b9e40aa752070284a71d304c305c5644b7806d3289dee21f",
    "2026-10/v2/tables/use_type.parquet": "9615a3aafe2b66e758dca8be59bde5552ecc2d67978e3dfe00eda176046a691b",
    "2026-10/v2/tokenstats_2026-10_v2.xlsx": "afd8b769fff2bad3559c8473e5bb94595fd473d7d7d80427da58a2ba00c18dcb",
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
