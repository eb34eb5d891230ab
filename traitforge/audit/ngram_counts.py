"""Slot-aware n-gram document frequencies, with prompt echoes counted apart.

Texts are lower-cased and split into word and punctuation tokens. Every word n-gram
(1..max_n tokens) is hashed to 64 bits with a rolling polynomial hash computed in numpy, and
counted once per unit (document frequency). An n-gram with a content word that also occurs in
the unit's own prompt is a prompt echo: it is counted in `echo`, not in `df`, so that patterns
induced by the prompts are not mistaken for artifacts.

Units are read in blocks (`Blocks`), tokenized once and read back from a temporary folder on
later passes, so that memory holds one block's tokens and the running counts per n-gram, never
the tokens of the whole corpus. An n-gram is
located by its first occurrence, `pos` = unit << 32 | token offset, and its tokens are
recovered by tokenizing that one text again.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from traitforge.audit.stopwords import ENGLISH_STOP_WORDS

from traitforge.audit.units import BLOCK, BLOCK_CHARS, block_starts
from traitforge.executors import current

TOKEN_PATTERN = r"\w+(?:['’]\w+)*|[^\w\s]"
SPILL = "traitforge-tokens-"  # a spill folder's name: this, the audit's pid, a random tail
_MULT = np.uint64(0x9E3779B97F4A7C15)
_SEED = 20260
STOP_WORDS = sorted(ENGLISH_STOP_WORDS | {"i'm", "it's", "don't", "i'd", "i'll", "you're", "that's",
                                     "let's", "here's", "there's", "can't", "won't", "you'll"})
_COUNTS = {"key": pl.UInt64, "df": pl.UInt32, "echo": pl.UInt32, "pos": pl.Int64,
           "offset": pl.Int64, "content": pl.Boolean}  # offset: the sum, until the mean is taken
_PAIRS = {"unit": pl.UInt32, "key": pl.UInt64}
_FIELDS = ("unit", "hash", "content", "offset")  # a Tokens' arrays, as spilled


@dataclass
class Tokens:
    """The tokens of a block of texts, flattened: unit index, hash, content flag, offset."""

    unit: np.ndarray  # uint32, non-decreasing
    hash: np.ndarray  # uint64
    content: np.ndarray  # bool: a word that is not a stop word
    offset: np.ndarray  # int64: index of the token within its unit

    def __post_init__(self):
        # content words before each token (and in all): an n-gram's own, by subtraction
        self.content_before = np.zeros(len(self.content) + 1, np.int64)
        np.cumsum(self.content, dtype=np.int64, out=self.content_before[1:])


def _split(texts: list[str]) -> pl.Series:
    """The lower-cased tokens of each text."""
    return pl.Series(texts, dtype=pl.String).str.to_lowercase().str.extract_all(TOKEN_PATTERN)


def tokenize(texts: list[str], base: int = 0) -> Tokens:
    """The tokens of `texts`, numbered as units base, base + 1, ..."""
    frame = (pl.DataFrame({"tok": _split(texts)}).with_row_index("unit", offset=base)
             .explode("tok").drop_nulls("tok"))
    tok = frame["tok"]
    unit = frame["unit"].to_numpy().astype(np.uint32)
    # A word that is not a stop word, or a symbol (an emoji, a check mark): both say something.
    # Worked out once per distinct token.
    vocab = tok.unique(maintain_order=True)
    content = ((vocab.str.contains(r"^[^\W\d_]") & ~vocab.is_in(STOP_WORDS))
               | vocab.str.contains(r"^\p{So}")).to_numpy()[
        tok.cast(pl.Enum(vocab)).to_physical().to_numpy()]
    starts = np.r_[0, np.flatnonzero(np.diff(unit)) + 1] if len(unit) else np.zeros(0, np.int64)
    first = np.repeat(starts, np.diff(np.r_[starts, len(unit)]))
    offset = np.arange(len(unit)) - first
    return Tokens(unit, tok.hash(seed=_SEED).to_numpy(), content, offset)


def _extend(keys: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """The keys of n-grams extended by one more token each (uint64 arrays, wrapping)."""
    return keys * _MULT + hashes


def _isin(keys: np.ndarray, among: pl.Series) -> np.ndarray:
    return pl.Series(keys).is_in(among.implode()).to_numpy()


def _windows(tokens: Tokens, n: int, parts: pl.Series | None = None,
            wanted: pl.Series | None = None) -> pl.DataFrame:
    """unit, key, pos, offset, content of every n-gram inside a unit, in token order.

    With `parts` (keys of (n-1)-grams), only n-grams whose two (n-1)-grams are both in it
    (apriori pruning: a phrase is never more frequent than its parts); with `wanted`, only
    n-grams in it.
    """
    h = prev = tokens.hash
    for k in range(1, n):
        prev, h = h, _extend(h[:-1], tokens.hash[k:])
    valid = tokens.unit[:len(h)] == tokens.unit[n - 1:]
    if parts is not None and n > 1:
        alive = _isin(prev, parts)
        valid &= alive[:-1] & alive[1:]
    if wanted is not None:
        valid &= _isin(h, wanted)
    idx = np.flatnonzero(valid)
    csum = tokens.content_before
    unit, offset = tokens.unit[idx], tokens.offset[idx]
    return pl.DataFrame({"unit": unit, "key": h[idx],
                         "pos": (unit.astype(np.int64) << 32) | offset, "offset": offset,
                         "content": (csum[idx + n] - csum[idx]) > 0})


class Blocks:
    """The tokens of `texts` (and of their `prompts`), a block of units at a time (see
    `block_starts`). A corpus of one block is tokenized once and its tokens held, as counting
    holds them either way; a larger one is tokenized once, block by block, into a temporary
    folder and read back from it on each later pass, so that memory stays flat (about 21 bytes
    of disk per token)."""

    def __init__(self, texts: list[str], prompts: list[str] | None, block: int = BLOCK,
                 block_chars: int = BLOCK_CHARS):
        self.texts, self.prompts = texts, prompts
        self._starts = block_starts(texts, prompts, block, block_chars)
        self._held = list(self._tokenize()) if len(self._starts) <= 1 else None
        self._spill: tempfile.TemporaryDirectory | None = None
        self._spilled = 0  # blocks written to the spill folder

    def __iter__(self):
        """(tokens, prompt tokens or None) of each block."""
        return iter(self._held) if self._held is not None else self._from_spill()

    def release(self) -> None:
        """Let the held (or spilled) tokens go."""
        self._held = None
        if self._spill is not None:
            self._spill.cleanup()
        self._spill, self._spilled = None, min(self._spilled, 0)

    def _from_spill(self):
        """Each block's tokens: read back where a pass before wrote them, else tokenized and
        written for the passes after."""
        if self._spill is None and self._spilled >= 0:
            clear_stale_spills()
            self._spill = tempfile.TemporaryDirectory(prefix=f"{SPILL}{os.getpid()}-")
        for k, part in enumerate(self._parts()):
            where = Path(self._spill.name) / str(k) if self._spill is not None else None
            if k < self._spilled:
                prompt = _load_tokens(where, "p") if part[2] is not None else None
                yield _load_tokens(where, "t"), prompt
                continue
            tokens = _tokenized(part)
            if where is not None:
                self._write(where, tokens, k)
            yield tokens

    def _write(self, where: Path, tokens: tuple[Tokens, Tokens | None], k: int) -> None:
        """Spill block k's tokens; where the disk will not take them, tokenize afresh from now."""
        try:
            where.mkdir(exist_ok=True)
            for name, t in zip("tp", tokens):
                if t is not None:
                    for field in _FIELDS:  # plain .npy files: read back without a zip's checksums
                        np.save(where / f"{name}-{field}.npy", getattr(t, field))
            self._spilled = k + 1
        except OSError:
            self.release()
            self._spilled = -1  # no spilling for this corpus

    def _tokenize(self):
        for part in self._parts():
            yield _tokenized(part)

    def _parts(self):
        for lo, hi in zip(self._starts, self._starts[1:] + [len(self.texts)]):
            yield (lo, self.texts[lo:hi], None if self.prompts is None else self.prompts[lo:hi])

    def map(self, fn) -> list:
        """fn(tokens, prompt tokens or None) of each block, in block order, run by the audit's
        executor (on a Ray worker, the block is tokenized there)."""
        return list(self._results(fn))

    def fold(self, fn, merge) -> object:
        """merge([fn(tokens, prompt tokens) of each block, ...]) of all blocks; merge takes a
        list of results (a merged one first) and must not care how they are grouped. Here,
        results are merged as they come, whenever the waiting ones outweigh the merged one, so
        that memory holds the running total and a few blocks' results, not every block's."""
        merged, waiting = [], []
        for result in self._results(fn):
            waiting.append(result)
            if _rows(waiting) >= _rows(merged):
                merged, waiting = [merge(merged + waiting)], []
        return merged[0] if merged and not waiting else merge(merged + waiting)

    def _results(self, fn):
        executor = current()
        if executor.name == "local":
            return (fn(*tokens) for tokens in self)
        return iter(executor.map(lambda part: fn(*_tokenized(part)), list(self._parts())))


