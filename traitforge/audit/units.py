"""Units: the texts an audit looks at, one per assistant turn or document, with their slots.

A unit's slots are `opening` (its first sentence), `closing` (its last sentence) and `body`
(the whole text). The prompt that led to the unit stays attached, so that a phrase echoed
from the prompt can be told apart from one the responses carry on their own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from traitforge.io import Record

TURNS = ("first", "last", "all")
SLOTS = ("opening", "closing", "body")
# A sentence ends at . ! ? (with closing quotes/brackets/markup) before whitespace, or at a line break.
SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]*_]*\s+|\s*\n\s*")


@dataclass(frozen=True)
class Unit:
    doc_id: str
    turn: int
    text: str
    prompt: str
    opening: tuple[int, int]
    closing: tuple[int, int]

    def span(self, slot: str) -> tuple[int, int]:
        return {"opening": self.opening, "closing": self.closing}.get(slot, (0, len(self.text)))

    def slot_text(self, slot: str) -> str:
        start, end = self.span(slot)
        return self.text[start:end]


def sentence_slots(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """Character spans of the first and last sentence of `text`."""
    start = len(text) - len(text.lstrip())
    end = len(text.rstrip())
    first = SENTENCE_END.search(text, start, end)
    opening = (start, first.start() if first else end)
    close_start = start
    window = max(start, end - 600)
    while True:  # the last boundary, looked for in a growing window at the end
        for m in SENTENCE_END.finditer(text, window, end):
            close_start = m.end()
        if close_start > start or window == start:
            return opening, (close_start, end)
        window = max(start, window - 4000)


def make_unit(doc_id: str, turn: int, text: str, prompt: str) -> Unit:
    opening, closing = sentence_slots(text)
    return Unit(doc_id, turn, text, prompt, opening, closing)


def units_of(record: Record, turns: str = "all") -> list[Unit]:
    """The audited units of one record: its assistant turns (chosen by `turns`) or its text."""
    if record.kind == "document":
        return [make_unit(record.id, 0, record.text, "")]
    out = []
    prompt = ""
    for k, m in enumerate(record.messages):
        if m["role"] == "user":
            prompt = m["content"]
        elif m["role"] == "assistant":
            out.append(make_unit(record.id, k, m["content"], prompt))
    if turns == "first":
        return out[:1]
    if turns == "last":
        return out[-1:]
    return out
