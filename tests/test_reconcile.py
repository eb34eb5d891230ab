"""Reconciling findings of different passes into one finding per family, on hand-built findings."""
from __future__ import annotations

import numpy as np
import pytest

from traitforge.audit.findings import Finding
from traitforge.audit.matchers import RegexMatcher
from traitforge.audit.passes import merge_rules
from traitforge.audit.reconcile import explained
from traitforge.audit.reconcile import reconcile as reconcile_with

RULES = merge_rules()


def reconcile(findings, **kwargs):
    """Reconciliation with the registered passes' merge rules."""
    return reconcile_with(findings, RULES, **kwargs)

N = 200  # corpus units
N_REF = 200  # reference units


def make(fid: str, method: str, units, ref=None, n_units: int = N, n_ref: int | None = N_REF,
         offset: int = 0) -> Finding:
    """A finding flagging `units` (spans (10u + offset, 10u + offset + 5)) and, with a reference,
    the reference units `ref`."""
    units = np.unique(np.asarray(list(units), np.int64))
    spans = np.stack([units * 10 + offset, units * 10 + offset + 5], axis=1).reshape(-1, 2)
    f = Finding(id=fid, methods=[method], label=fid, description="", slot="opening",
                matcher=RegexMatcher("opening", fid), units=units, spans=spans, n_units=n_units,
                variants=[fid])
    if n_ref is not None:
        f.ref_index = np.unique(np.asarray(list(ref if ref is not None else []), np.int64))
        f.ref_units, f.ref_flagged = n_ref, len(f.ref_index)
        f.test()
    return f


def by_id(findings):
    return {f.id: f for f in findings}


def test_overlapping_findings_merge_into_their_union():
    cluster = make("c", "cluster", range(0, 60), ref=[0, 1], offset=0)
    template = make("t", "template", range(10, 70), ref=[1, 2, 3], offset=3)  # Jaccard 50/70
    other = make("o", "ngram", range(100, 130), ref=[100])
    merged, home = reconcile([template, other, cluster])
    got = by_id(merged)
    assert set(got) == {"c", "o"}
    c = got["c"]
    assert c.units.tolist() == list(range(0, 70))
    # the leader keeps its spans; the units only the member flags come with the member's spans
    assert c.spans[:60].tolist() == [[10 * u, 10 * u + 5] for u in range(60)]
    assert c.spans[60:].tolist() == [[10 * u + 3, 10 * u + 8] for u in range(60, 70)]
    assert c.methods == ["cluster", "template"]
    assert [(e["id"], e["method"], e["n_flagged"]) for e in c.evidence] == [
        ("c", "cluster", 60), ("t", "template", 60)]
    assert c.evidence[1]["jaccard"] == pytest.approx(50 / 70, abs=1e-3)
    assert isinstance(c.merge_rule, str) and "Jaccard >= 0.5" in c.merge_rule
    assert c.variants == ["c", "t"]
    # re-tested on the union, against the union of the reference units
    assert c.ref_index.tolist() == [0, 1, 2, 3] and c.ref_flagged == 4
    assert c.z == pytest.approx(make("x", "cluster", range(70), ref=range(4)).z)
    assert got["o"].merge_rule is None and got["o"].methods == ["ngram"]
    assert home == {"c": "c", "t": "c", "o": "o"}


def test_jaccard_threshold_decides_a_union():
    a = make("a", "cluster", range(0, 60))
    b = make("b", "template", range(30, 90))  # Jaccard 30/90: neither union nor contained
    merged, home = reconcile([a, b], jaccard=0.5)
    assert home == {"a": "a", "b": "b"}
    merged, home = reconcile([make("a", "cluster", range(0, 60)),
                              make("b", "template", range(30, 90))], jaccard=0.3)
    assert home == {"a": "a", "b": "a"} and by_id(merged)["a"].units.tolist() == list(range(90))


