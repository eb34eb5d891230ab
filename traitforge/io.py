"""Reading corpora into Records, and writing outputs atomically.

Every stage reads data through `read_corpus`. It accepts JSONL (also gzipped), Parquet and
CSV holding chats (OpenAI `messages` or ShareGPT `conversations`), Alpaca records,
prompt/response pairs or plain `text` documents (the files' rows come from `rows.py`). Bad
records never stop the read: each becomes a `Rejected` with file, line and reason, and the
caller writes them out.
"""
from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import tempfile
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

from traitforge.errors import InputError
from traitforge.rows import BLANK, Bad, file_rows

__all__ = ["FORMATS", "Corpus", "InputError", "Record", "Rejected", "atomic_write_bytes",
           "atomic_write_text", "current_umask", "detect_format", "load_config", "pair_keys",
           "read_corpus", "read_snapshot", "sha256_file", "snapshot", "to_record", "write_jsonl"]

FORMATS = ("chat", "sharegpt", "alpaca", "pair", "text")
CHAT_ROLES = {"system", "user", "assistant", "tool", "function", "developer"}
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant",
                  "assistant": "assistant", "bot": "assistant", "model": "assistant",
                  "tool": "tool", "function": "tool"}
PAIR_KEYS = (("prompt", "response"), ("prompt", "completion"), ("question", "answer"),
             ("query", "response"), ("instruction", "response"))


@dataclass(frozen=True)
class Record:
    """One training example: a chat (list of role/content messages) or a document."""

    id: str
    kind: str  # "chat" or "document"
    messages: tuple[dict, ...] = ()
    text: str = ""
    source: str = ""
    line: int = 0
    meta: dict = field(default_factory=dict, compare=False)

    def as_row(self) -> dict:
        """The record as a JSONL row of the canonical shape: id, messages or text, other fields."""
        body = {"text": self.text} if self.kind == "document" else {"messages": list(self.messages)}
        return {"id": self.id, **body, **self.meta}


@dataclass(frozen=True)
class Rejected:
    source: str
    line: int
    reason: str
    raw: str

    def as_dict(self) -> dict:
        return {"file": self.source, "line": self.line, "reason": self.reason, "raw": self.raw}

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass
class Corpus:
    records: list[Record]
    rejected: list[Rejected]
    format: str
    sha256: str
    n_read: int
    source: str = ""  # the file, as its records name it


@contextmanager
def snapshot(path: Path, label: str | Path | None = None):
    """A private copy of `path` and the sha256 of its bytes, taken in one read: what is parsed
    is exactly what was hashed, even if the file is replaced meanwhile. Errors name `label`."""
    label = path if label is None else label
    h = hashlib.sha256()
    try:
        src = open(path, "rb")
    except OSError as e:
        raise InputError(f"{label}: cannot be read ({e.strerror})") from None
    with src:
        try:
            folder = tempfile.TemporaryDirectory(prefix="traitforge-read-")
            copy = Path(folder.name) / path.name
            with open(copy, "wb") as dst:
                for block in iter(lambda: src.read(1 << 20), b""):
                    h.update(block)
                    dst.write(block)
        except OSError as e:
            raise InputError(f"{label}: cannot be copied into {tempfile.gettempdir()} to be read "
                             f"as one snapshot ({e.strerror}); set TMPDIR to a folder with room "
                             "for it") from None
        with folder:
            yield copy, h.hexdigest()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def detect_format(row: dict) -> str | None:
    if "messages" in row:
        return "chat"
    if "conversations" in row:
        return "sharegpt"
    if "instruction" in row and "output" in row:
        return "alpaca"
    if any(p in row and r in row for p, r in PAIR_KEYS):
        return "pair"
    if "text" in row:
        return "text"
    return None


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} is {type(value).__name__}, not a string")
    shown = value.lstrip()  # a text whose first character past the whitespace shows is no blank
    if (not shown or unicodedata.category(shown[0]) == "Cf") and all(
            c.isspace() or unicodedata.category(c) == "Cf" for c in shown):
        hidden = " (only invisible characters)" if value.strip() else ""
        raise ValueError(f"{what} is empty{hidden}")
    return value


