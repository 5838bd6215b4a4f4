"""The rows' files are written whole or not at all: a write that fails leaves nothing, not even its partial file;
rows written ahead reach their place from another filesystem too."""

from __future__ import annotations

import errno
import os

import duckdb
import pytest

from pipelines.core import usage_store
from pipelines.core.usage_store import keep_rows, write_rows


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


def test_rows_written_ahead_on_another_filesystem_are_copied_into_place(tmp_path, monkeypatch):
    con = duckdb.connect()
    staged = tmp_path / "landing" / ".rows.parquet"
    staged.parent.mkdir()
    write_rows(con, "select i from range(7) as t(i)", {}, staged)
    target = tmp_path / "usage" / "2026-10" / "s.parquet"

    def replace(source, destination):  # a rename across filesystems fails as Linux fails it
        if source == staged:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        os.rename(source, destination)

    monkeypatch.setattr(usage_store.os, "replace", replace)
    keep_rows(staged, target)
    assert not staged.exists()
    assert con.sql(f"select count(*) from '{target}'").fetchall() == [(7,)]
    assert [p.name for p in target.parent.iterdir()] == ["s.parquet"]
