"""Slot-aware n-gram document frequencies, with prompt echoes counted apart.

Texts are lower-cased and split into word and punctuation tokens. Every word n-gram
(1..max_n tokens) is hashed to 64 bits with a rolling polynomial hash computed over the whole
corpus at once in numpy, and counted once per unit (document frequency). An n-gram with a
content word that also occurs in the unit's own prompt is a prompt echo: it is counted in
`echo`, not in `df`, so that patterns induced by the prompts are not mistaken for artifacts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

TOKEN_PATTERN = r"\w+(?:['’]\w+)*|[^\w\s]"
_MULT = np.uint64(0x9E3779B97F4A7C15)
_SEED = 20260
_STOP = sorted(ENGLISH_STOP_WORDS | {"i'm", "it's", "don't", "i'd", "i'll", "you're", "that's",
                                      "let's", "here's", "there's", "can't", "won't", "you'll"})


@dataclass
class Tokens:
    """All tokens of a list of texts, flattened: unit index, token, hash and content flag."""

    unit: np.ndarray  # uint32, non-decreasing
    text: pl.Series  # the token strings
    hash: np.ndarray  # uint64
    content: np.ndarray  # bool: a word that is not a stop word
    offset: np.ndarray  # int64: index of the token within its unit


def tokenize(texts: list[str]) -> Tokens:
    frame = (
        pl.DataFrame({"t": texts}, schema={"t": pl.String})
        .with_row_index("unit")
        .select("unit", pl.col("t").str.to_lowercase().str.extract_all(TOKEN_PATTERN).alias("tok"))
        .explode("tok")
        .drop_nulls("tok")
    )
    tok = frame["tok"]
    unit = frame["unit"].to_numpy().astype(np.uint32)
    content = (tok.str.contains(r"^[^\W\d_]") & ~tok.is_in(_STOP)).to_numpy()
    starts = np.r_[0, np.flatnonzero(np.diff(unit)) + 1] if len(unit) else np.zeros(0, np.int64)
    first = np.repeat(starts, np.diff(np.r_[starts, len(unit)]))
    offset = np.arange(len(unit)) - first
    return Tokens(unit, tok, tok.hash(seed=_SEED).to_numpy(), content, offset)


def iter_ngrams(tokens: Tokens, max_n: int, prune=None):
    """Yield (n, frame) with columns unit, key, pos, offset, content for n-grams of 1..max_n.

    With `prune`, a function from (n, keys of all (n)-gram windows) to a boolean array of the
    windows worth extending, an (n+1)-gram is built only where both of its n-gram windows
    survived (apriori pruning: a phrase is never more frequent than its parts).
    """
    h = tokens.hash.copy()
    total = len(h)
    csum = np.r_[0, np.cumsum(tokens.content, dtype=np.int64)]
    alive = None
    for n in range(1, max_n + 1):
        if n > 1:
            h = h[:-1] * _MULT + tokens.hash[n - 1:]
        m = total - n + 1
        if m <= 0:
            return
        valid = tokens.unit[:m] == tokens.unit[n - 1:n - 1 + m]
        if alive is not None:
            valid &= alive[:m] & alive[1:m + 1]
        idx = np.flatnonzero(valid)
        yield n, pl.DataFrame({
            "unit": tokens.unit[idx],
            "key": h[idx],
            "pos": idx.astype(np.int64),
            "offset": tokens.offset[idx],
            "content": (csum[idx + n] - csum[idx]) > 0,
        })
        if prune is not None:
            alive = prune(n, h)
            if not alive.any():
                return


def echo_keys(prompts: list[str], max_n: int) -> pl.DataFrame:
    """(unit, key) of every n-gram with a content word in each unit's prompt."""
    toks = tokenize(prompts)
    parts = [f.filter("content").select("unit", "key") for _, f in iter_ngrams(toks, max_n)]
    return pl.concat(parts).unique() if parts else pl.DataFrame(schema={"unit": pl.UInt32,
                                                                        "key": pl.UInt64})


