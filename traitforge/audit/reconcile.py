"""One finding per family: findings of different passes that flag mostly the same units merge.

Findings are visited by the rank of the pass that found them (its MergeRule: named patterns
first, then whole families, then phrases) and importance. Each one joins the earlier leader it overlaps most:
- Jaccard >= `jaccard`: the leader takes the union of both unit sets ("union" rule);
- otherwise, if at least `containment` of its units lie inside the leader's, it is recorded as
  evidence only and the leader's units stay as they were ("contained" rule).
- otherwise, with a reference, if it is no longer over-represented once the leader's units are
  (or those of all the leaders it overlaps) set aside in both corpora (z < `explained_z` or lift < 1.5 outside the leader), the leader
  explains it and it is recorded as evidence only ("explained" rule).
- but where it lies inside the leader (`containment`) and explains it instead (the leader is
  not over-represented outside its units: "line" is, only through "bottom line:"), it leads
  in the leader's place, and the leader and its members become its evidence.
Within a rank, findings made of function words and punctuation alone (":") come after those
with a content word ("bottom line:"), so they never lead them. Anything else leads a finding of its own, and so does every finding of a pass whose rule says
`alone` (named patterns): they stay apart, and their units stay what their matcher flags
(members join them as evidence only). A pass whose rule says not `widens_others` (n-grams: a
phrase shared by a family's sentences also turns up elsewhere) widens only its own findings;
joining another pass's finding it is evidence. The merged finding lists every member as evidence.
Findings rated on a sample of units (the LLM pass) join afterwards, as evidence only
(`join_sampled`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from traitforge.audit.findings import Finding, shared_units
from traitforge.audit.matchers import any_of
from traitforge.audit.stats import over_representation_z, still_over, upper_p


@dataclass(frozen=True)
class MergeRule:
    """How one pass's findings take part in reconciliation."""

    rank: int = 9  # visited in this order, lowest first
    alone: bool = False  # leads its own finding, whose units are never widened
    widens_others: bool = True  # may add its units to another pass's finding


def _evidence(f: Finding, jaccard: float, contained: float) -> dict:
    return {"method": f.methods[0], "id": f.id, "label": f.label, "n_flagged": int(len(f.units)),
            "jaccard": round(jaccard, 3), "contained": round(contained, 3)}


def explained(f: Finding, leads: list[Finding], test: str, prior_strength: float,
              explained_z: float = 3.0, min_lift: float = 1.5) -> bool:
    """Whether `f` stops being over-represented outside the units the `leads` flag."""
    if f.ref_index is None or not f.ref_units or any(x.ref_index is None for x in leads):
        return False
    n_a, a = _outside(f.units, [x.units for x in leads], f.n_units)
    n_b, b = _outside(f.ref_index, [x.ref_index for x in leads], f.ref_units)
    if n_a <= 0 or n_b <= 0:
        return True
    return not still_over(test, a, n_a, b, n_b, prior_strength, explained_z, min_lift)


def _outside(units: np.ndarray, leads: list[np.ndarray], n: int) -> tuple[int, int]:
    """Of `n` units, how many no lead flags, and how many of `units` (distinct) are among them.
    One lead's units, sorted and distinct as a finding's are, are searched; several are marked."""
    lead = leads[0]
    if len(leads) == 1 and np.all(lead[1:] > lead[:-1]):
        at = np.minimum(np.searchsorted(lead, units), max(len(lead) - 1, 0))
        inside = np.count_nonzero(lead[at] == units) if len(lead) else 0
        return n - len(lead), len(units) - int(inside)
    marked = np.zeros(n, bool)
    for x in leads:
        marked[x] = True
    return n - int(np.count_nonzero(marked)), len(units) - int(np.count_nonzero(marked[units]))


