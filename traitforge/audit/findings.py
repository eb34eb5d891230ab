"""Findings: a pattern, where it occurs, how often, and how much that matters."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from traitforge.audit.policy import SEVERITIES, Policy
from traitforge.audit.stats import over_representation_z, upper_p, wilson

from traitforge.audit.units import Unit

TEST_NAMES = {"z": "two-proportion z-test (pooled)",
              "log-odds": "log-odds ratio, informative Beta prior (Monroe et al. 2008)"}


@dataclass
class Finding:
    id: str
    methods: list[str]  # the passes that saw it, the one that leads it first
    label: str
    description: str
    slot: str
    matcher: object  # a Matcher (traitforge.audit.matchers)
    units: np.ndarray  # indices of flagged units, ascending
    spans: np.ndarray  # (len(units), 2) absolute character spans
    n_units: int
    ref_flagged: int | None = None
    ref_units: int | None = None
    variants: list[str] = field(default_factory=list)
    prompt_echo: int = 0
    z: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    test_name: str | None = None
    severity: str = "info"
    skeleton: str | None = None
    evidence: list[dict] = field(default_factory=list)
    merge_rule: str | None = None
    ref_index: np.ndarray | None = None  # flagged reference units, where known
    rated: np.ndarray | None = None  # the units a sampling pass (LLM) rated; None: all of them
    user_pattern: bool = False  # a user's definition pattern (LLM-rated): it stands on its own
    ref_expected: float | None = None  # the reference prevalence at the corpus's lengths
    z_strata: float | None = None  # Cochran-Mantel-Haenszel z within length strata
    z_length: float | None = None  # logistic-regression z with log length as a covariate
    tests: int = 1  # the hypotheses it stands for (its merged n-grams, groups, members)
    function_words_only: bool = False  # phrasing of function words and punctuation alone
    census: tuple[int, int] | None = None  # (flagged, units) in the whole corpus, if sampled
    ref_census: tuple[int, int] | None = None  # the same in the whole reference

    @property
    def counts(self) -> tuple[int, int]:
        """(flagged, units): in the whole corpus where it was sampled, else where it was found."""
        return self.census or (len(self.units), self.n_units)

    @property
    def ref_counts(self) -> tuple[int, int] | None:
        if self.ref_units is None:
            return None
        return self.ref_census or (self.ref_flagged, self.ref_units)

    @property
    def prevalence(self) -> float:
        k, n = self.counts
        return k / n if n else 0.0

    @property
    def ref_prevalence(self) -> float | None:
        if self.ref_units is None:
            return None
        k, n = self.ref_counts
        return k / n if n else 0.0

    @property
    def baseline(self) -> float | None:
        """What the prevalence is judged against: the reference's, at the corpus's lengths
        when those were matched."""
        return self.ref_expected if self.ref_expected is not None else self.ref_prevalence

    @property
    def lift(self) -> float | None:
        ref = self.baseline
        if ref is None:
            return None
        # Half a document of smoothing keeps the lift finite when the reference never shows it.
        return self.prevalence / max(ref, 0.5 / max(self.ref_counts[1], 1))

    @property
    def score(self) -> float:
        """How much the finding matters: prevalence times excess over the reference."""
        return self.prevalence * max(0.0, self.prevalence - (self.baseline or 0.0))

    def test(self, test: str = "z", prior_strength: float = 100.0) -> None:
        """Fill z and the one-sided p-value of over-representation against the reference."""
        if self.ref_units:
            z = over_representation_z(test, len(self.units), self.n_units, self.ref_flagged,
                                      self.ref_units, prior_strength)
            self.test_name = TEST_NAMES[test]
            self.z = float(z)
            self.p_value = float(upper_p(z))

    def against(self, ref_index: np.ndarray, n_ref: int, test: str = "z",
                prior_strength: float = 100.0) -> None:
        """Record the reference units the pattern flags (of `n_ref`), and test against them."""
        self.ref_index = np.asarray(ref_index, np.int64)
        self.ref_units, self.ref_flagged = n_ref, len(self.ref_index)
        self.test(test, prior_strength)

    @property
    def grade_inputs(self) -> dict:
        """What the policy grades, unrounded, so that the gate can grade it again."""
        return {"prevalence": float(self.prevalence), "baseline": _float(self.baseline),
                "lift": _float(self.lift), "q": _float(self.q_value),
                "function_words_only": bool(self.function_words_only)}

    def grade(self, policy: Policy) -> None:
        self.severity = policy.severity_of(self.id, self.grade_inputs)

    def as_dict(self, units: list[Unit], n_examples: int, seed: int) -> dict:
        k, n = self.counts
        lo, hi = wilson(k, n)
        out = {
            "id": self.id, "methods": self.methods, "label": self.label,
            "description": self.description, "slot": self.slot, "severity": self.severity,
            "n_flagged": int(k), "n_units": int(n),
            "prevalence": _r(self.prevalence), "prevalence_ci95": [_r(lo), _r(hi)],
            "reference_prevalence": None, "reference_ci95": None, "lift": None,
            "significance": None, "score": _r(self.score), "prompt_echo": self.prompt_echo,
            "variants": self.variants, "matcher": self.matcher.to_json(),
            "skeleton": self.skeleton, "evidence": self.evidence,
            "merge_rule": self.merge_rule, "grade_inputs": self.grade_inputs,
            "examples": self.examples(units, n_examples, seed),
        }
        if self.census or self.ref_census:
            out["in_sample"] = {"n_flagged": int(len(self.units)), "n_units": self.n_units,
                                "reference_flagged": self.ref_flagged,
                                "reference_units": self.ref_units}
        if self.ref_units is not None:
            rlo, rhi = wilson(*self.ref_counts)
            out.update(reference_prevalence=_r(self.ref_prevalence), reference_ci95=[_r(rlo), _r(rhi)],
                       reference_expected=_r(self.ref_expected), lift=_r(self.lift),
                       significance={"test": self.test_name, "z": _r(self.z),
                                     "p_value": _sig(self.p_value),
                                     "z_length_strata": _r(self.z_strata),
                                     "z_length_logistic": _r(self.z_length),
                                     "q_value_bh": _sig(self.q_value)})
        return out

    def examples(self, units: list[Unit], k: int, seed: int) -> list[dict]:
        if not len(self.units):
            return []
        rng = np.random.default_rng(seed)
        picks = np.sort(rng.choice(len(self.units), size=min(k, len(self.units)), replace=False))
        out = []
        for i in picks:
            unit = units[self.units[i]]
            start, end = (int(x) for x in self.spans[i])
            lo, hi = max(0, start - 160), min(len(unit.text), end + 240)
            out.append({"doc_id": unit.doc_id, "turn": unit.turn, "start": start, "end": end,
                        "excerpt": unit.text[lo:hi], "excerpt_span": [start - lo, end - lo],
                        "excerpt_offset": lo})
        return out


def family_label(skeleton: str, examples: list[str], width: int = 60) -> str:
    """A family's name: its common skeleton and two real examples."""
    shown = [e if len(e) <= width else e[:width - 1] + "…" for e in examples[:2]]
    return skeleton + (" — e.g. " + " / ".join(f"“{e}”" for e in shown) if shown else "")


