"""Auditing a corpus larger than the discovery sample in flat memory.

The passes look for patterns in a uniform sample of the corpus's records (`--sample`, drawn as
the file is read, so that only the sample is held); the census then reads the file again a
block at a time and replays every finding's matcher on every record, as `audit apply` does,
for each finding's prevalence and its flags in all records. What the passes judge (tests,
families, length strata) is judged on the sample; how often a pattern occurs is counted in all.
Memory is the sample's and one block's, whatever the corpus's size.
"""
from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Iterator

import numpy as np
import polars as pl

from traitforge.audit.match_context import MatchContext
from traitforge.audit.matchers import flag_rows, frame_read, from_json
from traitforge.audit.units import Unit, units_and_sentences
from traitforge.executors import cores, current, spawn_pool
from traitforge.io import FORMATS, Corpus, InputError, Record, RecordReader, snapshot
from traitforge.rows import file_rows

CENSUS_RECORDS = 4_000  # records replayed at a time (a block: about 0.3 GB in its process)
CENSUS_PROCESSES = 4  # most processes replaying blocks (one per core up to that)
RAY_WINDOW = 8  # blocks handed to Ray at a time
FLAGS = {"doc_id": pl.String, "turn": pl.Int32, "finding_id": pl.String, "start": pl.Int64,
         "end": pl.Int64}  # flags.parquet's columns


@dataclass
class Census:
    """Whole-corpus figures: records and units, unit lengths, and every replayed finding's
    flagged units and flags (unit index in the file, doc_id, turn, finding_id, start, end)."""

    n_records: int
    n_units: int
    chars: np.ndarray
    flagged: dict[str, int]
    flags: pl.DataFrame


@dataclass
class CorpusFile:
    """One snapshot of a corpus file, read once for the sample and again for the census."""

    copy: Path
    digest: str
    label: str
    fmt: str | None
    id_field: str
    strict: bool
    reader: RecordReader | None = None
    n_records: int = 0
    sampled: bool = False

    def _read(self, taken: set[str] | None = None) -> Iterator[Record]:
        reader = RecordReader(self.fmt, self.id_field, self.label, self.strict, taken)
        if taken is None:
            self.reader = reader
        yield from reader.read(file_rows(self.copy, self.label))

    def sample(self, k: int, seed: int) -> Corpus:
        """The corpus with its records, or a uniform sample of `k` of them (0: all), in file
        order; its rejects and count read are the whole file's."""
        if not k:
            records = list(self._read())
            self.n_records = len(records)
            return self._corpus([self.reader.final(r) for r in records])
        kept: list = []  # (-key, ordinal, record): the k smallest keys, a max-heap
        rng = random.Random(seed)
        n = 0
        for n, record in enumerate(self._read(), 1):
            key = rng.random()
            if len(kept) < k:
                heapq.heappush(kept, (-key, n, record))
            elif key < -kept[0][0]:
                heapq.heapreplace(kept, (-key, n, record))
        self.n_records, self.sampled = n, n > k
        return self._corpus([self.reader.final(r) for _, _, r in sorted(kept, key=lambda x: x[1])])

    def scan(self) -> Corpus:
        """Read the file once for its count, rejects and ids, keeping no record (a census
        follows)."""
        self.n_records = sum(1 for _ in self._read())
        return self._corpus([])

    def _corpus(self, records: list[Record]) -> Corpus:
        """`records` as a corpus of this file, with the whole file's rejects and count read."""
        reader = self.reader
        return Corpus(records, reader.rejected, reader.format or "unknown", self.digest,
                      reader.n_read, self.label)

    def census(self, matchers: list[tuple[str, object]], turns: str, frame: tuple,
               tick=lambda n: None) -> Census:
        """Replay each (finding id, matcher) pair whose matcher needs no model on every record,
        a block at a time, on every core (or on Ray, when the audit runs there)."""
        matchers = [(fid, m.to_json()) for fid, m in matchers if not m.needs_model]
        job = partial(census_block, matchers, turns, frame)
        flags, chars, n_units = [], [], 0
        for n_records, (found, lengths) in replayed(job, self._blocks()):
            flags.append(found.with_columns(pl.col("unit") + n_units))
            chars.append(lengths)
            n_units += len(lengths)
            tick(n_records)
        table = pl.concat(flags) if flags else pl.DataFrame(schema={"unit": pl.Int64, **FLAGS})
        counts = table.group_by("finding_id").agg(pl.col("unit").n_unique())
        flagged = dict.fromkeys((fid for fid, _ in matchers), 0)
        flagged |= dict(zip(counts["finding_id"].to_list(), counts["unit"].to_list()))
        return Census(self.n_records, n_units, np.concatenate(chars) if chars else
                      np.zeros(0, np.int64), flagged, table.select("unit", *FLAGS))

    def _blocks(self) -> Iterator[list[Record]]:
        block = []
        for record in self._read(self.reader.seen):
            block.append(record)
            if len(block) == CENSUS_RECORDS:
                yield block
                block = []
        if block:
            yield block


