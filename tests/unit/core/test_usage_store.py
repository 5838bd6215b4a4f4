"""The rows' files are written whole or not at all: a write that fails leaves nothing, not even its partial file."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.core.usage_store import write_rows


def test_a_write_that_fails_leaves_no_file(tmp_path):
    target = tmp_path / "usage" / "2026-10" / "s.parquet"
    con = duckdb.connect()
    with pytest.raises(duckdb.Error):
        write_rows(
            con, "select i, case when i = 99999 then error('unreadable') end from range(100000) as t(i)", {}, target
        )
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # no partial file either

    assert write_rows(con, "select i from range(5) as t(i)", {}, target) == 5
    assert con.sql(f"select count(*) from '{target}'").fetchall() == [(5,)]
    assert [p.name for p in target.parent.iterdir()] == ["s.parquet"]
