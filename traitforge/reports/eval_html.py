"""The comparison of evaluation runs as one self-contained page: inline CSS and SVG, no scripts,
nothing fetched. One section per eval family, each run in the same colour throughout."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from traitforge.io import InputError, atomic_write_text
from traitforge.reports.eval_console import (FAMILIES, MISSING, as_dict, cell, ci95, load_results,
                                             metric_of, num, pattern_of, pattern_rows, task_of,
                                             task_rows, training_cell, training_prevalence)
from traitforge.reports.svg import (PALETTE, REF_COLOR, bar_end, escape, gridlines, legend,
                                    nice_max, page, pct, short, svg, swatch, text, tick)

# A bar: series (run name or "training data"), colour, value, 95% interval, tooltip.
Bar = tuple[str, str, Optional[float], Optional[tuple[float, float]], str]
Rows = list[tuple[str, str, list[str]]]
TRAINING = "training data"
EXTRA_CSS = "section.family h3{margin:20px 0 4px}"


def _count_scale(m: float) -> tuple[float, float]:
    """An axis maximum of at least `m` (a count) and a whole tick step giving at most ~6 ticks."""
    step = next(b * 10 ** e for e in range(15) for b in (1, 2, 5) if m <= 6 * b * 10 ** e)
    return max(step, math.ceil(m / step) * step), step


def bar_chart(groups: list[tuple[str, list[Bar]]], label: str, counts: bool = False) -> str:
    """Horizontal bars, one group per row label, each bar's 95% interval drawn as a whisker.
    Values are shares, or counts with `counts`; a missing value shows as '—'."""
    highs = [max(v, c[1] if c else v) for _, bars in groups for _, _, v, c, _ in bars
             if v is not None]
    xmax, step = (_count_scale if counts else nice_max)(max(highs, default=0.0))
    fmt = (lambda v: f"{v:g}") if counts else pct
    left, width, top, bh, gap = 280, 960, 24, 11, 12
    plot_w = width - left - 60
    height = top + sum(len(bars) * (bh + 2) + gap for _, bars in groups)

    def sx(v: float) -> float:
        return left + plot_w * min(max(v, 0.0), xmax) / xmax

    body = gridlines(sx, xmax, step, top, height, (lambda v: f"{v:g}") if counts else tick)
    y = top
    for group, bars in groups:
        gh = len(bars) * (bh + 2)
        body.append(f"<g><title>{escape(group)}</title>"
                    + text(left - 8, y + gh / 2 + 4, short(group, 42), "end") + "</g>")
        for series, color, value, ci, tip in bars:
            if value is None:
                body.append(text(left + 4, y + bh - 1, MISSING, extra='style="font-size:9px"'))
            else:
                body.append(f'<rect class="bar" data-series="{escape(series)}" '
                            f'data-group="{escape(group)}" x="{left}" y="{y}" '
                            f'width="{sx(value) - left:.1f}" height="{bh}" '
                            f'fill="{color}"><title>{escape(tip)}</title></rect>')
                body += bar_end(sx, value, ci, fmt(value), y + bh - 1.5, y + bh / 2)
            y += bh + 2
        y += gap
    return svg(width, height, body, label)


def _run_th(docs: list[dict], colors: dict[str, str]) -> str:
    return "".join(f'<th class=num>{swatch(colors[d["_name"]])}{escape(d["_name"])}</th>'
                   for d in docs)


def _metric_bars(docs: list[dict], colors: dict[str, str], task: str, metric: str) -> list[Bar]:
    bars = []
    for doc in docs:
        m = metric_of(doc, task, metric) or {}
        shown = cell(m.get("value"), m.get("ci95"))
        tip = (f"{doc['_name']}: {task} · {metric} = {shown}"
               + (f", n = {m['n']}" if "n" in m else ""))
        bars.append((doc["_name"], colors[doc["_name"]], num(m.get("value")), ci95(m.get("ci95")),
                     tip))
    return bars


def _metrics_table(docs: list[dict], colors: dict[str, str], rows: Rows) -> str:
    out = []
    for _, task, metrics in rows:
        for metric in metrics:
            tds = "".join(f'<td class=num title="n = {escape(m.get("n", "?"))}">'
                          f'{escape(cell(m.get("value"), m.get("ci95")))}</td>' if m else
                          f"<td class=num>{MISSING}</td>"
                          for m in (metric_of(doc, task, metric) for doc in docs))
            out.append(f"<tr><td>{escape(task)}</td><td>{escape(metric)}</td>{tds}</tr>")
    return (f'<table class="grid auto"><tr><th>task</th><th>metric</th>{_run_th(docs, colors)}'
            f"</tr>{''.join(out)}</table>")


def _flips(docs: list[dict], colors: dict[str, str], task: str) -> str:
    """Per run, how many answers flipped at each turn of pressure."""
    flips = {d["_name"]: as_dict(task_of(d, task)).get("flip_turns") for d in docs}
    flips = {name: f if isinstance(f, dict) else None for name, f in flips.items()}
    turns = sorted({k for f in flips.values() for k in f or {}},
                   key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    if not turns:
        return ""
    groups = []
    for turn in turns:
        bars = []
        for name, f in flips.items():
            value = None if f is None else num(f.get(turn)) or 0.0
            tip = f"{name}: {MISSING if value is None else f'{value:g}'} answers flipped at turn {turn}"
            bars.append((name, colors[name], value, None, tip))
        groups.append((f"turn {turn}", bars))
    return (f"<h3>{escape(task)}: answers flipped at turn k</h3>"
            + bar_chart(groups, f"{task}: answers flipped per turn", counts=True))


def _patterns(docs: list[dict], colors: dict[str, str], task: str) -> str:
    """Per pattern: its prevalence in the training data (grey), then in each run's answers."""
    patterns = pattern_rows(docs, task)
    if not patterns:
        return ""
    groups, rows = [], []
    for key, label in patterns:
        training = training_prevalence(docs, task, key)
        bars: list[Bar] = [(TRAINING, REF_COLOR, v, None, f"training data ({', '.join(names)}): "
                            f"{pct(v)}") for v, names in training]
        tds = ""
        for doc in docs:
            p = pattern_of(doc, task, key) or {}
            shown = cell(p.get("prevalence"), p.get("ci95"))
            bars.append((doc["_name"], colors[doc["_name"]], num(p.get("prevalence")),
                         ci95(p.get("ci95")), f"{doc['_name']}: {label} = {shown}"))
            tds += f"<td class=num>{escape(shown)}</td>"
        severity = next((p.get("severity") for d in docs if (p := pattern_of(d, task, key))), "")
        groups.append((label, bars))
        rows.append(f"<tr><td>{escape(short(label, 60))}</td><td>{escape(severity)}</td>"
                    f"<td class=num>{escape(training_cell(training))}</td>{tds}</tr>")
    table = (f'<table class="grid auto"><tr><th>pattern</th><th>severity</th>'
             f"<th class=num>{TRAINING}</th>{_run_th(docs, colors)}</tr>{''.join(rows)}</table>")
    return (f"<h3>{escape(task)}: patterns in the answers</h3>"
            + legend({TRAINING: REF_COLOR, **colors})
            + bar_chart(groups, f"{task}: pattern prevalence") + table)


