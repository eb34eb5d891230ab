"""The rows of a corpus file, before they are records: JSONL (also gzipped), Parquet and CSV,
each row parsed, or the reason it cannot be (`Bad`), with its line number and raw text."""
from __future__ import annotations

import csv
import gzip
import json
import re
import zlib
from pathlib import Path
from typing import Any, Iterator

from traitforge.errors import InputError


class Bad(str):
    """Why a row could not be read (where `_rows` would yield the row)."""


BLANK = object()  # a blank line, which is no record


def file_rows(path: Path, label: str | Path | None = None) -> Iterator[tuple[int, Any, str]]:
    """Yield (line, parsed row, Bad reason or BLANK, raw text) from any supported file;
    errors name it as `label` (a copy's original, say)."""
    label = path if label is None else label
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")):
        yield from _json_lines(path, gzip.open if name.endswith(".gz") else open, label)
    elif name.endswith(".parquet"):
        yield from _parquet_rows(path, label)
    elif name.endswith(".csv"):
        with open(path, "r", encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
            reader = csv.DictReader(f)
            for row in reader:
                # Undecodable bytes were kept as surrogates; show them as U+FFFD in the raw text.
                raw = json.dumps(row, ensure_ascii=False, default=str)
                raw = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                yield reader.line_num, _csv_problem(row, len(reader.fieldnames)) or row, raw
    else:
        raise InputError(f"{label}: unsupported file type (use .jsonl, .jsonl.gz, .parquet or .csv)")


PARQUET_ROWS = 10_000  # rows of a Parquet file read at a time


def _parquet_rows(path: Path, label) -> Iterator[tuple[int, Any, str]]:
    """A Parquet file's rows, read a slice at a time so that a large file is never held whole."""
    import polars as pl

    line = 0
    while True:
        try:
            df = pl.scan_parquet(path).slice(line, PARQUET_ROWS).collect()
        except Exception as e:  # polars raises several types for a corrupt file
            raise InputError(f"{label}: not a readable Parquet file ({e.__class__.__name__})") from None
        for row in df.iter_rows(named=True):
            line += 1
            yield line, row, json.dumps(row, ensure_ascii=False, default=str)
        if df.height < PARQUET_ROWS:
            return


def _csv_problem(row: dict, columns: int) -> Bad | None:
    """Why a CSV row is not a record of its header's columns, or None."""
    if None in row:  # csv.DictReader files the cells past the header under None
        return Bad(f"{len(row[None])} more cells than the header's {columns} columns")
    if any(v is None for v in row.values()):
        return Bad(f"fewer cells than the header's {columns} columns")
    if any(isinstance(v, str) and _has_surrogates(v) for v in row.values()):
        return Bad("invalid UTF-8")
    return None


def _has_surrogates(s: str) -> bool:
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _json_lines(path: Path, opener, label) -> Iterator[tuple[int, Any, str]]:
    """The rows of a JSONL file; a file that stops being readable (a truncated gzip, or text
    named .gz) is refused at the line it stops at."""
    i = 0
    try:
        with opener(path, "rb") as f:
            for i, raw in enumerate(f, 1):
                if i == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark
                    raw = raw[3:]
                yield (i, *_parse_json_line(raw))
    except (OSError, EOFError, zlib.error) as e:  # a truncated or false gzip file
        raise InputError(f"{label}:{i + 1}: the file stops being readable here "
                         f"({e.__class__.__name__}: {e})") from None


LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _parse_json_line(raw: bytes) -> tuple[Any, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return Bad(f"invalid UTF-8 at byte {e.start}"), raw.decode("utf-8", "replace").rstrip("\n")
    text = text.rstrip("\r\n")
    if not text.strip():
        return BLANK, text
    try:
        row = json.loads(text)
    except json.JSONDecodeError as e:
        return Bad(f"malformed JSON ({e.msg} at column {e.colno})"), text
    except RecursionError:
        return Bad("JSON nested too deeply"), text
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        return Bad(f"unreadable JSON ({str(e).split(':')[0]})"), text
    if LONE_SURROGATE.search(text) and _has_surrogates(json.dumps(row, ensure_ascii=False)):
        return Bad("a lone surrogate escape (\\ud800-\\udfff) is not text"), text
    return row, text
