"""Named crash points, for the crash-safety tests: kill the process at a chosen step, as a power cut would.

The pipeline calls ``crash_point("load.after_ledger_insert")`` at its step boundaries. Normally that does
nothing but read one environment variable. When ``TOKENSTATS_CRASH_AT`` names the point, the process sends
itself SIGKILL there: no ``finally`` block, no ``atexit``, no flush runs, exactly as if the machine died.
``TOKENSTATS_CRASH_AT=name@N`` kills at the N-th time the point is reached (default the first), so a test can
crash in the middle of a loop (e.g. after the third file).

Tests (``tests/integration/test_crash_safety.py``) run a command with the variable set, check it died by
SIGKILL, run it again without it and compare the outcome with an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

CRASH_ENV = "TOKENSTATS_CRASH_AT"

# Every point the pipeline declares, by stage; the tests cover each one.
POINTS = (
    # ingest: claim (inbox -> landing)
    "claim.before_rename",  # the claim folder and claim.json exist; the file is still in the inbox
    "claim.after_rename",  # the file is in its claim folder; the rest of the inbox is not claimed yet
    # ingest: validation (verdict.json beside each claim)
    "validate.before_verdict",  # validated, the verdict not yet written
    "validate.after_verdict",
    # ingest: load (one transaction per file), then filing away
    "load.after_ledger_insert",  # the ledger row is inserted, the usage rows are not stored (uncommitted)
    "load.after_rows_stored",  # the rows' file written, totals, supersession and core.usage not yet (uncommitted)
    "load.before_commit",
    "load.after_commit",  # committed; the claim folder is not yet moved to the archive or quarantine
    "file_away.before_move",  # reason.json written (rejected files); the folder not yet moved
    "file_away.after_move",
    # publish
    "publish.after_marts",
    "publish.after_disclosure",
    "release.table_written",  # once per table file in the staging folder (crash in the middle with @N)
    "release.after_exports",  # tables, workbook and SDMX staged; no bulletin yet
    "release.after_bulletin",
    "release.before_rename",  # manifest written in the staging folder; not yet renamed into place
    "release.after_rename",  # the release is out; the analyst snapshot is not refreshed yet
    "snapshot.after_checkpoint",  # analyst views added to the warehouse, checkpointed, nothing copied yet
    "snapshot.before_replace",  # the temporary copy is complete
    "snapshot.after_replace",
)

_hits: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """SIGKILL this process if ``TOKENSTATS_CRASH_AT`` names this point (and this is the chosen hit)."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _hits[name] += 1
    if _hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
