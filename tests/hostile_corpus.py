"""A deterministic corpus of hostile and broken provider reports, built from one valid report by a seeded mutator.

``build_corpus`` writes every case into the inbox (most into one registered provider's folder, some into hostile
folders) and returns what each case must come to: ``rejected`` (with one of the listed rule ids), ``accepted``
(a mutation that is still a valid report: SQL-like model ids, other string encodings, column order, codecs),
``waiting`` (a name or age that says the upload is still being written) or ``ignored`` (a provider folder that
is a symbolic link). Each case is small: most are refused by the footer or the structure pass, before the
Great Expectations suite, so a hundred cases validate in one ingest run in seconds.

Categories: bytes (empty, truncated, flipped, not Parquet, over the size limit), footer lies and bombs (built
with ``tests.parquet_surgery``), types (every column given wrong Arrow types, NaN/inf, int32 and uint64
overflow), columns (missing, duplicated, deeply nested, odd names), values (nulls everywhere, huge strings, SQL-
and format-like text, bad UTF-8, foreign provider ids), inbox entries (symlinks, FIFOs, directories, hard links,
odd file and folder names, files still being written).
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import random
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from tests.parquet_surgery import ParquetParts, get, put

SQL_LIKE = (
    "'); DROP TABLE core.usage; --",
    "x' OR '1'='1",
    '"; delete from core.submissions; --',
    "{batch}",
    "{path}",
    "$1",
    "$submission_id",
    "%s%s%n",
    ":name",
    "?",
    "\\'; select 1; --",
    "model`id`",
)
OLD = 1_780_000_000  # mtime of every complete case (seconds): long settled, and deterministic


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # category, for the outcome report
    folder: str  # the inbox folder it is put in
    file_name: str
    expect: str  # rejected | accepted | waiting | ignored
    rules: frozenset[str] = field(default_factory=frozenset)  # one of them must be reported (empty: any rule)

    @property
    def label(self) -> str:
        return f"{self.folder}/{self.file_name}"


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int
    max_rows: int
    max_string_bytes: int


class _Corpus:
    def __init__(self, inbox: Path, provider: str, base: pa.Table, limits: Limits, seed: int) -> None:
        self.inbox, self.provider, self.base, self.limits = inbox, provider, base, limits
        self.rng = random.Random(seed)
        self.cases: list[Case] = []
        self.base_bytes = _parquet_bytes(base)

    # --- writing ---------------------------------------------------------------------------------------------

    def _path(self, folder: str, file_name: str) -> Path:
        path = self.inbox / folder / file_name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _add(self, name: str, kind: str, expect: str, rules: set[str], folder: str | None, file_name: str) -> Path:
        case = Case(name, kind, folder or self.provider, file_name, expect, frozenset(rules))
        assert case.label not in {c.label for c in self.cases}, case.label
        self.cases.append(case)
        return self._path(case.folder, file_name)

    def raw(self, name: str, kind: str, data: bytes, rules: set[str], expect: str = "rejected", **where) -> Path:
        path = self._add(name, kind, expect, rules, where.get("folder"), where.get("file_name", f"{name}.parquet"))
        path.write_bytes(data)
        return path

    def table(self, name: str, kind: str, table: pa.Table, rules: set[str], expect: str = "rejected", **opts):
        path = self._add(name, kind, expect, rules, opts.pop("folder", None), f"{name}.parquet")
        pq.write_table(table, path, **{"compression": "zstd", **opts})
        return path

    def set(self, name: str, values: pa.Array | pa.ChunkedArray, table: pa.Table | None = None) -> pa.Table:
        table = self.base if table is None else table
        return table.set_column(table.schema.get_field_index(name), name, values)

    # --- the categories ----------------------------------------------------------------------------------------

    def bytes_cases(self) -> None:
        data, rng = self.base_bytes, self.rng
        self.raw("empty", "bytes", b"", {"file.empty"})
        self.raw("one_byte", "bytes", b"P", {"file.not_parquet"})
        self.raw("magic_only", "bytes", b"PAR1", {"file.corrupt", "file.not_parquet"})
        self.raw("magic_twice", "bytes", b"PAR1PAR1", {"file.corrupt"})
        self.raw("huge_footer_length", "bytes", b"PAR1" + b"\0" * 16 + b"\xff\xff\xff\x7fPAR1", {"file.corrupt"})
        self.raw("garbage_between_magic", "bytes", b"PAR1" + rng.randbytes(4096) + b"PAR1", {"file.corrupt"})
        for i, cut in enumerate(sorted(rng.sample(range(5, len(data) - 1), 6))):
            self.raw(f"truncated_{i}", "bytes", data[:cut], {"file.corrupt"})
        footer_start = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
        for i in range(4):  # bytes of the footer flipped: unreadable metadata or metadata that contradicts the data
            spoilt = bytearray(data)
            for at in rng.sample(range(footer_start, len(data) - 8), 3):
                spoilt[at] ^= 0xFF
            self.raw(f"footer_flipped_{i}", "bytes", bytes(spoilt), set(), expect=_by_oracle(spoilt, self.provider))
        for i in range(4):  # compressed pages flipped: the footer is fine, the data is not
            spoilt = bytearray(data)
            start = rng.randrange(8, footer_start // 2)
            for at in range(start, start + 64):
                spoilt[at] ^= 0x5A
            self.raw(f"pages_flipped_{i}", "bytes", bytes(spoilt), set(), expect=_by_oracle(spoilt, self.provider))
        csv = io.BytesIO()
        pacsv.write_csv(self.base.slice(0, 20), csv)
        self.raw("csv_named_parquet", "bytes", csv.getvalue(), {"file.not_parquet"})
        self.raw("json_named_parquet", "bytes", json.dumps({"rows": 3}).encode(), {"file.not_parquet"})
        self.raw("gzipped_parquet", "bytes", gzip.compress(data, mtime=0), {"file.not_parquet"})
        zipped = io.BytesIO()
        with zipfile.ZipFile(zipped, "w") as archive:
            archive.writestr(zipfile.ZipInfo("report.parquet", (2026, 1, 1, 0, 0, 0)), data)
        self.raw("zip_of_parquet", "bytes", zipped.getvalue(), {"file.not_parquet"})
        self.raw("nul_bytes", "bytes", b"\0" * 1024, {"file.not_parquet"})
        oversized = b"PAR1" + random.Random(7).randbytes(self.limits.max_file_bytes) + b"PAR1"
        self.raw("over_size_limit", "limits", oversized, {"file.too_large"})

    def bomb_cases(self, work: Path) -> None:
        """Footers that lie, pages that declare gigabytes, data that expands a thousandfold."""
        lying = ParquetParts.read(self._scratch(work, "lying_rows", self.base))
        lying.set_rows(2**50)
        self._from_parts("footer_claims_2^50_rows", lying, {"file.too_many_rows"})
        sizes = ParquetParts.read(self._scratch(work, "lying_sizes", self.base))
        put(sizes.chunks()[0], 6, 2**60)  # total_uncompressed_size of the first column chunk
        self._from_parts("footer_claims_2^60_bytes", sizes, {"file.too_large"})
        # model_id stored last, plain and compressed: rewrite its page header to declare 2 GiB of values
        plain = self.base.select([c for c in self.base.column_names if c != "model_id"] + ["model_id"])
        page = ParquetParts.read(self._scratch(work, "page", plain, use_dictionary=False))
        page.rewrite_last_page_header({(2,): 2**31 - 1})
        self._from_parts("page_declares_2GiB", page, {"file.corrupt", "file.too_large"})
        numbers = self.base.select([c for c in self.base.column_names if c != "output_tokens"] + ["output_tokens"])
        counts = ParquetParts.read(self._scratch(work, "counts", numbers, use_dictionary=False))
        counts.rewrite_last_page_header({(2,): 2**31 - 1})  # an int64 page: only DuckDB's full decode reads it
        self._from_parts("int_page_declares_2GiB", counts, {"file.corrupt", "file.too_large"})
        dictionary = ParquetParts.read(self._scratch(work, "dictionary", plain, use_dictionary=["model_id"]))
        dictionary.rewrite_last_page_header({(7, 1): 2**31 - 1})  # dictionary_page_header.num_values
        self._from_parts("dictionary_declares_2^31_values", dictionary, {"file.corrupt", "file.too_large"})
        # honest but explosive: one 64 MiB string compresses to a few kilobytes
        long_value = pa.array(["a" * (64 << 20), *self.base["model_id"].to_pylist()[1:]])
        self.table(
            "zstd_bomb_64MiB_value",
            "bombs",
            self.set("model_id", long_value),
            {"file.too_large", "schema.string_length"},
        )
        # a dictionary of one 1 MiB value referenced by every row: 1 MiB on disk, gigabytes if expanded
        rows = min(self.limits.max_rows, 4_000)
        repeated = self.base.take([i % self.base.num_rows for i in range(rows)])
        one_value = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["m" * (1 << 20)]))
        self.table(
            "dictionary_bomb_1MiB_x_rows",
            "bombs",
            self.set("model_id", one_value, repeated),
            {"schema.string_length", "file.too_large"},
            dictionary_pagesize_limit=8 << 20,
        )
        many = self.base.take([i % self.base.num_rows for i in range(self.limits.max_rows + 1)])
        self.table("over_row_limit", "limits", many, {"file.too_many_rows"})

    def _scratch(self, work: Path, name: str, table: pa.Table, **opts) -> Path:
        path = work / f"{name}.parquet"
        pq.write_table(table, path, **{"compression": "zstd", **opts})
        return path

    def _from_parts(self, name: str, parts: ParquetParts, rules: set[str]) -> None:
        parts.write(self._add(name, "bombs", "rejected", rules, None, f"{name}.parquet"))

    def type_cases(self) -> None:
        n, rng = self.base.num_rows, self.rng
        wrong = {
            "string": [pa.int64(), pa.float64(), pa.binary(), pa.bool_(), pa.list_(pa.string()), pa.null()],
            "int64": [pa.int32(), pa.float64(), pa.uint64(), pa.string(), pa.decimal128(20, 0), pa.int16()],
            "date32": [pa.timestamp("us", tz="UTC"), pa.string(), pa.date64(), pa.int32()],
            "decimal": [pa.float64(), pa.decimal128(20, 2), pa.int64(), pa.string()],
        }
        for column in self.base.schema:
            kind = _kind(column.type)
            for arrow_type in rng.sample(wrong[kind], 2):
                values = _values_of_type(arrow_type, n, rng)
                self.table(
                    f"type_{column.name}_{_type_slug(arrow_type)}",
                    "types",
                    self.set(column.name, values),
                    {"schema.type"},
                )
        for column in ("input_tokens", "output_tokens", "settlement_amount"):
            specials = [float("nan"), float("inf"), float("-inf"), 1e300]
            values = pa.array([specials[i % 4] for i in range(n)], pa.float64())
            self.table(f"nan_inf_{column}", "types", self.set(column, values), {"schema.type"})
        big = pc.cast(self.base["input_tokens"], pa.int64()).to_pylist()
        wrapped = pa.array([((v * 10**6 + 2**31) % 2**32) - 2**31 for v in big], pa.int32())
        self.table("int32_wrapped_overflow", "types", self.set("input_tokens", wrapped), {"schema.type"})
        self.table("uint64_max", "types", self.set("requests", pa.array([2**64 - 1] * n, pa.uint64())), {"schema.type"})
        nulls = pa.table({c: pa.nulls(n) for c in self.base.column_names})
        self.table("every_column_null_typed", "types", nulls, {"schema.type"})

    def column_cases(self) -> None:
        base, rng, n = self.base, self.rng, self.base.num_rows
        for column in rng.sample(base.column_names, 3):
            self.table(f"missing_{column}", "columns", base.drop_columns([column]), {"schema.missing_column"})
        duplicated = pa.Table.from_arrays([*base.columns, base["model_id"]], names=[*base.column_names, "model_id"])
        self.table("duplicate_column", "columns", duplicated, {"schema.duplicate_column"})
        renamed = base.rename_columns(["Model_ID" if c == "model_id" else c for c in base.column_names])
        self.table("renamed_column_case", "columns", renamed, {"schema.missing_column", "schema.unexpected_column"})
        nested: pa.DataType = pa.int64()
        for depth in range(40):
            nested = pa.struct([(f"level{depth}", nested)]) if depth % 2 else pa.list_(nested)
        deep = pa.array([None] * n, nested)
        for name, values in (
            ("deeply_nested", deep),
            ("map_column", pa.array([[("k", 1)]] * n, pa.map_(pa.string(), pa.int64()))),
            ("", pa.array(range(n))),
            ("report_key", pa.array(range(n))),
            ('x"; DROP TABLE core.usage; --', pa.array(["v"] * n)),
            ("名称\n\t\u202e", pa.array(["v"] * n)),
            ("c" * 10_000, pa.array(["v"] * n)),
        ):
            slug = "".join(ch for ch in name if ch.isalnum())[:20] or "empty"
            self.table(f"extra_{slug}", "columns", base.append_column(name, values), {"schema.unexpected_column"})
        wide = base
        for i in range(500):
            wide = wide.append_column(f"extra_{i}", pa.nulls(n, pa.int8()))
        self.table("extra_500_columns", "columns", wide, {"schema.unexpected_column"})

    def value_cases(self, other_provider: str) -> None:
        base, n, rng = self.base, self.base.num_rows, self.rng
        strings = lambda value: pa.array([value] * n)  # noqa: E731
        # checked by the structure pass (one light query), before the suite
        self.table(
            "provider_id_of_another",
            "values",
            self.set("provider_id", strings(other_provider)),
            {"provider.matches_folder"},
        )
        self.table(
            "provider_id_sql", "values", self.set("provider_id", strings(SQL_LIKE[0])), {"provider.matches_folder"}
        )
        self.table(
            "provider_id_null", "values", self.set("provider_id", pa.nulls(n, pa.string())), {"provider.matches_folder"}
        )
        periods = base["report_period"].to_pylist()
        self.table(
            "two_periods",
            "values",
            self.set("report_period", pa.array([*periods[:-1], "2026-11"])),
            {"report_period.single"},
        )
        self.table(
            "period_sql",
            "values",
            self.set("report_period", strings("2026-10'; DROP TABLE core.usage; --")),
            {"report_period.single"},
        )
        self.table(
            "period_null", "values", self.set("report_period", pa.nulls(n, pa.string())), {"report_period.single"}
        )
        limit = self.limits.max_string_bytes
        self.table(
            "region_over_string_limit",
            "limits",
            self.set("region_code", strings("4" * (limit + 1))),
            {"schema.string_length"},
        )
        self.table("model_id_1MiB", "values", self.set("model_id", strings("m" * (1 << 20))), {"schema.string_length"})
        models = base["model_id"].to_pylist()
        for name, bad in (("control", "gpt\n\x00\x1b[31m"), ("unicode", "模型-\u202e-😀"), ("nul", "a\x00b")):
            values = pa.array([bad + str(i) if i < 3 else m for i, m in enumerate(models)])
            self.table(f"model_id_{name}", "values", self.set("model_id", values), {"model_id.printable"})
        invalid_utf8 = pa.array([b"\xff\xfe" + m.encode() for m in models], pa.binary()).view(pa.string())
        self.table("invalid_utf8", "values", self.set("model_id", invalid_utf8), {"file.corrupt"})
        # checked by the suite (Great Expectations)
        for column in rng.sample(["region_code", "modality", "customer_type", "usage_date", "output_tokens"], 3):
            self.table(
                f"nulls_in_{column}", "values", self.set(column, pa.nulls(n, base[column].type)), {f"{column}.not_null"}
            )
        self.table(
            "int64_max_tokens",
            "values",
            self.set("output_tokens", pa.array([2**63 - 1] * n, pa.int64())),
            {"output_tokens.range"},
        )
        self.table(
            "int64_min_tokens",
            "values",
            self.set("input_tokens", pa.array([-(2**63)] * n, pa.int64())),
            {"input_tokens.range"},
        )
        far = pa.array([2**31 - 1] * n, pa.int32()).view(pa.date32())
        self.table("date_year_5881580", "values", self.set("usage_date", far), {"usage_date.in_period"})
        huge = pa.array([Decimal("1" + "0" * 33 + ".0000")] * n, pa.decimal128(38, 4))
        self.table("settlement_10^33", "values", self.set("settlement_amount", huge), {"settlement_amount.range"})
        sql_regions = pa.array(
            [SQL_LIKE[i % len(SQL_LIKE)] if i < 24 else r for i, r in enumerate(base["region_code"].to_pylist())]
        )
        self.table("region_code_sql", "values", self.set("region_code", sql_regions), {"region_code.in_code_list"})
        sectors = pa.array(["{batch}" if s else s for s in base["sector_code"].to_pylist()])
        self.table("sector_code_format", "values", self.set("sector_code", sectors), {"sector_code.in_code_list"})
        head = base.slice(0, len(SQL_LIKE))
        head = self.set("model_id", pa.array(SQL_LIKE), head)  # twice: the keys repeat, the samples show them
        self.table("model_id_sql_duplicates", "values", pa.concat_tables([base, head, head]), {"key.unique"})

    def statistics_cases(self, work: Path) -> None:
        """Values out of range behind footer statistics that say they are in range: DuckDB prunes filters and
        answers min/max from statistics, so a check that trusts them passes (found by this corpus)."""
        days = lambda *ymd: struct.pack("<i", (dt.date(*ymd) - dt.date(1970, 1, 1)).days)  # noqa: E731
        tokens = lambda n: struct.pack("<q", n)  # noqa: E731
        cases = (  # column, the bad value in one row, the rule, the statistics' (min, max)
            ("output_tokens", -5, {"output_tokens.range"}, tokens(0), tokens(10**12)),
            ("requests", 0, {"requests.positive_with_tokens"}, tokens(1), tokens(10**9)),
            ("region_code", "999999", {"region_code.in_code_list"}, b"440000", b"440000"),
            ("usage_date", dt.date(2026, 11, 15), {"usage_date.in_period"}, days(2026, 10, 1), days(2026, 10, 31)),
        )
        for column, bad, rules, low, high in cases:
            values = self.base[column].to_pylist()
            values[3] = bad
            kind = pa.string() if column == "region_code" else self.base[column].type
            parts = ParquetParts.read(self._scratch(work, f"stats_{column}", self.set(column, pa.array(values, kind))))
            for meta in parts.chunks():
                if get(meta, 3)[1] == [column.encode()]:
                    statistics = get(meta, 12)  # Statistics: 1 max, 2 min (legacy), 5 max_value, 6 min_value
                    for field_id, value in ((1, high), (2, low), (5, high), (6, low)):
                        if any(f == field_id for f, _, _ in statistics):
                            put(statistics, field_id, value)
            name = f"statistics_lie_{column}"
            parts.write(self._add(name, "statistics", "rejected", rules, None, f"{name}.parquet"))

    def valid_cases(self) -> None:
        """Mutations that keep the report valid: they must be accepted (the newest becomes current)."""
        base, n = self.base, self.base.num_rows
        sql_models = pa.array([f"{SQL_LIKE[i % len(SQL_LIKE)]}#{i}" for i in range(n)])
        self.table("valid_sql_like_model_ids", "valid", self.set("model_id", sql_models), set(), expect="accepted")
        self.table("valid_columns_reversed", "valid", base.select(base.column_names[::-1]), set(), expect="accepted")
        encoded = base
        for name in ("region_code", "modality", "model_id"):
            encoded = self.set(name, pc.cast(base[name], pa.large_string()), encoded)
        encoded = self.set("customer_type", base["customer_type"].dictionary_encode(), encoded)
        self.table("valid_large_and_dictionary_strings", "valid", encoded, set(), expect="accepted")
        wide_money = self.set("settlement_amount", pc.cast(base["settlement_amount"], pa.decimal128(38, 4)))
        self.table("valid_decimal_38_4", "valid", wide_money, set(), expect="accepted")
        self.table(
            "valid_one_row_per_group",
            "valid",
            base,
            set(),
            expect="accepted",
            row_group_size=max(1, n // 60),
            compression="none",
        )

    def inbox_cases(self, other_report: Path, other_provider: str) -> None:
        """Entries that are not plain files, odd names, hostile folders, uploads still being written."""
        data = self.base_bytes
        outside = self._add("symlink_to_etc_passwd", "inbox", "rejected", {"file.not_regular"}, None, "passwd.parquet")
        outside.symlink_to("/etc/passwd")
        foreign = self._add(
            "symlink_to_other_provider", "inbox", "rejected", {"file.not_regular"}, None, "theirs.parquet"
        )
        foreign.symlink_to(other_report)
        dangling = self._add("dangling_symlink", "inbox", "rejected", {"file.not_regular"}, None, "gone.parquet")
        dangling.symlink_to(self.inbox / "no" / "such" / "file.parquet")
        loop = self._add("symlink_loop", "inbox", "rejected", {"file.not_regular"}, None, "loop.parquet")
        loop.symlink_to(loop)
        directory = self._add("directory_in_folder", "inbox", "rejected", {"file.not_regular"}, None, "dir.parquet")
        directory.mkdir()
        (directory / "inner.parquet").write_bytes(data)
        fifo = self._add("named_pipe", "inbox", "rejected", {"file.not_regular"}, None, "pipe.parquet")
        os.mkfifo(fifo)
        hard = self._add(
            "hard_link_to_other_provider", "inbox", "rejected", {"provider.matches_folder"}, None, "linked.parquet"
        )
        os.link(other_report, hard)
        odd_names = [
            "-rf.parquet",
            "--help",
            "a\nb.parquet",
            "carriage\rreturn.parquet",
            "报告 2026-10.parquet",
            "\u202egpj.parquet",
            "q\"uote's.parquet",
            "$(reboot).parquet",
            "`id`.parquet",
            "{batch}.parquet",
            "%s%n.parquet",
            "'); DROP TABLE core.usage; --.parquet",
            "a..b.parquet",
            "x..%2f..%2fetc%2fpasswd",
            "n" * 250,
            " .parquet",
        ]
        for i, name in enumerate(odd_names):  # distinct bytes each (else duplicates), none of them Parquet
            self.raw(f"odd_name_{i}", "names", f"not a report {i}".encode(), {"file.not_parquet"}, file_name=name)
        valid_odd = self._add(
            "valid_report_odd_name", "names", "accepted", set(), None, "报告\n2026-10 (final).parquet"
        )
        pq.write_table(self.set("model_id", pa.array([f"m-{i}" for i in range(self.base.num_rows)])), valid_odd)
        for i, folder in enumerate(
            ["'); DROP TABLE core.usage; --", "{batch}", "$1", "UPPER", "new\nline", "省份", "p" * 200, "-rf"]
        ):
            self.raw(
                f"unregistered_folder_{i}",
                "folders",
                data,
                {"provider.registered"},
                folder=folder,
                file_name="report.parquet",
            )
        for name in (
            ".hidden.parquet",
            "..evil.parquet",
            "report.parquet.tmp",
            "report.part",
            "report.parquet~",
            "upload.crdownload",
        ):
            self.raw(f"temporary_{name}", "waiting", data, set(), expect="waiting", file_name=name)
        fresh = self.raw(
            "fresh_within_settle", "waiting", data[:-100], set(), expect="waiting", file_name="fresh.parquet"
        )
        future = self.raw("mtime_in_future", "waiting", data[:-200], set(), expect="waiting", file_name="later.parquet")
        linked_folder = self.inbox / "symlinked-folder"
        linked_folder.symlink_to(self.inbox / other_provider)
        self.cases.append(Case("symlinked_provider_folder", "folders", "symlinked-folder", "", "ignored"))
        etc_folder = self.inbox / "etc-folder"
        etc_folder.symlink_to("/etc")
        self.cases.append(Case("symlink_folder_to_etc", "folders", "etc-folder", "", "ignored"))
        self._fresh = {fresh: 0, future: 86_400}

    def settle(self, now: float) -> None:
        """Every case long settled, in a fixed order; the 'fresh' ones modified now (or tomorrow)."""
        for i, case in enumerate(self.cases):
            path = self.inbox / case.folder / case.file_name
            if case.expect != "ignored" and os.path.lexists(path):
                os.utime(path, ns=((OLD + i) * 10**9,) * 2, follow_symlinks=False)
        for path, ahead in self._fresh.items():
            os.utime(path, (now + ahead, now + ahead))


def build_corpus(
    inbox: Path,
    provider: str,
    report: Path,
    other_provider: str,
    other_report: Path,
    limits: Limits,
    work: Path,
    now: float,
    seed: int = 20261,
) -> list[Case]:
    """Write the hostile corpus for ``provider`` (from its valid ``report``) into ``inbox``; the cases."""
    corpus = _Corpus(inbox, provider, pq.read_table(report), limits, seed)
    corpus.bytes_cases()
    corpus.bomb_cases(work)
    corpus.type_cases()
    corpus.column_cases()
    corpus.value_cases(other_provider)
    corpus.statistics_cases(work)
    corpus.valid_cases()
    corpus.inbox_cases(other_report, other_provider)
    corpus.settle(now)
    return corpus.cases


# --- helpers ---------------------------------------------------------------------------------------------


def _by_oracle(data: bytes, provider: str) -> str:
    """What an independent reading of the contract (``tests/oracle.py``) says of randomly spoilt bytes."""
    from tests.oracle import violations

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / provider / "spoilt.parquet"
        path.parent.mkdir()
        path.write_bytes(data)
        try:
            return "rejected" if violations(path) else "accepted"
        except Exception:  # the oracle cannot read it either
            return "rejected"


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _kind(arrow_type: pa.DataType) -> str:
    if pa.types.is_decimal(arrow_type):
        return "decimal"
    if arrow_type == pa.date32():
        return "date32"
    if arrow_type == pa.int64():
        return "int64"
    return "string"


def _type_slug(arrow_type: pa.DataType) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(arrow_type))[:24]


def _values_of_type(arrow_type: pa.DataType, n: int, rng: random.Random) -> pa.Array:
    if pa.types.is_null(arrow_type):
        return pa.nulls(n)
    if pa.types.is_boolean(arrow_type):
        return pa.array([i % 2 == 0 for i in range(n)])
    if pa.types.is_list(arrow_type):
        return pa.array([["x"]] * n, arrow_type)
    if pa.types.is_decimal(arrow_type):
        return pa.array([Decimal(rng.randrange(10**6)).scaleb(-arrow_type.scale) for _ in range(n)], arrow_type)
    if pa.types.is_floating(arrow_type):
        return pa.array([rng.random() * 1e6 for _ in range(n)], arrow_type)
    if pa.types.is_unsigned_integer(arrow_type):
        return pa.array([2**64 - 1 - i for i in range(n)], arrow_type)
    if pa.types.is_integer(arrow_type):
        top = 2 ** (arrow_type.bit_width - 1)
        return pa.array([rng.randrange(-top, top) for _ in range(n)], arrow_type)
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date64(arrow_type):
        return pa.array([1_790_000_000_000 + i for i in range(n)], pa.int64()).cast(arrow_type)
    if pa.types.is_binary(arrow_type):
        return pa.array([bytes([i % 256]) * 3 for i in range(n)], arrow_type)
    return pa.array([f"2026-10-{1 + i % 28:02d}" for i in range(n)], arrow_type)
