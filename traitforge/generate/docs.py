"""`generate docs`: a midtraining corpus. Per trait, document types are brainstormed, then ideas
for each type (kept in the work directory's plan.json); each document is written, reviewed,
revised where the review found problems, and checked for placeholders."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from traitforge.generate import parse
from traitforge.generate.engine import Item, round_robin, user
from traitforge.generate.prompts import DOC_STEPS, hashes, render
from traitforge.generate.runner import Context, GenerateConfig, run_generation
from traitforge.io import InputError, atomic_write_text
from traitforge.settings import setting

MIN_WORDS = 40  # a shorter reply is not a document
IDEAS_PER_TYPE = 10  # asked of one call at most: a trait needing more gets more types


@dataclass
class DocsConfig(GenerateConfig):
    doc_types: int = setting(5, "document types brainstormed per trait, at least", flag="--types")


class DocsPipeline:
    name = "docs"
    templates = DOC_STEPS
    run_keys = ("doc_types",)

    @staticmethod
    def check(config: DocsConfig) -> None:
        if config.doc_types < 1:
            raise InputError("--types must be at least 1")

    def plan(self, ctx: Context) -> list[Item]:
        """N items round-robin over the traits, each with a document type and idea: from
        plan.json when an earlier run wrote it, else brainstormed now and written there. An item
        the brainstorm could not serve fails."""
        items = round_robin(ctx.traits, ctx.config.n)
        path = ctx.paths.work / "plan.json"
        if path.is_file():
            assigned = json.loads(path.read_text(encoding="utf-8"))
        else:
            assigned = self._brainstorm(ctx, items)
            atomic_write_text(path, json.dumps(assigned, indent=1, ensure_ascii=False) + "\n")
        for it in items:
            a = assigned[it.id]
            if "failed" in a:
                ctx.engine.fail(it, **a["failed"])
            else:
                it.data.update(a)
        return items

    @staticmethod
    def _brainstorm(ctx: Context, items: list[Item]) -> dict[str, dict]:
        """Each item's {doc_type, idea}, or {failed: ...} where the brainstorm gave none."""
        cfg, e = ctx.config, ctx.engine
        by_trait: dict[str, list[Item]] = {}
        for it in items:
            by_trait.setdefault(it.trait.id, []).append(it)
        traits = {t.id: t for t in ctx.traits if t.id in by_trait}
        lost: dict = {}  # trait id, or (trait id, type index): the failure

        def keep(step, key):
            return lambda unit, reason, detail, reply: lost.__setitem__(key(unit), {
                "step": step, "reason": reason, "detail": detail, "reply": reply})

        wanted = {t: min(len(its), max(cfg.doc_types, math.ceil(len(its) / IDEAS_PER_TYPE)))
                  for t, its in by_trait.items()}
        types = {t.id: kinds for t, kinds in e.ask(
            "types", list(traits.values()),
            lambda t: user(render("types", trait=t.text, k=wanted[t.id])),
            lambda r, t: parse.items(r, short=True)[:wanted[t.id]],
            cfg.tokens(20 * max(wanted.values()) + 50), cfg.temperature,
            keep("types", lambda t: t.id))}
        need = {t: math.ceil(len(by_trait[t]) / len(kinds)) for t, kinds in types.items()}
        ideas = dict(e.ask(
            "ideas", [(t, k) for t, kinds in types.items() for k in range(len(kinds))],
            lambda u: user(render("ideas", trait=traits[u[0]].text, k=need[u[0]],
                                  doc_type=types[u[0]][u[1]])),
            lambda r, u: parse.items(r)[:need[u[0]]],
            cfg.tokens(60 * max(need.values(), default=1) + 50), cfg.temperature,
            keep("ideas", lambda u: u)))
        assigned = {}
        for t, its in by_trait.items():
            for j, it in enumerate(its):
                if t not in types:
                    assigned[it.id] = {"failed": lost[t]}
                    continue
                k, m = j % len(types[t]), j // len(types[t])
                if (t, k) not in ideas:
                    assigned[it.id] = {"failed": lost[(t, k)]}
                elif m >= len(ideas[(t, k)]):
                    assigned[it.id] = {"failed": {
                        "step": "ideas", "reason": "too few ideas", "reply": "",
                        "detail": f"{len(ideas[(t, k)])} ideas for {types[t][k]!r}"}}
                else:
                    assigned[it.id] = {"doc_type": types[t][k], "idea": ideas[(t, k)][m]}
        return assigned

    def wave(self, ctx: Context, items: list[Item]) -> None:
        cfg, e, avoid = ctx.config, ctx.engine, ctx.avoid
        items = e.step("write", items, lambda it: user(render(
            "write", doc_type=it.data["doc_type"], idea=it.data["idea"], trait=it.trait.text,
            avoid=avoid)), _document, cfg.tokens(1024), cfg.temperature)
        items = e.step("review", items, lambda it: user(render(
            "review", doc_type=it.data["doc_type"], trait=it.trait.text, text=it.data["write"])),
            lambda r, it: parse.problems(r) + [f"{p} is a placeholder: use a concrete detail"
                                               for p in parse.placeholders(it.data["write"])],
            cfg.tokens(300), 0.0)
        fix = [it for it in items if it.data["review"]]
        revised = {it.id for it in e.step("revise", fix, lambda it: user(render(
            "revise", doc_type=it.data["doc_type"], trait=it.trait.text, avoid=avoid,
            problems="\n".join(f"- {p}" for p in it.data["review"]), text=it.data["write"])),
            _document, cfg.tokens(1024), cfg.temperature)}
        for it in items:
            if it.data["review"] and it.id not in revised:
                continue  # its revision failed, and was recorded
            final = it.data["revise"] if it.id in revised else it.data["write"]
            left = parse.placeholders(final)
            if left:
                e.fail(it, "placeholders", "placeholder", ", ".join(left), final)
            else:
                e.done(it, {"text": final, "trait": it.trait.id, "doc_type": it.data["doc_type"],
                            "idea": it.data["idea"], "prompt_hashes": hashes(DOC_STEPS)})


def _document(reply: str, it: Item) -> str:
    doc = parse.text(reply, ("document", "revised document"), min_words=MIN_WORDS)
    copied = parse.quoted(doc, it.trait.text)
    if copied:
        raise parse.Unusable(f"copies the traits document: '{copied}'", "quotes the traits")
    return doc


def run_docs(config: DocsConfig, progress=None) -> dict:
    """Generate `config.n` documents into `config.out`; returns the run's summary."""
    return run_generation(DocsPipeline(), config, progress)
