"""The leading and trailing sentences of every unit, where structural moves sit, with their
skeletons: what the template and cluster passes read, and their matchers replay."""
from __future__ import annotations

import numpy as np
import polars as pl

from traitforge.audit.skeletons import skeletons
from traitforge.audit.units import (AFTER_MARK, BLOCK, BLOCK_CHARS, SENTENCE_END, Unit,
                                    block_starts, sentence_table)
from traitforge.executors import current

EMBEDDED = ("opening", "closing")  # the slots whose sentences the cluster pass embeds
CLAUSE = r"^((?:\S+\s+){0,7}?\S+?)(?:,|:|\s+[—–-]+\s)\s*\S"  # up to 8 words, then , : or a dash
MAX_CHARS = 300  # a sentence's text is cut to this many characters
SKELETON_SEED = 20261  # of the hash that groups equal skeletons of a slot


def edge_sentences(units: list[Unit], lead: int = 3, tail: int = 2, middle: bool = False,
                   clauses: bool = False, max_chars: int = MAX_CHARS,
                   table: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per sentence among the first `lead` (slot "opening") and last `tail` (slot
    "closing") of each unit, with its character span; with `middle`, also every sentence
    between them (slot "middle"), and with `clauses` the leading clause of its first sentence,
    up to its first comma, colon or dash (slot "clause"). A unit too short to have both keeps its
    sentences in both slots. `pos` is the sentence's place in its slot. Texts are cut to
    `max_chars`. `table`: the units' `sentence_table`, where it is known."""
    texts = pl.Series("t", [u.text for u in units], dtype=pl.String)
    table = sentence_table(texts.to_list()) if table is None else table
    count = pl.col("n")
    pos, start = pl.col("pos"), pl.col("start")
    slots = [("opening", pos < lead, pos), ("closing", pos >= count - tail, pos - (count - tail).clip(0))]
    if middle:
        slots.append(("middle", (pos >= lead) & (pos < count - tail), pos - lead))
    table = table.with_columns(pl.col("unit").cast(pl.UInt32),
                               pl.len().over("unit").cast(pl.Int64).alias("n"))
    sentence = texts.to_frame().with_row_index("unit")
    parts = [table.filter(keep).select("unit", pl.lit(k, pl.Int8).alias("order"),
                                       pl.lit(slot).alias("slot"), place.alias("pos"), "start", "end")
             for k, (slot, keep, place) in enumerate(slots if tail else slots[:1] + slots[2:])]
    if clauses:
        parts.append(_clauses(table, sentence).with_columns(pl.lit(3, pl.Int8).alias("order")))
    rows = (pl.concat(parts, how="diagonal").sort("unit", "order", "pos")
            .join(sentence, on="unit", how="left", maintain_order="left"))
    cut = pl.min_horizontal(pl.col("end") - start, max_chars)
    return rows.select(pl.col("unit"), "slot", pl.col("pos").cast(pl.Int16), "start", "end",
                       pl.col("t").str.slice(start, cut).alias("text"))


def _clauses(table: pl.DataFrame, sentence: pl.DataFrame) -> pl.DataFrame:
    """Slot "clause": the leading clause of each unit's first sentence, where it has one."""
    text = pl.col("t").str.slice(pl.col("start"), pl.col("end") - pl.col("start"))
    clause = (table.filter(pl.col("pos") == 0).join(sentence, on="unit", how="left", maintain_order="left")
              .with_columns(text.str.extract(CLAUSE, 1).str.len_chars().alias("k"))
              .filter(pl.col("k").is_not_null()))
    return clause.select("unit", pl.lit("clause").alias("slot"), "pos", "start",
                         (pl.col("start") + pl.col("k")).alias("end"))


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The character spans of the sentences of text[start:end], split as SENTENCE_END splits
    them. A stretch without a line break can end a sentence only after an end mark, which
    `AFTER_MARK` finds far faster (it opens with the mark, not a look-behind); it is used where
    the mark before `start`, if any, cannot end a sentence at `start`."""
    out = []
    fast = text.find("\n", start, end) < 0 and text[max(start - 1, 0):start] not in (".", "!", "?")
    for m in (AFTER_MARK if fast else SENTENCE_END).finditer(text, start, end):
        cut = m.start() + fast  # past the mark AFTER_MARK holds
        if cut > start:
            out.append((start, cut))
        start = m.end()
    if end > start:
        out.append((start, end))
    return out


def sentence_frame(units: list[Unit], keep: list[str], lead: int, tail: int, middle: bool = False,
                   clauses: bool = False, block: int = BLOCK, block_chars: int = BLOCK_CHARS,
                   table: pl.DataFrame | None = None) -> pl.DataFrame:
    """The sentences of `edge_sentences`, less their text (`with_texts` adds it back to the
    rows that need it), with their skeletons keeping the words `keep` (and `stock`: whether a
    skeleton recurs in another unit), built a block of units at a time (by the audit's
    executor; see `block_starts`) so that the work on one block stays small. `table`: the
    units' `sentence_table`, where it is known (each block reads its part)."""
    frame = (lead, tail, middle, clauses)
    starts = block_starts([u.text for u in units], [u.prompt for u in units], block, block_chars)
    bounds = list(zip(starts, starts[1:] + [len(units)]))
    parts = current().map(lambda part: _framed_block(*part, keep, frame),
                          [(lo, units[lo:hi], rows) for (lo, hi), rows in
                           zip(bounds, _blocks_of(table, bounds))])
    sents = pl.concat(parts) if parts else _framed_block(0, [], None, keep, frame)
    # Skeletons are told apart by a 64-bit hash of slot and skeleton, which a window over
    # millions of rows groups in a third of the memory strings take; two of them sharing a hash
    # is about as likely as one n-gram key standing for two n-grams (see ngram_counts).
    stock = pl.col("unit").n_unique().over("skeleton_key") >= 2
    return sents.with_columns(stock.alias("stock")).drop("skeleton_key")


def _blocks_of(table: pl.DataFrame | None, bounds: list[tuple[int, int]]) -> list:
    """The rows of each block's units (lo to hi) of a `sentence_table` (sorted by unit),
    numbered from 0 in each block; None for each where the table is not known."""
    if table is None:
        return [None] * len(bounds)
    cuts = np.searchsorted(table["unit"].to_numpy(), [b for bound in bounds for b in bound])
    return [table[int(first):int(last)].with_columns(pl.col("unit") - lo)
            for (lo, _), first, last in zip(bounds, cuts[::2], cuts[1::2])]


def _framed_block(lo: int, units: list[Unit], table: pl.DataFrame | None, keep: list[str],
                  frame: tuple) -> pl.DataFrame:
    sents = edge_sentences(units, *frame, table=table)
    masks = skeletons(sents, [u.prompt for u in units], keep, EMBEDDED)
    sents = pl.concat([sents.drop("text"), masks], how="horizontal")
    return sents.with_columns(pl.col("unit") + lo,
                              pl.struct("slot", "skeleton").hash(SKELETON_SEED).alias("skeleton_key"))


def with_texts(rows: pl.DataFrame, units: list[Unit], max_chars: int = MAX_CHARS) -> pl.DataFrame:
    """`rows` of a sentence frame over `units` with their sentences' text (column text), cut to
    `max_chars` as `edge_sentences` cuts it: the frame keeps only spans, since most sentences'
    text is never read again."""
    spans = zip(rows["unit"].to_list(), rows["start"].to_list(), rows["end"].to_list())
    texts = [units[u].text[s:min(e, s + max_chars)] for u, s, e in spans]
    return rows.with_columns(pl.Series("text", texts, dtype=pl.String))