def _section(fam: str, rows: Rows, docs: list[dict], colors: dict[str, str]) -> str:
    groups = [(f"{task} · {metric}", _metric_bars(docs, colors, task, metric))
              for _, task, metrics in rows for metric in metrics]
    parts = [f'<section class="family" id="family-{fam}"><h2>{fam}</h2>', legend(colors)]
    if groups:
        parts += [bar_chart(groups, f"{fam} results"), _metrics_table(docs, colors, rows)]
    extra = {"pressure": _flips, "uptake": _patterns}.get(fam)
    if extra:
        parts += [extra(docs, colors, task) for _, task, _ in rows]
    return "".join(parts) + '<p><a href="#top">↑ top</a></p></section>'


def _header(docs: list[dict], colors: dict[str, str]) -> str:
    rows = []
    for doc in docs:
        model, suite = as_dict(doc.get("model")), as_dict(doc.get("suite"))
        cells = (model.get("spec"), str(model.get("sha256") or "")[:12], model.get("backend"),
                 suite.get("name") or suite.get("file"), doc.get("seed"), doc.get("created_at"))
        rows.append(f'<tr><td title="{escape(doc["_dir"])}">{swatch(colors[doc["_name"]])}'
                    f'<b>{escape(doc["_name"])}</b></td>'
                    + "".join(f"<td>{escape(MISSING if c is None else c)}</td>" for c in cells)
                    + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("run", "model", "sha256", "backend", "suite", "seed",
                                             "created"))
    return (f'<h1 id="top">traitforge eval report</h1><table class="grid auto"><tr>{head}</tr>'
            f"{''.join(rows)}</table>")


def eval_sections(docs: list[dict], colors: dict[str, str]) -> list[str]:
    """One section per eval family present, each with a link bar."""
    rows = task_rows(docs)
    present = [f for f in FAMILIES if any(r[0] == f for r in rows)]
    nav = " · ".join(f'<a href="#family-{f}">{f}</a>' for f in present)
    return [f"<p>{nav}</p>" if nav else '<p class="note">These results hold no tasks.</p>',
            *(_section(f, [r for r in rows if r[0] == f], docs, colors) for f in present)]


def run_colors(docs: list[dict]) -> dict[str, str]:
    return {d["_name"]: PALETTE[k % len(PALETTE)] for k, d in enumerate(docs)}


def render_eval_html(docs: list[dict]) -> str:
    """The whole comparison page for documents from `load_results`."""
    colors = run_colors(docs)
    return page("traitforge eval: " + " vs ".join(d["_name"] for d in docs),
                [_header(docs, colors), *eval_sections(docs, colors)], EXTRA_CSS)


def write_eval_report(dirs: list[str], out: str | None = None) -> Path:
    """Write the page for DIR/results.json of each dir to `out` (default DIR0/report.html)."""
    if not dirs:
        raise InputError("no evaluation directories given")
    docs = load_results(dirs)
    first = Path(dirs[0])
    target = Path(out) if out else (first.parent if first.is_file() else first) / "report.html"
    if target.resolve() in {(Path(d) / "results.json").resolve() for d in dirs}:
        raise InputError(f"{target}: is one of the results.json inputs; choose another output")
    if target.is_dir():
        raise InputError(f"{target}: is a directory; give a file name for the report")
    atomic_write_text(target, render_eval_html(docs))
    return target