def rank(findings: list[Finding]) -> list[Finding]:
    """Severity first, then prevalence times excess, then id for a stable order."""
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (order[f.severity], -round(f.score, 12), f.id))


def verdict(findings: list[Finding]) -> str:
    severities = {f.severity for f in findings}
    return "fail" if "fail" in severities else "warn" if "warn" in severities else "pass"


def shared_units(findings: list[Finding], n_units: int):
    """How many units each pair of `findings` both flag, as a sparse (CSR) matrix."""
    rows = np.concatenate([f.units for f in findings]) if findings else np.zeros(0, np.int64)
    cols = np.repeat(np.arange(len(findings)), [len(f.units) for f in findings])
    x = sparse.csc_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                          shape=(n_units, len(findings)))
    return (x.T @ x).tocsr()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "punct"


def _float(x: float | None) -> float | None:
    return None if x is None else float(x)


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def _sig(x: float | None) -> float | None:
    return None if x is None else float(f"{x:.4g}")


def from_spans(method: str, fid: str, label: str, description: str, matcher,
               flagged, n_units: int) -> Finding:
    """A finding flagging the rows of `flagged` (columns unit, start, end; one per unit)."""
    return Finding(id=fid, methods=[method], label=label, description=description,
                   slot=matcher.slot, matcher=matcher, n_units=n_units,
                   units=flagged["unit"].to_numpy().astype(np.int64),
                   spans=flagged.select("start", "end").to_numpy().astype(np.int64).reshape(-1, 2))