def reconcile(findings: list[Finding], rules: dict[str, MergeRule], jaccard: float = 0.5,
              containment: float = 0.8, test: str = "z", prior_strength: float = 100.0
              ) -> tuple[list[Finding], dict[str, str]]:
    """Merged findings, and the id each input finding ended up in. `rules` holds each pass's
    MergeRule by name (a pass not in it gets the default)."""

    def rule(f: Finding) -> MergeRule:
        return rules.get(f.methods[0], MergeRule())

    # Phrasing of function words alone (":") comes after phrases with a word ("bottom line:"),
    # so that it never leads them.
    order = sorted(findings, key=lambda f: (rule(f).rank, f.function_words_only, -f.score, f.id))
    # A leader's overlap is read on the units it first flagged, not on those it gains.
    shared = shared_units(order, max((f.n_units for f in order), default=0))
    size = np.array([len(f.units) for f in order], np.float64)
    leader_of = np.full(len(order), -1)  # each finding's place among the leaders, if it leads
    leaders: list[Finding] = []
    home: dict[str, str] = {}
    for i, f in enumerate(order):
        ks, jac, cont = _overlaps(shared, i, leader_of, size) if not rule(f).alone else ([],) * 3
        best = int(ks[np.lexsort((ks, -cont, -jac))[0]]) if len(ks) else None
        overlap = dict(zip(ks.tolist(), zip(jac.tolist(), cont.tolist()))) if len(ks) else {}
        if best is not None and overlap[best][0] < jaccard and overlap[best][1] < containment:
            ranked = ks[np.lexsort((ks, -cont))].tolist() if _testable(f) else []
            best = next((k for k in ranked if explained(f, [leaders[k]], test, prior_strength)),
                        None)
            if ranked and best is None and explained(f, [leaders[k] for k in ranked], test,
                                                     prior_strength):
                best = ranked[0]
        best_j, best_c = overlap.get(best, (0.0, 0.0))
        if best is not None and best_j < jaccard and best_c >= containment \
                and _explains(f, leaders[best], rule, test, prior_strength):
            _take_lead(f, leaders[best], best_j, home)
            leader_of[leader_of == best], leader_of[i] = -1, best
            leaders[best] = f
            continue
        if best is not None:
            lead = leaders[best]
            if best_j >= jaccard and not rule(lead).alone and (
                    rule(f).widens_others or f.methods[0] == lead.methods[0]):
                union_into(lead, f)
            lead.evidence.append(_evidence(f, best_j, best_c))
            lead.tests += f.tests
            _add_methods(lead, f)
            if f.q_value is not None:
                lead.q_value = min(lead.q_value if lead.q_value is not None else 1.0, f.q_value)
            home[f.id] = lead.id
            continue
        f.evidence = [_evidence(f, 1.0, 1.0)]
        leader_of[i] = len(leaders)
        leaders.append(f)
        home[f.id] = f.id
    for f in leaders:
        f.merge_rule = (f"union of members with unit Jaccard >= {jaccard}; members with >= "
                        f"{containment:.0%} of their units inside it, or not over-represented "
                        f"outside it, kept as evidence" + ("; a broader finding over-represented "
                        "only through it (explained_by) and its members (via) kept as evidence"
                        if any("explained_by" in e for e in f.evidence) else "")
                        ) if len(f.evidence) > 1 else None
        retest(f, test, prior_strength)
    return leaders, home


