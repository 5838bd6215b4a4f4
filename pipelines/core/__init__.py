"""Core: settings and small shared utilities; imports no stage.

In: the environment (``TOKENSTATS_*``). Out: ``Settings`` and the helpers every stage uses.
Public face: ``config`` (``Settings``, ``load_settings``, ``UsageError``, ``disclosure_key``), ``database`` (DuckDB
connections, the single-writer lock, ``run_sql``: the one runner of the stages' named SQL files), ``periods``,
``failpoints``, ``lifeline``, ``hostname``, ``progress``.
"""
