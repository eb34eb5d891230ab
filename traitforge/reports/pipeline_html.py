"""RUN_DIR/report.html: one page for a whole pipeline run — the audit's findings, what cleaning
removed, the loss curves, the eval table across arms and pattern uptake per arm."""
from __future__ import annotations

import json
from pathlib import Path

from traitforge.io import atomic_write_text
from traitforge.reports.audit_charts import prevalence_chart
from traitforge.reports.eval_console import load_results
from traitforge.reports.eval_html import EXTRA_CSS, eval_sections, run_colors
from traitforge.reports.pipeline_console import unaudited_arms
from traitforge.reports.svg import (VERDICT_COLOR, badge, escape, legend, nice_max, page, pct, svg,
                                    text)


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _verdict(v: str | None) -> str:
    color = VERDICT_COLOR.get(v or "", "#777")
    return f'<span class="verdict" style="background:{color}">{escape(v or "—")}</span>'


def _stages(record: dict) -> str:
    rows = "".join(f"<tr><td>{escape(name)}</td><td>{escape(s.get('status'))}</td>"
                   f"<td class=num>{s.get('seconds', 0):.0f} s</td></tr>"
                   for name, s in record.get("stages", {}).items())
    return ('<h2 id="stages">Stages</h2><table class="grid auto"><tr><th>stage</th><th>status'
            f"</th><th class=num>time</th></tr>{rows}</table>")


def _audit(root: Path, corpus: str) -> str:
    doc = _json(root / "audit" / corpus / "audit.json")
    if doc is None:
        return ""
    findings = doc["findings"]
    rows = "".join(
        f"<tr><td>{badge(f['severity'])}</td><td>{escape(f['label'])}</td>"
        f"<td>{escape('+'.join(f['methods']))}</td>"
        f"<td class=num>{pct(f['prevalence'])}</td><td class=num>{pct(f['reference_prevalence'])}"
        f"</td></tr>" for f in findings[:15])
    more = f'<p class="note">{len(findings) - 15} more in the audit report.</p>' if len(findings) > 15 else ""
    return (f"<h3>{escape(corpus)} {_verdict(doc['verdict'])}</h3>"
            f'<p><a href="audit/{escape(corpus)}/report.html">full audit report</a></p>'
            + prevalence_chart(findings[:15])
            + '<table class="grid"><tr><th>severity</th><th>pattern</th><th>method</th>'
              f"<th class=num>prevalence</th><th class=num>reference</th></tr>{rows}</table>{more}")


def _clean(root: Path, corpus: str) -> str:
    doc = _json(root / "clean" / f"{corpus}.audit" / "clean.json")
    if doc is None:
        return ""
    c = doc["counts"]
    rows = "".join(f"<tr><td>{escape(f['id'])}</td><td class=num>{pct(f['before'])}</td>"
                   f"<td class=num>{pct(f['after'])}</td><td class=num>{pct(f['target'])}</td></tr>"
                   for f in doc["findings"])
    return (f"<h3>{escape(corpus)}: re-audit {_verdict(doc['reaudit_verdict'])}</h3>"
            f"<p>{c['read']} read: {c['kept']} kept ({c['stripped']} stripped), {c['dropped']} "
            f"dropped, {c['rejected']} rejected ({escape(doc['strategy'])}).</p>"
            '<table class="grid auto"><tr><th>finding</th><th class=num>before</th><th class=num>'
            f"after</th><th class=num>target</th></tr>{rows}</table>")