_EMBEDDERS: dict = {}  # a census process's sentence embedders, loaded once for all its blocks


def census_block(matchers: list[tuple[str, dict]], turns: str, frame: tuple,
                 records: list[Record]) -> tuple[int, tuple[pl.DataFrame, np.ndarray]]:
    """One block's flags (unit index within the block, doc_id, turn, finding_id, start, end)
    and unit lengths, with the count of its records."""
    units, spans = units_and_sentences(records, turns)
    pairs = [(fid, from_json(m)) for fid, m in matchers]
    ctx = MatchContext(units, *frame_read(frame, [m for _, m in pairs]), embedders=_EMBEDDERS,
                       sentence_spans=spans)
    found = flag_rows(pairs, ctx)
    return len(records), (found.join(unit_ids(units), on="unit").sort("unit", "finding_id"),
                          np.array([len(u.text) for u in units], np.int64))


def unit_ids(units: list[Unit]) -> pl.DataFrame:
    """unit (index), doc_id and turn of each unit: what names a flag in flags.parquet."""
    return pl.DataFrame({"unit": np.arange(len(units), dtype=np.int64),
                         "doc_id": [u.doc_id for u in units],
                         "turn": pl.Series([u.turn for u in units], dtype=pl.Int32)})


def replayed(job, blocks: Iterator) -> Iterator:
    """`job` of each block, in order: on Ray when the audit runs there (a few blocks at a time),
    else in a process per core (here on one core), at most one block more than processes in
    flight."""
    executor = current()
    if executor.name == "ray":
        while window := list(itertools.islice(blocks, RAY_WINDOW)):
            yield from executor.map(job, window)
        return
    workers = min(CENSUS_PROCESSES, cores())
    if workers < 2:
        try:
            yield from map(job, blocks)
        finally:
            _EMBEDDERS.clear()
        return
    pool = spawn_pool(workers)
    pending: deque = deque()
    try:
        for block in blocks:
            pending.append(pool.submit(job, block))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BrokenProcessPool:
        raise InputError("a census process died (out of memory?); run the audit again with a "
                         "smaller --sample, or on a machine with more memory") from None
    finally:
        pool.shutdown(cancel_futures=True)


@contextmanager
def corpus_file(path: str | Path, fmt: str | None, id_field: str, strict: bool):
    """The corpus file at `path`, snapshotted for as long as the context lasts."""
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with snapshot(path) as (copy, digest):
        yield CorpusFile(copy, digest, str(path), fmt, id_field, strict)


def count_in_all(findings: list, corpus: Census | None, reference: Census | None) -> None:
    """Give each replayed finding its counts in the whole corpus and reference (where those
    were sampled)."""
    for f in findings:
        if corpus is not None and f.id in corpus.flagged:
            f.census = (corpus.flagged[f.id], corpus.n_units)
        if reference is not None and f.id in reference.flagged and f.ref_units is not None:
            f.ref_census = (reference.flagged[f.id], reference.n_units)
