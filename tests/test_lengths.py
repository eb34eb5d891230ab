"""Comparing like with like: a corpus that is only longer than its reference raises no pattern
finding, while a pattern planted at every length still does."""
from __future__ import annotations

import random

import numpy as np

from traitforge.audit import AuditConfig, run_audit
from traitforge.audit.stats import length_strata, mantel_haenszel_z, standardised_rate

SYLLABLES = ("ka", "lo", "mi", "ren", "to", "sa", "vel", "nu", "dor", "pi", "ash", "em")
WORDS = [a + b for a in SYLLABLES for b in SYLLABLES][:120]  # made-up nouns
VERBS = [w + "s" for w in WORDS[::2]]  # made-up verbs, each in few short replies


def pool(n: int, seed: int) -> list[str]:
    """Replies of 1 to 20 sentences from one generator: only their lengths differ, so a longer
    reply simply holds more of every word and frame."""
    rng = random.Random(seed)
    return [" ".join(f"The {rng.choice(WORDS)} {rng.choice(VERBS)} the {rng.choice(WORDS)}."
                     for _ in range(rng.randint(1, 20))) for _ in range(n)]


def length_biased(texts: list[str], k: int, seed: int) -> list[str]:
    """k texts drawn with probability proportional to their length to the fourth."""
    rng = np.random.default_rng(seed)
    w = np.array([len(t) for t in texts], float) ** 4
    return [texts[i] for i in rng.choice(len(texts), size=k, replace=False, p=w / w.sum())]


def audit(chat, write_jsonl, a: list[str], b: list[str]):
    rows = lambda texts, tag: [chat(f"Tell me something ({tag}{k}).", t, id=f"{tag}{k}")  # noqa: E731
                               for k, t in enumerate(texts)]
    return run_audit(AuditConfig(corpus=str(write_jsonl("a.jsonl", rows(a, "a"))),
                                 reference=str(write_jsonl("b.jsonl", rows(b, "b"))),
                                 builtin=False, clusters=False))


def test_a_longer_sample_of_one_pool_raises_no_pattern_finding(chat, write_jsonl):
    texts = pool(4000, 1)
    a, b = length_biased(texts[:2000], 500, 2), texts[2000:2500]
    result = audit(chat, write_jsonl, a, b)
    length = result.extras["length"]
    assert length["ratio"] > 1.5  # the corpus really is longer
    loud = [(f.severity, f.label, round(f.prevalence, 3), f.ref_prevalence, f.ref_expected)
            for f in result.findings if f.severity != "info"]
    assert loud == []
    # Without matching lengths, some of these findings would be over-represented.
    raw = [f for f in result.findings
           if f.ref_prevalence is not None and f.prevalence - f.ref_prevalence >= 0.03
           and f.prevalence >= 1.5 * max(f.ref_prevalence, 1e-9)]
    assert raw, "the length shift should show in the raw comparison"
    assert all(f.ref_expected > f.ref_prevalence for f in raw)  # matching lengths raised the bar


def test_a_pattern_planted_at_every_length_still_fails(chat, write_jsonl):
    texts = pool(4000, 3)
    a, b = length_biased(texts[:2000], 500, 4), texts[2000:2500]
    rng = random.Random(5)
    a = [("Quick honest answer first. " if rng.random() < 0.3 else "") + t for t in a]
    result = audit(chat, write_jsonl, a, b)
    hit = [f for f in result.findings if f.severity == "fail" and f.slot == "opening"
           and 0.25 < f.prevalence < 0.36]
    assert hit, [(f.severity, f.label, f.prevalence) for f in result.findings][:8]


def test_mantel_haenszel_and_standardisation_by_hand():
    # Two strata with the same rate in each corpus: no difference within strata.
    assert abs(mantel_haenszel_z([10, 40], [100, 100], [5, 20], [50, 50])) < 1e-9
    # Stratum 1: 30/100 against 5/50, E = 100·35/150, V = 100·50·35·115/(150²·149); stratum 2
    # equal rates: E = 40, V = 100·50·60·90/(150²·149). z = (30 - 70/3) / sqrt(V1 + V2) = 1.778.
    assert abs(mantel_haenszel_z([30, 40], [100, 100], [5, 20], [50, 50]) - 1.7781) < 1e-3
    # b's rates (10%, 40%) at a's mix (1 short : 3 long) give 0.325.
    assert abs(standardised_rate([5, 20], [50, 50], [100, 300]) - 0.325) < 1e-12
    sa, sb = length_strata(np.arange(100), np.arange(100), bins=4)
    assert sorted(set(sa)) == [0, 1, 2, 3] and (sa == sb).all()


def test_a_stratum_without_reference_units_joins_its_neighbour():
    # The corpus's long units have no reference counterpart: they share the stratum below.
    sa, sb = length_strata(np.array([10] * 6 + [20] * 4), np.array([10] * 10), bins=10)
    assert len(set(sa)) == 1 and set(sa) == set(sb)
    sa, sb = length_strata(np.r_[np.arange(50), np.full(20, 500)], np.arange(50), bins=5)
    assert set(sa) <= set(sb) and sa[-1] == max(sb)  # the 500-word units share the top stratum
