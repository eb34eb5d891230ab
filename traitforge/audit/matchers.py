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
from traitforge.audit.llm_rating import Asker, Pattern, rate, strict_units
from traitforge.audit.ngram_counts import STOP_WORDS, Blocks, ngram_keys, ngram_regex, pairs_in
from traitforge.audit.sentences import sentence_frame
from traitforge.audit.units import Unit
from traitforge.io import InputError

SPANS = {"unit": pl.Int64, "start": pl.Int64, "end": pl.Int64}
FLAG_SCHEMA = {"unit": pl.Int64, "finding_id": pl.String, "start": pl.Int64, "end": pl.Int64}


class MatchContext:
    """The units matchers look at, and what several matchers share over them: the sentence
    frame (its skeletons keeping `frame_words` unless a matcher names its own), the sentence
    embeddings and the tokens per slot, and a model to ask (for LLM matchers). `embedders` may
    be shared by several contexts, for the embedder to be loaded once."""

    def __init__(self, units: list[Unit], lead: int = 3, tail: int = 2, middle: bool = False,
                 clauses: bool = False, asker: Asker | None = None, rate_chars: int = 2000,
                 frame_words: list[str] | None = None, embedders: dict | None = None):
        self.units, self.frame = units, (lead, tail, middle, clauses)
        self.asker, self.rate_chars = asker, rate_chars
        self.frame_words = sorted(STOP_WORDS) if frame_words is None else frame_words
        self._sentences: dict[tuple[str, ...], pl.DataFrame] = {}
        self._slot_texts: dict[str, pl.Series] = {}
        self._shared: dict[str, np.ndarray] = {}  # slot -> the units whose tokens are shared
        self._tokens: dict[str, Blocks] = {}
        self._vectors: dict[tuple[str, bool], np.ndarray] = {}
        self._embedders: dict[bool, object] = {} if embedders is None else embedders

    def slot_texts(self, slot: str) -> pl.Series:
        """The text of each unit's `slot` (read once for all matchers)."""
        if slot not in self._slot_texts:
            self._slot_texts[slot] = slot_series(self.units, slot)
        return self._slot_texts[slot]

    def share_tokens(self, matchers: list) -> None:
        """Tokenize once, for all the n-gram matchers among `matchers` (AnyOfs opened) that
        read one slot, the union of the units each would tokenize (`NgramMatcher.candidates`),
        where those overlap: less work than each tokenizing its own."""
        by_slot: dict[str, list[np.ndarray]] = {}
        for m in _flat(matchers):
            if isinstance(m, NgramMatcher):
                by_slot.setdefault(m.slot, []).append(m.candidates(self.slot_texts(m.slot)))
        for slot, each in by_slot.items():
            union = np.unique(np.concatenate(each))
            if sum(map(len, each)) > len(union):
                self._shared[slot] = union

    def tokens(self, slot: str, units: np.ndarray) -> tuple[Blocks, np.ndarray]:
        """The tokens of the slot texts and prompts of at least `units` (indices, ascending),
        and which units they are: the shared ones where `share_tokens` chose them."""
        if slot in self._shared and slot not in self._tokens:
            self._tokens[slot] = self._blocks(slot, self._shared[slot])
        if slot in self._tokens:
            return self._tokens[slot], self._shared[slot]
        return self._blocks(slot, units), units

    def _blocks(self, slot: str, units: np.ndarray) -> Blocks:
        return Blocks(self.slot_texts(slot).gather(units).to_list(),
                      [self.units[i].prompt for i in units.tolist()])

    def sentences(self, slot: str | None = None, keep: list[str] | None = None) -> pl.DataFrame:
        key = tuple(self.frame_words if keep is None else keep)
        if key not in self._sentences:
            self._sentences[key] = sentence_frame(self.units, list(key), *self.frame)
        frame = self._sentences[key]
        return frame if slot is None else frame.filter(pl.col("slot") == slot)

    def embedder(self, accurate: bool = False):
        """The sentence embedder (loaded once)."""
        if accurate not in self._embedders:
            from traitforge.backends.embed import Embedder

            self._embedders[accurate] = Embedder(accurate)
        return self._embedders[accurate]

    def vectors(self, slot: str, accurate: bool, keep: list[str] | None = None) -> np.ndarray:
        """Embeddings of the slot's masked sentences (keeping `keep`), in frame order."""
        key = (slot, accurate, tuple(self.frame_words if keep is None else keep))
        if key not in self._vectors:
            texts = self.sentences(slot, keep)["masked"].to_list()
            self._vectors[key] = self.embedder(accurate).encode(texts)
        return self._vectors[key]


def slot_series(units: list[Unit], slot: str) -> pl.Series:
    return pl.Series([u.slot_text(slot) for u in units], dtype=pl.String)


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
        span in the few that pass. A regex only Python can compile is searched everywhere."""
        units = ctx.units
        texts = ctx.slot_texts(self.slot)
        screen = ("(?i)" if "i" in self.flags else "") + self.regex
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

    def candidates(self, texts: pl.Series) -> np.ndarray:
        """The units that may carry an n-gram, ascending: those whose lower-cased slot text
        (`texts`) holds an n-gram's longest token, as a token is a piece of that text."""
        longest = sorted({max(toks, key=len) for toks in self.ngrams if toks})
        if not longest:
            return np.zeros(0, np.int64)
        return np.flatnonzero(texts.str.to_lowercase().str.contains_any(longest).to_numpy())

    def spans(self, units: list[Unit], flagged: np.ndarray) -> np.ndarray:
        """The regex's first match in each flagged unit's slot (the whole slot if none). Where
        the n-grams are lower-case ASCII, an ASCII text is searched lower-cased by the regex
        without IGNORECASE: the same matches at the same places, and Python's `re` can then
        skip to where the first letter is (twice as fast)."""
        search = RegexMatcher(self.slot, self.regex, "i").compiled().search
        lowered = re.compile(self.regex).search if self._lowerable() else None
        out = []
        for i in flagged.tolist():
            start, end = units[i].span(self.slot)
            text = units[i].text[start:end]
            m = lowered(text.lower()) if lowered and text.isascii() else search(text)
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
        maybe = self.candidates(ctx.slot_texts(self.slot))
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


def _flat(matchers: list) -> list:
    """The matchers, AnyOfs replaced by theirs."""
    return [m for x in matchers for m in (x.matchers if isinstance(x, AnyOf) else [x])]


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
    ctx.share_tokens([m for _, m in matchers])
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
