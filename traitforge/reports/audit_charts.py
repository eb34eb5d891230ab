"""The audit report's inline SVG charts: prevalence against the reference, the sentence map,
and the length and markdown distributions."""
from __future__ import annotations

import math
from collections import Counter

from traitforge.reports.svg import (CORPUS_COLOR, NULL_COLOR, PALETTE, REF_COLOR, SEVERITY_COLOR,
                                    bar_end, escape, gridlines, interval, nice_max, pct, short, svg,
                                    swatch, text, tick, y_axis)

MAX_CHART_ROWS = 60
MAX_MAP_POINTS = 3000
MAX_TOOLTIP = 240


def finding_anchor(fid: str) -> str:
    """The id of a finding's section on the audit page."""
    return f"finding-{fid}"


def prevalence_chart(findings: list[dict]) -> str:
    """Horizontal bars per finding: corpus prevalence (severity colour) over the reference's
    (grey), each with its 95% interval as a whisker."""
    rows = findings[:MAX_CHART_ROWS]
    if not rows:
        return '<p class="note">No findings.</p>'
    highs = [x for f in rows for x in ((f.get("prevalence_ci95") or [0, f["prevalence"]])[1],
                                       (f.get("reference_ci95") or [0, 0])[1])]
    xmax, step = nice_max(max(highs))
    left, width, top, rh = 330, 1000, 28, 24
    plot_w = width - left - 50  # room for the value labels right of the longest whisker
    height = top + rh * len(rows) + 10

    def sx(v: float) -> float:
        return left + plot_w * min(max(v, 0.0), xmax) / xmax

    body = gridlines(sx, xmax, step, top, height, tick)
    for i, f in enumerate(rows):
        y = top + i * rh
        tip = (f"{f['label']} — corpus {pct(f['prevalence'])}{interval(f.get('prevalence_ci95'))}, "
               f"reference {pct(f.get('reference_prevalence'))}{interval(f.get('reference_ci95'))}")
        body.append(f'<g><title>{escape(tip)}</title><a href="#{escape(finding_anchor(f["id"]))}">'
                    + text(left - 8, y + 14, short(f["label"], 46), "end") + "</a>")
        bars = [(f["prevalence"], f.get("prevalence_ci95"), SEVERITY_COLOR.get(f["severity"], "#666"),
                 y + 3, 9)]
        if f.get("reference_prevalence") is not None:
            bars.append((f["reference_prevalence"], f.get("reference_ci95"), REF_COLOR, y + 13, 7))
        for value, ci, color, by, bh in bars:
            body.append(f'<rect x="{left}" y="{by}" width="{sx(value) - left:.1f}" height="{bh}" '
                        f'fill="{color}"/>')
            body += bar_end(sx, value, ci, pct(value), by + bh - 0.5, by + bh / 2)
        body.append("</g>")
    note = ""
    if len(findings) > len(rows):
        note = (f'<p class="note">The first {len(rows)} of {len(findings)} findings, in rank '
                "order; all are in the table above.</p>")
    legend = ('<p class="exid">Bars: share of audited units flagged, coloured by severity; grey: '
              "the reference. Whiskers: 95% Wilson interval.</p>")
    return legend + svg(width, height, body, "prevalence against reference") + note


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
        tip += short(col["text"][i] or "", MAX_TOOLTIP)
        if is_ref:
            layer, attrs = 0, 'class="r" r="3"'
        elif not fid:
            layer, attrs = 1, 'class="n" r="3"'
        else:
            layer, attrs = 2, f'r="3.4" fill="{colors[fid]}" fill-opacity=".85"'
        layers[layer].append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" {attrs}><title>{escape(tip)}'
                             "</title></circle>")
    body = [f'<rect width="{width}" height="{height}" fill="#fff" stroke="#ddd"/>']
    body += layers[0] + layers[1] + layers[2]
    counts = Counter(col["finding_id"][i] for i in keep if col["source"][i] != "reference")
    items = [f"<li>{swatch(c)}"
             + (f'<a href="#{escape(finding_anchor(fid))}">{escape(fid)}</a>' if fid in ranked
                else escape(fid))
             + f" ({counts[fid]})</li>" for fid, c in colors.items()]
    items += [f"<li>{swatch(NULL_COLOR)}corpus, no finding</li>",
              '<li><span class="swatch" style="border:1px solid #9a9a9a"></span>reference</li>']
    sampled = f", {len(keep)} of {n} points drawn" if len(keep) < n else ""
    caption = (f'<p class="exid">{escape(m.get("slot", "opening"))} sentences, 2-D layout by '
               f'{escape(m.get("method", "?"))}{sampled}. Hover a point for its sentence.</p>')
    legend = f'<ul class="legend">{"".join(items)}</ul>'
    return caption + svg(width, height, body, "sentence map") + legend


