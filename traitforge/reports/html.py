"""The audit's HTML report: one self-contained page (inline CSS, inline SVG charts, no scripts,
nothing fetched) rendered from audit.json and flags.parquet."""
from __future__ import annotations

import json
import math
from collections import Counter
from html import escape
from pathlib import Path

import polars as pl

from traitforge.io import InputError, atomic_write_text

SEVERITY_COLOR = {"fail": "#c62828", "warn": "#b26a00", "info": "#1565c0"}
VERDICT_COLOR = {"fail": "#c62828", "warn": "#b26a00", "pass": "#2e7d32"}
CORPUS_COLOR, REF_COLOR, NULL_COLOR = "#3b6fd8", "#8a8a8a", "#c8c8c8"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#393b79", "#ad494a", "#637939")
MAX_CHART_ROWS = 60
MAX_MAP_POINTS = 3000
MAX_TOOLTIP = 240

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;
 background:#fafafa}
main{max-width:1120px;margin:0 auto;padding:16px 24px 48px;background:#fff}
h1{font-size:22px;margin:8px 0 12px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:16px;margin:0 0 6px}h4{font-size:13px;margin:14px 0 4px;color:#555}
table{border-collapse:collapse}td,th{padding:3px 8px;text-align:left;vertical-align:top}
table.grid{width:100%;font-size:13px}table.grid.auto{width:auto;min-width:50%}
table.grid th{background:#f0f0f0;position:sticky;top:0}
table.grid tr:nth-child(even) td{background:#f8f8f8}td.num,th.num{text-align:right;white-space:nowrap}
table.meta td:first-child,table.kv td:first-child{color:#666;white-space:nowrap}
.verdict{display:inline-block;padding:2px 12px;border-radius:4px;color:#fff;font-weight:700}
.badge{display:inline-block;padding:0 7px;border-radius:3px;color:#fff;font-size:12px;font-weight:600}
.note{color:#666;font-style:italic}
a{color:#1a4fb5;text-decoration:none}a:hover{text-decoration:underline}
svg{max-width:100%;height:auto;display:block;margin:6px 0}svg text{font-size:11px;fill:#333}
section.finding{border:1px solid #ddd;border-radius:6px;padding:12px 16px;margin:14px 0}
pre.excerpt{white-space:pre-wrap;word-break:break-word;background:#f6f6f6;padding:6px 8px;
 margin:2px 0 8px; font:12.5px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
mark{background:#ffe066;padding:0 1px}.exid{font-size:12px;color:#666}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;list-style:none;padding:0}
.swatch{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:4px}
summary{cursor:pointer}summary h4{display:inline}
circle.r{fill:none;stroke:#9a9a9a;stroke-width:.8}circle.n{fill:#cfcfcf}
"""


def _e(x) -> str:
    return escape("" if x is None else str(x))


def _pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f}%"


def _tick(x: float) -> str:
    return f"{round(100 * x, 6):g}%"


def _ci(ci) -> str:
    return "" if not ci else f" [{_pct(ci[0])}–{_pct(ci[1])}]"


def _badge(severity: str) -> str:
    return (f'<span class="badge" style="background:{SEVERITY_COLOR.get(severity, "#666")}">'
            f"{_e(severity)}</span>")


def _anchor(fid: str) -> str:
    return f"finding-{fid}"


def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{_e(label)}">' + "".join(body) + "</svg>")


def _text(x: float, y: float, s: str, anchor: str = "start", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{_e(s)}</text>'


def _nice_max(value: float) -> tuple[float, float]:
    """An axis maximum of at least `value` (a share) and a tick step giving at most ~6 ticks."""
    value = max(value, 1e-4)
    step = 10 ** math.floor(math.log10(value / 5))
    for mult in (1, 2, 2.5, 5, 10):
        if value / (step * mult) <= 6:
            step *= mult
            break
    return min(1.0, math.ceil(value / step - 1e-9) * step), step


# --- charts -----------------------------------------------------------------------------------

def gridlines(sx, xmax: float, step: float, top: float, height: float, tick) -> list[str]:
    """Vertical gridlines at every `step` up to `xmax`, each labelled by `tick` above the plot."""
    out = []
    for k in range(int(round(xmax / step)) + 1):
        x = sx(k * step)
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 6}" '
                   'stroke="#e4e4e4"/>' + _text(x, top - 10, tick(k * step), "middle"))
    return out

def prevalence_chart(findings: list[dict]) -> str:
    """Horizontal bars per finding: corpus prevalence (severity colour) over the reference's
    (grey), each with its 95% interval as a whisker."""
    rows = findings[:MAX_CHART_ROWS]
    if not rows:
        return '<p class="note">No findings.</p>'
    highs = [x for f in rows for x in ((f.get("prevalence_ci95") or [0, f["prevalence"]])[1],
                                       (f.get("reference_ci95") or [0, 0])[1])]
    xmax, step = _nice_max(max(highs))
    left, width, top, rh = 330, 1000, 28, 24
    plot_w = width - left - 50  # room for the value labels right of the longest whisker
    height = top + rh * len(rows) + 10

    def sx(v: float) -> float:
        return left + plot_w * min(max(v, 0.0), xmax) / xmax

    body = gridlines(sx, xmax, step, top, height, _tick)
    for i, f in enumerate(rows):
        y = top + i * rh
        tip = (f"{f['label']} — corpus {_pct(f['prevalence'])}{_ci(f.get('prevalence_ci95'))}, "
               f"reference {_pct(f.get('reference_prevalence'))}{_ci(f.get('reference_ci95'))}")
        body.append(f'<g><title>{_e(tip)}</title><a href="#{_e(_anchor(f["id"]))}">'
                    + _text(left - 8, y + 14, _short(f["label"], 46), "end") + "</a>")
        bars = [(f["prevalence"], f.get("prevalence_ci95"), SEVERITY_COLOR.get(f["severity"], "#666"),
                 y + 3, 9)]
        if f.get("reference_prevalence") is not None:
            bars.append((f["reference_prevalence"], f.get("reference_ci95"), REF_COLOR, y + 13, 7))
        for value, ci, color, by, bh in bars:
            body.append(f'<rect x="{left}" y="{by}" width="{sx(value) - left:.1f}" height="{bh}" '
                        f'fill="{color}"/>')
            end = sx(max(value, ci[1] if ci else value)) + 5
            body.append(_text(end, by + bh - 0.5, _pct(value), extra='style="font-size:9px"'))
            if ci:
                cy, x1, x2 = by + bh / 2, sx(ci[0]), sx(ci[1])
                body.append(f'<path d="M{x1:.1f} {cy}H{x2:.1f}M{x1:.1f} {cy - 3}v6M{x2:.1f} '
                            f'{cy - 3}v6" stroke="#222" stroke-width="1" fill="none"/>')
        body.append("</g>")
    note = ""
    if len(findings) > len(rows):
        note = (f'<p class="note">The first {len(rows)} of {len(findings)} findings, in rank '
                "order; all are in the table above.</p>")
    legend = ('<p class="exid">Bars: share of audited units flagged, coloured by severity; grey: '
              "the reference. Whiskers: 95% Wilson interval.</p>")
    return legend + _svg(width, height, body, "prevalence against reference") + note


def _finding_colors(ids: list[str], ranked: list[str]) -> dict[str, str]:
    order = sorted(set(ids), key=lambda i: (ranked.index(i) if i in ranked else len(ranked), i))
    return {fid: PALETTE[k] if k < len(PALETTE) else f"hsl({(k * 137.5) % 360:.0f},55%,42%)"
            for k, fid in enumerate(order)}


def map_chart(m: dict | None, ranked: list[str]) -> str:
    """Scatter of the sentence map: reference points hollow grey, corpus points by finding."""
    pts = (m or {}).get("points") or {}
    xs, ys = pts.get("x") or [], pts.get("y") or []
    if not xs:
        return '<p class="note">This audit.json holds no sentence map.</p>'
    n = len(xs)
    col = {k: (pts.get(k) or [None] * n) for k in ("source", "cluster", "finding_id", "text")}
    keep = range(n) if n <= MAX_MAP_POINTS else sorted({round(i * (n - 1) / (MAX_MAP_POINTS - 1))
                                                        for i in range(MAX_MAP_POINTS)})
    width, height, pad = 900, 560, 12
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (width - 2 * pad) / ((x1 - x0) or 1)
    sy = (height - 2 * pad) / ((y1 - y0) or 1)
    colors = _finding_colors([col["finding_id"][i] for i in keep if col["finding_id"][i]
                              and col["source"][i] != "reference"], ranked)
    layers: dict[int, list[str]] = {0: [], 1: [], 2: []}
    for i in keep:
        fid, is_ref = col["finding_id"][i], col["source"][i] == "reference"
        cx, cy = pad + (xs[i] - x0) * sx, height - pad - (ys[i] - y0) * sy
        cluster = col["cluster"][i]
        tag = "reference" if is_ref else (fid or "corpus")
        tip = f"[{tag}{'' if cluster in (None, -1) else f', cluster {cluster}'}] "
        tip += _short(col["text"][i] or "", MAX_TOOLTIP)
        if is_ref:
            layer, attrs = 0, 'class="r" r="3"'
        elif not fid:
            layer, attrs = 1, 'class="n" r="3"'
        else:
            layer, attrs = 2, f'r="3.4" fill="{colors[fid]}" fill-opacity=".85"'
        layers[layer].append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" {attrs}><title>{_e(tip)}'
                             "</title></circle>")
    body = [f'<rect width="{width}" height="{height}" fill="#fff" stroke="#ddd"/>']
    body += layers[0] + layers[1] + layers[2]
    counts = Counter(col["finding_id"][i] for i in keep if col["source"][i] != "reference")
    items = [f'<li><span class="swatch" style="background:{c}"></span>'
             + (f'<a href="#{_e(_anchor(fid))}">{_e(fid)}</a>' if fid in ranked else _e(fid))
             + f" ({counts[fid]})</li>" for fid, c in colors.items()]
    items += [f'<li><span class="swatch" style="background:{NULL_COLOR}"></span>corpus, no '
              "finding</li>",
              '<li><span class="swatch" style="border:1px solid #9a9a9a"></span>reference</li>']
    sampled = f", {len(keep)} of {n} points drawn" if len(keep) < n else ""
    caption = (f'<p class="exid">{_e(m.get("slot", "opening"))} sentences, 2-D layout by '
               f'{_e(m.get("method", "?"))}{sampled}. Hover a point for its sentence.</p>')
    legend = f'<ul class="legend">{"".join(items)}</ul>'
    return caption + _svg(width, height, body, "sentence map") + legend


def _y_axis(body: list[str], left: int, top: int, plot_w: int, plot_h: int, ymax: float,
            step: float) -> None:
    for k in range(int(round(ymax / step)) + 1):
        y = top + plot_h - plot_h * k * step / ymax
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                    'stroke="#e8e8e8"/>' + _text(left - 5, y + 4, _tick(k * step), "end"))


def length_chart(length: dict) -> str:
    """Overlaid histograms of words per unit as shares: corpus filled, reference outlined."""
    edges, corpus, ref = length["edges"], length["corpus"], length.get("reference")
    if not corpus:
        return '<p class="note">No lengths to show.</p>'
    shares = {"corpus": [c / (sum(corpus) or 1) for c in corpus]}
    if ref is not None:
        shares["reference"] = [c / (sum(ref) or 1) for c in ref]
    ymax, step = _nice_max(max(v for s in shares.values() for v in s))
    width, height, left, top, bottom = 900, 280, 50, 30, 42
    plot_w, plot_h = width - left - 20, height - top - bottom
    bw = plot_w / len(corpus)
    body: list[str] = []
    _y_axis(body, left, top, plot_w, plot_h, ymax, step)

    def bar_h(v: float) -> float:
        return plot_h * v / ymax

    for i, v in enumerate(shares["corpus"]):
        body.append(f'<rect x="{left + i * bw + 1:.1f}" y="{top + plot_h - bar_h(v):.1f}" '
                    f'width="{bw - 2:.1f}" height="{bar_h(v):.1f}" fill="{CORPUS_COLOR}" '
                    f'fill-opacity=".6"><title>{edges[i]}–{edges[i + 1]} words: corpus '
                    f'{_pct(v)}</title></rect>')
    if "reference" in shares:
        d = f"M{left} {top + plot_h}"
        for i, v in enumerate(shares["reference"]):
            y = top + plot_h - bar_h(v)
            d += f"V{y:.1f}H{left + (i + 1) * bw:.1f}"
        body.append(f'<path d="{d}V{top + plot_h}" fill="none" stroke="#444" stroke-width="1.6"/>')
    every = max(1, math.ceil(len(edges) / 12))
    for i in range(0, len(edges), every):
        body.append(_text(left + i * bw, top + plot_h + 15, str(edges[i]), "middle"))
    body.append(_text(left + plot_w / 2, height - 6, f"{length.get('unit', 'words')} per unit "
                      "(log-spaced bins; the end bins hold everything beyond)", "middle"))
    legend = [("corpus", length.get("corpus_median"), CORPUS_COLOR)]
    if "reference" in shares:
        legend.append(("reference", length.get("reference_median"), "#444"))
    x = left
    for name, med, color in legend:
        med_x = _median_x(med, edges, left, bw)
        if med_x is not None:
            body.append(f'<line x1="{med_x:.1f}" y1="{top}" x2="{med_x:.1f}" y2="{top + plot_h}" '
                        f'stroke="{color}" stroke-dasharray="4 3"/>')
        label = f"{name}" + ("" if med is None else f" (median {med:g})")
        body.append(f'<rect x="{x}" y="8" width="12" height="10" fill="{color}" '
                    f'fill-opacity="{.6 if name == "corpus" else 0}" stroke="{color}"/>'
                    + _text(x + 17, 17, label))
        x += 17 + 7 * len(label) + 24
    return _svg(width, height, body, "length distribution")


def _median_x(med: float | None, edges: list[int], left: float, bw: float) -> float | None:
    if med is None:
        return None
    for i in range(len(edges) - 1):
        if edges[i] <= med < edges[i + 1] or i == len(edges) - 2:
            frac = (min(max(med, edges[i]), edges[i + 1]) - edges[i]) / ((edges[i + 1] - edges[i]) or 1)
            return left + (i + frac) * bw
    return None


def markdown_chart(rows: list[dict]) -> str:
    """Grouped bars: share of units with each markdown feature, corpus beside reference."""
    if not rows:
        return '<p class="note">No markdown features to show.</p>'
    has_ref = any(r.get("reference") is not None for r in rows)
    ymax, step = _nice_max(max([r["corpus"] for r in rows] + [r.get("reference") or 0 for r in rows]))
    width, height, left, top, bottom = 900, 260, 50, 30, 30
    plot_w, plot_h = width - left - 20, height - top - bottom
    gw = plot_w / len(rows)
    bw = gw * (0.36 if has_ref else 0.6)
    body: list[str] = []
    _y_axis(body, left, top, plot_w, plot_h, ymax, step)
    for i, r in enumerate(rows):
        gx = left + i * gw + (gw - bw * (2 if has_ref else 1)) / 2
        bars = [("corpus", r["corpus"], CORPUS_COLOR)]
        if has_ref:
            bars.append(("reference", r.get("reference") or 0.0, REF_COLOR))
        for k, (name, v, color) in enumerate(bars):
            h = plot_h * v / ymax
            x = gx + k * bw
            body.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bw - 1:.1f}" '
                        f'height="{h:.1f}" fill="{color}"><title>{_e(r["feature"])}: {name} '
                        f'{_pct(v)}</title></rect>' + _text(x + bw / 2, top + plot_h - h - 3,
                                                            _pct(v, 0 if v >= .1 else 1), "middle",
                                                            'style="font-size:9.5px"'))
        body.append(_text(left + (i + .5) * gw, top + plot_h + 16, r["feature"], "middle"))
    body.append(f'<rect x="{left}" y="8" width="12" height="10" fill="{CORPUS_COLOR}"/>'
                + _text(left + 17, 17, "corpus"))
    if has_ref:
        body.append(f'<rect x="{left + 80}" y="8" width="12" height="10" fill="{REF_COLOR}"/>'
                    + _text(left + 97, 17, "reference"))
    return _svg(width, height, body, "markdown features")


# --- page parts -------------------------------------------------------------------------------

def _header(doc: dict) -> str:
    verdict = doc.get("verdict", "?")
    stats, counts = doc.get("stats") or {}, doc.get("counts") or {}
    c, ref = stats.get("corpus") or {}, stats.get("reference")
    rows = [("corpus", f"{c.get('file', (doc.get('config') or {}).get('corpus'))} — "
                       f"{c.get('audited', '?')} records audited, {c.get('rejected', 0)} rejected, "
                       f"{c.get('units', '?')} units")]
    rows.append(("reference", "none: findings graded by concentration alone" if not ref else
                 f"{ref.get('file')} — {ref.get('audited', '?')} records, "
                 f"{ref.get('units', '?')} units"))
    rows.append(("findings", f"{counts.get('fail', 0)} fail · {counts.get('warn', 0)} warn · "
                             f"{counts.get('info', 0)} info"))
    rows.append(("traitforge", f"{doc.get('traitforge_version', '?')}, "
                               f"created {doc.get('created_at', '?')}"))
    meta = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in rows)
    return (f'<h1 id="top">traitforge audit report <span class="verdict" style="background:'
            f'{VERDICT_COLOR.get(verdict, "#666")}">verdict: {_e(verdict).upper()}</span></h1>'
            f'<table class="meta">{meta}</table>')


def _overview(findings: list[dict]) -> str:
    head = ("<tr><th class=num>#</th><th>id</th><th>label</th><th>severity</th><th>methods</th>"
            "<th class=num>prevalence [95% CI]</th><th class=num>reference</th>"
            "<th class=num>lift</th><th class=num>q</th></tr>")
    rows = []
    for k, f in enumerate(findings, 1):
        q = (f.get("significance") or {}).get("q_value_bh")
        lift = "—" if f.get("lift") is None else f"{f['lift']:.1f}×"
        link = f'href="#{_e(_anchor(f["id"]))}"'
        rows.append(
            f"<tr><td class=num>{k}</td><td><a {link}><code>{_e(f['id'])}</code></a></td>"
            f"<td><a {link}>{_e(_short(f['label'], 60))}</a></td><td>{_badge(f['severity'])}</td>"
            f"<td>{_e(', '.join(f.get('methods') or [f.get('method', '')]))}</td>"
            f"<td class=num>{_pct(f['prevalence'])}{_ci(f.get('prevalence_ci95'))}</td>"
            f"<td class=num>{_pct(f.get('reference_prevalence'))}</td>"
            f"<td class=num>{lift}</td>"
            f"<td class=num>{'—' if q is None else f'{q:.2g}'}</td></tr>")
    return f'<table class="grid">{head}{"".join(rows)}</table>'


def _example(ex: dict) -> str:
    text, (s, e) = ex.get("excerpt", ""), ex.get("excerpt_span") or (0, 0)
    lead = "…" if ex.get("excerpt_offset") else ""
    where = f"{ex.get('doc_id')} · turn {ex.get('turn')} · chars {ex.get('start')}–{ex.get('end')}"
    return (f'<div class="exid">{_e(where)}</div><pre class="excerpt">{lead}{_e(text[:s])}'
            f"<mark>{_e(text[s:e])}</mark>{_e(text[e:])}</pre>")


def _foldable(title: str, n: int, content: str, open_up_to: int = 8) -> str:
    """A titled block, folded away (click to open) when it holds more than `open_up_to` rows."""
    if n <= open_up_to:
        return f"<h4>{_e(title)}</h4>{content}"
    return f"<details><summary><h4>{_e(title)}</h4></summary>{content}</details>"


def _finding(f: dict, flag_counts: dict[str, tuple[int, int]] | None) -> str:
    sig = f.get("significance") or {}
    methods = ", ".join(f.get("methods") or [f.get("method", "")])
    kv = [("methods · slot", f"{methods} · {f.get('slot')}"),
          ("flagged units", f"{f.get('n_flagged')} of {f.get('n_units')}"),
          ("prevalence", f"{_pct(f['prevalence'], 2)}{_ci(f.get('prevalence_ci95'))}"),
          ("reference", f"{_pct(f.get('reference_prevalence'), 2)}{_ci(f.get('reference_ci95'))}")]
    if f.get("lift") is not None:
        kv.append(("lift", f"{f['lift']:.2f}×"))
    if sig:
        kv.append(("test", f"{sig.get('test')}: z = {sig.get('z')}, p = {sig.get('p_value')}, "
                           f"q (BH) = {sig.get('q_value_bh')}"))
    if f.get("prompt_echo"):
        kv.append(("prompt echoes", str(f["prompt_echo"])))
    if flag_counts is None:
        kv.append(("flags.parquet", "not found"))
    else:
        docs, spans = flag_counts.get(f["id"], (0, 0))
        kv.append(("flags.parquet", f"{docs} documents, {spans} flagged spans"))
    if f.get("merge_rule"):
        kv.append(("merge rule", f["merge_rule"]))
    parts = [f'<section class="finding" id="{_e(_anchor(f["id"]))}">',
             f"<h3>{_badge(f['severity'])} {_e(f['label'])} <code>{_e(f['id'])}</code></h3>",
             f"<p>{_e(f.get('description', ''))}</p><table class=kv>",
             "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in kv), "</table>"]
    if f.get("skeleton"):
        parts.append(f'<h4>Skeleton</h4><pre class="excerpt">{_e(f["skeleton"])}</pre>')
    if f.get("evidence"):
        rows = "".join(f"<tr><td>{_e(ev.get('method'))}</td><td>{_e(ev.get('label'))}</td>"
                       f"<td class=num>{_e(ev.get('n_flagged'))}</td>"
                       f"<td class=num>{_e(ev.get('jaccard'))}</td></tr>" for ev in f["evidence"])
        parts.append(_foldable(f"Evidence ({len(f['evidence'])})", len(f["evidence"]),
                               "<table class='grid auto'><tr><th>method</th><th>label</th>"
                               "<th class=num>flagged</th><th class=num>Jaccard</th></tr>"
                               f"{rows}</table>"))
    if f.get("examples"):
        parts.append("<h4>Examples</h4>" + "".join(_example(ex) for ex in f["examples"]))
    if f.get("variants"):
        rows = "".join(f"<tr><td class=num>{k}</td><td>{_e(v)}</td></tr>"
                       for k, v in enumerate(f["variants"], 1))
        parts.append(_foldable(f"Variants ({len(f['variants'])})", len(f["variants"]),
                               "<table class='grid auto'><tr><th class=num>#</th><th>variant</th></tr>"
                               f"{rows}</table>"))
    parts.append('<p><a href="#top">↑ top</a></p></section>')
    return "".join(parts)


def _flag_counts(flags: pl.DataFrame | None) -> dict[str, tuple[int, int]] | None:
    if flags is None:
        return None
    if not {"finding_id", "doc_id"} <= set(flags.columns):
        return {}
    agg = flags.group_by("finding_id").agg(pl.col("doc_id").n_unique().alias("docs"),
                                           pl.len().alias("spans"))
    return {r["finding_id"]: (r["docs"], r["spans"]) for r in agg.iter_rows(named=True)}


def render_html(doc: dict, flags: pl.DataFrame | None) -> str:
    """The whole report page for an audit document and its flags (None: flags.parquet absent)."""
    findings = doc.get("findings") or []
    counts = _flag_counts(flags)
    dist = doc.get("distributions")
    if dist:
        dist_html = ("<h3>Length</h3>" + length_chart(dist["length"]) + "<h3>Markdown features</h3>"
                     '<p class="exid">Share of units with at least one.</p>'
                     + markdown_chart(dist["markdown"]))
    else:
        dist_html = '<p class="note">This audit.json holds no length or markdown distributions.</p>'
    body = [
        _header(doc),
        '<p><a href="#overview">Findings</a> · <a href="#prevalence">Prevalence</a> · '
        '<a href="#map">Sentence map</a> · <a href="#distributions">Distributions</a> · '
        '<a href="#details">Details</a></p>',
        f'<h2 id="overview">Findings ({len(findings)})</h2>',
        _overview(findings) if findings else '<p class="note">No over-represented patterns found.</p>',
        '<h2 id="prevalence">Prevalence against the reference</h2>', prevalence_chart(findings),
        '<h2 id="map">Opening-sentence map</h2>',
        map_chart(doc.get("map"), [f["id"] for f in findings]),
        '<h2 id="distributions">Distributions against the reference</h2>', dist_html,
        '<h2 id="details">Findings in detail</h2>', *(_finding(f, counts) for f in findings),
    ]
    corpus = (doc.get("config") or {}).get("corpus", "")
    title = f"traitforge audit: {doc.get('verdict', '?')} — {corpus}"
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head>\n<body><main>\n"
            + "\n".join(body) + "\n</main></body></html>\n")


def write_report(out_dir: str | Path, target: str | Path | None = None) -> Path:
    """Render DIR/audit.json and DIR/flags.parquet into `target` (default DIR/report.html)."""
    out = Path(out_dir)
    path = out / "audit.json"
    if not path.is_file():
        raise InputError(f"{path}: no such file (run `traitforge audit --out {out}` first)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: malformed audit.json ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise InputError(f"{path}: malformed audit.json (no list of findings)")
    flags = None
    if (out / "flags.parquet").is_file():
        try:
            flags = pl.read_parquet(out / "flags.parquet")
        except Exception as e:  # polars raises several types for a corrupt file
            raise InputError(f"{out / 'flags.parquet'}: not a readable Parquet file "
                             f"({e.__class__.__name__})") from None
    try:
        page = render_html(doc, flags)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError) as e:
        raise InputError(f"{path}: malformed audit.json ({e.__class__.__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''})") from None
    target = Path(target) if target else out / "report.html"
    atomic_write_text(target, page)
    return target
