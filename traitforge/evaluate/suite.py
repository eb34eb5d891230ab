"""An eval suite: a TOML or YAML file naming its tasks, and optionally a judge and a simulated
user. Paths inside it are relative to the file.

    name = "example"
    [judge]                      # optional: an OpenAI-compatible server, or model = "default"
    base_url = "http://127.0.0.1:8000/v1"
    model = "judge-model"
    [[task]]
    name = "arc_easy"
    kind = "mcq"                 # mcq | disposition | pressure | open | dialogue | uptake | pairwise
    family = "capability"        # knowledge | behaviour | pressure | capability | uptake
    data = "evals/arc_easy.jsonl"  # a JSONL file or glob
    limit = 200
    scoring = "cloze"            # the settings of its kind (tasks.OPTIONS); any other key is refused
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from traitforge.evaluate.tasks import FAMILIES, KINDS, OPTIONS, Task
from traitforge.io import InputError, load_config, sha256_file
from traitforge.settings import check_keys

TASK_KEYS = ("name", "kind", "family", "data", "limit")


@dataclass
class Suite:
    name: str
    file: str
    sha256: str
    tasks: list[Task]
    judge: dict | None = None
    user: dict | None = None

    @property
    def base(self) -> Path:
        return Path(self.file).resolve().parent


def default_family(kind: str) -> str:
    """Where a task of `kind` is filed when its suite does not say."""
    return {"pressure": "pressure", "uptake": "uptake", "pairwise": "capability"}.get(kind, "behaviour")


def load_suite(path: str | Path) -> Suite:
    raw = load_config(path, "eval suite")
    if not isinstance(raw, dict) or not isinstance(raw.get("task"), list) or not raw["task"]:
        raise InputError(f"{path}: an eval suite needs at least one [[task]]")
    check_keys(raw, ("name", "task", "judge", "user"), str(path))
    tasks, seen = [], set()
    for k, t in enumerate(raw["task"], 1):
        if not isinstance(t, dict):
            raise InputError(f"{path}: task {k} is not a table")
        name, kind = t.get("name"), t.get("kind")
        family = t.get("family", default_family(kind))
        where = f"{path}: task {k} ({name or 'unnamed'})"
        if not isinstance(name, str) or name in seen:
            raise InputError(f"{where}: needs a unique name")
        if kind not in KINDS:
            raise InputError(f"{where}: kind must be one of {', '.join(KINDS)}")
        if family not in FAMILIES:
            raise InputError(f"{where}: family must be one of {', '.join(FAMILIES)}")
        if not isinstance(t.get("data"), str):
            raise InputError(f"{where}: needs data = a JSONL file or glob")
        limit = t.get("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise InputError(f"{where}: limit must be a positive integer")
        seen.add(name)
        check_keys(t, TASK_KEYS + OPTIONS[kind], str(path), f"task {name}")
        options = {k: v for k, v in t.items() if k not in TASK_KEYS}
        tasks.append(Task(name, kind, family, t["data"], limit, options))
    for key in ("judge", "user"):
        if raw.get(key) is not None and not isinstance(raw[key], dict):
            raise InputError(f"{path}: [{key}] must be a table")
    return Suite(str(raw.get("name", Path(path).stem)), str(path), sha256_file(path), tasks,
                 raw.get("judge"), raw.get("user"))
