"""Comparing like with like when the corpus and the reference differ in length.

Synthetic replies are usually longer than the reference's, and a longer reply carries more of
everything: a word, a phrase or a frame is more often present in it whatever the generator's
habits. So every finding tested against the reference is tested again within length strata
(deciles of the two corpora's word counts pooled) with the Cochran-Mantel-Haenszel test, and is
graded against the reference prevalence it would have at the corpus's lengths (direct
standardisation). A finding must pass both tests to warn or fail. The length shift itself is
reported once, in the audit's length profile.
"""
from __future__ import annotations

import numpy as np

from traitforge.audit.findings import Finding
from traitforge.audit.profile import word_counts
from traitforge.audit.stats import (benjamini_hochberg, length_strata, mantel_haenszel_z,
                                    standardised_rate, upper_p)
from traitforge.audit.units import Unit

BINS = 10


def match_lengths(findings: list[Finding], units: list[Unit], ref_units: list[Unit]) -> dict:
    """Test every finding with reference units within length strata, BH across them, and set
    its length-matched reference prevalence (a finding rated on a sample, by the LLM pass, is
    left as is). Returns the length profile: both median word counts and their ratio."""
    words, ref_words = word_counts([u.text for u in units]), word_counts([u.text for u in ref_units])
    strata, ref_strata = length_strata(words, ref_words, BINS)
    size = max(strata.max(initial=0), ref_strata.max(initial=0)) + 1
    n_a, n_b = np.bincount(strata, minlength=size), np.bincount(ref_strata, minlength=size)
    tested, p = [], []
    for f in findings:
        if f.ref_index is None or f.rated is not None or not f.ref_units:
            continue
        k_a = np.bincount(strata[f.units], minlength=size)
        k_b = np.bincount(ref_strata[f.ref_index], minlength=size)
        f.ref_expected = standardised_rate(k_b, n_b, n_a)
        f.z_strata = mantel_haenszel_z(k_a, n_a, k_b, n_b)
        tested.append(f)
        p.append(float(upper_p(f.z_strata)))
    for f, q in zip(tested, benjamini_hochberg(p)):
        f.q_value = max(float(q), f.q_value if f.q_value is not None else 0.0)
    a, b = float(np.median(words)), float(np.median(ref_words))
    return {"corpus_median_words": a, "reference_median_words": b,
            "ratio": round(a / b, 3) if b else None, "strata": BINS}
