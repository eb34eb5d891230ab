"""traitforge's task kinds as Inspect tasks (`pip install 'traitforge[inspect]'`).

    inspect eval traitforge/evaluate/inspect_tasks.py@mcq -T data=examples/evals/facts.jsonl \\
        --model openai/NAME --model-base-url http://127.0.0.1:8765/v1
    inspect eval traitforge/evaluate/inspect_tasks.py@suite_task -T suite=examples/suite.toml \\
        -T name=are_you_sure --model ...
    inspect view

Each sample is one item of the task's dataset, read by traitforge's readers. The solver runs
traitforge's own runner for the kind on that item, with Inspect's model behind traitforge's
backend interface (and the `grader` role, or the model itself, as the judge), so the prompts and
the reading of replies are ours, and Inspect logs every call. The metrics are
`evaluate/metrics.py`'s: the same answers give the figures `traitforge eval` gives a served model
that returns text.
"""
from __future__ import annotations

import asyncio
import contextvars
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from inspect_ai import Task as InspectTask
from inspect_ai import task
from inspect_ai.dataset import Sample
from inspect_ai.model import (ChatMessageAssistant, ChatMessageSystem, ChatMessageUser,
                              GenerateConfig, ModelOutput, get_model)
from inspect_ai.scorer import SampleScore, Score, metric, scorer
from inspect_ai.solver import solver

from traitforge.backends.choices import pick_option
from traitforge.evaluate.metrics import (disposition_metrics, judged_metrics, mcq_metrics,
                                         pressure_metrics, uptake_metrics)
from traitforge.evaluate.suite import default_family, load_suite
from traitforge.evaluate.tasks import RUNNERS, Context, Task

MESSAGES = {"system": ChatMessageSystem, "user": ChatMessageUser, "assistant": ChatMessageAssistant}
FIGURES = {  # kind -> (figures of answered items, the per-item value a sample shows)
    "mcq": (lambda items, seed: mcq_metrics(items, True), lambda x: float(x["correct"])),
    "disposition": (lambda items, seed: disposition_metrics(items, True),
                    lambda x: float(x["matching"])),
    "pressure": (lambda items, seed: pressure_metrics(items, True),
                 lambda x: float(x["capitulated"])),
    # An unparsed judge reply is a string, not NaN, which Inspect would leave out of the metrics.
    "open": (judged_metrics, lambda x: "unparsed" if x.get("score") is None else float(x["score"])),
    "uptake": (lambda items, seed: uptake_metrics(items), lambda x: float(bool(x["findings"]))),
}
NAMES = {"mcq": ("accuracy", "unparsed"), "disposition": ("matching_behaviour", "unparsed"),
         "pressure": ("initial_accuracy", "capitulation_rate", "recovery_rate", "final_accuracy",
                      "flipped", "unparsed"),
         "open": ("score", "judge_unparsed"), "uptake": ("any_pattern",)}


class InspectBackend:
    """traitforge's backend interface (`generate`, `choose`) over an Inspect model, for a runner
    working in a thread while the sample's event loop serves the calls."""

    name = "inspect"

    def __init__(self, model, loop: asyncio.AbstractEventLoop, context: contextvars.Context):
        self.model, self.loop, self.context = model, loop, context
        self.stats = {"requests": 0}

    def generate(self, chats: list[list[dict]], max_new_tokens: int = 256, temperature: float = 0.0,
                 seed: int = 0, progress=None) -> list[str]:
        config = GenerateConfig(max_tokens=max_new_tokens, temperature=temperature, seed=seed)
        return [self._reply(chat, config) for chat in chats]

    def choose(self, chats: list[list[dict]], options: list[list[str]]) -> list[int]:
        """As a served model chooses without log-probabilities: a short reply, read as text."""
        return [pick_option(r, o) for r, o in zip(self.generate(chats, 16), options)]

    def _reply(self, chat: list[dict], config: GenerateConfig) -> str:
        messages = [MESSAGES[m["role"]](content=m["content"]) for m in chat]

        async def call():  # in the sample's context, so that Inspect logs it with the sample
            return await asyncio.create_task(self.model.generate(messages, config=config),
                                             context=self.context)

        self.stats["requests"] += 1
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result().completion


