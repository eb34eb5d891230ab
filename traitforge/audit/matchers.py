"""Matchers: what says whether a text carries a pattern, and where. Every finding carries one; a
pass detects with the same code its matcher replays with on new text (`audit apply`, uptake).
(The LLM pass rates a sample of units; its matcher rates every unit it is given.)

Each matcher's `match(context)` returns one row per unit it flags (unit, start, end: the span
of the unit's first match), and `to_json`/`from_json` round-trip it through audit.json.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import polars as pl

from traitforge.audit.clustering import nearest, project
from traitforge.audit.llm_rating import Pattern, rate, strict_units
from traitforge.audit.match_context import MatchContext
from traitforge.audit.ngram_counts import ngram_keys, ngram_regex, pairs_in
from traitforge.audit.units import Unit
from traitforge.io import InputError

SPANS = {"unit": pl.Int64, "start": pl.Int64, "end": pl.Int64}
LEADING_BOUNDARY = re.compile(r"^((?:\(\?[a-zA-Z]+\))*)\\b")  # flags, then \b, opening a regex
FLAG_SCHEMA = {"unit": pl.Int64, "finding_id": pl.String, "start": pl.Int64, "end": pl.Int64}


def first_sentences(rows: pl.DataFrame) -> pl.DataFrame:
    """Each unit's earliest matching sentence of `rows` (a sentence frame)."""
    return (rows.sort("unit", "pos").unique("unit", keep="first", maintain_order=True)
            .select(pl.col("unit").cast(pl.Int64), "start", "end"))


def _spans(rows: dict[str, list]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SPANS)


@dataclass
class RegexMatcher:
    """A regex searched in one slot of each unit."""

    slot: str
    regex: str
    flags: str = ""  # "i": ignore case
    type: ClassVar[str] = "regex"
    needs_model: ClassVar[bool] = False

    def compiled(self) -> re.Pattern:
        return re.compile(self.regex, re.IGNORECASE if "i" in self.flags else 0)

    def locate(self, unit: Unit, pattern: re.Pattern | None = None) -> tuple[int, int] | None:
        """The absolute span of the first match in the unit's slot, or None."""
        start = unit.span(self.slot)[0]
        m = (pattern or self.compiled()).search(unit.slot_text(self.slot))
        return (start + m.start(), start + m.end()) if m else None

    def match(self, ctx: MatchContext) -> pl.DataFrame:
        """Polars' regex engine screens all slot texts at once; Python's `re` then finds the
        span in the few that pass. A regex only Python can compile is searched everywhere.
        The screen leaves out a word boundary the regex opens with: a screen passes more units
        without it, never fewer, and polars' engine gives up its fast path at a text's first
        non-ASCII character where a pattern has a (Unicode) word boundary, ten times slower on
        the replies here."""
        units = ctx.units
        texts = ctx.slot_texts(self.slot)
        screen = LEADING_BOUNDARY.sub(r"\1", ("(?i)" if "i" in self.flags else "") + self.regex)
        try:
            candidates = np.flatnonzero(texts.str.contains(screen).to_numpy())
        except pl.exceptions.PolarsError:
            candidates = range(len(units))
        pattern, rows = self.compiled(), {"unit": [], "start": [], "end": []}
        for i in candidates:
            span = self.locate(units[i], pattern)
            if span is not None:
                rows["unit"].append(int(i))
                rows["start"].append(span[0])
                rows["end"].append(span[1])
        return _spans(rows)

    def to_json(self) -> dict:
        return {"type": self.type, "slot": self.slot, "regex": self.regex, "flags": self.flags}


