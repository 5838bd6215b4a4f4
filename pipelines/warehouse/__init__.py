"""Warehouse: what analysts read of the warehouse, a read-only snapshot with documented views.

In: the warehouse (``core``, ``mart`` tables). Out: ``data/analyst/tokenstats.duckdb`` and sandboxed queries.
Public face: ``snapshot`` (``refresh_snapshot``, ``query_snapshot``).
"""
