"""Comparing evaluation runs: reading their results.json files, and the terminal table.

The row order and cell text defined here are shared with the HTML page (eval_html)."""
from __future__ import annotations

import json
from collections import Counter
from numbers import Real
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from traitforge.io import InputError
from traitforge.reports.svg import pct, short

FAMILIES = ("knowledge", "behaviour", "pressure", "capability", "uptake", "other")
MISSING = "—"


def _read(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"{path}: no such file (is this a `traitforge eval` output directory?)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: malformed JSON at line {e.lineno}, column {e.colno} "
                         f"({e.msg})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    tasks = doc.get("tasks") if isinstance(doc, dict) else None
    named = isinstance(tasks, list) and all(isinstance(t, dict) and isinstance(t.get("name"), str)
                                            for t in tasks)
    if not named:
        raise InputError(f"{path}: not a traitforge results.json (no list of named tasks)")
    return doc


def load_results(dirs: list[str]) -> list[dict]:
    """Read DIR/results.json for each dir (or an Inspect log of traitforge's Inspect tasks, or a
    folder of them); set doc["_dir"] and a unique short doc["_name"]."""
    from traitforge.evaluate.inspect_logs import inspect_logs, results_of_logs

    docs = []
    for d in dirs:
        logs = inspect_logs(d)
        doc = results_of_logs(logs, Path(d).stem) if logs else _read(Path(d) / "results.json")
        doc["_dir"] = str(d)
        doc["_name"] = str(doc.get("name") or Path(d).resolve().name)
        docs.append(doc)
    dup = Counter(doc["_name"] for doc in docs)
    for doc in docs:
        if dup[doc["_name"]] > 1:
            p = Path(doc["_dir"]).resolve()
            qualified = f"{p.parent.name}/{p.name}"
            doc["_name"] = (qualified if doc["_name"] == p.name
                            else f"{doc['_name']} ({qualified})")
    seen: Counter = Counter()
    for doc in docs:  # the same directory given twice
        seen[doc["_name"]] += 1
        if seen[doc["_name"]] > 1:
            doc["_name"] += f" #{seen[doc['_name']]}"
    return docs


# --- the rows shared by the table and the page ----------------------------------------------

def num(x) -> float | None:
    """x as a float, or None when it is missing or not a number."""
    return float(x) if isinstance(x, Real) and not isinstance(x, bool) else None


def ci95(x) -> tuple[float, float] | None:
    if isinstance(x, (list, tuple)) and len(x) == 2 and None not in map(num, x):
        return num(x[0]), num(x[1])
    return None


def cell(value, ci=None, sep: str = " ") -> str:
    """'61.5% [54.6, 68.0]' (`sep` between value and interval), or '—' when there is no value."""
    v, c = num(value), ci95(ci)
    if v is None:
        return MISSING
    return pct(v) + ("" if c is None else f"{sep}[{100 * c[0]:.1f}, {100 * c[1]:.1f}]")


def as_dict(x) -> dict:
    return x if isinstance(x, dict) else {}


def family(task: dict) -> str:
    f = task.get("family")
    return f if f in FAMILIES else "other"


def task_of(doc: dict, name: str) -> dict | None:
    return next((t for t in doc["tasks"] if t["name"] == name), None)


def metric_of(doc: dict, task: str, metric: str) -> dict | None:
    m = as_dict(as_dict(task_of(doc, task)).get("metrics")).get(metric)
    return m if isinstance(m, dict) else None


def task_rows(docs: list[dict]) -> list[tuple[str, str, list[str]]]:
    """(family, task, metrics) in family order, then order of first appearance; main metric first."""
    rows: dict[str, tuple[str, list[str]]] = {}
    for doc in docs:
        for t in doc["tasks"]:
            fam, metrics = rows.setdefault(t["name"], (family(t), []))
            names, main = list(as_dict(t.get("metrics"))), t.get("main")
            if main in names and main not in metrics:
                metrics.insert(0, main)
            metrics += [m for m in names if m not in metrics]
    ordered = sorted(rows.items(), key=lambda kv: FAMILIES.index(kv[1][0]))
    return [(fam, name, metrics) for name, (fam, metrics) in ordered]


def pattern_of(doc: dict, task: str, key: str) -> dict | None:
    return next((p for p in as_dict(task_of(doc, task)).get("patterns") or []
                 if isinstance(p, dict) and _pattern_key(p) == key), None)


def _pattern_key(p: dict) -> str:
    return str(p.get("finding_id") or p.get("label"))


def pattern_rows(docs: list[dict], task: str) -> list[tuple[str, str]]:
    """(key, label) of every pattern of an uptake task, in order of first appearance."""
    rows: dict[str, str] = {}
    for doc in docs:
        for p in as_dict(task_of(doc, task)).get("patterns") or []:
            if isinstance(p, dict):
                rows.setdefault(_pattern_key(p), str(p.get("label") or _pattern_key(p)))
    return list(rows.items())


def training_prevalence(docs: list[dict], task: str, key: str) -> list[tuple[float, list[str]]]:
    """The distinct training-data prevalences of a pattern, each with the runs that report it."""
    values: dict[float, list[str]] = {}
    for doc in docs:
        v = num(as_dict(pattern_of(doc, task, key)).get("training_prevalence"))
        if v is not None:
            values.setdefault(v, []).append(doc["_name"])
    return list(values.items())


def training_cell(values: list[tuple[float, list[str]]]) -> str:
    if len(values) <= 1:
        return pct(values[0][0]) if values else MISSING
    return ", ".join(f"{pct(v)} ({', '.join(names)})" for v, names in values)


# --- the terminal table ---------------------------------------------------------------------

def print_comparison(console: Console, docs: list[dict]) -> None:
    """The comparison table; the narrow layout when the wide one would not fit the console."""
    table = comparison_table(docs)
    wide = Measurement.get(console, console.options.update_width(10_000), table).maximum
    console.print(table if wide <= console.width else comparison_table(docs, narrow=True))


def comparison_table(docs: list[dict], narrow: bool = False) -> Table:
    """One row per (task, metric) and per uptake pattern, one column per run. `narrow`: one
    label column under a header row per family, and each interval under its value."""
    sep = "\n" if narrow else " "
    table = Table(title="Evaluation runs compared (95% intervals in brackets)")
    for col in ("",) if narrow else ("family", "task", "metric"):
        table.add_column(col, overflow="fold")
    for doc in docs:
        table.add_column(escape(doc["_name"]), justify="right", no_wrap=True)
    rows = task_rows(docs)
    uptake = any(fam == "uptake" for fam, _, _ in rows)
    if uptake:
        table.add_column("training data", justify="right")
    blank = [""] * (len(docs) + uptake)
    for i, (fam, task, metrics) in enumerate(rows):
        lines = []
        for metric in metrics:
            cells = [cell(m.get("value"), m.get("ci95"), sep) if m else MISSING
                     for m in (metric_of(doc, task, metric) for doc in docs)]
            lines.append([metric, *cells] + [""] * uptake)
        for key, label in pattern_rows(docs, task) if fam == "uptake" else []:
            cells = [cell(p.get("prevalence"), p.get("ci95"), sep) if p else MISSING
                     for p in (pattern_of(doc, task, key) for doc in docs)]
            lines.append([f"pattern: {short(label, 30 if narrow else 50)}", *cells,
                          training_cell(training_prevalence(docs, task, key))])
        last = i + 1 == len(rows) or rows[i + 1][0] != fam
        first_of_family = i == 0 or rows[i - 1][0] != fam
        if narrow and first_of_family:
            table.add_row(f"[bold]{fam}[/bold]", *blank)
        for k, line in enumerate(lines):
            end = last and k + 1 == len(lines)
            if narrow:
                label = f"{task} · {line[0]}" if k == 0 else f"  {line[0]}"
                table.add_row(escape(label), *map(escape, line[1:]), end_section=end)
            else:
                table.add_row(fam if first_of_family and k == 0 else "",
                              escape(task) if k == 0 else "", *map(escape, line), end_section=end)
    return table
