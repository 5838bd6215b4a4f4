"""Contract: what a provider's report must be, who may send one, and what a provider is told back.

In: ``schemas/`` (the report schema, code lists) and the provider registry CSV. Out: ``Contract``, code lists,
``Provider`` records, ``Verdict``/``RuleFailure`` (reasons as data).
Public face: ``contract`` (``load_contract``, ``read_code_list``), ``registry`` (``read_registry``), ``reasons``.
"""
