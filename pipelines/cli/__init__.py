"""CLI: the ``tokenstats`` command and the Airflow demo; the last stage, it may import every other.

In: command-line arguments. Out: exit codes, printed results. Public face: ``main`` (the console script).
"""

from pipelines.cli.commands import main

__all__ = ["main"]
