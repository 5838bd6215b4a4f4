"""Processes that die with the process that started them, however it ends (SIGKILL included).

``tokenstats ingest`` validates in a pool of worker processes forked by a fork server. If the ingest process
is killed, nothing tells the fork server or its workers (about 300 MB each) to stop: they ran on, orphaned.
On Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` makes the kernel kill a process when its parent ends: the fork
server asks for it when it imports this module (it is first in its preload list, and its parent is the ingest
process named in ``PARENT_ENV``), and each worker asks for it when it starts (its parent: the fork server).
A process whose parent ended before it asked finds its parent (or the fork server's) changed, and ends itself.
``PARENT_ENV`` is set only while the pool is being used, so no other process inherits it.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PARENT_ENV = "TOKENSTATS_LIFELINE_PARENT"  # pid of the process whose fork server must die with it
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PROC = Path("/proc")


def tie_fork_server_to(pid: int) -> None:
    """Before a fork server starts: make it, and the workers it forks, die with process ``pid``."""
    os.environ[PARENT_ENV] = str(pid)


def untie_fork_server() -> None:
    """Once the pool is done: processes started from now on inherit no ``PARENT_ENV``."""
    os.environ.pop(PARENT_ENV, None)


def die_with_fork_server() -> None:
    """A pool worker's initializer: die with the fork server, which dies with the process in ``PARENT_ENV``."""
    if sys.platform == "linux":
        _die_with_parent()
        if _parent_of(os.getppid()) != os.environ.get(PARENT_ENV):  # the chain broke before we asked
            os.kill(os.getpid(), signal.SIGKILL)


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def _parent_of(pid: int) -> str | None:
    try:  # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses
        return (PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()[1]
    except (OSError, IndexError):
        return None


def process_ended(pid: str) -> bool:
    """No process ``pid`` runs on this machine (gone, or a zombie)."""
    if not (PROC / "self").exists():  # no procfs (macOS): ask the kernel; a zombie then counts as running
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # another user's process
            return False
        return False
    try:
        return (PROC / pid / "stat").read_text().rpartition(")")[2].split()[0] in "ZX"
    except (OSError, IndexError):
        return True


if sys.platform == "linux" and PARENT_ENV in os.environ:  # a fork server, importing us first thing
    if os.environ[PARENT_ENV] == str(os.getppid()):
        _die_with_parent()
    if process_ended(os.environ[PARENT_ENV]):  # the ingest process ended before (or while) we asked
        os.kill(os.getpid(), signal.SIGKILL)
