"""Synthetic: seeded national months of provider reports, with realistic faults on request.

In: a period, a size and a seed. Out: a registry and one Parquet report per provider in the inbox.
Public face: ``generate`` (``generate_month``), ``faults`` (``FAULTS``).
"""
