"""The leading and trailing sentences of every unit, where structural moves sit, with their
skeletons: what the template and cluster passes read, and their matchers replay."""
from __future__ import annotations

import re

import polars as pl

from traitforge.audit.skeletons import skeletons
from traitforge.audit.units import SENTENCE_END, Unit

SCHEMA = {"unit": pl.UInt32, "slot": pl.String, "pos": pl.Int16, "start": pl.Int64,
          "end": pl.Int64, "text": pl.String}


CLAUSE = re.compile(r"^((?:\S+\s+){0,7}?\S+?)(?:,|:|\s+[—–-]+\s)\s*\S")  # up to 8 words, then , : or a dash


def edge_sentences(units: list[Unit], lead: int = 3, tail: int = 2, middle: bool = False,
                   clauses: bool = False, max_chars: int = 300) -> pl.DataFrame:
    """One row per sentence among the first `lead` (slot "opening") and last `tail` (slot
    "closing") of each unit, with its character span; with `middle`, also every sentence
    between them (slot "middle"), and with `clauses` the leading clause of every sentence, up
    to its first comma, colon or dash (slot "clause"). A unit too short to have both keeps its
    sentences in both slots. `pos` is the sentence's place in its slot (in the unit, for
    clauses). Texts are cut to `max_chars`."""
    rows: dict[str, list] = {k: [] for k in SCHEMA}

    def add(i: int, slot: str, pos: int, s: int, e: int, text: str) -> None:
        for key, value in zip(SCHEMA, (i, slot, pos, s, e, text[s:min(e, s + max_chars)])):
            rows[key].append(value)

    for i, u in enumerate(units):
        spans = _spans(u.text)
        chosen = [("opening", spans[:lead]), ("closing", spans[-tail:] if tail else [])]
        if middle:
            chosen.append(("middle", spans[lead:max(lead, len(spans) - tail)]))
        for slot, part in chosen:
            for pos, (s, e) in enumerate(part):
                add(i, slot, pos, s, e, u.text)
        for pos, (s, e) in enumerate(spans if clauses else []):
            m = CLAUSE.match(u.text, s, e)
            if m:
                add(i, "clause", pos, s, s + len(m.group(1)), u.text)
    return pl.DataFrame(rows, schema=SCHEMA)


def _spans(text: str) -> list[tuple[int, int]]:
    return sentence_spans(text, len(text) - len(text.lstrip()), len(text.rstrip()))


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The character spans of the sentences of text[start:end]."""
    out = []
    for m in SENTENCE_END.finditer(text, start, end):
        if m.start() > start:
            out.append((start, m.start()))
        start = m.end()
    if end > start:
        out.append((start, end))
    return out


def sentence_frame(units: list[Unit], keep: list[str], lead: int, tail: int, middle: bool = False,
                   clauses: bool = False, block: int = 20_000) -> pl.DataFrame:
    """The sentences of `edge_sentences` with their skeletons keeping the words `keep` (and
    `stock`: whether a skeleton recurs in another unit), built a block of units at a time so
    that memory stays flat."""
    parts = []
    for lo in range(0, len(units), block):
        sents = edge_sentences(units[lo:lo + block], lead, tail, middle, clauses)
        sents = pl.concat([sents, skeletons(sents, [u.prompt for u in units[lo:lo + block]], keep)],
                          how="horizontal")
        parts.append(sents.with_columns(pl.col("unit") + lo))
    sents = pl.concat(parts)
    stock = pl.col("unit").n_unique().over("slot", "skeleton") >= 2
    return sents.with_columns(stock.alias("stock"))