@dataclass
class SlotCounts:
    """Document frequencies of one slot's n-grams, for n-grams seen in at least min_df units."""

    slot: str
    n_units: int
    # key, n, df, echo, pos (first token), offset (mean token offset in the slot), content
    stats: pl.DataFrame
    pairs: pl.DataFrame  # unit, key: which units carry each counted n-gram
    tokens: Tokens


def count_slot(slot: str, texts: list[str], echoes: pl.DataFrame | None, max_n: int,
               min_df: int, keep: pl.DataFrame | None = None) -> SlotCounts:
    """Count n-grams of one slot. With `keep` (a frame of keys), count only those keys."""
    tokens = tokenize(texts)
    stats, pairs = [], []
    survivors: list[pl.Series] = []

    def prune(n: int, keys: np.ndarray) -> np.ndarray:
        wanted = survivors[-1] if keep is None else keep["key"]
        return pl.Series(keys).is_in(wanted.implode()).to_numpy()

    for n, frame in iter_ngrams(tokens, max_n, prune):
        # Frames arrive in token order and semi joins keep it, so "first" is deterministic.
        if keep is not None:
            frame = frame.join(keep, on="key", how="semi")
        elif n > 1:  # a key seen fewer than min_df times cannot be in min_df units
            often = frame.group_by("key").len().filter(pl.col("len") >= min_df).select("key")
            frame = frame.join(often, on="key", how="semi")
        frame = frame.unique(["unit", "key"], keep="first", maintain_order=True)
        echo = pl.DataFrame(schema={"key": pl.UInt64, "echo": pl.UInt32})
        if echoes is not None and len(echoes):
            # Only n-grams with a content word can echo the prompt (see echo_keys).
            hit = frame.filter("content").join(echoes, on=["unit", "key"], how="semi")
            echo = hit.group_by("key").agg(pl.len().cast(pl.UInt32).alias("echo"))
            frame = frame.join(hit.select("unit", "key"), on=["unit", "key"], how="anti")
        agg = (frame.group_by("key")
               .agg(pl.len().alias("df"), pl.col("pos").min(), pl.col("offset").mean(),
                    pl.col("content").any())
               .with_columns(pl.lit(n, pl.Int64).alias("n")))
        agg = agg.join(echo, on="key", how="left").with_columns(pl.col("echo").fill_null(0))
        # An echoed part can still belong to a longer phrase that is no echo, so a part
        # survives pruning on all the units that hold it, echoes included.
        survivors.append(pl.concat([
            agg.filter(pl.col("df") + pl.col("echo") >= min_df)["key"],
            echo.filter(pl.col("echo") >= min_df)["key"],  # keys left only as echoes
        ]).unique())
        agg = agg.filter(pl.col("df") >= min_df)
        stats.append(agg)
        pairs.append(frame.join(agg.select("key"), on="key", how="semi").select("unit", "key"))
    stats_df = pl.concat(stats).sort("key") if stats else pl.DataFrame()
    pairs_df = pl.concat(pairs) if pairs else pl.DataFrame(schema={"unit": pl.UInt32, "key": pl.UInt64})
    return SlotCounts(slot, len(texts), stats_df, pairs_df, tokens)


def ngram_tokens(tokens: Tokens, pos: int, n: int) -> list[str]:
    return tokens.text.slice(pos, n).to_list()


def detokenize(toks: list[str]) -> str:
    text = " ".join(toks)
    return re.sub(r" ([^\w\s(\[“\"'#*$])", r"\1", text)


def ngram_regex(toks: list[str]) -> str:
    """A regex that finds this token sequence in original (not lower-cased) text."""
    parts = [re.sub("['’]", "['’]", re.escape(t)) for t in toks]
    body = r"\s*".join(parts)
    if re.match(r"\w", toks[0]):
        body = r"(?<!\w)" + body
    if re.match(r"\w", toks[-1][-1]):
        body += r"(?!\w)"
    return body
