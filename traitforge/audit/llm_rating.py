"""Asking a model whether units carry a pattern: the autorater the LLM pass rates with and its
matcher replays with. Each unit is labelled STRICT, BROAD or NO; a reply that does not parse is
asked again (new seed, temperature 0.8) up to `retries` times, and stays None after that."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from traitforge.audit.llm_prompts import RATINGS, parse_rating, rate_prompt
from traitforge.audit.units import Unit

RETRY_TEMPERATURE = 0.8
TOKENS = {"scan": 400, "merge": 160, "autorate": 8}


@dataclass
class Pattern:
    id: str
    label: str
    definition: str
    slot: str = "body"
    source: str = "scan"  # or "patterns file"
    batches: int = 0
    members: list[str] = field(default_factory=list)
    named_by: str = "model"  # or "fallback": the most central candidate


class Asker:
    """A backend whose replies are parsed; one that does not parse is asked again with a new
    seed at RETRY_TEMPERATURE, up to `retries` times, and stays None after that."""

    def __init__(self, backend, seed: int = 0, retries: int = 1):
        self.backend, self.seed, self.retries = backend, seed, retries
        self.calls: dict[str, int] = {}
        self.retried: dict[str, int] = {}

    def ask(self, stage: str, chats: list[list[dict]], parse, tick=None) -> tuple[list, list[str]]:
        """The parsed replies (None where every attempt failed) and the last raw replies."""
        parsed, raw = [None] * len(chats), [""] * len(chats)
        todo = list(range(len(chats)))
        for attempt in range(self.retries + 1):
            if not todo:
                break
            replies = self.backend.generate([chats[i] for i in todo], TOKENS[stage],
                                            RETRY_TEMPERATURE if attempt else 0.0,
                                            self.seed + attempt, progress=None if attempt else tick)
            self.calls[stage] = self.calls.get(stage, 0) + len(todo)
            if attempt:
                self.retried[stage] = self.retried.get(stage, 0) + len(todo)
            for i, reply in zip(todo, replies):
                raw[i], parsed[i] = reply, parse(reply)
            todo = [i for i in todo if parsed[i] is None]
        return parsed, raw


def chat(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def rate(asker: Asker, patterns: list[Pattern], units: list[Unit], idx: np.ndarray,
         rate_chars: int, tick=None) -> list[list[str | None]]:
    """Each pattern's rating of each unit in `idx` (None: unparseable)."""
    chats = [chat(rate_prompt(p.label, p.definition, units[i].text, units[i].prompt, rate_chars))
             for p in patterns for i in idx]
    if getattr(asker.backend, "name", "") == "local":
        # A local model's label is the likeliest of the three replies: it is always one of them.
        parsed = [RATINGS[k] for k in asker.backend.choose(chats, [list(RATINGS)] * len(chats))]
        asker.calls["autorate"] = asker.calls.get("autorate", 0) + len(chats)
        if tick:
            tick(len(chats))
    else:
        parsed, _ = asker.ask("autorate", chats, parse_rating, tick)
    n = len(idx)
    return [parsed[k * n:(k + 1) * n] for k in range(len(patterns))]


def strict_units(idx: np.ndarray, ratings: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """(the units rated STRICT, the units rated at all) among `idx`."""
    strict = np.array([r == "STRICT" for r in ratings], bool)
    rated = np.array([r is not None for r in ratings], bool)
    return idx[strict], idx[rated]
