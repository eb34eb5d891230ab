"""Reference-free: which recurring findings are habits.

With no reference to say how common a phrase should be, a discovered finding stands when it is
- recurring: in at least the family prevalence of the replies (a phrasing at the variant
  prevalence may join a family that is);
- a move: structural (`families.structural_findings`: at a sentence's edge, a whole sentence,
  an aside), not a phrase inside sentences;
- not a topic: the replies carrying it are no more alike than replies at random (their
  similarity is less than `topic_cos` above random sets', or within `TOPIC_Z` of their
  standard deviations: `topics.topic_excess`; 5, as hundreds of findings are tried against a
  deviation read from 20 random sets).
Findings of the named-pattern passes always stand, and so does any finding at the policy's warn
prevalence (`concentrated`), whatever its shape: "Sure thing, let me walk you through it" in a
third of the replies, or a topic nobody asked about in half.
"""
from __future__ import annotations

from typing import Callable

from traitforge.audit.config import DiscoverySettings
from traitforge.audit.families import structural_findings
from traitforge.audit.findings import Finding
from traitforge.audit.topics import topic_excess
from traitforge.audit.units import Unit

TOPIC_Z = 5.0


def recurring(min_prevalence: float):
    """Findings in at least `min_prevalence` of the replies, not of function words alone nor
    the user's patterns."""
    return lambda f: (f.prevalence >= min_prevalence and not f.function_words_only
                      and not f.user_pattern)


class Habits:
    """The habits among the reconciled `findings` of an audit without a reference;
    `embedder()` gives the sentence embedder (loaded only if needed)."""

    def __init__(self, findings: list[Finding], units: list[Unit], embedder: Callable,
                 settings: DiscoverySettings, named: frozenset[str], concentrated: float,
                 seed: int = 0):
        self.units, self.settings, self.named = units, settings, named
        self.concentrated = concentrated
        recurs = recurring(settings.variant_prevalence)
        moves = structural_findings([f for f in findings if f.methods[0] not in named
                                     and recurs(f)], units)
        excess = topic_excess(moves, units, embedder(), seed) if moves else {}
        self.topics = {fid for fid, (cos, z) in excess.items()
                       if cos >= settings.topic_cos and z >= TOPIC_Z}
        self.candidates = {f.id for f in moves if f.id not in self.topics}

    def may_join(self, f: Finding) -> bool:
        """Whether `f` may take part in a family: a recurring move that is not a topic."""
        return f.id in self.candidates

    def reportable(self, findings: list[Finding]) -> list[Finding]:
        """The findings that stand: named patterns, and the recurring moves that are not
        topics and reach the family prevalence."""
        recurs = recurring(self.settings.family_prevalence)
        large = [f for f in findings if f.methods[0] not in self.named and recurs(f)
                 and f.id not in self.topics]
        moves = {f.id for f in structural_findings(large, self.units)}
        moves |= {f.id for f in findings if f.methods[0] not in self.named
                  and f.prevalence >= self.concentrated}
        return [f for f in findings if f.methods[0] in self.named or f.id in moves]
