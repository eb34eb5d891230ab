"""The audit's terminal report, rendered from the contents of audit.json."""
from __future__ import annotations

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from traitforge.reports.svg import pct

SEVERITY_STYLE = {"fail": "bold red", "warn": "bold yellow", "info": "cyan"}
VERDICT_STYLE = {"fail": "bold white on red", "warn": "bold black on yellow",
                 "pass": "bold white on green"}


def _bar(value: float, width: int = 20) -> Text:
    filled = round(max(0.0, min(1.0, value)) * width)
    return Text("█" * filled + "·" * (width - filled), style="magenta")


def sampled_line(doc: dict) -> str | None:
    """What the passes looked at where a corpus was larger than the discovery sample."""
    parts = [f"{what}: {x['sample']['records']:,} of {x['audited']:,} records"
             for what in ("corpus", "reference") if (x := doc["stats"].get(what)) and "sample" in x]
    if not parts:
        return None
    return (f"patterns looked for in a random sample ({'; '.join(parts)}), then counted in "
            "every record: prevalences and flags are the whole file's; the tests, evidence, "
            "distributions, the reference's rate at the corpus's lengths and any LLM finding "
            "are the sample's")


def summary_panel(doc: dict, out_dir: str) -> Panel:
    c = doc["stats"]["corpus"]
    lines = [
        f"[bold]corpus[/]     {escape(c['file'])}  ({c['format']}, sha256 {c['sha256'][:12]}…)",
        f"[bold]records[/]    read {c['read']} = audited {c['audited']} + rejected {c['rejected']}"
        f"   units {c['units']}   mean {c['chars_mean']:.0f} chars",
    ]
    ref = doc["stats"].get("reference")
    if ref:
        lines.append(f"[bold]reference[/]  {escape(ref['file'])}  read {ref['read']} = audited "
                     f"{ref['audited']} + rejected {ref['rejected']}   units {ref['units']}")
        length = doc["stats"].get("length")
        if length and length.get("ratio"):
            lines.append(f"[bold]length[/]     the corpus's replies are {length['ratio']:.2f}× the "
                         f"reference's (median {length['corpus_median_words']:.0f} against "
                         f"{length['reference_median_words']:.0f} words); findings are compared "
                         f"within {length['strata']} length strata")
    else:
        lines.append("[bold]reference[/]  none: findings are graded by concentration alone")
    if sample := sampled_line(doc):
        lines.append(f"[bold]sample[/]     {sample}")
    counts = doc["counts"]
    lines.append(f"[bold]findings[/]   [red]{counts['fail']} fail[/]  [yellow]{counts['warn']} "
                 f"warn[/]  [cyan]{counts['info']} info[/]   n-grams examined "
                 f"{doc['stats']['ngrams_examined']}")
    llm = doc.get("llm")
    if llm:
        u, s = llm["usage"], llm["sample"]
        lines.append(f"[bold]LLM pass[/]   {escape(llm['backend']['identity'])}: "
                     f"{sum(llm['calls'].values())} calls ({u.get('cache_hits', 0)} cached), "
                     f"{u.get('prompt_tokens', 0)} + {u.get('completion_tokens', 0)} tokens; "
                     f"{len(llm['candidates'])} candidates, {len(llm['patterns'])} patterns "
                     f"rated on {s['rated']} of {s['units']} units")
    lines.append(f"[bold]outputs[/]    {escape(str(out_dir))}/audit.json, flags.parquet, rejected.jsonl")
    verdict = doc["verdict"]
    title = Text(f" verdict: {verdict.upper()} ", style=VERDICT_STYLE[verdict])
    return Panel("\n".join(lines), title=title, title_align="left", expand=False)


def findings_table(doc: dict, limit: int = 20) -> Table:
    has_ref = doc["stats"].get("reference") is not None
    table = Table(title="Over-represented patterns, ranked", expand=False)
    table.add_column("#", justify="right")
    table.add_column("sev")
    table.add_column("pattern", ratio=1, min_width=24)
    table.add_column("prevalence", no_wrap=True)
    if has_ref:
        table.add_column("ref", justify="right", no_wrap=True)
        table.add_column("lift", justify="right", no_wrap=True)
    for k, f in enumerate(doc["findings"][:limit], 1):
        lo, hi = f["prevalence_ci95"]
        pattern = Text(f["label"], style="bold")
        pattern.append(f"\n{'+'.join(f['methods'])} · {f['slot']} · {f['id']}", style="dim")
        prevalence = Text(f"{pct(f['prevalence']):>6} ") + _bar(f["prevalence"], 10)
        prevalence.append(f"\n{pct(lo)}–{pct(hi)}", style="dim")
        row = [str(k), Text(f["severity"], style=SEVERITY_STYLE[f["severity"]]), pattern,
               prevalence]
        if has_ref:
            ref = f.get("reference_expected")
            row += [pct(f["reference_prevalence"] if ref is None else ref), f"{f['lift']:.1f}×"]
        table.add_row(*row)
    caption = "prevalence: share of audited units, 95% Wilson interval below"
    if doc["stats"].get("length"):
        caption += "; ref: the reference's prevalence at the corpus's lengths"
    if len(doc["findings"]) > limit:
        caption += f"; {len(doc['findings']) - limit} more findings in audit.json"
    table.caption = caption
    return table


def example_text(example: dict) -> Text:
    text = example["excerpt"].replace("\n", " ⏎ ")
    start, end = example["excerpt_span"]
    # The excerpt's newlines became three characters each; shift the span to match.
    shift_start = example["excerpt"][:start].count("\n") * 2
    shift_end = example["excerpt"][:end].count("\n") * 2
    out = Text(text[: 300 + shift_end])
    out.stylize("bold black on yellow", start + shift_start, end + shift_end)
    return out


def examples_view(doc: dict, top: int = 5) -> Group:
    parts = []
    for k, f in enumerate([f for f in doc["findings"] if f["severity"] != "info"][:top], 1):
        body = [Text(f["description"], style="italic")]
        for ex in f["examples"]:
            body.append(Text(f"{ex['doc_id']}: ", style="dim") + example_text(ex))
        parts.append(Panel(Group(*body), title=f"[{SEVERITY_STYLE[f['severity']]}]{f['severity']}"
                           f"[/] {escape(f['label'])}", title_align="left"))
    return Group(*parts)


def render_audit(doc: dict, out_dir: str, console: Console | None = None) -> None:
    console = console or Console()
    console.print(summary_panel(doc, out_dir))
    if doc["findings"]:
        console.print(findings_table(doc))
        console.print(examples_view(doc))
    else:
        console.print("[green]No over-represented patterns found.[/]")
