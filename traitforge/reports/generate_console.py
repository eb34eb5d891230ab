"""The table printed after a generate run."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table


def render_generate(summary: dict, console: Console) -> None:
    c, u = summary["counts"], summary["usage"]
    table = Table(title=f"generate {summary['pipeline']}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("requested", str(c["requested"]))
    table.add_row("written", str(c["written"]))
    table.add_row("failed", str(c["failed"]))
    for reason, n in c["failed_by"].items():
        table.add_row(f"  {reason}", str(n))
    table.add_row("model calls (cached)", f"{u['calls']} ({u['cache_hits']})")
    table.add_row("tokens in / out", f"{u['prompt_tokens']:,} / {u['completion_tokens']:,}")
    if summary["cost_usd"] is not None:
        table.add_row("cost", f"${summary['cost_usd']:.4f}")
    table.add_row("seconds", f"{summary['seconds']:.1f}")
    console.print(table)
    o = summary["outputs"]
    console.print(f"wrote {o['out']}, {o['failed']} and {o['summary']}", highlight=False,
                  markup=False, soft_wrap=True)
