"""What several matchers share over the units they look at (`MatchContext`): slot texts, the
sentence frame, sentence embeddings, tokens, and a model to ask."""
from __future__ import annotations

import numpy as np
import polars as pl

from traitforge.audit.llm_rating import Asker
from traitforge.audit.ngram_counts import STOP_WORDS, Blocks
from traitforge.audit.sentences import sentence_frame
from traitforge.audit.units import Unit


class MatchContext:
    """The units matchers look at, and what several matchers share over them: the sentence
    frame (its skeletons keeping `frame_words` unless a matcher names its own), the sentence
    embeddings and the tokens per slot, and a model to ask (for LLM matchers). `embedders` may
    be shared by several contexts, for the embedder to be loaded once; `sentence_spans`, the
    units' `sentence_table` where it is known, saves the frame splitting them again."""

    def __init__(self, units: list[Unit], lead: int = 3, tail: int = 2, middle: bool = False,
                 clauses: bool = False, asker: Asker | None = None, rate_chars: int = 2000,
                 frame_words: list[str] | None = None, embedders: dict | None = None,
                 sentence_spans: pl.DataFrame | None = None):
        self.units, self.frame = units, (lead, tail, middle, clauses)
        self.sentence_spans = sentence_spans
        self.asker, self.rate_chars = asker, rate_chars
        self.frame_words = sorted(STOP_WORDS) if frame_words is None else frame_words
        self._sentences: dict[tuple[str, ...], pl.DataFrame] = {}
        self._slot_texts: dict[str, pl.Series] = {}
        self._lowered: dict[str, pl.Series] = {}
        self._holding: dict[tuple, np.ndarray] = {}
        self._matching: dict[tuple[str, str], np.ndarray] = {}
        self._shared: dict[str, tuple] = {}  # slot -> shared units, their Blocks (or None)
        self._vectors: dict[tuple[str, bool], np.ndarray] = {}
        self._embedders: dict[bool, object] = {} if embedders is None else embedders

    def slot_texts(self, slot: str) -> pl.Series:
        """The text of each unit's `slot` (read once for all matchers)."""
        if slot not in self._slot_texts:
            self._slot_texts[slot] = slot_series(self.units, slot)
        return self._slot_texts[slot]

    def holding(self, slot: str, words: list[str]) -> np.ndarray:
        """The units whose lower-cased `slot` text holds any of `words`, ascending (lower-cased
        once for all matchers, and each set found once)."""
        key = (slot, tuple(words))
        if key not in self._holding:
            self._holding[key] = np.flatnonzero(
                self.lowered(slot).str.contains_any(words).to_numpy())
        return self._holding[key]

    def matching(self, slot: str, pattern: str, among: np.ndarray) -> np.ndarray:
        """Those of the units `among` (ascending) whose lower-cased `slot` text matches polars'
        regex `pattern`, found once for all matchers asking; all of them where polars cannot
        compile it (too large)."""
        key = (slot, pattern)
        if key not in self._matching:
            try:
                hits = self.lowered(slot).gather(among).str.contains(pattern).to_numpy()
                self._matching[key] = among[hits]
            except pl.exceptions.PolarsError:
                self._matching[key] = among
        return self._matching[key]

    def lowered(self, slot: str) -> pl.Series:
        """The lower-cased text of each unit's `slot`, as the n-gram pass tokenizes it (once)."""
        if slot not in self._lowered:
            self._lowered[slot] = self.slot_texts(slot).str.to_lowercase()
        return self._lowered[slot]

    def share_tokens(self, candidates: dict[str, list[np.ndarray]]) -> None:
        """Tokenize once, for the n-gram matchers of each slot, the union of the units each
        would tokenize (`candidates`, by slot), where those overlap: less work than each
        tokenizing its own."""
        for slot, each in candidates.items():
            union = np.unique(np.concatenate(each))
            if sum(map(len, each)) > len(union) and not self._covers(slot, union):
                self._shared[slot] = (union, None)  # tokenized when first read

    def tokens(self, slot: str, units: np.ndarray) -> tuple[Blocks, np.ndarray]:
        """The tokens of the slot texts and prompts of at least `units` (indices, ascending),
        and which units they are: the shared ones where `share_tokens` chose ones that hold
        `units`."""
        if not self._covers(slot, units):
            return self._blocks(slot, units), units
        shared, blocks = self._shared[slot]
        if blocks is None:
            blocks = self._blocks(slot, shared)
            self._shared[slot] = (shared, blocks)
        return blocks, shared

    def _covers(self, slot: str, units: np.ndarray) -> bool:
        return slot in self._shared and bool(np.isin(units, self._shared[slot][0]).all())

    def _blocks(self, slot: str, units: np.ndarray) -> Blocks:
        return Blocks(self.slot_texts(slot).gather(units).to_list(),
                      [self.units[i].prompt for i in units.tolist()])

    def sentences(self, slot: str | None = None, keep: list[str] | None = None) -> pl.DataFrame:
        key = tuple(self.frame_words if keep is None else keep)
        if key not in self._sentences:
            self._sentences[key] = sentence_frame(self.units, list(key), *self.frame,
                                                  table=self.sentence_spans)
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
