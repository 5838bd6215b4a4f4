"""Validation: every check a received report passes through, and its Data Docs.

In: a claimed Parquet file (and, for history, the provider's accepted months). Out: a ``Verdict``; a Data
Docs page. Public face: ``validate`` (``validate_report``, ``check_history``), ``structure``,
``expectations`` (the GX suite), ``datadocs`` (``build_index``).
"""