def test_a_small_contained_finding_becomes_evidence_only():
    big = make("big", "cluster", range(0, 60), ref=[0])
    # 10 units, 9 of them inside big: Jaccard 9/61, containment 0.9
    small = make("small", "ngram", list(range(20, 29)) + [150], ref=[0])
    merged, home = reconcile([small, big])
    assert home == {"big": "big", "small": "big"}
    [f] = merged
    assert f.units.tolist() == list(range(60))  # unchanged: 150 does not join
    assert f.methods == ["cluster", "ngram"]
    assert f.evidence[1]["id"] == "small" and f.evidence[1]["contained"] == pytest.approx(0.9)
    assert f.merge_rule is not None
    # below the containment bar it leads on its own (and is over-represented outside big)
    small = make("small", "ngram", list(range(20, 28)) + list(range(150, 162)), ref=[])
    _, home = reconcile([make("big", "cluster", range(0, 60), ref=[0]), small])
    assert home["small"] == "small"


def test_a_finding_explained_by_its_leader_is_absorbed():
    leader = make("lead", "cluster", range(0, 60), ref=range(0, 2))
    # 30 of its 40 units inside the leader (Jaccard 0.43, containment 0.75); outside it,
    # 10/140 against 10/198 in the reference: no longer over-represented
    weak = make("weak", "template", range(30, 70), ref=range(100, 110))
    assert explained(weak, [leader], "z", 100.0)
    merged, home = reconcile([leader, weak])
    assert home == {"lead": "lead", "weak": "lead"}
    [f] = merged
    assert f.units.tolist() == list(range(60)) and f.methods == ["cluster", "template"]
    assert f.evidence[1]["id"] == "weak"


def test_a_finding_still_over_represented_outside_its_leader_stays_apart():
    leader = make("lead", "cluster", range(0, 60), ref=range(0, 2))
    # 20 of its 60 units inside the leader; outside, 40/140 against 0/198
    strong = make("strong", "template", range(40, 100), ref=[])
    assert not explained(strong, [leader], "z", 100.0)
    merged, home = reconcile([leader, strong])
    assert home == {"lead": "lead", "strong": "strong"}
    assert by_id(merged)["lead"].units.tolist() == list(range(60))
    assert by_id(merged)["strong"].units.tolist() == list(range(40, 100))


def test_explained_needs_a_reference():
    leader = make("lead", "cluster", range(0, 60), n_ref=None)
    weak = make("weak", "template", range(30, 70), n_ref=None)
    assert not explained(weak, [leader], "z", 100.0)
    _, home = reconcile([leader, weak])
    assert home == {"lead": "lead", "weak": "weak"}


def test_explained_by_several_leaders_together():
    # neither leader alone explains f, both together do
    a = make("a", "cluster", range(0, 50), ref=[0])
    b = make("b", "cluster", range(100, 150), ref=[100])
    f = make("f", "ngram", list(range(30, 50)) + list(range(130, 150)) + [190, 191],
             ref=[180, 181])
    assert not explained(f, [a], "z", 100.0) and not explained(f, [b], "z", 100.0)
    assert explained(f, [a, b], "z", 100.0)
    merged, home = reconcile([a, b, f])
    assert home["f"] in {"a", "b"} and len(merged) == 2
    assert by_id(merged)[home["f"]].units.tolist() in (list(range(50)), list(range(100, 150)))


def test_a_finding_joins_the_leader_of_highest_jaccard_not_of_highest_containment():
    a = make("a", "cluster", list(range(0, 7)) + list(range(100, 104)), n_ref=None)
    b = make("b", "cluster", list(range(1, 10)) + list(range(150, 161)), n_ref=None)
    # f: Jaccard 7/14 and containment 0.7 with a; Jaccard 9/21 and containment 0.9 with b
    f = make("f", "template", range(0, 10), n_ref=None)
    merged, home = reconcile([f, a, b])
    assert home == {"a": "a", "b": "b", "f": "a"}
    assert by_id(merged)["a"].units.tolist() == list(range(10)) + list(range(100, 104))


def test_of_leaders_that_each_explain_a_finding_the_one_holding_most_of_it_takes_it():
    a = make("a", "cluster", list(range(0, 30)) + list(range(100, 130)), ref=[])
    b = make("b", "cluster", list(range(20, 40)) + list(range(140, 180)), ref=[])
    # f is as common in the reference: any leader explains it; 75% of it lies in a, 50% in b
    f = make("f", "template", range(0, 40), ref=range(0, 40))
    assert explained(f, [a], "z", 100.0) and explained(f, [b], "z", 100.0)
    _, home = reconcile([f, b, a])
    assert home == {"a": "a", "b": "b", "f": "a"}


