"""What every pass shares: the Pass protocol, its context and the registry. Each pass finds
patterns one way and returns Findings that carry the Matchers they were found with. A pass is a
class with

- `name`: the method its findings are credited to;
- `merge`: its MergeRule in reconciliation;
- `sampled`: whether it rates a sample of units (its findings join the others afterwards);
- `concurrent`: whether it may run in a thread beside the other passes (it reads only the
  units and its own matchers, not the shared sentence frames, frame words or models);
- `enabled(config)` and `find(units, reference, context) -> [Finding]`;
- optionally `finish(context, merged_into)`, called once the findings are merged.

`register` adds a pass to PASSES, which the auditor runs in order. Adding a pass is one module
in this folder and its name in the import list of passes/__init__.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from traitforge.audit.config import AuditConfig
from traitforge.audit.findings import Finding
from traitforge.audit.match_context import MatchContext
from traitforge.audit.policy import Policy
from traitforge.audit.reconcile import MergeRule
from traitforge.audit.stats import benjamini_hochberg
from traitforge.audit.units import Unit


@dataclass
class PassContext:
    """What every pass may read, and `extras`: what passes leave for the outputs (the n-grams
    examined, the opening-sentence map, the LLM pass's record)."""

    config: AuditConfig
    policy: Policy
    detectors: list  # the active detectors (passes.detectors.Detector)
    steps: object  # auditor.Steps: progress and seconds per step
    corpus_match: MatchContext  # the corpus's units, for matchers
    reference_match: MatchContext | None
    extras: dict = field(default_factory=dict)
    _framed: bool = False

    def sentence_frames(self):
        """The corpus's (and reference's) sentence frames, built once for all passes."""
        if not self._framed:
            self.steps.task("sentences and skeletons", 1)
            self._framed = True
        return (self.corpus_match.sentences(),
                self.reference_match.sentences() if self.reference_match is not None else None)


class Pass(Protocol):
    name: str
    merge: MergeRule
    sampled: bool
    concurrent: bool

    def enabled(self, config: AuditConfig) -> bool: ...

    def find(self, units: list[Unit], reference: list[Unit] | None,
             ctx: PassContext) -> list[Finding]: ...


class PassBase:
    """What most passes share: they rate every unit (not a sample), and run unless their
    `switch` (an AuditConfig field, when they have one) is off."""

    merge = MergeRule()
    sampled = False
    concurrent = False
    switch: str | None = None

    def enabled(self, config: AuditConfig) -> bool:
        return self.switch is None or bool(getattr(config, self.switch))


PASSES: list[Pass] = []


def register(cls):
    """Class decorator: run this pass in every audit it is enabled for, after those before it."""
    PASSES.append(cls())
    return cls


def enabled_passes(config: AuditConfig) -> list[Pass]:
    return [p for p in PASSES if p.enabled(config)]


def merge_rules() -> dict[str, MergeRule]:
    """Each registered pass's rule in reconciliation, by its name."""
    return {p.name: p.merge for p in PASSES}


def set_q_values(findings: list[Finding]) -> None:
    """Benjamini-Hochberg q-values across one pass's tested findings (those with a p-value;
    a finding that could not be tested keeps no q-value)."""
    tested = [f for f in findings if f.p_value is not None]
    for f, q in zip(tested, benjamini_hochberg([f.p_value for f in tested])):
        f.q_value = float(q)
