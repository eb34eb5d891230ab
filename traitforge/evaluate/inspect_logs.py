"""Inspect eval logs of traitforge's Inspect tasks, read as a traitforge results document, so
that `traitforge report` compares runs made either way in one table."""
from __future__ import annotations

from pathlib import Path

from traitforge.io import InputError

def inspect_logs(path: str | Path) -> list[Path]:
    """The Inspect logs `path` names: itself, or those in the folder (none for a traitforge
    eval folder, which holds results.json)."""
    path = Path(path)
    if path.is_file() and path.suffix == ".eval":
        return [path]
    if path.is_dir() and not (path / "results.json").is_file():
        return sorted(p for p in path.iterdir() if p.suffix == ".eval")
    return []


def results_of_logs(paths: list[Path], name: str) -> dict:
    """One run's results document from its Inspect logs, one task per log, the figures computed
    again from the logged items by `evaluate/metrics.py`."""
    try:
        from inspect_ai.log import read_eval_log

        from traitforge.evaluate.inspect_tasks import FIGURES, NAMES
    except ImportError:
        raise InputError(f"{paths[0]}: reading Inspect logs needs inspect-ai "
                         "(pip install 'traitforge[inspect]')") from None
    tasks, model = [], None
    for path in paths:
        try:
            log = read_eval_log(str(path))
        except Exception as e:  # inspect_ai's own errors for a file that is not a log
            raise InputError(f"{path}: not a readable Inspect log ({e.__class__.__name__})") from None
        meta = (log.eval.metadata or {}).get("traitforge")
        scores = [next(iter(sample.scores.values())) for sample in log.samples or [] if sample.scores]
        items = [s.metadata.get("item") for s in scores if isinstance(s.metadata, dict)]
        if not isinstance(meta, dict) or meta.get("kind") not in FIGURES or not items \
                or not all(isinstance(x, dict) for x in items):
            raise InputError(f"{path}: not a log of a traitforge Inspect task with scored samples")
        kind = meta["kind"]
        tasks.append({"name": log.eval.task, "family": meta["family"], "kind": kind,
                      "main": NAMES[kind][0], "n": len(items),
                      "metrics": FIGURES[kind][0](items, meta.get("seed", 0)),
                      "inspect_log": str(path)})
        model = model or log.eval.model
    return {"name": name, "model": {"spec": model, "backend": "inspect"}, "tasks": tasks,
            "complete": True}
