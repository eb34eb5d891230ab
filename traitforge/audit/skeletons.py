"""Sentence skeletons, what the template pass groups. Each leading and trailing sentence is abstracted into a skeleton
that keeps frame words and punctuation and replaces the other words with typed slots (W a word,
NUM a number, NAME a capitalised name, ECHO a word from the prompt). Frame words are the stop
words and every word that is frequent across the corpus and reference together (`frame_words`):

    "Before I dive in, could you clarify Python decorators?"  ->  "before i W in , could you W ECHO ?"

Identical skeletons form groups; groups whose skeletons are within a small token edit distance
are joined into families (single linkage), and each family is tested against the reference.
"""
from __future__ import annotations

import numpy as np
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from traitforge.audit.ngram_counts import STOP_WORDS, TOKEN_PATTERN

SLOT_NAMES = ("W", "NUM", "NAME", "ECHO")
WORD = r"[^\W\d_][\w'’]*"


def frame_words(texts: list[str], share: float, sample: int = 20_000) -> list[str]:
    """The stop words and every word in at least `share` of `texts` (an evenly spaced sample of
    at most `sample` of them), and in two at least: the words a skeleton keeps."""
    step = max(1, -(-len(texts) // sample))
    docs = pl.DataFrame({"t": texts[::step]}, schema={"t": pl.String})
    words = (docs.select(pl.col("t").str.to_lowercase().str.extract_all(WORD).list.unique()
                         .alias("w")).explode("w").drop_nulls("w"))  # each word once per text
    frequent = (words.group_by("w").len()
                .filter(pl.col("len") >= max(2.0, share * docs.height))["w"])
    return sorted(set(STOP_WORDS) | set(frequent))


def skeletons(sentences: pl.DataFrame, prompts: list[str], keep: list[str],
              embedded: tuple[str, ...] | None = None) -> pl.DataFrame:
    """Columns skeleton and masked (the text with prompt echoes and numbers masked, for
    embedding) for each row of `sentences` (columns unit, text, and slot with `embedded`), in
    row order; the words in `keep` (lowercase) stay in the skeleton, and in the masked text even
    where the prompt has them. With `embedded`, only sentences of those slots are masked (the
    others' masked text is ""): no pass embeds the others. What a token becomes is worked out
    once per distinct token (tokens are numbered by an Enum of the distinct ones, not joined as
    strings); only whether a word echoes the prompt (its unit and lower-cased word's numbers
    in one integer), and whether it opens its sentence, are read per occurrence."""
    embed = pl.lit(True) if embedded is None else pl.col("slot").is_in(embedded)
    toks = (sentences.select("unit", pl.col("text").str.extract_all(TOKEN_PATTERN).alias("tok"),
                             embed.alias("embed"))
            .with_row_index("sid").explode("tok").drop_nulls("tok"))
    vocab = toks["tok"].unique(maintain_order=True)
    kinds = _token_kinds(vocab, keep)
    typed = pl.concat([toks, kinds.gather(toks["tok"].cast(pl.Enum(vocab)).to_physical())],
                      how="horizontal")
    first = (pl.col("sid") != pl.col("sid").shift(1)).fill_null(True)
    kind = (pl.when(pl.col("fixed").is_not_null()).then(pl.col("fixed"))
            .when(_unit_word(pl.col("unit"), pl.col("low")).is_in(
                _echoes(prompts, kinds["low"].dtype).implode())).then(pl.lit("ECHO"))
            .when(pl.col("cap") & ~pl.col("first")).then(pl.lit("NAME"))
            .otherwise(pl.lit("W")))
    typed = typed.lazy().with_columns(first.alias("first")).with_columns(kind.alias("kind"))
    repeat = (~pl.col("first") & (pl.col("kind") == pl.col("kind").shift(1))
              & pl.col("kind").is_in(SLOT_NAMES))
    masked = (pl.when(pl.col("kind") == "ECHO").then(pl.lit("this"))
              .when(pl.col("kind") == "NUM").then(pl.lit("0")).otherwise(pl.col("tok")))
    # Tokens come in sentence order: grouped as sorted, gathered as lists and joined as lists
    # (a third of the time of joining strings in the aggregation).
    both = (typed.with_columns(repeat.fill_null(False).alias("repeat"), masked.alias("m"))
            .set_sorted("sid").group_by("sid", maintain_order=True)
            .agg(pl.col("kind").filter(~pl.col("repeat")).alias("skeleton"),
                 pl.col("m").filter("embed").alias("masked"))
            .with_columns(pl.col("skeleton", "masked").list.join(" ")))
    full = (sentences.lazy().with_row_index("sid").select("sid")
            .join(both, on="sid", how="left", maintain_order="left"))
    return full.select(pl.col("skeleton").fill_null(""), pl.col("masked").fill_null("")).collect()


def _unit_word(unit: pl.Expr, low: pl.Expr) -> pl.Expr:
    """A unit and a lower-cased word (of an Enum) as one integer."""
    return unit.cast(pl.UInt64) * (1 << 32) + low.to_physical().cast(pl.UInt64)


def _echoes(prompts: list[str], words: pl.Enum) -> pl.Series:
    """`_unit_word` of each unit and each word of its prompt among `words` (those a sentence
    has): the words of the units' sentences that would echo their prompt."""
    return (pl.DataFrame({"p": prompts}, schema={"p": pl.String}).with_row_index("unit")
            .select("unit", pl.col("p").str.to_lowercase().str.extract_all(WORD).list.unique()
                    .alias("low"))
            .explode("low").filter(pl.col("low").is_in(words.categories.implode()))
            .select(_unit_word(pl.col("unit"), pl.col("low").cast(words)))["unit"])


def _token_kinds(tokens: pl.Series, keep: list[str]) -> pl.DataFrame:
    """Per distinct token, in order: low (lower-cased, an Enum of the distinct ones), fixed
    (what it becomes whatever its place: a kept word, punctuation as itself, NUM; null for a
    word that may echo the prompt or be a name) and cap (capitalised)."""
    tok = pl.col("tok")
    low = tokens.str.to_lowercase()
    fixed = (pl.when(pl.col("low").is_in(keep)).then(pl.col("low"))
             .when(~tok.str.contains(r"\w")).then(tok)
             .when(tok.str.contains(r"^\d")).then(pl.lit("NUM")))
    return pl.DataFrame({"tok": tokens, "low": low}).select(
        pl.col("low").cast(pl.Enum(low.unique(maintain_order=True))), fixed.alias("fixed"),
        tok.str.contains(r"^[A-Z]").alias("cap"))


def _encode(skels: list[str]) -> list[str]:
    """Each skeleton as a string of one character per token, so that Levenshtein distance on
    the strings is the token edit distance."""
    vocab: dict[str, str] = {}
    return ["".join(vocab.setdefault(t, chr(0x4E00 + len(vocab))) for t in s.split())
            for s in skels]


def skeleton_families(skels: list[str], similarity: float = 0.75, chunk: int = 512) -> np.ndarray:
    """Family index of each distinct skeleton: single-linkage components of the graph joining
    skeletons whose normalised token edit similarity is at least `similarity`."""
    n = len(skels)
    if n == 0:
        return np.zeros(0, np.int64)
    enc = _encode(skels)
    # The similarity of two skeletons is at most the shorter's length over the longer's. So,
    # in order of length, each is compared only with those after it up to 1/similarity times
    # its length: every pair that joins is still compared once (the graph is undirected).
    length = np.array([len(e) for e in enc])
    order = np.argsort(length, kind="stable")
    length, enc = length[order], [enc[i] for i in order]
    rows, cols = [], []
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        end = n if similarity <= 0 else \
            int(np.searchsorted(length, length[hi - 1] / similarity * (1 + 1e-9), "right"))
        sim = process.cdist(enc[lo:hi], enc[lo:end], scorer=Levenshtein.normalized_similarity,
                            score_cutoff=similarity, dtype=np.float32, workers=-1)
        r, c = np.nonzero(sim)
        rows.append(order[r + lo])
        cols.append(order[c + lo])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = sparse.csr_matrix((np.ones(len(r), np.int8), (r, c)), shape=(n, n))
    return connected_components(graph, directed=False)[1]



def _informative(skeleton: pl.Expr) -> pl.Expr:
    """A skeleton worth grouping: at least two kept words besides its slots and punctuation."""
    return skeleton.str.count_matches(r"(?:^| )[a-z][\w'’]*") >= 2


def family_table(sc: pl.DataFrame, similarity: float, max_skeletons: int = 20000) -> pl.DataFrame:
    """Columns slot, skeleton, group: the family of every informative skeleton seen in at
    least two units of the corpus sentences `sc` (columns unit, slot, skeleton)."""
    parts = []
    for slot in sc["slot"].unique(maintain_order=True):
        counts = (sc.filter(pl.col("slot") == slot).group_by("skeleton")
                  .agg(pl.col("unit").n_unique().alias("df"))
                  .filter((pl.col("df") >= 2) & _informative(pl.col("skeleton")))
                  .sort(["df", "skeleton"], descending=[True, False]).head(max_skeletons))
        fam = skeleton_families(counts["skeleton"].to_list(), similarity)
        parts.append(counts.select(pl.lit(slot).alias("slot"), "skeleton",
                                   (pl.lit(f"{slot}-") + pl.Series(fam).cast(pl.String)).alias("group")))
    return pl.concat(parts) if parts else pl.DataFrame(schema={"slot": pl.String, "skeleton": pl.String,
                                                               "group": pl.String})