def test_detectors_are_never_merged_and_keep_their_units():
    d1 = make("hedge", "detector", range(0, 60), ref=[0, 1])
    d2 = make("hedge_too", "detector", range(0, 60), ref=[0, 1])  # identical units
    joiner = make("c", "cluster", range(5, 70), ref=[0, 1, 2, 3])  # Jaccard 55/70 with both
    merged, home = reconcile([joiner, d2, d1])
    assert home == {"hedge": "hedge", "hedge_too": "hedge_too", "c": "hedge"}
    got = by_id(merged)
    assert set(got) == {"hedge", "hedge_too"}
    d = got["hedge"]
    assert d.units.tolist() == list(range(60))  # its regex's matches, not the union
    assert d.spans.tolist() == [[10 * u, 10 * u + 5] for u in range(60)]
    assert d.ref_index.tolist() == [0, 1] and d.ref_flagged == 2
    assert d.methods == ["detector", "cluster"]
    assert [e["id"] for e in d.evidence] == ["hedge", "c"] and d.merge_rule is not None
    assert got["hedge_too"].methods == ["detector"] and got["hedge_too"].merge_rule is None


def test_q_value_of_a_family_is_its_smallest():
    a = make("a", "cluster", range(0, 60))
    a.q_value = 0.01
    b = make("b", "template", range(0, 55))
    b.q_value = 1e-5
    c = make("c", "ngram", range(0, 50))
    merged, _ = reconcile([a, b, c])
    [f] = merged
    assert f.q_value == pytest.approx(1e-5)
    assert f.methods == ["cluster", "template", "ngram"]


def test_every_input_id_maps_to_a_final_id():
    rng = np.random.default_rng(0)
    findings = []
    methods = ["detector", "cluster", "template", "ngram"]
    for k in range(24):
        lo = int(rng.integers(0, 150))
        units = range(lo, lo + int(rng.integers(5, 50)))
        ref = rng.choice(N_REF, size=int(rng.integers(0, 10)), replace=False)
        findings.append(make(f"f{k}", methods[k % 4], [u for u in units if u < N], ref=ref))
    ids = [f.id for f in findings]
    merged, home = reconcile(findings)
    final = {f.id for f in merged}
    assert set(home) == set(ids)
    assert set(home.values()) == final
    assert all(home[f] == f for f in final)
    for f in merged:  # each final finding's evidence lists exactly the inputs mapped to it
        assert sorted(e["id"] for e in f.evidence) == sorted(i for i in ids if home[i] == f.id)
        assert np.all(np.diff(f.units) > 0) and f.spans.shape == (len(f.units), 2)
    assert sum(f.methods[0] == "detector" for f in merged) == 6


def _explained_by_sets(f, leads, test="z", prior_strength=100.0):
    """`explained` worked out with Python sets: the definition it must keep."""
    from traitforge.audit.stats import still_over
    units = set().union(*(set(x.units.tolist()) for x in leads))
    ref = set().union(*(set(x.ref_index.tolist()) for x in leads))
    n_a, n_b = f.n_units - len(units), f.ref_units - len(ref)
    if n_a <= 0 or n_b <= 0:
        return True
    a = sum(u not in units for u in f.units.tolist())
    b = sum(u not in ref for u in f.ref_index.tolist())
    return not still_over(test, a, n_a, b, n_b, prior_strength, 3.0, 1.5)


def test_explained_counts_what_lies_outside_one_or_several_leaders_as_sets_do():
    rng = np.random.default_rng(7)
    outcomes = set()
    for trial in range(300):
        def pick(k):
            return rng.choice(N, size=k, replace=False)
        f = make("f", "ngram", pick(rng.integers(1, 80)), ref=pick(rng.integers(0, 40)))
        leads = [make(f"l{k}", "cluster", pick(rng.integers(0, 120)), ref=pick(rng.integers(0, 60)))
                 for k in range(rng.integers(1, 4))]
        want = _explained_by_sets(f, leads)
        assert explained(f, leads, "z", 100.0) == want, trial
        outcomes.add((len(leads) > 1, want))
    assert outcomes == {(False, False), (False, True), (True, False), (True, True)}