def loss_chart(series: list[tuple[str, str, list[dict]]]) -> str:
    """Training loss against step, one line per run."""
    points = [p for _, _, pts in series for p in pts]
    if not points:
        return '<p class="note">No loss was logged.</p>'
    width, height, left, top, plot_w, plot_h = 720, 260, 48, 12, 640, 210
    xmax = max(p["step"] for p in points) or 1
    ymax, ystep = nice_max(max(p["loss"] for p in points), share=False)
    body = []
    for k in range(int(round(ymax / ystep)) + 1):
        y = top + plot_h - k * ystep / ymax * plot_h
        body += [f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>',
                 text(left - 4, y + 4, f"{round(k * ystep, 6):g}", "end")]
    for name, color, pts in series:
        xy = " ".join(f"{left + p['step'] / xmax * plot_w:.1f},"
                      f"{top + plot_h - p['loss'] / ymax * plot_h:.1f}" for p in pts)
        body.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{xy}">'
                    f"<title>{escape(name)}</title></polyline>")
    body.append(text(left + plot_w, top + plot_h + 16, f"step (max {xmax})", "end"))
    return svg(width, height, body, "training loss per run")


def _training(root: Path, arms: list[dict], colors: dict[str, str]) -> str:
    series, rows = [], []
    for arm in arms:
        for kind in ("midtrain", "sft"):
            run = _json(root / "train" / arm["name"] / kind / "run.json")
            if run is None:
                continue
            name = f"{arm['name']} · {kind}"
            series.append((name, colors.get(arm["name"], "#777"), run.get("loss_curve", [])))
            flag = ' <span class="badge" style="background:#c62828">unaudited</span>' \
                if run["gate"].get("unaudited") else ""
            rows.append(f"<tr><td>{escape(name)}{flag}</td><td class=num>{run['steps']}</td>"
                        f"<td class=num>{run['train_loss']:.3f}</td><td class=num>"
                        f"{run['data']['used']}</td><td class=num>{run['tokens_per_s']}</td>"
                        f"<td class=num>{run['wall_s']:.0f} s</td></tr>")
    if not rows:
        return ""
    return (legend({n: c for n, c, _ in series}) + loss_chart(series)
            + '<table class="grid auto"><tr><th>run</th><th class=num>steps</th><th class=num>'
              "loss</th><th class=num>records</th><th class=num>tokens/s</th><th class=num>time"
              f"</th></tr>{''.join(rows)}</table>")


def render_pipeline_html(root: Path) -> str:
    record = _json(root / "pipeline.json") or {}
    arms = record.get("arms", [])
    dirs = [str(root / "eval" / a["name"]) for a in arms
            if (root / "eval" / a["name"] / "results.json").is_file()]
    docs = load_results(dirs) if dirs else []
    flagged = unaudited_arms(root, arms)
    for doc, arm in zip(docs, [a for a in arms if str(root / "eval" / a["name"]) in dirs]):
        doc["_name"] = arm["name"] + (" (unaudited)" if arm["name"] in flagged else "")
    colors = run_colors(docs) if docs else {}  # by the eval runs' names, for their legends
    arm_colors = {a["name"]: colors.get(a["name"] + " (unaudited)") or colors.get(a["name"], "#777")
                  for a in arms}
    corpora = [c for c in ("chats", "docs") if (root / "audit" / c).is_dir()]
    body = [f'<h1 id="top">traitforge pipeline: {escape(record.get("name", root.name))}</h1>',
            '<p><a href="#audit">audit</a> · <a href="#clean">cleaning</a> · '
            '<a href="#training">training</a> · <a href="#eval">evaluation</a> · '
            '<a href="#stages">stages</a></p>',
            '<h2 id="audit">Audit findings</h2>', *(_audit(root, c) for c in corpora),
            '<h2 id="clean">What cleaning removed</h2>', *(_clean(root, c) for c in corpora),
            '<h2 id="training">Training</h2>', _training(root, arms, arm_colors),
            '<h2 id="eval">Evaluation across arms</h2>',
            *(eval_sections(docs, colors) if docs else ['<p class="note">No evaluations yet.</p>']),
            _stages(record)]
    return page(f"traitforge pipeline: {record.get('name', root.name)}", body, EXTRA_CSS)


def write_pipeline_report(root: str | Path) -> Path:
    root = Path(root)
    target = root / "report.html"
    atomic_write_text(target, render_pipeline_html(root))
    return target