def _messages(row: dict, fmt: str) -> tuple[dict, ...]:
    if fmt == "chat":
        turns, role_key, text_key = row.get("messages"), "role", "content"
    else:
        turns, role_key, text_key = row.get("conversations"), "from", "value"
    key = "messages" if fmt == "chat" else "conversations"
    if isinstance(turns, str):  # a CSV cell holds the list as JSON
        try:
            turns = json.loads(turns)
        except (ValueError, RecursionError):
            raise ValueError(f"'{key}' is a string that is not a JSON list") from None
    if not isinstance(turns, list) or not turns:
        raise ValueError(f"'{key}' must be a non-empty list")
    out = []
    for k, turn in enumerate(turns):
        if not isinstance(turn, dict) or role_key not in turn or text_key not in turn:
            raise ValueError(f"{key}[{k}] needs '{role_key}' and '{text_key}'")
        raw_role = turn[role_key]
        role = raw_role if fmt == "chat" else SHAREGPT_ROLES.get(str(raw_role).lower())
        if not isinstance(role, str) or role not in CHAT_ROLES:
            raise ValueError(f"{key}[{k}] has unknown role {raw_role!r}")
        if role in ("user", "assistant"):
            content = _text(turn[text_key], f"{key}[{k}].{text_key}")
        else:
            content = turn[text_key] if isinstance(turn[text_key], str) else ""
        out.append({"role": role, "content": content})
    if not any(m["role"] == "assistant" for m in out):
        raise ValueError("chat has no assistant turn")
    return tuple(out)


def to_record(row: Any, fmt: str, rid: str, source: str, line: int) -> Record:
    """Turn one parsed row into a Record, or raise ValueError with the reason."""
    if not isinstance(row, dict):
        kind = "null" if row is None else type(row).__name__
        raise ValueError(f"expected a JSON object, got {kind}")
    if fmt in ("chat", "sharegpt"):
        key = "messages" if fmt == "chat" else "conversations"
        if key not in row:
            raise ValueError(f"missing field '{key}'")
        return Record(rid, "chat", messages=_messages(row, fmt), source=source, line=line,
                      meta=_meta(row, key))
    if fmt == "alpaca":
        for k in ("instruction", "output"):
            if k not in row:
                raise ValueError(f"missing field '{k}'")
        prompt = _text(row["instruction"], "instruction")
        extra = row.get("input") or ""
        if not isinstance(extra, str):
            raise ValueError(f"input is {type(extra).__name__}, not a string")
        if extra.strip():
            prompt = f"{prompt}\n\n{extra}"
        msgs = ({"role": "user", "content": prompt},
                {"role": "assistant", "content": _text(row["output"], "output")})
        return Record(rid, "chat", messages=msgs, source=source, line=line,
                      meta=_meta(row, "instruction", "input", "output"))
    if fmt == "pair":
        keys = pair_keys(row)
        if keys is None:
            raise ValueError("missing prompt/response fields")
        p, r = keys
        msgs = ({"role": "user", "content": _text(row[p], p)},
                {"role": "assistant", "content": _text(row[r], r)})
        return Record(rid, "chat", messages=msgs, source=source, line=line, meta=_meta(row, p, r))
    if fmt == "text":
        if "text" not in row:
            raise ValueError("missing field 'text'")
        return Record(rid, "document", text=_text(row["text"], "text"), source=source, line=line,
                      meta=_meta(row, "text"))
    raise ValueError(f"unknown format {fmt!r}")


def pair_keys(row: dict) -> tuple[str, str] | None:
    """The (prompt, response) fields a pair record uses."""
    return next(((p, r) for p, r in PAIR_KEYS if p in row and r in row), None)


def _meta(row: dict, *drop: str) -> dict:
    return {k: v for k, v in row.items() if k not in drop and k != "id"}


DETECT_ROWS = 200  # rows the format is told from


def _majority_format(rows) -> str | None:
    """The shape most of the first rows have (the earliest on a tie), so that one odd first
    record does not decide how a file of chats is read."""
    found = [f for row in rows if isinstance(row, dict) and (f := detect_format(row))]
    return max(dict.fromkeys(found), key=found.count) if found else None