def _rows(results: list) -> int:
    """Rows in a list of results (frames, or lists of frames)."""
    return sum(len(r) if isinstance(r, pl.DataFrame) else _rows(r) for r in results)


def clear_stale_spills() -> None:
    """Remove the token folders that killed audits left behind (their process is gone)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SPILL}*-*"):
        pid = folder.name[len(SPILL):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


def _load_tokens(where: Path, name: str) -> Tokens:
    return Tokens(*(np.load(where / f"{name}-{field}.npy") for field in _FIELDS))


def _tokenized(part: tuple[int, list[str], list[str] | None]) -> tuple[Tokens, Tokens | None]:
    lo, texts, prompts = part
    return tokenize(texts, lo), None if prompts is None else tokenize(prompts, lo)


def _occurrences(tokens: Tokens, prompt: Tokens | None, n: int, parts: pl.Series | None = None,
                wanted: pl.Series | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The first occurrence in each unit of each n-gram (see `_windows`), split into those
    that are not prompt echoes and those that are."""
    first = pl.col("key").is_first_distinct().over("unit")
    frame = _windows(tokens, n, parts, wanted).filter(first)
    if prompt is None:
        return frame, frame.clear()
    # Only n-grams with a content word can echo the prompt, and only those of the prompt's
    # n-grams that pass the same pruning can be one of `frame`'s.
    pair = pl.struct("unit", "key")
    echo = _windows(prompt, n, parts, wanted).filter("content").select(pair).to_series()
    hit = frame.select(pl.col("content") & pair.is_in(echo.implode())).to_series()
    return frame.filter(~hit), frame.filter(hit)


