"""Statistics: the cells of a month and their disclosure control.

In: the current accepted rows of a month (``core.usage``). Out: every cell (``mart.cells``), its
contributions per enterprise group, and its flags with the audit's certificate.
Public face: ``marts`` (``build_marts``, ``slice_tables``, ``TABLES``), ``disclosure`` (``protect_record``),
``cells`` (keys, sum relations, the atoms under them), ``audit`` (the LP that proves suppressed values stay
unrecoverable).
"""
