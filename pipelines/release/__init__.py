"""Release: plan, protect, export and finalize immutable, versioned releases, and the analysts' snapshot.

In: the protected cells of a month, the warehouse's accepted rows (the price index) and earlier releases (series,
revisions, vintages). Out: ``data/published/<YYYY-MM>/v<N>/`` (tables, formats, manifest) and
``data/analyst/tokenstats.duckdb``.
Public face: ``publish`` (``export_release``, ``finalize_release``, ``publish_months``), ``plan``
(``plan_releases``, ``ReleasePlan``), ``tables`` (the published tables), ``series`` and ``revisions`` (the record
over time), ``price_index`` (the token price index), ``snapshot`` (``refresh_snapshot``, ``query_snapshot``;
``vintages`` feeds it), ``release_model`` (``ReleaseInfo``), ``release_check`` (earlier releases read verified),
``formats``.
"""