def _overlaps(shared, i: int, leader_of: np.ndarray, size: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The leaders finding i shares units with (their places, ascending), and its unit Jaccard
    with each and the share of its units inside each."""
    lo, hi = shared.indptr[i], shared.indptr[i + 1]
    j, inter = shared.indices[lo:hi], shared.data[lo:hi]
    k = leader_of[j]
    lead = k >= 0
    order = np.argsort(k[lead])
    j, inter, k = j[lead][order], inter[lead][order], k[lead][order]
    return k, inter / (size[i] + size[j] - inter), inter / size[i]


def _testable(f: Finding) -> bool:
    """Whether `explained` can say a leader explains `f` (it has reference counts)."""
    return f.ref_index is not None and bool(f.ref_units)


def _explains(f: Finding, lead: Finding, rule, test: str, prior_strength: float) -> bool:
    """Whether `f`, inside `lead`, is all `lead` finds over-represented, and may lead it: not
    a named pattern's finding, nor function words leading a phrase with a word."""
    return (not rule(lead).alone and f.function_words_only <= lead.function_words_only
            and explained(lead, [f], test, prior_strength))


def _take_lead(f: Finding, lead: Finding, jaccard: float, home: dict[str, str]) -> None:
    """`f`, inside `lead`, is all of what `lead` finds over-represented ("bottom line:" in
    "line"): `f` leads in its place, `lead` and its members its evidence."""
    inside = len(np.intersect1d(lead.units, f.units, assume_unique=True)) / len(lead.units)
    f.evidence = [_evidence(f, 1.0, 1.0), {**lead.evidence[0], "jaccard": round(jaccard, 3),
                                           "contained": round(inside, 3), "explained_by": f.id}] \
        + [{**e, "via": lead.id} for e in lead.evidence[1:]]
    f.tests += lead.tests
    _add_methods(f, lead)
    if lead.q_value is not None:
        f.q_value = min(f.q_value if f.q_value is not None else 1.0, lead.q_value)
    home.update({k: f.id for k, v in home.items() if v == lead.id} | {f.id: f.id})


def _add_methods(lead: Finding, f: Finding) -> None:
    lead.methods += [m for m in f.methods if m not in lead.methods]


def union_into(lead: Finding, f: Finding) -> None:
    """`lead` takes `f`'s units and matcher; a unit both flag keeps the earlier span, as the
    joined matcher replays it (`AnyOf`)."""
    units = np.concatenate([lead.units, f.units])
    spans = np.concatenate([lead.spans, f.spans])
    order = np.lexsort((spans[:, 1], spans[:, 0], units))
    first = np.r_[True, units[order][1:] != units[order][:-1]]
    lead.units, lead.spans = units[order][first], spans[order][first]
    lead.function_words_only &= f.function_words_only
    if lead.ref_index is not None and f.ref_index is not None:
        lead.ref_index = np.union1d(lead.ref_index, f.ref_index)
    lead.variants = (lead.variants + [v for v in f.variants if v not in lead.variants])[:12]
    lead.matcher = any_of(lead.matcher, f.matcher)


def retest(f: Finding, test: str, prior_strength: float) -> None:
    if f.ref_index is not None and f.ref_units:
        f.ref_flagged = len(f.ref_index)
        f.z = float(over_representation_z(test, len(f.units), f.n_units, f.ref_flagged,
                                          f.ref_units, prior_strength))
        f.p_value = float(upper_p(f.z))


def join_sampled(findings: list[Finding], sampled: list[Finding], jaccard: float = 0.5,
                 containment: float = 0.8) -> tuple[list[Finding], dict[str, str]]:
    """Findings of units rated on a sample (the LLM pass) join the finding they overlap most,
    compared on the units both rated: if Jaccard >= `jaccard` or >= `containment` of their
    flagged units lie inside it. They become its evidence and its methods gain theirs; its
    units stay as they were. The others stand alone, and later ones may join them."""
    leaders, home = list(findings), {}
    for f in sorted(sampled, key=lambda f: (-f.prevalence, f.id)):
        best, best_key = None, (0.0, 0.0)
        for lead in leaders:
            common = f.rated if lead.rated is None else np.intersect1d(f.rated, lead.rated)
            a, b = np.intersect1d(lead.units, common), np.intersect1d(f.units, common)
            inter = len(np.intersect1d(a, b, assume_unique=True))
            key = (inter / (len(a) + len(b) - inter), inter / len(b)) if inter else (0.0, 0.0)
            if (key[0] >= jaccard or key[1] >= containment) and key > best_key:
                best, best_key = lead, key
        if best is None:
            leaders.append(f)
            home[f.id] = f.id
            continue
        best.evidence.append({**f.evidence[0], "jaccard": round(best_key[0], 3),
                              "contained": round(best_key[1], 3)})
        _add_methods(best, f)
        rule = (f"LLM patterns join when, on the units they rated, Jaccard >= {jaccard} or >= "
                f"{containment:.0%} of their flagged units lie inside it (evidence only)")
        if not best.merge_rule or rule not in best.merge_rule:
            best.merge_rule = f"{best.merge_rule}; {rule}" if best.merge_rule else rule
        home[f.id] = best.id
    return leaders, home
