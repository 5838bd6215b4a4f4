"""Progress of long command-line work (``tokenstats ingest``): files, rows, rows/s and ETA, as it happens.

Written to stderr (stdout keeps the results). On a terminal, a live rich display. Otherwise (a pipe, a log file,
cron) plain timestamped lines, flushed one by one: a line per finished file, and while a file takes long, a line
every ``interval`` seconds saying what runs and how far the work is, so a log never sits silent until the end.
"""

from __future__ import annotations

import datetime as dt
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import pyarrow.parquet as pq


@dataclass
class Phase:
    """One pass over the files (validate, load): what is done of it."""

    name: str
    files: int
    rows: int
    files_done: int = 0
    rows_done: int = 0
    started: float = field(default_factory=time.monotonic)

    def advance(self, rows: int) -> None:
        self.files_done += 1
        self.rows_done += rows

    def rate(self) -> float:
        """Rows per second so far."""
        return self.rows_done / max(time.monotonic() - self.started, 1e-9)

    def eta_seconds(self) -> float | None:
        rate = self.rate()
        return (self.rows - self.rows_done) / rate if rate > 0 else None

    def status(self) -> str:
        eta = self.eta_seconds()
        return (
            f"{self.name}: {self.files_done}/{self.files} files, {self.rows_done:,}/{self.rows:,} rows, "
            f"{self.rate():,.0f} rows/s, ETA {_duration(eta) if eta is not None else '?'}"
        )


class Progress:
    """Reports phases of file work. Use as a context manager; ``phase`` starts a pass, ``done`` ends a file.

    Safe to call from several threads (the validation pool reports from its result loop, the ticker from its own).
    """

    def __init__(self, stream: TextIO | None = None, interval: float = 10.0, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self.live = self.stream.isatty() if live is None else live
        self.current: Phase | None = None
        self.last_line = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._rich = None
        self._task = None

    def __enter__(self) -> Progress:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeRemainingColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )

            self._rich = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[files]}"),
                MofNCompleteColumn(),
                TextColumn("rows {task.fields[rate]}"),
                TimeRemainingColumn(),
                transient=False,
            )
            self._rich.start()
        else:
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        if self._rich is not None:
            self._rich.stop()

    def phase(self, name: str, files: int, rows: int) -> None:
        with self._lock:
            self.current = Phase(name, files, rows)
            if self._rich is not None:
                self._task = self._rich.add_task(name, total=rows, files=f"0/{files} files", rate="")
            else:
                self._line(f"{name}: {files} files, {rows:,} rows")

    def done(self, label: str, rows: int, outcome: str = "") -> None:
        """A file finished the current phase."""
        with self._lock:
            phase = self.current
            if phase is None:
                return
            phase.advance(rows)
            if self._rich is not None:
                self._rich.update(
                    self._task,
                    completed=phase.rows_done,
                    files=f"{phase.files_done}/{phase.files} files",
                    rate=f"{phase.rate():,.0f}/s",
                )
                self._rich.console.print(f"{phase.name} {label} {outcome}".rstrip())
            else:
                self._line(f"{phase.name} {label} {outcome}".rstrip() + f"; {phase.status()}")

    def _tick(self) -> None:
        """While a file takes long, a line every ``interval`` seconds: the log shows the work is alive."""
        while not self._stop.wait(min(self.interval, 1.0)):
            with self._lock:
                if self.current is not None and time.monotonic() - self.last_line >= self.interval:
                    self._line(f"still working; {self.current.status()}")

    def _line(self, text: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(f"{stamp} {text}", file=self.stream, flush=True)
        self.last_line = time.monotonic()


class _NoProgress:
    """For callers that show nothing (Airflow tasks log per file themselves)."""

    def phase(self, name: str, files: int, rows: int) -> None:
        pass

    def done(self, label: str, rows: int, outcome: str = "") -> None:
        pass


NO_PROGRESS = _NoProgress()


def count_footer_rows(path: Path) -> int:
    """Rows a Parquet file's footer claims, for the ETA only (validation trusts no footer); 0 if unreadable."""
    try:
        if not stat.S_ISREG(path.lstat().st_mode):
            return 0
        return max(pq.ParquetFile(path).metadata.num_rows, 0)
    except Exception:  # pyarrow raises many types for a damaged footer; the validation reports it
        return 0


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
