"""The kit the HTML report pages share: their stylesheet and page shell, colours, text
formatting, and the pieces of inline SVG charts (axes, gridlines, labels, whiskers, legends)."""
from __future__ import annotations

import html
import math

SEVERITY_COLOR = {"fail": "#c62828", "warn": "#b26a00", "info": "#1565c0"}
VERDICT_COLOR = {"fail": "#c62828", "warn": "#b26a00", "pass": "#2e7d32"}
CORPUS_COLOR, REF_COLOR, NULL_COLOR = "#3b6fd8", "#8a8a8a", "#c8c8c8"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#393b79", "#ad494a", "#637939")

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


def page(title: str, body: list[str], extra_css: str = "") -> str:
    """A whole self-contained HTML page: the shared stylesheet (plus `extra_css`), then `body`."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{CSS}{extra_css}</style></head>\n<body><main>\n"
            + "\n".join(body) + "\n</main></body></html>\n")


def escape(x) -> str:
    """`x` as HTML-escaped text; None as the empty string."""
    return html.escape("" if x is None else str(x))


def pct(x: float | None, digits: int = 1) -> str:
    """A share as a percentage ('61.5%'), or '—' for None."""
    return "—" if x is None else f"{100 * x:.{digits}f}%"


def interval(ci) -> str:
    """A 95% interval as ' [54.6%–68.0%]', or '' for none."""
    return "" if not ci else f" [{pct(ci[0])}–{pct(ci[1])}]"


def tick(x: float) -> str:
    """A share as a percentage axis label, without trailing zeros ('2.5%', '10%')."""
    return f"{round(100 * x, 6):g}%"


def short(s: str, n: int) -> str:
    """`s` on one line, cut to `n` characters with an ellipsis when longer."""
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def badge(severity: str) -> str:
    """A severity as a coloured badge."""
    return (f'<span class="badge" style="background:{SEVERITY_COLOR.get(severity, "#666")}">'
            f"{escape(severity)}</span>")


def swatch(color: str) -> str:
    """A small dot of `color`, for legends and table headers."""
    return f'<span class="swatch" style="background:{color}"></span>'


def legend(series: dict[str, str]) -> str:
    """A legend line: a swatch and a name for each series."""
    items = "".join(f"<li>{swatch(c)}{escape(name)}</li>" for name, c in series.items())
    return f'<ul class="legend">{items}</ul>'


def svg(width: int, height: int, body: list[str], label: str) -> str:
    """An <svg> element of the given size around `body`, labelled for screen readers."""
    return (f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{escape(label)}">' + "".join(body) + "</svg>")


def text(x: float, y: float, s: str, anchor: str = "start", extra: str = "") -> str:
    """An SVG <text> of `s` at (x, y); `extra` is added as raw attributes."""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" {extra}>{escape(s)}</text>'


def nice_max(value: float, share: bool = True) -> tuple[float, float]:
    """An axis maximum of at least `value` and a tick step giving at most ~6 ticks; a share's
    axis stops at 1."""
    value = max(value, 1e-4)
    step = 10 ** math.floor(math.log10(value / 5))
    for mult in (1, 2, 2.5, 5, 10):
        if value / (step * mult) <= 6:
            step *= mult
            break
    top = math.ceil(value / step - 1e-9) * step
    return (min(1.0, top) if share else top), step


def gridlines(sx, xmax: float, step: float, top: float, height: float, label) -> list[str]:
    """Vertical gridlines at every `step` up to `xmax`, each labelled by `label` above the plot."""
    out = []
    for k in range(int(round(xmax / step)) + 1):
        x = sx(k * step)
        out.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 6}" '
                   'stroke="#e4e4e4"/>' + text(x, top - 10, label(k * step), "middle"))
    return out


def y_axis(left: int, top: int, plot_w: int, plot_h: int, ymax: float, step: float) -> list[str]:
    """Horizontal gridlines at every `step` up to `ymax`, each with its percentage at the left."""
    out = []
    for k in range(int(round(ymax / step)) + 1):
        y = top + plot_h - plot_h * k * step / ymax
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                   'stroke="#e8e8e8"/>' + text(left - 5, y + 4, tick(k * step), "end"))
    return out


def bar_end(sx, value: float, ci, label: str, label_y: float, cy: float) -> list[str]:
    """A bar's `label` right of its end or interval, and the interval (if any) as a whisker."""
    end = sx(max(value, ci[1] if ci else value)) + 5
    out = [text(end, label_y, label, extra='style="font-size:9px"')]
    if ci:
        x1, x2 = sx(ci[0]), sx(ci[1])
        out.append(f'<path d="M{x1:.1f} {cy}H{x2:.1f}M{x1:.1f} {cy - 3}v6M{x2:.1f} '
                   f'{cy - 3}v6" stroke="#222" stroke-width="1" fill="none"/>')
    return out