@dataclass
class NgramMatcher:
    """Token n-grams counted in one slot as the n-gram pass counts them: an n-gram with a
    content word that the unit's own prompt also holds is an echo, and does not count. The
    regex only places the span."""

    slot: str
    ngrams: list[list[str]]
    regex: str
    type: ClassVar[str] = "ngram"
    needs_model: ClassVar[bool] = False

    def candidates(self, ctx: MatchContext) -> np.ndarray:
        """The units of `ctx` that may carry an n-gram, ascending: those whose lower-cased slot
        text holds an n-gram's tokens in order with nothing but whitespace between them (its
        tokens are pieces of that text, and whitespace is all that lies between two tokens),
        looked for among those that hold an n-gram's longest token (a faster search)."""
        ngrams = [toks for toks in self.ngrams if toks]
        if not ngrams:
            return np.zeros(0, np.int64)
        holding = ctx.holding(self.slot, sorted({max(toks, key=len) for toks in ngrams}))
        sequences = "|".join(r"\s*".join(map(pl.escape_regex, toks)) for toks in ngrams)
        return ctx.matching(self.slot, sequences, holding)

    def spans(self, units: list[Unit], flagged: np.ndarray) -> np.ndarray:
        """The regex's first match in each flagged unit's slot (the whole slot if none). Where
        the n-grams are lower-case ASCII, an ASCII text is searched lower-cased by the regex
        without IGNORECASE: the same matches at the same places, and Python's `re` can then
        skip to where the first letter is (twice as fast)."""
        lowered = re.compile(self.regex).search if self._lowerable() else None
        search = None  # the case-blind regex, compiled only if some text needs it
        out = []
        for i in flagged.tolist():
            start, end = units[i].span(self.slot)
            text = units[i].text[start:end]
            if lowered and text.isascii():
                m = lowered(text.lower())
            else:
                search = search or RegexMatcher(self.slot, self.regex, "i").compiled().search
                m = search(text)
            out.append((start + m.start(), start + m.end()) if m else (start, end))
        return np.array(out, np.int64).reshape(len(out), 2)

    def _lowerable(self) -> bool:
        """Whether the regex is the n-gram pass's for these n-grams and they are lower-case
        ASCII: then on ASCII text a case-blind match is a match of the lower-cased text."""
        return (all(t.isascii() and t == t.lower() for toks in self.ngrams for t in toks)
                and self.regex == "|".join(f"(?:{ngram_regex(t)})" for t in self.ngrams))

    def match(self, ctx: MatchContext) -> pl.DataFrame:
        """The units that carry any of the n-grams (found in the tokens of their `candidates`,
        or of the context's shared ones), each at the regex's first match."""
        maybe = self.candidates(ctx)
        blocks, which = ctx.tokens(self.slot, maybe)
        found = pairs_in(blocks, ngram_keys(self.ngrams))
        flagged = np.unique(which[found["unit"].to_numpy()]).astype(np.int64)
        spans = self.spans(ctx.units, flagged)
        return _spans({"unit": flagged, "start": spans[:, 0], "end": spans[:, 1]})

    def to_json(self) -> dict:
        return {"type": self.type, "slot": self.slot, "ngrams": self.ngrams, "regex": self.regex}


@dataclass
class TemplateMatcher:
    """Sentences of one slot whose skeleton (keeping the audit's `frame_words`) is one of a
    family's."""

    slot: str
    skeletons: list[str]
    frame_words: list[str]
    type: ClassVar[str] = "template"
    needs_model: ClassVar[bool] = False

    def match(self, ctx: MatchContext) -> pl.DataFrame:
        rows = ctx.sentences(self.slot, self.frame_words)
        return first_sentences(rows.filter(pl.col("skeleton").is_in(self.skeletons)))

    def to_json(self) -> dict:
        return {"type": self.type, "slot": self.slot, "skeletons": self.skeletons,
                "frame_words": self.frame_words}


@dataclass
class ClusterMatcher:
    """Sentences of one slot whose embedding falls inside one of a family's clusters."""

    slot: str
    clusters: list[int]
    space: dict  # Clustering.space(): PCA mean and axes, centroids, radii
    frame_words: list[str]  # what the masked sentences keep (the audit's frame words)
    accurate: bool = False
    type: ClassVar[str] = "cluster"
    needs_model: ClassVar[bool] = False

    @staticmethod
    def assign(vectors: np.ndarray, space: dict) -> np.ndarray:
        """The cluster of each embedding in a saved space, or -1."""
        arr = {k: np.asarray(v, np.float32) for k, v in space.items()}
        dims = arr["components"].shape[0]
        return nearest(project(vectors, arr["mean"], arr["components"]),
                       arr["centroids"].reshape(-1, dims), arr["radius"])

    def match(self, ctx: MatchContext) -> pl.DataFrame:
        rows = ctx.sentences(self.slot, self.frame_words)
        labels = self.assign(ctx.vectors(self.slot, self.accurate, self.frame_words), self.space)
        return first_sentences(rows.filter(pl.Series(np.isin(labels, self.clusters))))

    def to_json(self) -> dict:
        return {"type": self.type, "slot": self.slot, "accurate": self.accurate,
                "clusters": self.clusters, "space": self.space, "frame_words": self.frame_words}


@dataclass
class LLMMatcher:
    """A classifier prompt: the model labels each unit, and STRICT units carry the pattern."""

    slot: str
    label: str
    definition: str
    prompt_sha256: str = ""
    type: ClassVar[str] = "llm"
    needs_model: ClassVar[bool] = True

    def match(self, ctx: MatchContext) -> pl.DataFrame:
        units = ctx.units
        idx = np.arange(len(units), dtype=np.int64)
        pattern = Pattern("", self.label, self.definition, self.slot)
        flagged, _ = strict_units(idx, rate(ctx.asker, [pattern], units, idx, ctx.rate_chars)[0])
        spans = [units[i].span(self.slot) for i in flagged]
        return _spans({"unit": flagged, "start": [s for s, _ in spans],
                       "end": [e for _, e in spans]})

    def to_json(self) -> dict:
        return {"type": self.type, "slot": self.slot, "label": self.label,
                "definition": self.definition, "prompt_sha256": self.prompt_sha256}


