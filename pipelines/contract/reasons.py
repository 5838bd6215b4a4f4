"""What a provider is told about a report: rule failures as data, built in one place.

A ``Verdict`` is the outcome of validating one received file. Its ``reason.json`` names every failed rule
with counts and a few sample rows, all taken from the provider's own file, so it can be sent back as is.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MAX_SAMPLES = 5
MAX_SAMPLE_CHARS = 200


@dataclass(frozen=True)
class RuleFailure:
    rule: str  # stable id, e.g. "region_code.in_code_list"
    layer: str  # "file", "structure", "expectations" or "history"
    message: str  # what is wrong and what to do, for the provider's engineer
    column: str | None = None
    failing_rows: int | None = None
    total_rows: int | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    """A file as it arrived in a provider's inbox folder."""

    submission_id: str  # sha256 of the bytes
    provider_id: str  # the inbox folder it arrived in
    file_name: str
    size_bytes: int
    received_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "received_at": self.received_at.isoformat()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Received:
        fields_ = {k: data[k] for k in ("submission_id", "provider_id", "file_name", "size_bytes")}
        return cls(**fields_, received_at=dt.datetime.fromisoformat(data["received_at"]))


@dataclass
class Verdict:
    received: Received
    contract_version: str
    report_period: str | None = None
    row_count: int | None = None
    failures: list[RuleFailure] = field(default_factory=list)
    totals: list[dict[str, Any]] = field(default_factory=list)  # per modality: rows, tokens, settlement
    docs_path: str | None = None
    stats: dict[str, float] = field(default_factory=dict)  # seconds per layer, for the operators

    @property
    def accepted(self) -> bool:
        return not self.failures

    def has_count_totals(self) -> bool:
        """Whether the totals carry each count's exact total (the load adds them to the month's bound)."""
        return all("requests" in totals for totals in self.totals)

    def summary(self) -> str:
        """One line for the ledger."""
        if not self.failures:
            return "accepted"
        rules = ", ".join(dict.fromkeys(f.rule for f in self.failures))
        return f"{len(self.failures)} rule(s) failed: {rules}"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.received.to_json(),
            "report_period": self.report_period,
            "row_count": self.row_count,
            "contract_version": self.contract_version,
            "status": "accepted" if self.accepted else "rejected",
            "summary": self.summary(),
            "failures": [asdict(f) for f in self.failures],
            "totals": self.totals,
            "data_docs": self.docs_path,
            "stats": self.stats,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        return cls(
            received=Received.from_json(data),
            contract_version=data["contract_version"],
            report_period=data["report_period"],
            row_count=data["row_count"],
            failures=[RuleFailure(**f) for f in data["failures"]],
            totals=data["totals"],
            docs_path=data["data_docs"],
            stats=data.get("stats", {}),
        )


def clean_sample(row: dict[str, Any]) -> dict[str, Any]:
    """A sample row made safe to serialise and to show: JSON types, long strings cut short."""
    return {str(k)[:MAX_SAMPLE_CHARS]: _json_value(v) for k, v in row.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_SAMPLE_CHARS else value[:MAX_SAMPLE_CHARS] + "…"
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN has no JSON form
        return "NaN"
    if isinstance(value, bytes):
        return value[:MAX_SAMPLE_CHARS].hex()
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_SAMPLE_CHARS]


def write_json(path: Path, data: Any) -> Path:
    """Write JSON atomically (temporary name, then rename), sorted for stable bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
