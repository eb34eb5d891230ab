"""Comparing like with like when the corpus and the reference differ in length.

Synthetic replies are usually longer than the reference's, and a longer reply carries more of
everything: a word, a phrase or a frame is more often present in it whatever the generator's
habits. So every finding tested against the reference is tested again within length strata
(deciles of the two corpora's word counts pooled) with the Cochran-Mantel-Haenszel test, and
with a logistic regression on quadratics in log words and log characters (which also compares
lengths inside a decile, the longest of which spans the long tail, and replies of many short
words with replies of few long ones, and whose variance counts the replies to one prompt as
one cluster of evidence), and is
graded against the reference prevalence it would have at the corpus's lengths (direct
standardisation). A finding must pass both tests to warn or fail. The length shift itself is
reported once, in the audit's length profile.
"""
from __future__ import annotations

import numpy as np

from traitforge.audit.findings import Finding
from traitforge.audit.profile import word_counts
from traitforge.audit.stats import (benjamini_hochberg, length_adjusted_z, length_design,
                                    length_strata, mantel_haenszel_z, standardised_rate, upper_p)
from traitforge.audit.units import Unit

BINS = 10


def prompt_clusters(prompts: list[str]) -> np.ndarray:
    """One id per distinct prompt (a unit without one is a cluster of its own)."""
    ids: dict[str, int] = {}
    return np.array([ids.setdefault(p, len(ids)) if p else ids.setdefault(f"\0{i}", len(ids))
                     for i, p in enumerate(prompts)], np.int64)


def match_lengths(findings: list[Finding], units: list[Unit], ref_units: list[Unit],
                  hypotheses: int = 0) -> dict:
    """Test every finding with reference units within length strata and by logistic
    regression, BH across them (as `hypotheses` tests, when more: the findings were chosen
    among all the n-grams tested), and set
    its length-matched reference prevalence (a finding rated on a sample, by the LLM pass, is
    left as is). Returns the length profile: both median word counts and their ratio."""
    words, ref_words = word_counts([u.text for u in units]), word_counts([u.text for u in ref_units])
    strata, ref_strata = length_strata(words, ref_words, BINS)
    size = max(strata.max(initial=0), ref_strata.max(initial=0)) + 1
    n_a, n_b = np.bincount(strata, minlength=size), np.bincount(ref_strata, minlength=size)
    design = length_design(np.column_stack([words, [len(u.text) for u in units]]),
                           np.column_stack([ref_words, [len(u.text) for u in ref_units]]))
    clusters = prompt_clusters([u.prompt for u in units + ref_units])
    tested, p = [], []
    for f in findings:
        if f.ref_index is None or f.rated is not None or not f.ref_units:
            continue
        k_a = np.bincount(strata[f.units], minlength=size)
        k_b = np.bincount(ref_strata[f.ref_index], minlength=size)
        f.ref_expected = standardised_rate(k_b, n_b, n_a)
        f.z_strata = mantel_haenszel_z(k_a, n_a, k_b, n_b)
        present = np.zeros(len(design), bool)
        present[f.units] = True
        present[len(units) + f.ref_index] = True
        f.z_length = length_adjusted_z(design, present, clusters)
        tested.append(f)
        p.append(float(upper_p(min(f.z_strata, f.z_length))))
    for f, q in zip(tested, benjamini_hochberg(p, hypotheses)):
        f.q_value = max(float(q), f.q_value if f.q_value is not None else 0.0)
    a, b = float(np.median(words)), float(np.median(ref_words))
    return {"corpus_median_words": a, "reference_median_words": b,
            "ratio": round(a / b, 3) if b else None, "strata": BINS}
