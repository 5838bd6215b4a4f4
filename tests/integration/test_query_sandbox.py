"""``tokenstats query`` as a hostile analyst uses it: no file but the snapshot and the rows' files (the folder
``core.usage`` reads) is read, nothing is written.

The attacks of issue #15 each fail with a clear error and leave the release, the warehouse and the inbox as
they were; a Hypothesis fuzz of hostile SQL (file functions, COPY, EXPORT, ATTACH, PRAGMA, SET, INSTALL/LOAD,
stacked statements) checks the same of every statement it builds: a canary file outside the snapshot is
never shown, and no file under the data directory or beside it changes or appears.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import subprocess
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.cli.commands import main
from pipelines.synthetic.generate import generate_month
from tests.cli_process import COMMAND, cli_env, run_cli

pytestmark = pytest.mark.integration

PERIOD = "2026-09"
CANARY = "canary-7f3a9c"
READ_ONLY = "read-only: one SELECT"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A published month (data/) and, beside it, files an attacker would like to read (outside/)."""
    root = tmp_path_factory.mktemp("sandbox")
    data = root / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKENSTATS_DATA_DIR", str(data))
        generate_month(data, PERIOD, rows=3_000, providers=8)
        assert main(["ingest"]) == 0
        assert main(["publish", "--period", PERIOD]) == 0
    outside = root / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{CANARY}\n")
    (outside / "secret.csv").write_text(f"secret\n{CANARY}\n")
    pl.DataFrame({"secret": [CANARY]}).write_parquet(outside / "secret.parquet")
    return root


