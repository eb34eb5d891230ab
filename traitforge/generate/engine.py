"""Runs a pipeline's items in waves: each step is one backend call over the wave's pending
items (batched locally, concurrent over HTTP); unusable replies are asked again, then recorded
as failures; every finished item goes to the journal at once."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from traitforge.generate.journal import Journal
from traitforge.generate.parse import Unusable
from traitforge.generate.traits import Trait

RETRY_TEMPERATURE = 0.8  # so that a greedy model does not give the same reply again
REPLY_CHARS = 300  # of a bad reply, kept with its failure


@dataclass
class Item:
    """One planned record: its place in the plan, its id, its trait and what the steps made."""

    index: int
    id: str
    trait: Trait
    data: dict = field(default_factory=dict)


def round_robin(traits: list[Trait], n: int) -> list[Item]:
    """N items dealt over the traits in turn; ids are the trait's id and its item number."""
    return [Item(i, f"{traits[i % len(traits)].id}-{i // len(traits):04d}", traits[i % len(traits)])
            for i in range(n)]


def user(content: str) -> list[dict]:
    return [{"role": "user", "content": content}]


class Meter:
    """The progress line: records finished of planned, and calls, cache hits, tokens and cost."""

    def __init__(self, progress, label: str, total: int, backend, prices: tuple):
        self.progress, self.label, self.backend, self.prices = progress, label, backend, prices
        self.calls, self.wave, self.step = 0, "", ""
        self.task = progress.add_task(label, total=total) if progress is not None else None

    def usage(self) -> dict:
        s = self.backend.stats
        return {"calls": self.calls, "cache_hits": s.get("cache_hits", 0),
                "requests": s.get("requests", 0), "prompt_tokens": s.get("prompt_tokens", 0),
                "completion_tokens": s.get("completion_tokens", 0)}

    def cost(self) -> float | None:
        price_in, price_out = self.prices
        if price_in is None and price_out is None:
            return None
        u = self.usage()
        return round((u["prompt_tokens"] * (price_in or 0)
                      + u["completion_tokens"] * (price_out or 0)) / 1e6, 6)

    def show(self, finished: int | None = None) -> None:
        if self.task is None:
            return
        u, cost = self.usage(), self.cost()
        parts = (self.label, self.wave, self.step, f"{u['calls']} calls, {u['cache_hits']} cached",
                 f"{u['prompt_tokens']:,} in / {u['completion_tokens']:,} out tokens",
                 f"${cost:.4f}" if cost is not None else "")
        text = " · ".join(p for p in parts if p)
        self.progress.update(self.task, description=text,
                             **({"completed": finished} if finished is not None else {}))

    def tick(self, n: int = 1) -> None:
        """The backend's callback as replies arrive (n at a time): refreshes the line."""
        self.show()


class Engine:
    def __init__(self, backend, journal: Journal, meter: Meter, retries: int, seed: int):
        self.backend, self.journal, self.meter = backend, journal, meter
        self.retries, self.seed = retries, seed
        # A local model picks among a judging step's fixed answers by log-likelihood: it
        # cannot fail to answer in form, which small models rarely manage in free text.
        self.choosing = getattr(backend, "name", "") == "local"

    def choose(self, step: str, units: list, chat: Callable[[object], list[dict]],
               options: Callable[[object], list[str]]) -> list[tuple[object, int]]:
        """(unit, index of the option its reply would be) for each unit, in order."""
        if not units:
            return []
        self.meter.step = step
        self.meter.calls += len(units)
        picks = self.backend.choose([chat(u) for u in units], [options(u) for u in units])
        self.meter.show()
        return list(zip(units, picks))

    def ask(self, step: str, units: list, chat: Callable[[object], list[dict]],
            parse: Callable[[str, object], object], max_new_tokens: int, temperature: float,
            fail: Callable | None = None) -> list[tuple[object, object]]:
        """(unit, parsed reply) for each unit whose reply could be used, in order. An unusable
        reply is asked again with a new seed and at least RETRY_TEMPERATURE, up to `retries`
        times; then `fail(unit, reason, detail, reply)` (default: the item fails at `step`)."""
        fail = fail or (lambda it, *why: self.fail(it, step, *why))
        order = {id(u): k for k, u in enumerate(units)}
        got, pending, last = [], list(units), {}
        for attempt in range(self.retries + 1):
            if not pending:
                break
            self.meter.step = step if not attempt else f"{step} (retry {attempt})"
            self.meter.calls += len(pending)
            replies = self.backend.generate(
                [chat(u) for u in pending], max_new_tokens,
                temperature if not attempt else max(temperature, RETRY_TEMPERATURE),
                self.seed + attempt, progress=self.meter.tick)
            again = []
            for u, reply in zip(pending, replies):
                try:
                    got.append((u, parse(reply, u)))
                except Unusable as e:
                    again.append(u)
                    last[id(u)] = (e, reply)
            pending = again
        for u in pending:
            e, reply = last[id(u)]
            fail(u, e.reason, str(e), reply)
        return sorted(got, key=lambda pair: order[id(pair[0])])

    def step(self, name: str, items: list[Item], chat, parse, max_new_tokens: int,
             temperature: float) -> list[Item]:
        """`ask`, keeping each parsed reply as item.data[name]; the items that got one."""
        out = []
        for it, value in self.ask(name, items, chat, parse, max_new_tokens, temperature):
            it.data[name] = value
            out.append(it)
        return out

    def fail(self, item: Item, step: str, reason: str, detail: str = "", reply: str = "") -> None:
        self.journal.add("failed", item.id, {
            "id": item.id, "index": item.index, "trait": item.trait.id, "step": step,
            "reason": reason, "detail": detail, "reply": reply[:REPLY_CHARS]})
        self._show()

    def done(self, item: Item, row: dict) -> None:
        self.journal.add("done", item.id, {"id": item.id, **row})
        self._show()

    def _show(self) -> None:
        self.meter.show(len(self.journal.done) + len(self.journal.failed))

    def run(self, items: list[Item], wave: Callable[[list[Item]], None], size: int) -> None:
        """Every item not yet in the journal, `size` at a time; each wave must finish or fail
        all of its items."""
        self._show()
        pending = [it for it in items if not self.journal.finished(it.id)]
        waves = -(-len(pending) // size)
        for k, lo in enumerate(range(0, len(pending), size), 1):
            self.meter.wave = f"wave {k}/{waves}"
            chunk = pending[lo:lo + size]
            wave(chunk)
            left = [it.id for it in chunk if not self.journal.finished(it.id)]
            if left:
                raise RuntimeError(f"a wave left items unfinished: {left[:5]}")
