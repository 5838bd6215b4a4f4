"""Claim: a complete inbox file is hashed (its submission id), given the bureau's next receipt number and moved
out of the inbox into its own claim folder ``<data>/landing/<provider>/<mtime-ns>-<sha256>-<name>/`` (an atomic
rename), safe to retry or resume after a crash.

Receipt order belongs to the bureau: the receipt number (``receipt_seq``), taken at claim from a counter the
bureau keeps, orders arrivals (which report supersedes which, which is the latest). The file's modification
time, which the sender controls (``scp -p``, ``rsync -t``, a clock in the future), is kept as information only
(``received_at``). The number is the bureau's clock in nanoseconds, made strictly increasing by the counter
file: it stays monotonic even if the counter is lost. A crash between taking a number and the claim leaves a
gap, never a repeat.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.contract.reasons import Received, write_json
from pipelines.core.config import Settings
from pipelines.core.database import lock_file
from pipelines.core.failpoints import crash_point

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
TEMPORARY = re.compile(r"(^\.|\.(tmp|part|partial|crdownload|filepart)$|~$)", re.IGNORECASE)
CLAIM_FILE = "claim.json"
RECEIPT_COUNTER = ".receipt_seq"
VERDICT_FILE = "verdict.json"
REASON_FILE = "reason.json"
# The accepted rows as the warehouse keeps them, written by the validation for the load to move into place
# (core/usage_store.py). A stored report's name never starts with a dot, so never this one.
ROWS_FILE = ".rows.parquet"


@dataclass(frozen=True)
class Claim:
    """A received file moved out of the inbox, with what is known about its arrival."""

    folder: Path
    received: Received
    stored_name: str  # the file's name inside the folder (the original, made safe)
    receipt_seq: int  # the bureau's receipt order (module docstring)

    @property
    def report(self) -> Path:
        return self.folder / self.stored_name

    @property
    def verdict_file(self) -> Path:
        return self.folder / VERDICT_FILE

    @property
    def rows_file(self) -> Path:
        return self.folder / ROWS_FILE

    @property
    def label(self) -> str:
        """``provider/file name``, as operators know the file (control characters escaped: a name cannot
        forge a line of the ingest summary)."""
        return format_arrival_label(self.received.provider_id, self.received.file_name)


def discover_reports(settings: Settings, now: float | None = None) -> tuple[list[Path], list[Path]]:
    """Complete files in the provider folders of the inbox, and those still being written.

    Complete files come in the order their senders wrote them (modification time, then name): files found in
    one scan arrived together, and that is the only evidence of which corrects which. Across scans, the
    bureau's receipt number decides (module docstring)."""
    now = time.time() if now is None else now
    complete: list[tuple[int, Path]] = []
    waiting: list[Path] = []
    if not settings.inbox_dir.is_dir():
        return [], []
    for folder in sorted(settings.inbox_dir.iterdir()):
        if not folder.is_dir() or folder.is_symlink() or TEMPORARY.search(folder.name):
            continue
        for entry in sorted(folder.iterdir()):
            if TEMPORARY.search(entry.name):
                waiting.append(entry)
                continue
            try:
                modified = entry.lstat().st_mtime_ns
            except FileNotFoundError:  # claimed by a concurrent run
                continue
            if settings.settle_seconds > 0 and now - modified / 1e9 < settings.settle_seconds:
                waiting.append(entry)
            else:
                complete.append((modified, entry))
    return [entry for _, entry in sorted(complete)], waiting


def claim_report(path: Path, settings: Settings) -> Claim | None:
    """Move an inbox file into its claim folder; None when another run claimed it first."""
    try:
        info = path.lstat()
        digest = _sha256(path, info)
    except FileNotFoundError:
        return None
    received_at = dt.datetime.fromtimestamp(info.st_mtime_ns / 1e9, dt.UTC)
    received = Received(
        submission_id=digest,
        provider_id=path.parent.name,
        file_name=path.name,
        size_bytes=info.st_size,
        received_at=received_at,
    )
    # The name is part of the folder: two names for the same bytes and time are two arrivals, not one folder
    # in which the second claim.json silently replaces the first (hostile-report tests).
    name_key = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:12]
    folder = settings.landing_dir / received.provider_id / f"{info.st_mtime_ns}-{digest}-{name_key}"
    stored_name = _safe_name(path.name)
    folder.mkdir(parents=True, exist_ok=True)
    receipt_seq = next_receipt(settings)
    write_json(folder / CLAIM_FILE, {**received.to_json(), "stored_name": stored_name, "receipt_seq": receipt_seq})
    crash_point("claim.before_rename")
    try:
        os.rename(path, folder / stored_name)
    except FileNotFoundError:
        return None if not (folder / stored_name).exists() else read_claim(folder)
    crash_point("claim.after_rename")
    return Claim(folder, received, stored_name, receipt_seq)


def next_receipt(settings: Settings) -> int:
    """The next receipt number: the bureau's clock in nanoseconds, strictly above every number given before."""
    counter = settings.landing_dir / RECEIPT_COUNTER
    with lock_file(counter.with_suffix(".lock"), 60, "the receipt counter"):
        try:
            last = int(counter.read_text(encoding="ascii"))
        except (FileNotFoundError, ValueError):
            last = 0
        number = max(time.time_ns(), last + 1)
        tmp = counter.with_name(f"{counter.name}.tmp")
        with tmp.open("w", encoding="ascii") as f:
            f.write(str(number))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, counter)
    return number


def pending_claims(settings: Settings) -> list[Claim]:
    """Claims not yet loaded (including those a crashed run left), in receipt order."""
    claims = []
    if settings.landing_dir.is_dir():
        for folder in sorted(settings.landing_dir.glob("*/*")):
            claim = read_claim(folder)
            if claim is not None:
                claims.append(claim)
    return sorted(claims, key=lambda c: c.receipt_seq)


def _sha256(path: Path, info: os.stat_result) -> str:
    digest = hashlib.sha256()
    if stat.S_ISLNK(info.st_mode):  # never follow a link: hash what it points to, as text
        digest.update(b"symlink:" + os.fsencode(os.readlink(path)))
    elif stat.S_ISREG(info.st_mode):
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
    else:
        digest.update(f"special:{info.st_mode}:{info.st_ino}".encode())
    return digest.hexdigest()


def format_arrival_label(provider: str, file_name: str) -> str:
    """``provider/file`` for logs and summaries, with control characters (newlines, escapes) made visible."""
    return escape_text(f"{provider}/{file_name}")


def escape_text(text: str) -> str:
    """Text from outside (file and folder names, reasons) made safe to print on one line of an operator's
    terminal: control, line-breaking and bidirectional characters escaped."""
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def _safe_name(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")[:120]
    return safe or "report"


def read_claim(folder: Path) -> Claim | None:
    """The claim kept in a landing folder, or None if the folder holds none (filed away meanwhile)."""
    try:
        data = json.loads((folder / CLAIM_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, json.JSONDecodeError):
        return None
    # A claim from before receipt numbers: its modification time in nanoseconds (what ordered it then).
    receipt_seq = data.get("receipt_seq") or int(Received.from_json(data).received_at.timestamp() * 1e9)
    claim = Claim(folder, Received.from_json(data), data["stored_name"], receipt_seq)
    return claim if os.path.lexists(claim.report) else None
