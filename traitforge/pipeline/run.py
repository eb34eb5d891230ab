"""Run a pipeline: each stage in order, skipping those whose fingerprint is unchanged, resuming
a training stage that was cut short, and keeping RUN_DIR/pipeline.json as the record."""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from traitforge import __version__
from traitforge.io import InputError, atomic_write_text
from traitforge.pipeline.config import Pipeline
from traitforge.pipeline.stages import Layout, Stage, check_raw_arms, plan

STATE = "pipeline.json"


@dataclass
class UI:
    """What a stage shows while it runs: a rich Progress, and the trainer's callbacks."""
    progress: object = None
    train_callbacks: list = field(default_factory=list)


def quiet_ui(stage: Stage):
    return contextlib.nullcontext(UI())


def _load_state(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("stages", {})
    except (OSError, ValueError, AttributeError):
        raise InputError(f"{path}: unreadable pipeline record; remove it to start over") from None


def run_pipeline(p: Pipeline, ui=quiet_ui, on_stage=None) -> dict:
    """Run every stage not already done with the same fingerprint; returns the record, whose
    "this_run" says what this call did with each stage (ran, resumed or skipped).
    `ui(stage)` gives a context manager yielding a UI; `on_stage(name, status)` is told of
    each stage as it is skipped, resumed or started."""
    at = Layout(p)
    at.root.mkdir(parents=True, exist_ok=True)
    for path in [*p.data.values(), p.file]:
        if Path(path).resolve().is_relative_to(at.root.resolve()):
            raise InputError(f"{path}: an input inside RUN_DIR {at.root} would be overwritten; "
                             f"choose another out")
    state_path = at.root / STATE
    state = _load_state(state_path)
    record = {"traitforge_version": __version__, "pipeline": p.file, "name": p.name,
              "arms": [vars(a) for a in p.arms], "stages": state, "this_run": {}}

    def save() -> None:
        atomic_write_text(state_path, json.dumps(record, indent=1, default=str) + "\n")

    checked = False
    for stage in plan(p):
        if stage.name.startswith("train/") and not checked:
            check_raw_arms(p, at)
            checked = True
        prev, fp = state.get(stage.name, {}), stage.fingerprint
        if prev.get("fingerprint") == fp and prev.get("status") == "done" and \
                all(o.exists() for o in stage.outputs[:1]):
            record["this_run"][stage.name] = "skipped"
            if on_stage:
                on_stage(stage.name, "skipped")
            continue
        resume = prev.get("fingerprint") == fp and stage.resumable
        if not resume:
            stage.clear()
        record["this_run"][stage.name] = "resumed" if resume and prev else "ran"
        if on_stage:
            on_stage(stage.name, "resumed" if resume and prev else "running")
        state[stage.name] = {"fingerprint": fp, "status": "running",
                             "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                             "seconds": prev.get("seconds", 0.0) if resume else 0.0}
        save()
        start = time.perf_counter()
        with ui(stage) as shown:
            summary = stage.run(shown, resume)
        state[stage.name].update(status="done", summary=summary, seconds=round(
            state[stage.name]["seconds"] + time.perf_counter() - start, 1))
        save()
    return record