def _block_counts(frame: pl.DataFrame, hit: pl.DataFrame) -> pl.DataFrame:
    agg = frame.group_by("key").agg(pl.len().alias("df"), pl.col("pos").min(),
                                    pl.col("offset").sum(), pl.col("content").any())
    echo = hit.group_by("key").agg(pl.len().alias("echo"))
    return (agg.join(echo, on="key", how="full", coalesce=True)
            .with_columns(pl.col("df", "echo").fill_null(0)).select(list(_COUNTS)))


def _merge(counts: list[pl.DataFrame]) -> pl.DataFrame:
    """Blocks' counts (or merged ones) as one count per key."""
    return (pl.concat([pl.DataFrame(schema=_COUNTS), *counts]).group_by("key")
            .agg(pl.col("df", "echo", "offset").sum(), pl.col("pos").min(), pl.col("content").any())
            .select(pl.col(k).cast(t) for k, t in _COUNTS.items()))


def _merge_levels(counts: list[list[pl.DataFrame]]) -> list[pl.DataFrame]:
    return [_merge(list(level)) for level in zip(*counts)]


@dataclass
class SlotCounts:
    """Document frequencies of one slot's n-grams, for n-grams seen in at least min_df units."""

    slot: str
    n_units: int
    # key, n, df, echo, pos (first occurrence), offset (mean token offset in the slot), content
    stats: pl.DataFrame
    blocks: Blocks  # the slot's texts and their tokens, to find the n-grams in again

    @property
    def texts(self) -> list[str]:
        return self.blocks.texts


def count_slot(slot: str, texts: list[str], prompts: list[str] | None, max_n: int, min_df: int,
               keep: pl.DataFrame | None = None, block: int = BLOCK,
               block_chars: int = BLOCK_CHARS) -> SlotCounts:
    """Count n-grams of one slot, in blocks of at most `block` units and about `block_chars`
    characters. With `keep` (a frame of keys), count those keys wherever they occur, whatever
    the counts of their parts."""
    blocks = Blocks(texts, prompts, block, block_chars)
    totals = (_count_levels(blocks, max_n, min_df) if keep is None
              else _count_kept(blocks, max_n, keep["key"]))
    stats = pl.concat([t.filter(pl.col("df") >= min_df).with_columns(pl.lit(n, pl.Int64).alias("n"))
                       for n, t in totals.items()])
    stats = stats.with_columns(pl.col("offset") / pl.col("df")).sort("key")
    return SlotCounts(slot, len(texts), stats, blocks)


