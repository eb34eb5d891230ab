"""Units: the texts an audit looks at, one per assistant turn or document, with their slots.

A unit's slots are `opening` (its first sentence), `closing` (its last sentence) and `body`
(the whole text). The prompt that led to the unit stays attached, so that a phrase echoed
from the prompt can be told apart from one the responses carry on their own.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl

from traitforge.io import Record

TURNS = ("first", "last", "all")
SLOTS = ("opening", "closing", "body")
# A sentence ends at . ! ? (with closing quotes, brackets or markup) before whitespace, or at
# a line break.
_CLOSERS = r"[\"'”’)\]*_]*"
SENTENCE_END = re.compile(rf"(?<=[.!?]){_CLOSERS}\s+|\s*\n\s*")
# SENTENCE_END's first branch with the mark inside the match: the same ends, found far faster
# (a pattern that opens with a character class, not a look-behind), where no line break can end one.
AFTER_MARK = re.compile(rf"[.!?]{_CLOSERS}\s+")
# The same split for polars' engine, which has no look-behind: a sentence with what ends it
# (its end mark, then closing quotes and whitespace; or a line break), and that ending alone.
_PIECE = rf"(?s).*?(?:[.!?]{_CLOSERS}\s+|\s*\n\s*|$)"
_MARK_END = rf"([.!?]){_CLOSERS}\s+$"
_BREAK_END = r"\s*\n\s*$"
BLOCK = 20_000  # most units in a block (of those read a block at a time)
BLOCK_CHARS = 4_000_000  # most characters of texts and prompts in a block: what bounds its memory


@dataclass(frozen=True, slots=True)
class Unit:
    doc_id: str
    turn: int
    text: str
    prompt: str
    opening: tuple[int, int]
    closing: tuple[int, int]

    def span(self, slot: str) -> tuple[int, int]:
        if slot == "opening":
            return self.opening
        return self.closing if slot == "closing" else (0, len(self.text))

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


def sentence_table(texts: list[str], base: int = 0) -> pl.DataFrame:
    """unit (base, base + 1, ...), pos, start, end: the character spans of the sentences of
    each text, in order, split as SENTENCE_END splits them, all texts at once."""
    text = pl.col("t")
    pieces = (pl.DataFrame({"t": texts}, schema={"t": pl.String})
              .with_row_index("unit", offset=base)
              .select("unit", (text.str.len_chars() - text.str.strip_chars_start().str.len_chars())
                      .alias("lead"), text.str.strip_chars().str.extract_all(_PIECE).alias("p"))
              .explode("p").filter(pl.col("p").str.len_bytes() > 0))
    piece = pl.col("p")
    sentence = piece.str.replace(_MARK_END, "${1}").str.replace(_BREAK_END, "")
    cols = pieces.select("unit", "lead", piece.str.len_chars().alias("n"),
                         sentence.str.len_chars().alias("k"))
    unit, n = cols["unit"].to_numpy(), cols["n"].to_numpy().astype(np.int64)
    ends = np.cumsum(n)
    first = np.r_[True, unit[1:] != unit[:-1]] if len(unit) else np.zeros(0, bool)
    start = ends - n - np.maximum.accumulate(np.where(first, ends - n, 0)) \
        + cols["lead"].to_numpy()
    keep = cols["k"].to_numpy() > 0
    unit, start, k = unit[keep], start[keep], cols["k"].to_numpy()[keep].astype(np.int64)
    head = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]]) if len(unit) else np.zeros(0, int)
    pos = np.arange(len(unit)) - np.repeat(head, np.diff(np.r_[head, len(unit)]))
    return pl.DataFrame({"unit": unit, "pos": pos.astype(np.int64), "start": start,
                         "end": start + k})


def block_starts(texts: list[str], prompts: list[str] | None, most_units: int = BLOCK,
                 most_chars: int = BLOCK_CHARS) -> list[int]:
    """Where each block of units starts: a block holds at most `most_units` units and about
    `most_chars` characters of their texts and prompts (one unit more at most), so that a
    block's tokens take about the same memory whatever the corpus's size or its texts' length."""
    def lengths(strings: list[str]) -> np.ndarray:
        return pl.Series(strings, dtype=pl.String).str.len_chars().cast(pl.Int64).to_numpy()

    chars = lengths(texts) + (lengths(prompts) if prompts is not None else 0)
    before = np.cumsum(chars) - chars  # characters before each unit
    index = np.arange(len(texts))
    block = (before // most_chars) * (len(texts) + 1) + index // most_units
    return [0] + (np.flatnonzero(np.diff(block)) + 1).tolist() if len(texts) else []


def make_units(rows: list[tuple[str, int, str, str]]) -> tuple[list[Unit], pl.DataFrame]:
    """Units of (doc_id, turn, text, prompt) rows, and the spans of their sentences
    (`sentence_table`'s, the units numbered 0, 1, ...), split a block at a time."""
    out, tables = [], []
    for lo in range(0, len(rows), BLOCK):
        block = rows[lo:lo + BLOCK]
        table = sentence_table([r[2] for r in block], lo)
        ends = (table.group_by("unit").agg(pl.col("start", "end").first().name.prefix("o_"),
                                           pl.col("start", "end").last().name.prefix("c_"))
                .sort("unit"))
        spans = np.full((len(block), 4), -1, np.int64)
        spans[ends["unit"].to_numpy() - lo] = ends.select("o_start", "o_end", "c_start",
                                                          "c_end").to_numpy()
        for (doc_id, turn, text, prompt), (os_, oe, cs, ce) in zip(block, spans.tolist()):
            slots = ((os_, oe), (cs, ce)) if os_ >= 0 else sentence_slots(text)  # blank text
            out.append(Unit(doc_id, turn, text, prompt, *slots))
        tables.append(table)
    return out, pl.concat(tables) if tables else sentence_table([])


def make_unit(doc_id: str, turn: int, text: str, prompt: str) -> Unit:
    opening, closing = sentence_slots(text)
    return Unit(doc_id, turn, text, prompt, opening, closing)


def unit_rows(record: Record, turns: str = "all") -> list[tuple[str, int, str, str]]:
    """(doc_id, turn, text, prompt) of each audited unit of one record: its assistant turns
    (chosen by `turns`) or its text."""
    if record.kind == "document":
        return [(record.id, 0, record.text, "")]
    out = []
    prompt = ""
    for k, m in enumerate(record.messages):
        if m["role"] == "user":
            prompt = m["content"]
        elif m["role"] == "assistant":
            out.append((record.id, k, m["content"], prompt))
    if turns == "first":
        return out[:1]
    if turns == "last":
        return out[-1:]
    return out


def units_of(record: Record, turns: str = "all") -> list[Unit]:
    """The audited units of one record."""
    return [make_unit(*row) for row in unit_rows(record, turns)]


def corpus_units(records: list[Record], turns: str = "all") -> list[Unit]:
    """The audited units of every record, in order, their sentences split all at once."""
    return units_and_sentences(records, turns)[0]


def units_and_sentences(records: list[Record], turns: str = "all"
                        ) -> tuple[list[Unit], pl.DataFrame]:
    """`corpus_units`, and the spans of their sentences (see `make_units`): what a sentence
    frame splits again otherwise."""
    return make_units([row for r in records for row in unit_rows(r, turns)])
