"""Same inputs, same release bytes: the crash-safety tests compare a resumed publish with an uninterrupted one
byte for byte, so no output may depend on the process (here: Python's per-process string hash seed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

WRITE_BULLETIN = """
import hashlib, sys
from decimal import Decimal
from pathlib import Path
import polars as pl
from tests.release_fixtures import release_tables
from pipelines.release.formats.bulletin import write_bulletin
tables, info = release_tables(version=2)
revisions = tables["revisions"]  # every province revised by the same amount (none): the largest revisions tie
tables["revisions"] = revisions.with_columns(
    pl.col("previous_value").alias("value"), pl.lit(Decimal(0)).cast(revisions["difference"].dtype).alias("difference")
)
write_bulletin(Path(sys.argv[1]), tables, info)
print(hashlib.sha256(Path(sys.argv[1]).read_bytes()).hexdigest())
"""


@pytest.mark.parametrize("seeds", [("1", "2", "3")])
def test_the_bulletin_does_not_depend_on_the_hash_seed(tmp_path, seeds):
    digests = set()
    for seed in seeds:
        result = subprocess.run(
            [sys.executable, "-c", WRITE_BULLETIN, str(tmp_path / f"{seed}.html")],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(result.stdout.strip())
    assert len(digests) == 1
