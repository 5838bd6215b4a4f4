"""Release: plan, protect, export and finalize immutable, versioned releases.

In: the protected cells of a month. Out: ``data/published/<YYYY-MM>/v<N>/`` (tables, formats, manifest).
Public face: ``publish`` (``plan_releases``, ``export_release``, ``finalize_release``, ``publish_months``),
``release_model`` (``ReleaseInfo``), ``release_check`` (earlier releases read verified), ``formats``.
"""