def _query(root: Path, sql: str, *options: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        patch.setenv("TOKENSTATS_DATA_DIR", str(root / "data"))
        code = main(["query", sql, *options])
    return code, out.getvalue(), err.getvalue()


def _tree(root: Path, digest: bool = True) -> dict[str, tuple[str, int, int]]:
    """Every file under the root (the snapshot too): content digest, size and modification time."""
    return {
        str(p.relative_to(root)): (
            hashlib.sha256(p.read_bytes()).hexdigest() if digest else "",
            p.stat().st_size,
            p.stat().st_mtime_ns,
        )
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def test_the_issue_attacks_fail_clearly_and_change_nothing(root):
    data = root / "data"
    release_file = data / "published" / PERIOD / "v1" / "tables" / "national.csv"
    usage = data / "warehouse" / "usage"
    escape = usage / ".." / ".." / ".." / "outside" / "secret.txt"
    provider = sorted(p.name for p in (data / "archive").iterdir())[0]
    before = _tree(root)
    attacks = {
        "select * from read_text('/etc/passwd')": "file system operations are disabled",
        f"select * from read_text('{root / 'outside' / 'secret.txt'}')": "file system operations are disabled",
        # the one folder the analyst reads (the rows' files) leads nowhere else
        f"select * from read_blob('{usage / '..' / 'disclosure.key'}')": "file system operations are disabled",
        f"select * from read_text('{escape}')": "file system operations are disabled",
        f"copy (select 'x') to '{release_file}'": READ_ONLY,
        f"attach '{data / 'warehouse' / 'tokenstats.duckdb'}' as live (read_only false)": READ_ONLY,
        "update core.submissions set status = 'rejected'": READ_ONLY,
        f"copy (select 1 as a) to '{data / 'inbox' / provider / 'x.parquet'}' (format parquet)": READ_ONLY,
        "select 1; copy (select 1) to 'x.csv'": "one SQL statement",
        "set enable_external_access = true": READ_ONLY,
        "install httpfs": READ_ONLY,
    }
    for sql, message in attacks.items():
        code, out, err = _query(root, sql)
        assert code == 2 and message in err and "Traceback" not in err, (sql, err)
        assert CANARY not in out and "root:" not in out
    assert _tree(root) == before
    assert not (data / "inbox" / provider / "x.parquet").exists()


def test_duckdb_itself_refuses_files_and_settings_in_the_analyst_connection(root):
    """Defence in depth: even a read statement gets no file, and no setting can be changed back."""
    for sql in (
        f"select * from read_parquet('{root / 'outside' / 'secret.parquet'}')",
        f"select * from glob('{root}/*')",
        "select current_setting('enable_external_access') as x where x",
        "select * from duckdb_extensions() where loaded and extension_name = 'httpfs'",
    ):
        code, out, _ = _query(root, sql, "--format", "csv")
        assert CANARY not in out and "outside" not in out
        assert code == 2 or out.strip().count("\n") == 0, (sql, out)  # an error, or a header and no row


def test_snapshot_and_private_folders_are_closed_to_other_users(root):
    data = root / "data"
    assert stat.S_IMODE((data / "analyst" / "tokenstats.duckdb").stat().st_mode) == 0o640
    for folder in ("warehouse", "landing", "archive", "quarantine", "analyst", "registry"):
        if folder != "quarantine":  # nothing rejected here: no quarantine folder at all
            assert stat.S_IMODE((data / folder).stat().st_mode) == 0o750, folder


def test_the_stock_duckdb_cli_locked_down_as_the_readme_says(root):
    """The README's command for analysts on the stock CLI: the rows' files are read, nothing else is."""
    snapshot = root / "data" / "analyst" / "tokenstats.duckdb"
    usage = root / "data" / "warehouse" / "usage"
    lockdown = (
        f"set allowed_directories = ['{usage}/']; set enable_external_access = false; set lock_configuration = true"
    )
    done = subprocess.run(
        ["duckdb", "-readonly", "-csv", "-cmd", lockdown, str(snapshot)],
        input="select count(*) as n from analyst.usage;\n"
        f"select * from read_text('{root / 'outside' / 'secret.txt'}');\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "n\n3000\n" in done.stdout, done.stdout + done.stderr
    assert "file system operations are disabled" in done.stdout + done.stderr
    assert CANARY not in done.stdout


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("select interval 1 day as i", "1 day"),
        ("select 1::bit as b", "00000000000000000000000000000001"),
        ("select [1, 2] as l, {'a': 1} as s", "[1, 2]"),
    ],
)
@pytest.mark.parametrize("output", ["csv", "json"])
def test_any_duckdb_type_prints_as_csv_and_json(root, sql, expected, output):
    code, out, err = _query(root, sql, "--format", output)
    assert code == 0, err
    assert expected in out


# --- fuzz ---------------------------------------------------------------------------------------------------

FILE_FUNCTIONS = (
    "read_text",
    "read_blob",
    "read_csv",
    "read_csv_auto",
    "read_parquet",
    "parquet_scan",
    "parquet_metadata",
    "read_json",
    "read_json_auto",
    "glob",
    "sniff_csv",
)


def _targets(root: Path) -> list[str]:
    data = root / "data"
    return [
        str(root / "outside" / "secret.txt"),
        str(root / "outside" / "secret.csv"),
        str(root / "outside" / "secret.parquet"),
        f"file://{root / 'outside' / 'secret.csv'}",
        str(root / "outside" / "*"),
        str(data / "warehouse" / "tokenstats.duckdb"),
        str(data / "warehouse" / "usage" / ".." / "disclosure.key"),
        str(data / "warehouse" / "usage" / PERIOD / ".." / ".." / ".." / ".." / "outside" / "secret.csv"),
        str(data / "published" / PERIOD / "v1" / "tables" / "national.csv"),
        str(data / "inbox" / "forged" / "x.parquet"),
        str(data / "analyst" / "new.duckdb"),
        "/etc/passwd",
        "../outside/secret.txt",
        "secret.csv",
        ":memory:",
    ]


@st.composite
def hostile_sql(draw: st.DrawFn, targets: list[str]) -> str:
    path = draw(st.sampled_from(targets)).replace("'", "''")
    option = draw(st.sampled_from(["", " (format parquet)", " (format csv, header)", " (format json)"]))
    statement = draw(
        st.sampled_from(
            [
                f"select * from {draw(st.sampled_from(FILE_FUNCTIONS))}('{path}')",
                f"select * from '{path}'",
                f"from '{path}'",
                f"with x as (select * from read_text('{path}')) select * from x",
                f"select (select content from read_text('{path}')) as c",
                f"copy (select '{CANARY}' as c) to '{path}'{option}",
                f"copy analyst.about to '{path}'{option}",
                f"create table t as select * from '{path}'",
                f"attach '{path}' as live",
                f"attach '{path}' as live (read_only false)",
                f"attach '{path}' as live (type sqlite)",
                f"export database '{path}'{option}",
                f"import database '{path}'",
                "pragma enable_profiling",
                f"pragma profiling_output = '{path}'",
                f"set profiling_output = '{path}'",
                f"set temp_directory = '{path}'",
                "set enable_external_access = true",
                "set lock_configuration = false",
                "reset lock_configuration",
                "set memory_limit = '100GB'",
                "install httpfs",
                "load httpfs",
                f"load '{path}'",
                "force install sqlite from core_nightly",
                "call pragma_database_list()",
                f"create secret (type s3, key_id 'k', secret '{path}')",
                "checkpoint",
                "detach analyst",
                "select 1",
            ]
        )
    )
    prefix = draw(st.sampled_from(["", "select 1; ", "/* c */ ", "explain ", "explain analyze ", "describe "]))
    suffix = draw(st.sampled_from(["", ";", "; select 2", " -- x", f"; copy (select 1) to '{path}'"]))
    text = prefix + statement + suffix
    return draw(st.sampled_from([text, text.upper(), text.swapcase()]))


def test_fuzz_hostile_sql_reads_and_writes_no_file_but_the_snapshot(root):
    before, quick = _tree(root), _tree(root, digest=False)
    tmp_before = set(Path("/tmp").iterdir())

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(sql=hostile_sql(_targets(root)), output=st.sampled_from(["table", "csv", "json"]))
    def run(sql: str, output: str) -> None:
        code, out, err = _query(root, sql, "--format", output)
        assert code in (0, 2), (sql, err)
        assert "Traceback" not in err
        assert CANARY not in (out + err).lower() or CANARY in sql.lower(), sql  # shown only if the SQL has it
        assert "root:x:" not in out.lower(), sql
        assert _tree(root, digest=False) == quick, sql

    run()
    assert _tree(root) == before
    created = {p for p in set(Path("/tmp").iterdir()) - tmp_before if "canary" in p.name or "secret" in p.name}
    assert not created


# --- the command line's own errors ---------------------------------------------------------------------------


@pytest.mark.parametrize("sql", ["select 42 as answer", "select * from range(300000)"])
def test_a_closed_output_pipe_is_no_traceback(root, sql):
    """``tokenstats … | head``: the reader leaves early (here: before anything is written)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [*COMMAND, "query", sql, "--format", "csv"],
            env=cli_env(root / "data"),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""


def test_a_month_out_of_range_is_a_usage_error(root):
    done = run_cli(root / "data", "generate", "--period", "0000-01")
    assert done.returncode == 2 and "2000-01 to 2999-12" in done.stderr and "Traceback" not in done.stderr


def test_no_progress_bar_is_drawn_into_the_output(root):
    """DuckDB draws a progress bar on standard output, file or pipe alike, once a query has run two seconds
    with progress it can estimate (the year benchmark's year-level query, 60M rows: its JSON began with
    `` 8% ▕███ … (~20 seconds remaining)``). A query that long needs far more rows than this snapshot holds, so
    this pins the setting that prevents it, as the analyst's connection has it."""
    done = run_cli(root / "data", "query", "select current_setting('enable_progress_bar') as bar", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["bar", "false"]
