"""The host name Airflow records for a task instance (``[core] hostname_callable``).

On a real fleet every worker has its own host name and this is the machine's FQDN. Where several workers share a
machine (the one-host deployment of ``deploy/stack.py``, pods without stable names), each worker process names
itself with ``TOKENSTATS_WORKER_HOSTNAME``, so the task instances show which worker ran them.
"""

from __future__ import annotations

import os
import socket


def worker_hostname() -> str:
    """The name a worker reports to Airflow: ``TOKENSTATS_WORKER_HOSTNAME`` if set, else the host's FQDN."""
    return os.environ.get("TOKENSTATS_WORKER_HOSTNAME") or socket.getfqdn()
