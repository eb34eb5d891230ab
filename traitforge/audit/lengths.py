"""Comparing like with like when the corpus and the reference differ in length.

Synthetic replies are usually longer than the reference's, and a longer reply carries more of
everything: a word, a phrase or a frame is more often present in it whatever the generator's
habits. So every finding tested against the reference is tested again within length strata
(deciles of the two corpora's word counts pooled) with the Cochran-Mantel-Haenszel test, and
with a logistic regression on quadratics in log words and log characters (which also compares
lengths inside a decile, the longest of which spans the long tail, and replies of many short
words with replies of few long ones, and whose variance counts the replies to one prompt as
one cluster of evidence), and is
graded against the reference prevalence it would have at the corpus's lengths (the larger of
direct standardisation over the strata and a logistic regression on length fitted to the
reference). A finding must pass both tests to warn or fail. The length shift itself is
reported once, in the audit's length profile.
"""
from __future__ import annotations

import numpy as np

from traitforge.audit.findings import Finding
from traitforge.audit.profile import word_counts
from traitforge.audit.stats import (benjamini_hochberg, expected_at_lengths, length_adjusted_z,
                                    length_design,
                                    length_strata, mantel_haenszel_z, standardised_rate, upper_p)
from traitforge.audit.units import Unit

BINS = 10


def prompt_clusters(prompts: list[str]) -> np.ndarray:
    """One id per distinct prompt (a unit without one is a cluster of its own)."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(p, len(ids)) if p else ids.setdefault(f"\0{i}", len(ids))
                     for i, p in enumerate(prompts)], np.int64)


def match_lengths(findings: list[Finding], units: list[Unit], ref_units: list[Unit],
                  words: np.ndarray, hypotheses: int = 0) -> dict:
    """Test every finding with reference units within length strata and by logistic
    regression, and set its length-matched reference prevalence (a finding rated on a sample,
    by the LLM pass, is left as is). A reply's length is counted without the pattern's own words,
    which would otherwise lengthen the replies that carry it. The p-values are adjusted
    together (Benjamini-Hochberg), each finding counting for the hypotheses it stands for, out
    of `hypotheses` in all when more: the findings were chosen among every n-gram tested.
    `words`: the word counts (`word_counts`) of the units, then of the reference units.
    Returns the length profile: both median word counts and their ratio."""
    texts = [u.text for u in units] + [u.text for u in ref_units]
    lengths = np.column_stack([words, [len(t) for t in texts]]).astype(float)
    clusters = prompt_clusters([u.prompt for u in units + ref_units])
    tested, p = [], []
    for f in findings:
        if f.ref_index is None or f.rated is not None or not f.ref_units:
            continue
        own = _without_pattern(lengths, f, units)
        strata, ref_strata = length_strata(own[:len(units), 0], own[len(units):, 0], BINS)
        size = max(strata.max(initial=0), ref_strata.max(initial=0)) + 1
        n_a, n_b = np.bincount(strata, minlength=size), np.bincount(ref_strata, minlength=size)
        k_a = np.bincount(strata[f.units], minlength=size)
        k_b = np.bincount(ref_strata[f.ref_index], minlength=size)
        f.ref_expected = standardised_rate(k_b, n_b, n_a)
        f.z_strata = mantel_haenszel_z(k_a, n_a, k_b, n_b)
        present = np.zeros(len(texts), bool)
        present[f.units] = True
        present[len(units) + f.ref_index] = True
        design = length_design(own[:len(units)], own[len(units):])
        f.z_length = length_adjusted_z(design, present, clusters)
        f.ref_expected = max(f.ref_expected, expected_at_lengths(design, present, len(units)))
        tested.append(f)
        p.append(float(upper_p(min(f.z_strata, f.z_strata if f.z_length is None else f.z_length))))
    _adjust(tested, p, hypotheses)
    a, b = float(np.median(lengths[:len(units), 0])), float(np.median(lengths[len(units):, 0]))
    return {"corpus_median_words": a, "reference_median_words": b,
            "ratio": round(a / b, 3) if b else None, "strata": BINS}


def _without_pattern(lengths: np.ndarray, f: Finding, units: list[Unit]) -> np.ndarray:
    """Words and characters of every reply less those of the finding's span; a reference reply
    it flags loses the corpus spans' median."""
    spans = [units[u].text[s:e] for u, (s, e) in zip(f.units, f.spans)]
    cut = np.column_stack([word_counts(spans), [len(x) for x in spans]]).astype(float) \
        if spans else np.zeros((0, 2))
    own = lengths.copy()
    own[f.units] -= cut
    if len(cut):
        own[len(units) + f.ref_index] -= np.median(cut, axis=0)
    return np.maximum(own, 1.0)


def _adjust(tested: list[Finding], p: list[float], hypotheses: int) -> None:
    """Each finding's q-value: the larger of its own and its length test's, BH-adjusted with
    the finding standing for `tests` hypotheses at its p-value."""
    counts = np.array([max(1, f.tests) for f in tested], int)
    q = benjamini_hochberg(np.repeat(p, counts), hypotheses)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    for f, k in zip(tested, first):
        f.q_value = max(float(q[k]), f.q_value if f.q_value is not None else 0.0)
