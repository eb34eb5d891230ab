"""Families: findings that are alternatives of one move, or parts of one, join into one finding.

A generator's habit is rarely one phrasing. It picks one of a few ("Notably," / "Crucially," /
"Interestingly,") for the same place in the reply, so each phrasing comes back from the passes
as a finding of its own, each at a fraction of the habit's prevalence. Two candidate findings
(with a reference, over-represented ones; without, the recurring moves that are not topics:
audit/habits.py), both structural (see `structural`), are alternatives of one move when

- they sit in the same frame: the distributions of where their occurrences fall (see
  `frame_code`) have cosine >= `frame_cos`, and
- they are not independent: mostly one per reply (alternatives share clearly fewer replies
  than independence predicts), or clearly together (one move sliced two ways, e.g. by its
  phrasing and by its punctuation).

Parts of one move (a stock opener and its stock follow-up sentence, each varied on its own)
join when a share of the smaller one's replies carry the other (`PART_SHARE`: a quarter with a
reference, half without, where nothing says the part is over-represented), three times what
independence predicts. Findings are taken largest first; each joins the family it fits best, or starts one
(if structural); then families that turn out to be alternatives or parts of one move join,
until none do. An alternative's replies are compared with those of the phrasings competing for
the family's place, not with its parts elsewhere (`Frame`). A family's prevalence is the share
of replies carrying any member.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import pdtr

from traitforge.audit.findings import Finding
from traitforge.audit.reconcile import retest, union_into
from traitforge.audit.sentences import sentence_spans
from traitforge.audit.skeletons import WORD as SKELETON_WORD
from traitforge.audit.units import Unit

PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
LINE_KIND = ((re.compile(r"\s*#"), "header"), (re.compile(r"\s*(?:[-*•+]|\d+[.)])\s"), "item"),
             (re.compile(r"\s*>"), "quote"))
CLAUSE_END = re.compile(r"[,:;—–.!?]")
ASIDE = re.compile(r"[—–(]\s*$")  # a span right after a dash or an opening bracket is an aside
SAMPLE = 300  # occurrences read per finding
WORD = re.compile(SKELETON_WORD)
PART_SHARE = {True: 0.25, False: 0.5}  # by whether there is a reference


def _where(spans: list[tuple[int, int]], at: int) -> int:
    """The sentence of `spans` (sorted, apart) holding `at`; the last one if none does."""
    k = bisect_right(spans, (at, float("inf"))) - 1
    return k if k >= 0 and at < max(spans[k][1], spans[k][0] + 1) else len(spans) - 1


def _past_punctuation(text: str, start: int, end: int) -> int:
    """The first character of text[start:end] that is not whitespace or punctuation (dashes
    and brackets, which open asides, excepted); `start` if there is none."""
    for i in range(start, end):
        c = text[i]
        if not (c.isspace() or unicodedata.category(c).startswith("P")) or c in "—–(":
            return i
    return start


@lru_cache(maxsize=1 << 16)
def _paragraphs(text: str) -> tuple[list[int], list[int]]:
    """Where each paragraph starts and ends; cached, as an audit's findings read the same
    replies over and over."""
    cuts = list(PARAGRAPH.finditer(text))
    return [0] + [m.end() for m in cuts], [m.start() for m in cuts] + [len(text)]


@lru_cache(maxsize=1 << 16)
def _paragraph_sentences(text: str, k: int) -> list[tuple[int, int]]:
    starts, ends = _paragraphs(text)
    return sentence_spans(text, starts[k], ends[k]) or [(starts[k], ends[k])]


def forget_layouts() -> None:
    """Let the cached paragraphs and sentences of an audit's replies go."""
    _paragraphs.cache_clear()
    _paragraph_sentences.cache_clear()


def frame_code(text: str, start: int, end: int) -> tuple[str, ...]:
    """Where a span sits: its paragraph (first, middle, last, only), its line (header, list
    item, quote, plain), its sentence's place in the paragraph (first, later), its place in the
    sentence (whole, start, end, inside), the mark ending the sentence, what the span begins
    with (a letter, a digit, or a mark: a symbol, or a dash or bracket opening an aside) and
    the mark that ends its clause (the first comma, colon, dash or end mark from it on) unless
    it is the whole sentence. Punctuation opening the span (the full stop of
    the sentence before) is passed over."""
    start = _past_punctuation(text, start, end)
    bounds = _paragraphs(text)[0]
    k = max(0, bisect_right(bounds, start) - 1)
    para = "only" if len(bounds) == 1 else "first" if k == 0 else "last" if k == len(bounds) - 1 \
        else "middle"
    line_start = text.rfind("\n", 0, start) + 1
    line = next((name for pattern, name in LINE_KIND if pattern.match(text, line_start)), "plain")
    sents = _paragraph_sentences(text, k)
    j = _where(sents, start)
    s, e = sents[j]
    lead, rest = not re.search(r"\w", text[s:start]), not re.search(r"\w", text[end:e])
    place = "whole" if lead and rest else "start" if lead else "end" if rest else "inside"
    ender = text[e - 1] if e > s and text[e - 1] in ".!?:" else "-"
    span = text[start:end].lstrip()
    aside = ASIDE.search(text, max(0, start - 3), start)
    first = "a" if span[:1].isalpha() and not aside else "0" if span[:1].isdigit() else "mark"
    delimiter = CLAUSE_END.search(text, start + (first == "mark"), max(e, end))
    after = "" if place == "whole" else delimiter.group() if delimiter else "$"
    return para, line, "first" if j == 0 else "later", place, ender, first, after