def length_chart(length: dict) -> str:
    """Overlaid histograms of words per unit as shares: corpus filled, reference outlined."""
    edges, corpus, ref = length["edges"], length["corpus"], length.get("reference")
    if not corpus:
        return '<p class="note">No lengths to show.</p>'
    shares = {"corpus": [c / (sum(corpus) or 1) for c in corpus]}
    if ref is not None:
        shares["reference"] = [c / (sum(ref) or 1) for c in ref]
    ymax, step = nice_max(max(v for s in shares.values() for v in s))
    width, height, left, top, bottom = 900, 280, 50, 30, 42
    plot_w, plot_h = width - left - 20, height - top - bottom
    bw = plot_w / len(corpus)
    body = y_axis(left, top, plot_w, plot_h, ymax, step)

    def bar_h(v: float) -> float:
        return plot_h * v / ymax

    for i, v in enumerate(shares["corpus"]):
        body.append(f'<rect x="{left + i * bw + 1:.1f}" y="{top + plot_h - bar_h(v):.1f}" '
                    f'width="{bw - 2:.1f}" height="{bar_h(v):.1f}" fill="{CORPUS_COLOR}" '
                    f'fill-opacity=".6"><title>{edges[i]}–{edges[i + 1]} words: corpus '
                    f'{pct(v)}</title></rect>')
    if "reference" in shares:
        d = f"M{left} {top + plot_h}"
        for i, v in enumerate(shares["reference"]):
            y = top + plot_h - bar_h(v)
            d += f"V{y:.1f}H{left + (i + 1) * bw:.1f}"
        body.append(f'<path d="{d}V{top + plot_h}" fill="none" stroke="#444" stroke-width="1.6"/>')
    every = max(1, math.ceil(len(edges) / 12))
    for i in range(0, len(edges), every):
        body.append(text(left + i * bw, top + plot_h + 15, str(edges[i]), "middle"))
    body.append(text(left + plot_w / 2, height - 6, f"{length.get('unit', 'words')} per unit "
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
                    + text(x + 17, 17, label))
        x += 17 + 7 * len(label) + 24
    return svg(width, height, body, "length distribution")


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
    ymax, step = nice_max(max([r["corpus"] for r in rows] + [r.get("reference") or 0 for r in rows]))
    width, height, left, top, bottom = 900, 260, 50, 30, 30
    plot_w, plot_h = width - left - 20, height - top - bottom
    gw = plot_w / len(rows)
    bw = gw * (0.36 if has_ref else 0.6)
    body = y_axis(left, top, plot_w, plot_h, ymax, step)
    for i, r in enumerate(rows):
        gx = left + i * gw + (gw - bw * (2 if has_ref else 1)) / 2
        bars = [("corpus", r["corpus"], CORPUS_COLOR)]
        if has_ref:
            bars.append(("reference", r.get("reference") or 0.0, REF_COLOR))
        for k, (name, v, color) in enumerate(bars):
            h = plot_h * v / ymax
            x = gx + k * bw
            body.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bw - 1:.1f}" '
                        f'height="{h:.1f}" fill="{color}"><title>{escape(r["feature"])}: {name} '
                        f'{pct(v)}</title></rect>' + text(x + bw / 2, top + plot_h - h - 3,
                                                          pct(v, 0 if v >= .1 else 1), "middle",
                                                          'style="font-size:9.5px"'))
        body.append(text(left + (i + .5) * gw, top + plot_h + 16, r["feature"], "middle"))
    body.append(f'<rect x="{left}" y="8" width="12" height="10" fill="{CORPUS_COLOR}"/>'
                + text(left + 17, 17, "corpus"))
    if has_ref:
        body.append(f'<rect x="{left + 80}" y="8" width="12" height="10" fill="{REF_COLOR}"/>'
                    + text(left + 97, 17, "reference"))
    return svg(width, height, body, "markdown features")
