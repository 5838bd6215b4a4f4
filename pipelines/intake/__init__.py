"""Intake: from a provider's inbox folder to the ledger and the warehouse's ``core`` tables.

In: Parquet files in ``data/inbox/<provider>/``. Out: claims in ``data/landing/``, ledger rows
(``core.submissions``), accepted rows (``core.usage``), files in the archive or the quarantine.
Public face: ``ingest`` (``ingest_inbox``, ``claim_inbox``, ``validate_claim``, ``load_claims``), ``ledger``
(``read_period_status``, ``count_coverage``, ``read_warehouse``).
"""
