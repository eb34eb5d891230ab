"""The audit's HTML report: one self-contained page (inline CSS, inline SVG charts, no scripts,
nothing fetched) rendered from audit.json and flags.parquet."""
from __future__ import annotations

from pathlib import Path

import polars as pl

from traitforge.audit.outputs import load_audit
from traitforge.io import InputError, atomic_write_text
from traitforge.reports.audit_charts import (finding_anchor, length_chart, map_chart,
                                             markdown_chart, prevalence_chart)
from traitforge.reports.audit_console import sampled_line
from traitforge.reports.svg import VERDICT_COLOR, badge, escape, interval, page, pct, short


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
    if stats and (sample := sampled_line(doc)):
        rows.append(("sample", sample))
    length = stats.get("length")
    if length and length.get("ratio"):
        rows.append(("length", f"replies {length['ratio']:.2f}× the reference's (median "
                               f"{length['corpus_median_words']:.0f} against "
                               f"{length['reference_median_words']:.0f} words); findings compared "
                               f"within {length['strata']} length strata"))
    rows.append(("findings", f"{counts.get('fail', 0)} fail · {counts.get('warn', 0)} warn · "
                             f"{counts.get('info', 0)} info"))
    rows.append(("traitforge", f"{doc.get('traitforge_version', '?')}, "
                               f"created {doc.get('created_at', '?')}"))
    meta = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    return (f'<h1 id="top">traitforge audit report <span class="verdict" style="background:'
            f'{VERDICT_COLOR.get(verdict, "#666")}">verdict: {escape(verdict).upper()}</span></h1>'
            f'<table class="meta">{meta}</table>')


def _overview(findings: list[dict]) -> str:
    head = ("<tr><th class=num>#</th><th>id</th><th>label</th><th>severity</th><th>methods</th>"
            "<th class=num>prevalence [95% CI]</th><th class=num>reference</th>"
            "<th class=num>lift</th><th class=num>q</th></tr>")
    rows = []
    for k, f in enumerate(findings, 1):
        q = (f.get("significance") or {}).get("q_value_bh")
        lift = "—" if f.get("lift") is None else f"{f['lift']:.1f}×"
        link = f'href="#{escape(finding_anchor(f["id"]))}"'
        rows.append(
            f"<tr><td class=num>{k}</td><td><a {link}><code>{escape(f['id'])}</code></a></td>"
            f"<td><a {link}>{escape(short(f['label'], 60))}</a></td><td>{badge(f['severity'])}</td>"
            f"<td>{escape(', '.join(f.get('methods', [])))}</td>"
            f"<td class=num>{pct(f['prevalence'])}{interval(f.get('prevalence_ci95'))}</td>"
            f"<td class=num>{pct(f.get('reference_prevalence'))}</td>"
            f"<td class=num>{lift}</td>"
            f"<td class=num>{'—' if q is None else f'{q:.2g}'}</td></tr>")
    return f'<table class="grid">{head}{"".join(rows)}</table>'


def _example(ex: dict) -> str:
    text, (s, e) = ex.get("excerpt", ""), ex.get("excerpt_span") or (0, 0)
    lead = "…" if ex.get("excerpt_offset") else ""
    where = f"{ex.get('doc_id')} · turn {ex.get('turn')} · chars {ex.get('start')}–{ex.get('end')}"
    return (f'<div class="exid">{escape(where)}</div><pre class="excerpt">{lead}{escape(text[:s])}'
            f"<mark>{escape(text[s:e])}</mark>{escape(text[e:])}</pre>")


def _foldable(title: str, n: int, content: str, open_up_to: int = 8) -> str:
    """A titled block, folded away (click to open) when it holds more than `open_up_to` rows."""
    if n <= open_up_to:
        return f"<h4>{escape(title)}</h4>{content}"
    return f"<details><summary><h4>{escape(title)}</h4></summary>{content}</details>"


