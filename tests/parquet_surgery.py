"""Hand-made hostile Parquet files: a small Thrift compact-protocol codec to rewrite a file's footer and page
headers, so a test can build what no honest writer produces: a footer that lies about its row count or sizes,
a page that declares gigabytes, a dictionary page that declares billions of values.

Only what the tests need: decode any struct generically into ``[(field_id, type, value), ...]`` and encode it
back. Parquet's footer is a ``FileMetaData`` struct (parquet.thrift); each page starts with a ``PageHeader``.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from pathlib import Path

STOP, TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(13)
Field = tuple[int, int, object]


def _read_varint(buf: io.BytesIO) -> int:
    shift = result = 0
    while True:
        byte = buf.read(1)[0]
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result
        shift += 7


def _unzigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def _read_value(buf: io.BytesIO, kind: int) -> object:
    if kind in (TRUE, FALSE):  # inside a list, a bool is one byte (1 true, 2 false)
        return kind == TRUE
    if kind == BYTE:
        return buf.read(1)[0]
    if kind in (I16, I32, I64):
        return _unzigzag(_read_varint(buf))
    if kind == DOUBLE:
        return buf.read(8)
    if kind == BINARY:
        return buf.read(_read_varint(buf))
    if kind in (LIST, SET):
        header = buf.read(1)[0]
        size, element = header >> 4, header & 0x0F
        if size == 15:
            size = _read_varint(buf)
        if element in (TRUE, FALSE):
            return (element, [buf.read(1)[0] == 1 for _ in range(size)])
        return (element, [_read_value(buf, element) for _ in range(size)])
    if kind == MAP:
        size = _read_varint(buf)
        if not size:
            return (0, 0, [])
        types = buf.read(1)[0]
        key, value = types >> 4, types & 0x0F
        return (key, value, [(_read_value(buf, key), _read_value(buf, value)) for _ in range(size)])
    if kind == STRUCT:
        return read_struct(buf)
    raise ValueError(f"unknown thrift compact type {kind}")


def read_struct(buf: io.BytesIO) -> list[Field]:
    fields, last = [], 0
    while True:
        header = buf.read(1)[0]
        if header == STOP:
            return fields
        delta, kind = header >> 4, header & 0x0F
        field_id = last + delta if delta else _unzigzag(_read_varint(buf))
        value = kind == TRUE if kind in (TRUE, FALSE) else _read_value(buf, kind)
        fields.append((field_id, kind, value))
        last = field_id


def _write_value(out: bytearray, kind: int, value: object) -> None:
    if kind in (TRUE, FALSE):
        out.append(1 if value else 2)
    elif kind == BYTE:
        out.append(value)
    elif kind in (I16, I32, I64):
        out += _varint(_zigzag(value))
    elif kind == DOUBLE:
        out += value
    elif kind == BINARY:
        out += _varint(len(value)) + value
    elif kind in (LIST, SET):
        element, items = value
        out.append((min(len(items), 15) << 4) | element)
        if len(items) >= 15:
            out += _varint(len(items))
        for item in items:
            _write_value(out, element, item)
    elif kind == MAP:
        key, val, items = value
        out += _varint(len(items))
        if items:
            out.append((key << 4) | val)
            for k, v in items:
                _write_value(out, key, k)
                _write_value(out, val, v)
    elif kind == STRUCT:
        out += write_struct(value)
    else:
        raise ValueError(f"unknown thrift compact type {kind}")


def write_struct(fields: list[Field]) -> bytes:
    out, last = bytearray(), 0
    for field_id, kind, value in fields:
        wire = (TRUE if value else FALSE) if kind in (TRUE, FALSE) else kind
        if 0 < field_id - last <= 15:
            out.append(((field_id - last) << 4) | wire)
        else:
            out.append(wire)
            out += _varint(_zigzag(field_id))
        if kind not in (TRUE, FALSE):
            _write_value(out, kind, value)
        last = field_id
    out.append(STOP)
    return bytes(out)


def get(fields: list[Field], field_id: int) -> object:
    return next(v for f, _, v in fields if f == field_id)


def put(fields: list[Field], field_id: int, value: object) -> None:
    for i, (f, kind, _) in enumerate(fields):
        if f == field_id:
            fields[i] = (f, kind, value)
            return
    raise KeyError(field_id)


@dataclass
class ParquetParts:
    """A Parquet file split into its body (everything before the footer) and its decoded footer."""

    body: bytes
    footer: list[Field]

    @classmethod
    def read(cls, path: Path) -> ParquetParts:
        data = path.read_bytes()
        length = struct.unpack("<I", data[-8:-4])[0]
        start = len(data) - 8 - length
        return cls(data[:start], read_struct(io.BytesIO(data[start:-8])))

    def write(self, path: Path) -> Path:
        footer = write_struct(self.footer)
        path.write_bytes(self.body + footer + struct.pack("<I", len(footer)) + b"PAR1")
        return path

    # FileMetaData: 3 num_rows, 4 row_groups; RowGroup: 1 columns, 3 num_rows; ColumnChunk: 3 meta_data;
    # ColumnMetaData: 3 path_in_schema, 6 total_uncompressed_size, 7 total_compressed_size,
    # 9 data_page_offset, 11 dictionary_page_offset.
    def chunks(self) -> list[list[Field]]:
        return [get(chunk, 3) for group in get(self.footer, 4)[1] for chunk in get(group, 1)[1]]

    def set_rows(self, rows: int) -> None:
        put(self.footer, 3, rows)
        for group in get(self.footer, 4)[1]:
            put(group, 3, rows)

    def rewrite_last_page_header(self, change: dict[tuple[int, ...], int]) -> None:
        """Change fields of the first page header of the chunk stored last in the body (nothing follows it
        but the footer, so only that chunk's sizes move). ``change`` maps a field path (e.g. ``(2,)`` the
        uncompressed page size, ``(7, 1)`` a dictionary page's value count) to its new value."""
        meta = max(self.chunks(), key=lambda m: get(m, 9))
        data_offset = get(meta, 9)
        offset = min([data_offset, *(v for f, _, v in meta if f == 11 and v)])
        buf = io.BytesIO(self.body[offset:])
        header = read_struct(buf)
        old_length = buf.tell()
        for path, value in change.items():
            node = header
            for field_id in path[:-1]:
                node = get(node, field_id)
            put(node, path[-1], value)
        new = write_struct(header)
        self.body = self.body[:offset] + new + self.body[offset + old_length :]
        put(meta, 7, get(meta, 7) + len(new) - old_length)
        if data_offset > offset:  # the header changed was the dictionary page's: the data page moved
            put(meta, 9, data_offset + len(new) - old_length)
