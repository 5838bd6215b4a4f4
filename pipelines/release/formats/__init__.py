"""Formats: one writer per output format of a release, from the release's tables.

In: the tables (Polars DataFrames) and ``ReleaseInfo``. Out: files in the staging folder.
Public face: ``workbook`` (``write_workbook``), ``sdmx`` (``write_sdmx``), ``bulletin`` (``write_bulletin``).
"""
