"""The terminal summary of a pipeline run: its stages, then the eval table across arms."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from traitforge.reports.eval_console import load_results, print_comparison


def unaudited_arms(root: Path, arms: list[dict]) -> set[str]:
    """Arms with a run that trained on data its audit did not pass."""
    out = set()
    for arm in arms:
        for kind in ("midtrain", "sft"):
            run = root / "train" / arm["name"] / kind / "run.json"
            if run.is_file() and json.loads(run.read_text())["gate"].get("unaudited"):
                out.add(arm["name"])
    return out


def _summary(d: dict, prefix: str = "") -> list[str]:
    """'key value' for each entry, nested tables flattened ('sft steps 30')."""
    out = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _summary(v, f"{prefix}{k} ")
        else:
            out.append(f"{prefix}{k} {round(v, 3) if isinstance(v, float) else v}")
    return out


def render_pipeline(root: str | Path, record: dict, console: Console) -> None:
    root = Path(root)
    stages = Table(title=f"pipeline {record.get('name', '')}: stages", title_justify="left")
    for col in ("stage", "status", "seconds", "summary"):
        stages.add_column(col, justify="right" if col == "seconds" else "left")
    for name, s in record["stages"].items():
        summary = ", ".join(_summary(s.get("summary") or {}))
        status = s.get("status", "")
        if record.get("this_run", {}).get(name) in ("skipped", "resumed"):
            status += f" ({record['this_run'][name]})"  # done earlier; or cut short and resumed
        stages.add_row(name, status, f"{s.get('seconds', 0):.0f}", summary)
    console.print(stages)
    arms = [a for a in record["arms"] if (root / "eval" / a["name"] / "results.json").is_file()]
    if not arms:
        return
    docs = load_results([str(root / "eval" / a["name"]) for a in arms])
    flagged = unaudited_arms(root, arms)
    for doc, arm in zip(docs, arms):
        doc["_name"] = arm["name"] + (" (unaudited)" if arm["name"] in flagged else "")
    print_comparison(console, docs)
