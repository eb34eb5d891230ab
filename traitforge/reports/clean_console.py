"""The terminal summaries of `traitforge clean` (from clean.json) and `audit apply`."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from traitforge.reports.audit_console import VERDICT_STYLE
from traitforge.reports.svg import pct


def render_clean(summary: dict, console: Console) -> None:
    c = summary["counts"]
    console.print(f"[bold]clean[/] {escape(summary['corpus'])} → {escape(summary['out'])} "
                  f"(strategy {summary['strategy']})")
    console.print(f"read {c['read']} = kept {c['kept']} + dropped {c['dropped']} + rejected "
                  f"{c['rejected']}   stripped {c['stripped']} of the kept")
    table = Table(title="findings brought to target (share of documents)")
    for col, just in (("finding", "left"), ("before", "right"), ("target", "right"),
                      ("after", "right")):
        table.add_column(col, justify=just)
    for f in summary["findings"]:
        table.add_row(escape(f["id"]), pct(f["before"]), pct(f["target"]), pct(f["after"]))
    console.print(table)
    if summary["strata"]:
        strata = Table(title="documents per stratum")
        for col in ("stratum", "before", "after"):
            strata.add_column(col)
        for k, v in summary["strata"].items():
            strata.add_row(escape(k), str(v["before"]), str(v["after"]))
        console.print(strata)
    verdict = summary["reaudit_verdict"]
    counts = summary["reaudit_counts"]
    console.print(f"re-audit: [{VERDICT_STYLE[verdict]}] {verdict.upper()} [/] "
                  f"({counts['fail']} fail, {counts['warn']} warn, {counts['info']} info) → "
                  f"{escape(summary['reaudit'])}   removed records → {escape(summary['removed'])}")


def render_apply(result: dict, console: Console) -> None:
    console.print(f"[bold]audit apply[/] {escape(result['audit'])} → {escape(result['corpus'])}: "
                  f"read {result['read']} = used {result['used']} + rejected {result['rejected']}; "
                  f"{result['units']} units")
    table = Table(title="findings in the new corpus (share of units)")
    for col, just in (("finding", "left"), ("severity", "left"), ("audited", "right"),
                      ("new", "right"), ("95% CI", "right")):
        table.add_column(col, justify=just)
    for f in result["findings"]:
        lo, hi = f["ci95"]
        table.add_row(escape(f["label"][:60]), f["severity"], pct(f["training_prevalence"]),
                      pct(f["prevalence"]), f"{pct(lo)}–{pct(hi)}")
    console.print(table)
    for f in result.get("skipped", []):
        console.print(f"[yellow]skipped[/] {escape(f['finding_id'])}: {escape(f['reason'])}")