def _frame_codes(f: Finding, units: list[Unit], sample: int):
    """The frame codes of an evenly spaced sample of about `sample` of a finding's occurrences,
    one at a time."""
    step = max(1, len(f.units) // sample)
    return (frame_code(units[u].text, int(s), int(e))
            for u, (s, e) in zip(f.units[::step], f.spans[::step]))


def frame_profile(f: Finding, units: list[Unit], sample: int = SAMPLE) -> Counter:
    """The distribution of frame codes over (an evenly spaced sample of about `sample` of) a
    finding's occurrences."""
    return Counter(_frame_codes(f, units, sample))


def structural_findings(findings: list[Finding], units: list[Unit], sample: int = 60
                        ) -> list[Finding]:
    """The findings that are moves (see `structural`, read on `sample` occurrences of each),
    not phrases inside sentences. A phrasing of one word is a move only where it opens its
    sentence ("Crucially,", "Certainly!"): a sentence's last word is what it is about
    ("conditions."). Occurrences are read only until their count decides it."""
    return [f for f in findings if _decided_structural(f, units, sample)]


def _decided_structural(f: Finding, units: list[Unit], sample: int) -> bool:
    """`structural` of the finding's sampled frame profile, without reading the occurrences
    left once either side holds half of them."""
    opening_only, total = one_word(f), len(f.units[::max(1, len(f.units) // sample)])
    edge = other = 0
    for code in _frame_codes(f, units, sample):
        if _at_edge(code, opening_only):
            edge += 1
        else:
            other += 1
        if edge >= 0.5 * total or total - other < 0.5 * total:
            break
    return edge >= 0.5 * total


def one_word(f: Finding) -> bool:
    """Whether every phrasing of `f` has at most one word (or template slot)."""
    return all(len(WORD.findall(v)) <= 1 for v in f.variants or [f.label])


def structural(profile: Counter, opening_only: bool = False) -> bool:
    """Mostly at a sentence's edge (with `opening_only`, its start), or beginning with a mark:
    a move, not a topic word."""
    edge = sum(n for code, n in profile.items() if _at_edge(code, opening_only))
    return edge >= 0.5 * sum(profile.values())


def _at_edge(code: tuple[str, ...], opening_only: bool) -> bool:
    """Whether a frame code sits at a sentence's edge (its start only, with `opening_only`)
    or begins with a mark."""
    return code[3] in (("start", "whole") if opening_only else ("start", "whole", "end")) \
        or code[5] == "mark"


def _cosine(a: Counter, b: Counter) -> float:
    dot = sum(n * b.get(code, 0) for code, n in a.items())
    norm = np.sqrt(sum(n * n for n in a.values()) * sum(n * n for n in b.values()))
    return dot / norm if norm else 0.0


def over_represented(alpha: float, min_lift: float):
    """With a reference, the findings a family is made of: over-represented ones."""
    return lambda f: (f.q_value is not None and f.q_value < alpha and f.lift is not None
                      and f.lift >= min_lift and not f.function_words_only and not f.user_pattern)


def join_families(findings: list[Finding], units: list[Unit], candidate, frame_cos: float = 0.5,
                  skip: frozenset[str] = frozenset(), test: str = "z",
                  prior_strength: float = 100.0, part_share: float = 0.25
                  ) -> tuple[list[Finding], dict[str, str]]:
    """The findings with alternatives and parts of one move joined (their members kept as
    evidence), and where each joined finding went. Only findings for which `candidate` holds
    take part (`over_represented`, or `Habits.may_join` without a reference); those of the passes
    in `skip` (named patterns) stay as they are. A part shares at least `part_share` of its
    replies with the move (`PART_SHARE`)."""
    candidates = sorted((f for f in findings if f.methods[0] not in skip and candidate(f)),
                        key=lambda f: (-len(f.units), f.id))
    profiles = {f.id: Frame.of(frame_profile(f, units), f.units) for f in candidates}
    families: list[Finding] = []
    home: dict[str, str] = {}
    for f in candidates:
        keys = [(_link(lead, f, profiles, frame_cos, part_share), k)
                for k, lead in enumerate(families)]
        key, best = max(((key, k) for key, k in keys if key is not None), default=(None, None))
        if best is not None:
            _join(families[best], f, key, profiles, home, frame_cos)
        elif structural(profiles[f.id].profile):
            families.append(f)
    _join_families(families, profiles, frame_cos, part_share, home)
    for lead in families:
        if lead.id not in home and any("joined" in e for e in lead.evidence):
            retest(lead, test, prior_strength)
            _name(lead)
    return [f for f in findings if f.id not in home], home


@dataclass
class Frame:
    """Where a family's move sits: the frame profile of all its members (an alternative must
    share it), and the profile and replies of the phrasings that compete for its place: its
    leading move, its alternatives and its parts in the same frame (the move sliced another
    way). A part that sits elsewhere ("✅ 1." beside a paragraph's "✅", whatever the emoji)
    carries replies of every alternative, and would make two alternatives look independent:
    its replies are left out, and so is its profile where the next part is placed."""

    profile: Counter
    own: Counter  # the profile of the phrasings competing for the move's place
    units: np.ndarray

    @classmethod
    def of(cls, profile: Counter, units: np.ndarray) -> "Frame":
        return cls(profile, profile, units)


def _link(lead: Finding, f: Finding, profiles: dict[str, Frame], frame_cos: float,
          part_share: float) -> tuple[int, float] | None:
    """How `f` belongs with `lead`: (1, share of its replies lead carries) as a part of the
    move, (0, frame cosine) as an alternative (judged on their frames' replies), or None. A
    finding that is not structural (a phrase inside sentences) is a part only when most of its
    replies (80%) carry the move: words that merely follow a move ("the meadow" after
    "Tellingly,") would bridge moves."""
    shared = len(np.intersect1d(f.units, lead.units, assume_unique=True))
    expected = len(f.units) * len(lead.units) / f.n_units
    own, theirs = profiles[f.id], profiles[lead.id]
    shape = structural(own.profile)
    if (is_part(shared, len(f.units), expected, part_share)
            and (shape or shared >= 0.8 * len(f.units))):
        return 1, shared / len(f.units)
    shared = len(np.intersect1d(own.units, theirs.units, assume_unique=True))
    if not shape or independent(shared, len(own.units) * len(theirs.units) / f.n_units):
        return None
    cos = _cosine(own.profile, theirs.profile)
    return (0, cos) if cos >= frame_cos else None


def _join_families(families: list[Finding], profiles: dict[str, Frame], frame_cos: float,
                   part_share: float, home: dict[str, str]) -> None:
    """Families that turn out to be alternatives or parts of one move join the larger, until
    none do."""
    while True:
        alive = [f for f in families if f.id not in home]
        pair = next(((a, b, key) for a in alive for b in alive
                     if b is not a and len(b.units) <= len(a.units)
                     and (key := _link(a, b, profiles, frame_cos, part_share)) is not None),
                    None)
        if pair is None:
            return
        _join(*pair, profiles, home, frame_cos)


def independent(shared: int, expected: float) -> bool:
    """Whether two findings' shared replies are consistent with independence: neither clearly
    apart (alternatives: at most half of `expected`, and Poisson p < 0.05 below it unless fewer
    than 3 are expected, too few to test) nor clearly together (3 sd above: one move, sliced two
    ways). A milder shortfall is no sign of alternatives: a pass that reads a reply's edges sees
    a late move more often where no closer follows it."""
    apart = shared <= expected / 2 and (expected < 3 or pdtr(shared, expected) < 0.05)
    return not apart and shared < expected + 3 * np.sqrt(expected)


def is_part(shared: int, size: int, expected: float, share: float = 0.25) -> bool:
    """Two findings are parts of one move when `share` of the smaller one's replies (a quarter)
    carry the other, three times what independence predicts."""
    return shared >= share * size and shared >= 3 * expected and shared >= 2


def _join(lead: Finding, f: Finding, key: tuple[int, float], profiles: dict[str, Frame],
          home: dict[str, str], frame_cos: float) -> None:
    """`f` (a finding or a family) joins `lead`'s family: its frame profile, and its replies
    if it is an alternative or a part in the same frame (`Frame`)."""
    union_into(lead, f)
    lead.tests += f.tests
    why = "part of the move" if key[0] else f"alternative (frame cosine {key[1]:.2f})"
    lead.evidence += [{"method": f.methods[0], "id": f.id, "label": f.label,
                       "n_flagged": int(len(f.units)), "joined": why}] + \
        [e for e in f.evidence if "joined" in e]
    lead.methods += [m for m in f.methods if m not in lead.methods]
    if f.q_value is not None:
        lead.q_value = min(lead.q_value if lead.q_value is not None else 1.0, f.q_value)
    move, other = profiles[lead.id], profiles[f.id]
    if not key[0] or _cosine(move.own, other.own) >= frame_cos:
        profiles[lead.id] = Frame(move.profile + other.profile, move.own + other.own,
                                  np.union1d(move.units, other.units))
    else:
        profiles[lead.id] = Frame(move.profile + other.profile, move.own, move.units)
    home.update({k: lead.id for k, v in home.items() if v == f.id} | {f.id: lead.id})


def _name(lead: Finding) -> None:
    """A family's label and description name its members."""
    joined = [e["label"] for e in lead.evidence if "joined" in e]
    if not joined:
        return
    lead.description = (f"A family of {len(joined) + 1} alternatives or parts of one move, in the "
                        f"same place in each reply: {lead.label!r} and " +
                        ", ".join(repr(x) for x in joined[:5]) +
                        (f" and {len(joined) - 5} more" if len(joined) > 5 else "") + ".")
    lead.label = f"{lead.label} (+{len(joined)} variants)"