def _count_levels(blocks: Blocks, max_n: int, min_df: int) -> dict[int, pl.DataFrame]:
    """Counts per n, level by level: an n-gram is counted only where both of its parts were in
    min_df units, echoes included (an echoed part can belong to a phrase that is no echo)."""
    totals, parts = {}, None
    for n in range(1, max_n + 1):
        known = parts
        totals[n] = blocks.fold(lambda t, p: _block_counts(*_occurrences(t, p, n, known)), _merge)
        parts = totals[n].filter(pl.col("df") + pl.col("echo") >= min_df)["key"]
        if parts.is_empty():
            break
    return totals


def _count_kept(blocks: Blocks, max_n: int, keys: pl.Series) -> dict[int, pl.DataFrame]:
    """Counts per n of the n-grams in `keys`, in one pass over the blocks."""
    levels = range(1, max_n + 1)
    counts = blocks.fold(lambda t, p: [_block_counts(*_occurrences(t, p, n, wanted=keys))
                                       for n in levels], _merge_levels)
    return dict(zip(levels, counts or [_merge([])] * len(levels)))


def unit_pairs(counts: SlotCounts, rows: pl.DataFrame) -> pl.DataFrame:
    """unit, key: the units that carry each n-gram of `rows` (columns key, n), echoes apart."""
    wanted = {n: rows.filter(pl.col("n") == n)["key"] for n in sorted(set(rows["n"].to_list()))}
    return pairs_in(counts.blocks, wanted)


def pairs_in(blocks: Blocks, wanted: dict[int, pl.Series]) -> pl.DataFrame:
    """unit, key of the n-grams in wanted[n] (not as prompt echoes), block by block and n by n."""
    parts = blocks.map(lambda t, p: [_occurrences(t, p, n, wanted=keys)[0].select("unit", "key")
                                     for n, keys in wanted.items()])
    parts = [frame for block in parts for frame in block]
    return pl.concat(parts) if parts else pl.DataFrame(schema=_PAIRS)


def ngram_keys(ngrams: list[list[str]]) -> dict[int, pl.Series]:
    """The keys of token sequences (as counted here), by length."""
    out: dict[int, list] = {}
    for toks in ngrams:
        hashes = pl.Series(toks, dtype=pl.String).hash(seed=_SEED).to_numpy()
        key = hashes[:1]
        for k in range(1, len(hashes)):
            key = _extend(key, hashes[k:k + 1])
        out.setdefault(len(toks), []).append(key[0])
    return {n: pl.Series(keys, dtype=pl.UInt64) for n, keys in sorted(out.items())}


def ngram_tokens(texts: list[str], pos, n) -> list[list[str]]:
    """The tokens of the n-grams whose first occurrences are `pos` (unit << 32 | token)."""
    pos = np.asarray(pos, np.int64)
    units = np.unique(pos >> 32).tolist()
    toks = dict(zip(units, _split([texts[u] for u in units]).to_list()))
    return [toks[p >> 32][(p & 0xFFFFFFFF):(p & 0xFFFFFFFF) + k] for p, k in zip(pos.tolist(), n)]


def detokenize(toks: list[str]) -> str:
    text = " ".join(toks)
    return re.sub(r" ([^\w\s(\[“\"'#*$])", r"\1", text)


def ngram_regex(toks: list[str]) -> str:
    """A regex that finds this token sequence in original (not lower-cased) text."""
    parts = [re.sub("['’]", "['’]", re.escape(t)) for t in toks]
    body = r"\s*".join(parts)
    if re.match(r"\w", toks[0]):
        # Not after a word character, said after the first one: a pattern that opens with a
        # literal is searched for far faster (5x) than one that opens with a look-behind.
        body = body[0] + r"(?<!\w.)" + body[1:]
    if re.match(r"\w", toks[-1][-1]):
        body += r"(?!\w)"
    return body