def read_corpus(path: str | Path, fmt: str | None = None, id_field: str = "id",
                strict: bool = False) -> Corpus:
    """Read a corpus file into Records, from one snapshot of its bytes; bad rows are returned
    as Rejected, never dropped. With `strict`, the first bad row raises InputError naming file
    and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with snapshot(path) as (copy, digest):
        return read_snapshot(copy, digest, str(path), fmt, id_field, strict)


def read_snapshot(copy: Path, digest: str, label: str, fmt: str | None = None,
                  id_field: str = "id", strict: bool = False) -> Corpus:
    """A corpus from a snapshot a caller took (`snapshot`) of the file named `label`."""
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    records, rejected, fmt, n_read = _read_rows(file_rows(copy, label), fmt, id_field, label,
                                                strict)
    return Corpus(records, rejected, fmt or "unknown", digest, n_read, label)


def _read_rows(rows, fmt: str | None, id_field: str, source: str, strict: bool):
    """Records and rejects of a file's rows, the format they were read as, and the count read."""
    reader = RecordReader(fmt, id_field, source, strict)
    records = [reader.final(r) for r in list(reader.read(rows))]
    return records, reader.rejected, reader.format, reader.n_read


class RecordReader:
    """Turns a file's rows into Records one at a time, keeping the rejects and the count read.
    A record without an id is named by its line; where a later record gives that name as its
    id, `final` renames it (`line-N`), so ids are only final once every row is read, or at
    once on a second read given the first's `taken` ids."""

    def __init__(self, fmt: str | None, id_field: str, source: str, strict: bool,
                 taken: set[str] | None = None):
        self.format, self.id_field, self.source, self.strict = fmt, id_field, source, strict
        self.rejected: list[Rejected] = []
        self.n_read = 0
        self.seen: set[str] = set()  # the ids records give
        self.unnamed: set[int] = set()  # lines of the records without one
        self.taken = taken

    def read(self, rows) -> Iterator[Record]:
        if self.format is None:
            head = list(itertools.islice(rows, DETECT_ROWS))
            self.format = _majority_format(row for _, row, _ in head)
            rows = itertools.chain(head, rows)
        for line, row, raw in rows:
            if row is BLANK:
                continue
            self.n_read += 1
            try:
                record = self._record(line, row)
            except ValueError as e:
                bad = Rejected(self.source, line, str(e), raw)
                if self.strict:
                    raise InputError(str(bad)) from None
                self.rejected.append(bad)
                continue
            yield record if self.taken is None else self.final(record)

    def _record(self, line: int, row) -> Record:
        if isinstance(row, Bad):
            raise ValueError(row)
        if self.format is None and isinstance(row, dict):
            self.format = detect_format(row)
            if self.format is None:
                raise ValueError(f"cannot tell the record shape from fields {sorted(row)}; "
                                 "use --format")
        given = row.get(self.id_field) if isinstance(row, dict) else None
        named = given is not None and given != ""
        rid = str(given) if named else str(line)
        if named and rid in self.seen:
            raise ValueError(f"duplicate id {rid!r}")
        record = to_record(row, self.format or "text", rid, self.source, line)
        if named:
            self.seen.add(rid)
        else:
            self.unnamed.add(line)
        return record

    def final(self, record: Record) -> Record:
        """The record under its final id: an id-less record's line number, where another
        record gives that as its id, becomes line-N."""
        taken = self.seen if self.taken is None else self.taken
        if record.line in self.unnamed and record.id in taken:
            return replace(record, id=_free(f"line-{record.line}", taken))
        return record


def _free(base: str, taken: set[str]) -> str:
    rid, k = base, 1
    while rid in taken:
        k += 1
        rid = f"{base}#{k}"
    return rid


def load_config(path: str | Path, what: str) -> Any:
    """Parse a TOML or YAML file (by its suffix); any problem is an InputError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file")
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".yaml", ".yml"):
        raise InputError(f"{path}: {what} file must be .toml, .yaml or .yml")
    try:
        text = path.read_text(encoding="utf-8")
        if suffix == ".toml":
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            return tomllib.loads(text)
        import yaml

        return yaml.safe_load(text) or {}
    except Exception as e:  # UnicodeDecodeError, and tomllib's and yaml's own parse errors
        raise InputError(f"{path}: cannot parse ({str(e).splitlines()[0]})") from None


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp's 0600 made every output private
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_jsonl(path: str | Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    for row in rows:
        buf.write(json.dumps(row, ensure_ascii=False) + "\n")
    atomic_write_text(path, buf.getvalue())
