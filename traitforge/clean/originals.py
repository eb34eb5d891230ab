"""Kept records as they came in. A record clean left alone is written as its input row's own
text; one it stripped is its input row with only the cut turns' text replaced, every other key
and value (non-string ones, a ShareGPT turn's `from`, a message's `name`) as it was."""
from __future__ import annotations

import json
from pathlib import Path

from traitforge.io import Record, pair_keys
from traitforge.rows import BLANK, file_rows


def raw_rows(path: Path, label: str) -> dict[int, str]:
    """Each row's raw text (a JSON object) by its line."""
    return {line: raw for line, row, raw in file_rows(path, label) if row is not BLANK}


def as_input(raw: str, before: Record, after: Record, fmt: str) -> str:
    """The output line of a kept record: `raw` itself unless cleaning changed the record."""
    if after is before:
        return raw
    row = json.loads(raw)
    if before.kind == "document":
        row["text"] = after.text
    for k, (old, new) in enumerate(zip(before.messages, after.messages)):
        if old["content"] != new["content"]:
            _set_turn(row, fmt, k, new["content"])
    return json.dumps(row, ensure_ascii=False)


def _set_turn(row: dict, fmt: str, k: int, text: str) -> None:
    if fmt == "alpaca":
        row["output"] = text
    elif fmt == "pair":
        row[pair_keys(row)[1]] = text
    else:
        key, text_key = ("messages", "content") if fmt == "chat" else ("conversations", "value")
        turns = row[key]
        if isinstance(turns, str):  # a CSV cell holding the list as JSON
            listed = json.loads(turns)
            listed[k][text_key] = text
            row[key] = json.dumps(listed, ensure_ascii=False)
        else:
            turns[k][text_key] = text
