"""The leading and trailing sentences of every unit, where structural moves sit, with their
skeletons: what the template and cluster passes read, and their matchers replay."""
from __future__ import annotations

import polars as pl

from traitforge.audit.skeletons import skeletons
from traitforge.audit.units import SENTENCE_END, Unit

SCHEMA = {"unit": pl.UInt32, "slot": pl.String, "pos": pl.Int8, "start": pl.Int64,
          "end": pl.Int64, "text": pl.String}


def edge_sentences(units: list[Unit], lead: int = 3, tail: int = 2,
                   max_chars: int = 300) -> pl.DataFrame:
    """One row per sentence among the first `lead` (slot "opening") and last `tail` (slot
    "closing") of each unit, with its character span. A unit too short to have both keeps its
    sentences in both slots. Texts are cut to `max_chars`."""
    rows: dict[str, list] = {k: [] for k in SCHEMA}
    for i, u in enumerate(units):
        spans = _spans(u.text)
        for slot, chosen in (("opening", spans[:lead]), ("closing", spans[-tail:] if tail else [])):
            for pos, (s, e) in enumerate(chosen):
                rows["unit"].append(i)
                rows["slot"].append(slot)
                rows["pos"].append(pos)
                rows["start"].append(s)
                rows["end"].append(e)
                rows["text"].append(u.text[s:min(e, s + max_chars)])
    return pl.DataFrame(rows, schema=SCHEMA)


def _spans(text: str) -> list[tuple[int, int]]:
    out, start = [], len(text) - len(text.lstrip())
    end = len(text.rstrip())
    for m in SENTENCE_END.finditer(text, start, end):
        if m.start() > start:
            out.append((start, m.start()))
        start = m.end()
    if end > start:
        out.append((start, end))
    return out


def sentence_frame(units: list[Unit], lead: int, tail: int, block: int = 20_000) -> pl.DataFrame:
    """Leading and trailing sentences with their skeletons (and `stock`: whether a skeleton
    recurs in another unit), built a block of units at a time so that memory stays flat."""
    parts = []
    for lo in range(0, len(units), block):
        sents = edge_sentences(units[lo:lo + block], lead, tail)
        sents = pl.concat([sents, skeletons(sents, [u.prompt for u in units[lo:lo + block]])],
                          how="horizontal")
        parts.append(sents.with_columns(pl.col("unit") + lo))
    sents = pl.concat(parts)
    stock = pl.col("unit").n_unique().over("slot", "skeleton") >= 2
    return sents.with_columns(stock.alias("stock"))
