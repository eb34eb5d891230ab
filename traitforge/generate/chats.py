"""`generate chats`: an SFT corpus. Per item: a scenario, a user prompt, a critique of the
prompt, a baseline answer without a system prompt, a draft answer with the trait as system
prompt, a rewrite in a fresh context, an autorater, and near-duplicate prompts dropped."""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from traitforge.generate import parse
from traitforge.generate.engine import Engine, Item, round_robin, user
from traitforge.generate.prompts import CHAT_STEPS, DOMAINS, hashes, render
from traitforge.generate.runner import Context, GenerateConfig, run_generation
from traitforge.io import InputError
from traitforge.settings import setting


@dataclass
class ChatsConfig(GenerateConfig):
    min_rating: float = setting(6.0, "keep a chat when the autorater's realism and quality "
                                "(1-10) both reach this")
    dedup: float = setting(0.92, "drop a prompt this close (cosine) to an accepted one; 0 keeps "
                           "all")


def plan_items(traits, n: int, seed: int) -> list[Item]:
    """N items round-robin over the traits; each trait's items walk the scenario subjects in
    an order drawn from the seed, so item k is the same whatever N is."""
    orders = {}
    for t in traits:
        orders[t.id] = list(DOMAINS)
        random.Random(f"{seed}:{t.id}").shuffle(orders[t.id])
    items = round_robin(traits, n)
    for it in items:
        it.data["domain"] = orders[it.trait.id][(it.index // len(traits)) % len(DOMAINS)]
    return items


class Deduper:
    """Finds, for a prompt's embedding, the closest prompt accepted so far."""

    def __init__(self, threshold: float):
        self.threshold, self.embedder = threshold, None
        self.ids: list[str] = []
        self.vectors = np.zeros((0, 0), np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        if self.embedder is None:
            from traitforge.backends.embed import Embedder

            self.embedder = Embedder(accurate=True)  # the static one finds unrelated texts alike
        return self.embedder.encode(texts)

    def add(self, ids: list[str], vectors: np.ndarray) -> None:
        self.vectors = np.vstack([self.vectors, vectors]) if len(self.ids) else vectors
        self.ids += ids

    def nearest(self, vector: np.ndarray) -> tuple[str, float] | None:
        if not self.ids:
            return None
        sims = self.vectors @ vector
        k = int(np.argmax(sims))
        return self.ids[k], float(sims[k])


VERDICTS = ("VERDICT: keep", "VERDICT: revise")


class ChatsPipeline:
    name = "chats"
    templates = CHAT_STEPS
    run_keys = ("min_rating", "dedup")

    def __init__(self):
        self.dedup: Deduper | None = None

    @staticmethod
    def check(config: ChatsConfig) -> None:
        if not 1 <= config.min_rating <= 10:
            raise InputError("--min-rating must be between 1 and 10")
        if not 0 <= config.dedup <= 1:
            raise InputError("--dedup must be between 0 and 1 (0 keeps near-duplicates)")

    def plan(self, ctx: Context) -> list[Item]:
        items = plan_items(ctx.traits, ctx.config.n, ctx.config.seed)
        if ctx.config.dedup > 0:
            self.dedup = Deduper(ctx.config.dedup)
            done = ctx.engine.journal.done
            if done:
                self.dedup.add(list(done), self.dedup.encode(
                    [r["messages"][0]["content"] for r in done.values()]))
        return items

    def wave(self, ctx: Context, items: list[Item]) -> None:
        cfg, e, avoid = ctx.config, ctx.engine, ctx.avoid
        warm = cfg.temperature
        items = e.step("scenario", items, lambda it: user(render(
            "scenario", trait=it.trait.text, domain=it.data["domain"])),
            lambda r, it: parse.text(r, ("scenario", "situation"), min_words=8),
            cfg.tokens(200), warm)
        items = e.step("prompt", items, lambda it: user(render(
            "prompt", scenario=it.data["scenario"])),
            lambda r, it: parse.text(r, ("user message", "message", "prompt", "user"), min_words=3),
            cfg.tokens(300), warm)
        items = self._critique(e, items, cfg)
        items = e.step("baseline", items, lambda it: user(it.data["prompt"]),
                       lambda r, it: parse.text(r), cfg.tokens(1024), warm)
        items = e.step("response", items, lambda it: [
            {"role": "system", "content": self.system_prompt(it, avoid)},
            *user(it.data["prompt"])], self._answer(("answer",)), cfg.tokens(1024), warm)
        items = e.step("rewrite", items, lambda it: user(render(
            "rewrite", trait=it.trait.text, avoid=avoid, prompt=it.data["prompt"],
            draft=it.data["response"])),
            self._answer(("rewritten answer", "revised answer", "answer")), cfg.tokens(1024), warm)
        items = self._rate(e, items, cfg)
        if self.dedup is not None:
            items = self._dedup(e, items)
        for it in items:
            e.done(it, self.row(it, avoid))

    @staticmethod
    def system_prompt(it: Item, avoid: str) -> str:
        return render("system", trait=it.trait.text, avoid=avoid)

    @staticmethod
    def _answer(labels: tuple[str, ...]):
        def read(reply: str, it: Item) -> str:
            answer = parse.text(reply, labels)
            copied = parse.quoted(answer, it.trait.text)
            if copied:
                raise parse.Unusable(f"copies the traits document: '{copied}'", "quotes the traits")
            return answer
        return read

    @staticmethod
    def _critique(e: Engine, items: list[Item], cfg: ChatsConfig) -> list[Item]:
        def chat(it):
            return user(render("critique", trait=it.trait.text, scenario=it.data["scenario"],
                               prompt=it.data["prompt"]))

        if e.choosing:
            picks = e.choose("critique", items, chat, lambda it: list(VERDICTS))
            keep = [it for it, k in picks if k == 0]
            revised = e.step("improve", [it for it, k in picks if k == 1], lambda it: user(render(
                "improve", trait=it.trait.text, scenario=it.data["scenario"],
                prompt=it.data["prompt"])), lambda r, it: parse.text(r, ("message",), min_words=3),
                cfg.tokens(300), 0.0)
            for it in revised:
                it.data["prompt"] = it.data.pop("improve")
            return sorted(keep + revised, key=lambda it: it.index)
        out = []
        for it, revised in e.ask("critique", items, chat, lambda r, it: parse.verdict(r),
                                 cfg.tokens(400), 0.0):
            it.data["prompt"] = revised or it.data["prompt"]
            out.append(it)
        return out

    @staticmethod
    def _rate(e: Engine, items: list[Item], cfg: ChatsConfig) -> list[Item]:
        def chat(it):
            return user(render("rate", prompt=it.data["prompt"], response=it.data["rewrite"]))

        if e.choosing:  # realism first, then quality after the chosen realism line
            scale = range(1, 11)
            realism = {it.id: k + 1 for it, k in e.choose(
                "rate", items, chat, lambda it: [f"REALISM: {k}" for k in scale])}
            quality = {it.id: k + 1 for it, k in e.choose("rate", items, chat, lambda it: [
                f"REALISM: {realism[it.id]}\nQUALITY: {k}" for k in scale])}
            rated = [(it, {"realism": float(realism[it.id]), "quality": float(quality[it.id])})
                     for it in items]
        else:
            rated = e.ask("rate", items, chat, lambda r, it: parse.ratings(r), cfg.tokens(64), 0.0)
        out = []
        for it, ratings in rated:
            it.data["ratings"] = ratings
            if min(ratings.values()) < cfg.min_rating:
                e.fail(it, "rate", "rated out", ", ".join(f"{k} {v:g}" for k, v in ratings.items()))
            else:
                out.append(it)
        return out

    def _dedup(self, e: Engine, items: list[Item]) -> list[Item]:
        """The wave's prompts in plan order, each against every prompt accepted before it."""
        if not items:
            return items
        out = []
        for it, v in zip(items, self.dedup.encode([it.data["prompt"] for it in items])):
            near = self.dedup.nearest(v)
            if near and near[1] >= self.dedup.threshold:
                e.fail(it, "dedup", "near-duplicate", f"cosine {near[1]:.3f} to {near[0]}")
            else:
                self.dedup.add([it.id], v[None])
                out.append(it)
        return out

    def row(self, it: Item, avoid: str) -> dict:
        return {"messages": [{"role": "user", "content": it.data["prompt"]},
                             {"role": "assistant", "content": it.data["rewrite"]}],
                "trait": it.trait.id, "scenario": it.data["scenario"],
                "system_prompt": self.system_prompt(it, avoid), "baseline": it.data["baseline"],
                "draft": it.data["response"], "ratings": it.data["ratings"],
                "prompt_hashes": hashes(CHAT_STEPS)}


def run_chats(config: ChatsConfig, progress=None) -> dict:
    """Generate `config.n` chats into `config.out`; returns the run's summary."""
    return run_generation(ChatsPipeline(), config, progress)
