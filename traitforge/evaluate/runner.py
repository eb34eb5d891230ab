"""Running a suite against one model and writing EVAL_DIR/results.json."""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from traitforge import __version__
from traitforge.backends import open_backend
from traitforge.evaluate.suite import Suite, load_suite
from traitforge.evaluate.tasks import RUNNERS, Context, check
from traitforge.io import InputError, atomic_write_text
from traitforge.settings import setting


@dataclass
class EvalConfig:
    model: str = setting(help="'default', a checkpoint, a train run directory, or with "
                         "--base-url the served model's name", role="flag", positional=True)
    suite: str = setting(help="TOML or YAML eval suite", required=True)
    out: str = setting(help="output directory for results.json", role="flag", required=True)
    name: str | None = setting(None, "the run's name in reports (default: the --out folder's "
                               "name)", role="flag")
    tasks: list[str] = setting(help="run only this task (repeatable)", factory=list,
                               flag="--task", append=True, metavar="TASK")
    limit: int | None = setting(None, "at most N items per task")
    seed: int = setting(0, "seed for sampling items and generation")
    batch_size: int = setting(8, "sequences per forward pass")
    device: str | None = setting(None, "cpu or cuda (default: cuda when available)")
    max_new_tokens: int = setting(256, "longest generated reply")
    base_url: str | None = setting(None, "an OpenAI-compatible server for the model under "
                                   "test, e.g. http://127.0.0.1:8000/v1", role="flag")
    api_key: str | None = setting(None, "its key (or TRAITFORGE_API_KEY / OPENAI_API_KEY)",
                                  role="flag")
    cache_dir: str | None = setting(None, "cache HTTP responses here, so a rerun costs nothing",
                                    role="flag")


def backend(spec: dict, config: EvalConfig, role: str):
    """A local model for `model` alone (or 'default'); a served one, its replies cached in
    `config.cache_dir`, when there is a base_url."""
    served = bool(spec.get("base_url")) or spec.get("backend") == "http"
    if not served and not spec.get("model"):
        raise InputError(f"the {role} needs model = ... (and base_url for a served one)")
    return open_backend(spec.get("model"), spec.get("base_url"), spec.get("api_key"),
                        config.batch_size, config.device, spec.get("concurrency"),
                        timeout=spec.get("timeout"), retries=spec.get("retries"), served=served,
                        cache_dir=config.cache_dir if served else None)


def _model_info(model, config: EvalConfig) -> dict:
    model = getattr(model, "backend", model)  # the one behind a CachedBackend
    if model.name == "http":
        sha = hashlib.sha256(f"{model.config.base_url} {model.config.model}".encode()).hexdigest()
        return {"spec": config.model, "resolved": model.config.base_url, "sha256": sha,
                "backend": "http"}
    return {"spec": config.model, "resolved": model.description, "sha256": model.sha256,
            "backend": f"local ({model.device})"}


def run_eval(config: EvalConfig, progress=None) -> dict:
    """Run the suite's tasks (or those chosen) on the model; write and return results.json."""
    suite: Suite = load_suite(config.suite)
    tasks = [t for t in suite.tasks if not config.tasks or t.name in config.tasks]
    unknown = set(config.tasks) - {t.name for t in suite.tasks}
    if unknown:
        raise InputError(f"{config.suite}: no task named {', '.join(sorted(unknown))}")
    out = Path(config.out)
    if (out / "results.json").resolve() == Path(config.suite).resolve():
        raise InputError(f"{out}: would overwrite the suite; choose another --out")
    for t in tasks:
        check(t, suite.base, suite.judge is not None, suite.user is not None)
    loaded = [(t, t.load(suite.base, config.seed)) for t in tasks]
    if config.limit:
        loaded = [(t, items[:config.limit]) for t, items in loaded]
    model = backend({"model": config.model, "base_url": config.base_url,
                     "api_key": config.api_key}, config, "model under test")
    ctx = Context(model, config.seed, base=suite.base, max_new_tokens=config.max_new_tokens,
                  judge=backend(suite.judge, config, "judge") if suite.judge else None,
                  user=backend(suite.user, config, "simulated user") if suite.user else None,
                  connect=lambda spec: backend(spec, config, "baseline"))
    doc = {"traitforge_version": __version__, "name": config.name or out.name,
           "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "model": _model_info(model, config),
           "suite": {"file": suite.file, "sha256": suite.sha256, "name": suite.name},
           "seed": config.seed, "config": asdict(config) | {"api_key": None},
           "judge": suite.judge and {k: v for k, v in suite.judge.items() if k != "api_key"},
           "complete": False, "tasks": []}
    out.mkdir(parents=True, exist_ok=True)
    for task, items in loaded:
        tid = progress.add_task(f"{task.name} ({len(items)} items)", total=None) \
            if progress else None
        ctx.progress = (lambda n=1, tid=tid: progress.advance(tid, n)) if progress else None
        start = time.perf_counter()
        summary = RUNNERS[task.kind](task, items, ctx)
        if progress:
            progress.update(tid, total=progress.tasks[tid].completed)
        doc["tasks"].append({"name": task.name, "family": task.family, "kind": task.kind,
                             "data": task.data, "options": task.options, "n": len(items),
                             "seconds": round(time.perf_counter() - start, 2), **summary,
                             "items": items})
        doc["complete"] = len(doc["tasks"]) == len(loaded)
        doc["usage"] = _usage(ctx)
        _write(out / "results.json", doc)  # after every task, so a crash keeps what was done
    return doc


def _usage(ctx: Context) -> dict:
    """What each served backend was asked (requests, retries, tokens, cache hits) so far."""
    roles = {"model": ctx.model, "judge": ctx.judge, "user": ctx.user}
    return {role: dict(b.stats) for role, b in roles.items() if hasattr(b, "stats")}


def _write(path: Path, doc: dict) -> None:
    atomic_write_text(path, json.dumps(doc, indent=1, ensure_ascii=False, default=_plain) + "\n")


def _plain(x):
    """numpy scalars and the like, as plain JSON values."""
    return x.item() if hasattr(x, "item") else str(x)
