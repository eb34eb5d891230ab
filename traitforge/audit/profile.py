"""Corpus profiles for the report: response lengths and markdown habits, against the reference."""
from __future__ import annotations

import numpy as np
import polars as pl

N_BINS = 20
# (feature, regex in the syntax of polars' Rust regex engine); a text counts once per feature.
MARKDOWN_FEATURES = (
    ("heading", r"(?m)^#{1,6} "),
    ("bullet list", r"(?m)^[ \t]*[-*•] "),
    ("numbered list", r"(?m)^[ \t]*\d+[.)] "),
    ("bold", r"\*\*[^*]+\*\*"),
    ("code block", r"```"),
    ("table", r"(?m)^\|.*\|"),
    ("emoji", r"[\x{1F300}-\x{1FAFF}\x{2600}-\x{27BF}\x{1F1E6}-\x{1F1FF}]"),
    ("question", r"\?"),
    ("exclamation", r"!"),
)


def _frame(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"text": texts}, schema={"text": pl.String})


def word_counts(texts: list[str]) -> np.ndarray:
    """Whitespace-separated words per text."""
    return _frame(texts).select(pl.col("text").str.count_matches(r"\S+"))["text"].to_numpy()


def markdown_rates(texts: list[str]) -> dict[str, float]:
    """Share of texts with at least one occurrence of each markdown feature, to 4 decimals."""
    if not texts:
        return {name: 0.0 for name, _ in MARKDOWN_FEATURES}
    row = _frame(texts).select(pl.col("text").str.contains(rx).mean().alias(name)
                               for name, rx in MARKDOWN_FEATURES).row(0, named=True)
    return {name: round(float(v), 4) for name, v in row.items()}


def length_edges(values: np.ndarray, n_bins: int = N_BINS) -> list[int]:
    """About `n_bins` integer bin edges, log-spaced over the pooled 0.5–99.5% range."""
    if not len(values):
        return [0, 1]
    lo, hi = np.quantile(values, [0.005, 0.995])
    lo, hi = max(float(lo), 1.0), max(float(hi), 1.0)
    edges = np.unique(np.round(np.geomspace(lo, hi + 1, n_bins + 1)).astype(int))
    return [int(e) for e in edges] if len(edges) > 1 else [int(lo), int(lo) + 1]


def _histogram(values: np.ndarray, edges: list[int]) -> list[int]:
    # Values beyond the end edges are counted in the end bins, so every text is in the chart.
    clipped = np.clip(values, edges[0], edges[-1])
    return [int(c) for c in np.histogram(clipped, bins=edges)[0]]


def distributions(texts: list[str], ref_texts: list[str] | None, words: np.ndarray) -> dict:
    """Length histogram (words) and markdown feature rates of corpus and reference, JSON-ready;
    `words`: the word counts of the texts and then the reference's (`word_counts`)."""
    corpus = words[:len(texts)]
    ref = words[len(texts):] if ref_texts is not None else None
    edges = length_edges(np.concatenate([corpus, ref]) if ref is not None else corpus)

    def median(v):
        return None if v is None or not len(v) else float(np.median(v))

    ref_rates = markdown_rates(ref_texts) if ref_texts is not None else None
    return {
        "length": {"unit": "words", "edges": edges, "corpus": _histogram(corpus, edges),
                   "reference": None if ref is None else _histogram(ref, edges),
                   "corpus_median": median(corpus), "reference_median": median(ref)},
        "markdown": [{"feature": name, "corpus": rate,
                      "reference": None if ref_rates is None else ref_rates[name]}
                     for name, rate in markdown_rates(texts).items()],
    }