def _finding(f: dict, flag_counts: dict[str, tuple[int, int]] | None) -> str:
    sig = f.get("significance") or {}
    methods = ", ".join(f.get("methods", []))
    kv = [("methods · slot", f"{methods} · {f.get('slot')}"),
          ("flagged units", f"{f.get('n_flagged')} of {f.get('n_units')}"),
          ("prevalence", f"{pct(f['prevalence'], 2)}{interval(f.get('prevalence_ci95'))}"),
          ("reference",
           f"{pct(f.get('reference_prevalence'), 2)}{interval(f.get('reference_ci95'))}")]
    if f.get("in_sample"):
        x = f["in_sample"]
        ref = (f", reference {x['reference_flagged']} of {x['reference_units']}"
               if x.get("reference_units") else "")
        kv.append(("in the discovery sample", f"{x['n_flagged']} of {x['n_units']}{ref} "
                                              "(what the passes judged)"))
    if f.get("reference_expected") is not None:
        kv.append(("reference at the corpus's lengths", pct(f["reference_expected"], 2)))
    if f.get("lift") is not None:
        kv.append(("lift", f"{f['lift']:.2f}×"))
    if sig:
        within = (f", within length strata z = {sig['z_length_strata']}"
                  if sig.get("z_length_strata") is not None else "")
        kv.append(("test", f"{sig.get('test')}: z = {sig.get('z')}, p = {sig.get('p_value')}"
                           f"{within}, q (BH) = {sig.get('q_value_bh')}"))
    if f.get("prompt_echo"):
        kv.append(("prompt echoes", str(f["prompt_echo"])))
    if flag_counts is None:
        kv.append(("flags.parquet", "not found"))
    else:
        docs, spans = flag_counts.get(f["id"], (0, 0))
        kv.append(("flags.parquet", f"{docs} documents, {spans} flagged spans"))
    if f.get("merge_rule"):
        kv.append(("merge rule", f["merge_rule"]))
    parts = [f'<section class="finding" id="{escape(finding_anchor(f["id"]))}">',
             f"<h3>{badge(f['severity'])} {escape(f['label'])} <code>{escape(f['id'])}</code></h3>",
             f"<p>{escape(f.get('description', ''))}</p><table class=kv>",
             "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in kv),
             "</table>"]
    if f.get("skeleton"):
        parts.append(f'<h4>Skeleton</h4><pre class="excerpt">{escape(f["skeleton"])}</pre>')
    if f.get("evidence"):
        rows = "".join(f"<tr><td>{escape(ev.get('method'))}</td><td>{escape(ev.get('label'))}</td>"
                       f"<td class=num>{escape(ev.get('n_flagged'))}</td>"
                       f"<td class=num>{escape(ev.get('jaccard'))}</td></tr>"
                       for ev in f["evidence"])
        parts.append(_foldable(f"Evidence ({len(f['evidence'])})", len(f["evidence"]),
                               "<table class='grid auto'><tr><th>method</th><th>label</th>"
                               "<th class=num>flagged</th><th class=num>Jaccard</th></tr>"
                               f"{rows}</table>"))
    if f.get("examples"):
        parts.append("<h4>Examples</h4>" + "".join(_example(ex) for ex in f["examples"]))
    if f.get("variants"):
        rows = "".join(f"<tr><td class=num>{k}</td><td>{escape(v)}</td></tr>"
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
    return page(f"traitforge audit: {doc.get('verdict', '?')} — {corpus}", body)


def write_report(out_dir: str | Path, target: str | Path | None = None) -> Path:
    """Render DIR/audit.json and DIR/flags.parquet into `target` (default DIR/report.html)."""
    audit = load_audit(out_dir)
    path = audit.path / "audit.json"
    flags = audit.flags() if (audit.path / "flags.parquet").is_file() else None
    try:
        rendered = render_html(audit.doc, flags)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ArithmeticError) as e:
        raise InputError(f"{path}: malformed audit.json ({e.__class__.__name__}: "
                         f"{str(e).splitlines()[0] if str(e) else ''})") from None
    target = Path(target) if target else audit.path / "report.html"
    atomic_write_text(target, rendered)
    return target