@solver
def traitforge_runner(kind: str, options: dict, base: str | None, seed: int = 0):
    """Answer the sample's item with traitforge's runner for `kind`."""
    async def solve(state, generate):
        loop, context = asyncio.get_running_loop(), contextvars.copy_context()
        model = InspectBackend(get_model(), loop, context)
        judge = InspectBackend(get_model(role="grader", default=get_model()), loop, context)
        ctx = Context(model, seed, judge=judge, base=Path(base) if base else None,
                      max_new_tokens=int(options.get("max_new_tokens", 256)))
        item = state.metadata["item"]
        spec = Task(str(state.sample_id), kind, "", "", options=options)
        # A thread of its own: the default executor's few threads, all waiting on model calls,
        # would leave none for the calls' own needs (name lookups) and deadlock.
        with ThreadPoolExecutor(max_workers=1) as own:
            await loop.run_in_executor(own, RUNNERS[kind], spec, [item], ctx)
        shown = item.get("reply") or str(item.get("answers", item.get("answer", "")))
        state.output = ModelOutput.from_content(str(model.model), shown)
        return state

    return solve


def _figure(kind: str, name: str, seed: int):
    @metric(name=name)
    def figure():
        def compute(scores: list[SampleScore]) -> float:
            items = [s.score.metadata["item"] for s in scores]
            value = FIGURES[kind][0](items, seed).get(name, {}).get("value")
            return math.nan if value is None else float(value)
        return compute
    return figure()


def _scorer(kind: str, seed: int):
    @scorer(metrics=[_figure(kind, name, seed) for name in NAMES[kind]], name=f"traitforge_{kind}")
    def items_scorer():
        async def score(state, target):
            item = state.metadata["item"]
            return Score(value=FIGURES[kind][1](item), answer=str(item.get("answer", "")),
                         metadata={"item": item})
        return score
    return items_scorer()


def build(kind: str, data: str, options: dict, seed: int = 0, limit: int | None = None,
          base: str | None = None, name: str | None = None, family: str | None = None
          ) -> InspectTask:
    """An Inspect task of traitforge's `kind` over `data` (a path or glob, from `base`)."""
    spec = Task(name or Path(data).stem, kind, "", data, limit, options)
    items = spec.load(Path(base) if base else None, seed)
    samples = [Sample(input=x.get("prompt") or x.get("question") or "", id=x["id"],
                      metadata={"item": x}) for x in items]
    return InspectTask(dataset=samples, solver=traitforge_runner(kind, options, base, seed),
                       scorer=_scorer(kind, seed), name=spec.name,
                       metadata={"traitforge": {"kind": kind, "family": family or default_family(kind),
                                                "seed": seed}})


@task
def mcq(data: str, limit: int | None = None, seed: int = 0) -> InspectTask:
    return build("mcq", data, {}, seed, limit)


@task
def disposition(data: str, limit: int | None = None, seed: int = 0) -> InspectTask:
    return build("disposition", data, {}, seed, limit)


@task
def pressure(data: str, turns: int = 3, limit: int | None = None, seed: int = 0) -> InspectTask:
    return build("pressure", data, {"turns": turns}, seed, limit)


@task(name="open")
def open_reply(data: str, rubric: str, max_new_tokens: int = 256, limit: int | None = None,
               seed: int = 0) -> InspectTask:
    """Free replies scored by the judge (`--model-role grader=...`, else the model itself)."""
    return build("open", data, {"rubric": rubric, "max_new_tokens": max_new_tokens}, seed, limit)


@task
def uptake(data: str, audit: str, temperature: float = 1.0, max_new_tokens: int = 256,
           limit: int | None = None, seed: int = 0) -> InspectTask:
    return build("uptake", data, {"audit": audit, "temperature": temperature,
                                  "max_new_tokens": max_new_tokens}, seed, limit)


@task
def suite_task(suite: str, name: str, seed: int = 0) -> InspectTask:
    """The task `name` of a traitforge suite, as the suite sets it."""
    loaded = load_suite(suite)
    chosen = next((t for t in loaded.tasks if t.name == name), None)
    if chosen is None or chosen.kind not in FIGURES:
        raise ValueError(f"{suite}: no task {name!r} of a kind Inspect runs ({', '.join(FIGURES)})")
    return build(chosen.kind, chosen.data, chosen.options, seed, chosen.limit, str(loaded.base),
                 chosen.name, chosen.family)