@dataclass
class AnyOf:
    """Several matchers of one merged finding: a unit carries it when any of them flags it, at
    the earliest span any of them finds there."""

    slot: str
    matchers: list = field(default_factory=list)
    type: ClassVar[str] = "any"

    @property
    def needs_model(self) -> bool:
        return any(m.needs_model for m in self.matchers)

    def match(self, ctx: MatchContext) -> pl.DataFrame:
        found = pl.concat([m.match(ctx) for m in self.matchers]).sort("unit", "start", "end")
        return found.unique("unit", keep="first", maintain_order=True)

    def to_json(self) -> dict:
        return {"type": self.type, "slot": self.slot,
                "matchers": [m.to_json() for m in self.matchers]}


KINDS = {m.type: m for m in (RegexMatcher, NgramMatcher, TemplateMatcher, ClusterMatcher,
                             LLMMatcher, AnyOf)}


def any_of(a, b):
    """One matcher for the units either flags (nested AnyOfs flattened), in `a`'s slot.
    Cluster matchers of one slot and embedding space become one (their clusters joined), and so
    do template matchers of one slot and frame-word set: a family of many members stores its
    space and its frame words once."""
    parts = [m for x in (a, b) for m in (x.matchers if isinstance(x, AnyOf) else [x])]
    folded: list = []
    for m in parts:
        same = next((k for k, o in enumerate(folded) if _foldable(o, m)), None)
        if same is None:
            folded.append(m)
        elif isinstance(m, ClusterMatcher):
            o = folded[same]
            folded[same] = ClusterMatcher(o.slot, sorted(set(o.clusters) | set(m.clusters)),
                                          o.space, o.frame_words, o.accurate)
        else:
            o = folded[same]
            folded[same] = TemplateMatcher(o.slot, sorted(set(o.skeletons) | set(m.skeletons)),
                                           o.frame_words)
    return AnyOf(a.slot, folded)


def _foldable(a, b) -> bool:
    if type(a) is not type(b) or a.slot != b.slot:
        return False
    if isinstance(a, ClusterMatcher):
        return (a.accurate == b.accurate and a.frame_words == b.frame_words
                and (a.space is b.space or a.space == b.space))
    return isinstance(a, TemplateMatcher) and a.frame_words == b.frame_words


def frame_read(frame: tuple, matchers: list) -> tuple:
    """A sentence frame's settings (lead, tail, middle, clauses) less the middle sentences and
    the leading clauses where none of `matchers` reads them: they are most of a frame's rows,
    and the other slots' rows are the same without them."""
    slots = {m.slot for m in _parts(matchers)}
    lead, tail, middle, clauses = frame
    return lead, tail, middle and "middle" in slots, clauses and "clause" in slots


def _parts(matchers: list) -> list:
    """The matchers, those inside an AnyOf in its stead."""
    return [p for m in matchers for p in (_parts(m.matchers) if isinstance(m, AnyOf) else [m])]


def flag_rows(matchers: list[tuple[str, object]], ctx: MatchContext) -> pl.DataFrame:
    """One row (unit index, finding_id, start, end) per unit of `ctx` that each (finding id,
    matcher) pair flags, by unit and id."""
    ngrams = [m for m in _parts([m for _, m in matchers]) if isinstance(m, NgramMatcher)]
    shared: dict[str, list[np.ndarray]] = {}
    for m in ngrams:
        shared.setdefault(m.slot, []).append(m.candidates(ctx))
    ctx.share_tokens(shared)
    frames = [m.match(ctx).with_columns(pl.lit(fid).alias("finding_id")) for fid, m in matchers]
    if not frames:
        return pl.DataFrame(schema=FLAG_SCHEMA)
    cast = [pl.col(k).cast(t) for k, t in FLAG_SCHEMA.items()]
    return pl.concat([x.select(cast) for x in frames]).sort("unit", "finding_id")


def from_json(data: dict):
    """The matcher audit.json holds, or an InputError saying why it cannot be replayed."""
    kind = KINDS.get(data.get("type")) if isinstance(data, dict) else None
    if kind is None:
        raise InputError(f"a matcher of type {data.get('type') if isinstance(data, dict) else data!r} "
                         "cannot be replayed (audited by an older traitforge?); run the audit again")
    fields = {k: v for k, v in data.items() if k != "type"}
    if kind is AnyOf:
        fields["matchers"] = [from_json(m) for m in fields.get("matchers", [])]
    try:
        return kind(**fields)
    except TypeError:
        raise InputError(f"a {data['type']} matcher without the fields it needs ({sorted(fields)}); "
                         "run the audit again") from None
