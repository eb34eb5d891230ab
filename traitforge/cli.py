"""The `traitforge` command: parses flags and calls one function per command.

Exit codes: 0 pass, 1 a fail verdict (so a pipeline can gate on it), 2 usage or input error
(or a full disk), 3 a bug (its traceback, then one line saying so).
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
import traceback

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from traitforge import __version__
from traitforge.audit import AuditConfig
from traitforge.clean import CleanConfig
from traitforge.evaluate.runner import EvalConfig
from traitforge.generate import ChatsConfig, DocsConfig
from traitforge.io import FORMATS, InputError
from traitforge.pipeline import commands
from traitforge.reports.audit_console import render_audit
from traitforge.reports.clean_console import render_apply, render_clean
from traitforge.reports.html import write_report
from traitforge.reports.progress import step_progress
from traitforge.settings import add_flags, build, given
from traitforge.train.config import TrainConfig

MAX_REJECT_LINES = 20


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="traitforge", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"traitforge {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("audit", help="find over-represented structural patterns in a corpus")
    add_flags(a, AuditConfig)
    a.add_argument("--out", required=True, help="output directory")
    a.add_argument("--quiet", action="store_true", help="print only the verdict line")
    c = sub.add_parser("clean", help="rebalance a corpus by its audit, then audit the result")
    add_flags(c, CleanConfig)
    c.add_argument("--quiet", action="store_true", help="print only the re-audit verdict")
    t = sub.add_parser("train", help="fine-tune a model on audited data (midtrain or sft)")
    tk = t.add_subparsers(dest="kind", required=True)
    for kind, what in (("midtrain", "causal-LM training on plain documents, packed"),
                       ("sft", "chat SFT with loss on assistant tokens only")):
        k = tk.add_parser(kind, help=what)
        k.add_argument("data", help="JSONL, Parquet or CSV of " +
                       ("documents ({'text': ...})" if kind == "midtrain" else "chats"))
        k.add_argument("--out", required=True, help="run directory")
        k.add_argument("--config", help="TOML or YAML file of training settings")
        add_flags(k, TrainConfig, skip=() if kind == "sft" else ("keep_system",))
        k.add_argument("--format", choices=FORMATS, help="record shape (detected when omitted)")
        k.add_argument("--manifest", help="the audit manifest (or audit directory) of the data")
        k.add_argument("--allow-unaudited", action="store_true",
                       help="train without a passing audit (recorded in run.json and the card)")
        k.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
        k.add_argument("--quiet", action="store_true", help="no progress display")
    ap = sub.add_parser("audit-apply", prog="traitforge audit apply",
                        help="flag a new corpus with an earlier audit's findings "
                             "(`traitforge audit apply AUDIT_DIR NEW_CORPUS`)")
    ap.add_argument("audit_dir", help="the audit directory (holding audit.json)")
    ap.add_argument("corpus", help="the new corpus")
    ap.add_argument("--out", required=True, help="output directory: flags.parquet, apply.json")
    ap.add_argument("--format", choices=FORMATS, help="record shape (detected when omitted)")
    ap.add_argument("--strict", action="store_true", help="stop at the first bad record (exit 2)")
    ap.add_argument("--llm", metavar="SPEC", help="replay the LLM findings with this model "
                    "(skipped without it)")
    ap.add_argument("--llm-base-url", metavar="URL", help="an OpenAI-compatible server for --llm")
    ap.add_argument("--quiet", action="store_true", help="print nothing")
    e = sub.add_parser("eval", help="evaluate a model (or a train run) on an eval suite")
    add_flags(e, EvalConfig)
    e.add_argument("--quiet", action="store_true", help="no progress display or table")
    r = sub.add_parser("report", help="render report.html: for an audit, or comparing eval runs")
    r.add_argument("dir", nargs="+", help="an audit directory (holding audit.json), or one or "
                   "more eval directories (holding results.json)")
    r.add_argument("--out", help="the page to write (default: report.html in the first DIR)")
    r.add_argument("--quiet", action="store_true", help="print nothing")
    _generate_parser(sub)
    _run_parser(sub)
    return p


def _run_parser(sub) -> None:
    r = sub.add_parser("run", help="run a whole pipeline (generate, audit, clean, train, eval, "
                       "report) from PIPELINE.toml; unchanged stages are skipped")
    r.add_argument("pipeline", help="the pipeline file (TOML or YAML)")
    r.add_argument("--out", help="RUN_DIR (default: the file's out = ...)")
    r.add_argument("--full", action="store_true", help="apply the file's [full] overrides")
    r.add_argument("--quiet", action="store_true", help="no progress display or tables")


def _generate_parser(sub) -> None:
    g = sub.add_parser("generate", help="write trait data from a traits document: midtraining "
                       "documents or SFT chats")
    gk = g.add_subparsers(dest="kind", required=True)
    for kind, what in (("docs", "midtraining documents in which an AI assistant shows each trait"),
                       ("chats", "SFT chats whose answers show each trait")):
        k = gk.add_parser(kind, help=what)
        add_flags(k, DocsConfig if kind == "docs" else ChatsConfig)
        k.add_argument("--quiet", action="store_true", help="no progress display or table")


def _llm_spec(args) -> str | None:
    if args.llm_base_url and not args.llm:
        raise InputError("--llm-base-url needs --llm MODEL (the served model's name)")
    return args.llm


def _report_rejects(result, err: Console) -> None:
    rejected = [r for c in (result.corpus, result.reference) if c for r in c.rejected]
    for r in rejected[:MAX_REJECT_LINES]:
        err.print(f"[yellow]rejected[/] {escape(str(r))}", highlight=False, soft_wrap=True)
    if len(rejected) > MAX_REJECT_LINES:
        err.print(f"[yellow]… and {len(rejected) - MAX_REJECT_LINES} more rejected records[/]")


def cmd_audit(args, out: Console, err: Console) -> int:
    config = build(AuditConfig, given(args, AuditConfig))
    with step_progress(err, args.quiet) as progress:
        result, doc = commands.audit(config, args.out, progress)
    _report_rejects(result, err)
    if args.quiet:
        out.print(f"verdict: {doc['verdict']}  ({doc['counts']['fail']} fail, "
                  f"{doc['counts']['warn']} warn, {doc['counts']['info']} info)")
    else:
        render_audit(doc, args.out, out)
    return 1 if doc["verdict"] == "fail" else 0


def cmd_clean(args, out: Console, err: Console) -> int:
    config = build(CleanConfig, given(args, CleanConfig))
    with step_progress(err, args.quiet) as progress:
        summary = commands.clean(config, progress)
    if args.quiet:
        out.print(f"re-audit verdict: {summary['reaudit_verdict']}")
    else:
        render_clean(summary, out)
    return 1 if summary["reaudit_verdict"] == "fail" else 0


def cmd_train(args, out: Console, err: Console) -> int:
    from traitforge.train.config import load_train_config
    from traitforge.train.progress import RichProgress
    from traitforge.train.trainer import train

    cfg = load_train_config(args.config, given(args, TrainConfig))
    record = train(args.kind, args.data, args.out, cfg, args.manifest, args.allow_unaudited,
                   args.resume, [RichProgress(err, disable=args.quiet)], args.format)
    if record["gate"]["unaudited"]:
        err.print("[bold yellow]warning:[/] trained on unaudited data (--allow-unaudited); "
                  "recorded in run.json and model_card.md", highlight=False)
    d = record["data"]
    out.print(f"{args.kind}: {record['steps']} steps, loss {record['train_loss']:.4f}, "
              f"{record['tokens_per_s']} tokens/s, {record['wall_s']} s; used {d['used']} of "
              f"{d['read']} records ({d['rejected']} rejected) → {args.out}",
              highlight=False, markup=False, soft_wrap=True)
    return 0


def cmd_audit_apply(args, out: Console, err: Console) -> int:
    from traitforge.audit.replay import apply_audit

    result = apply_audit(args.audit_dir, args.corpus, args.out, args.format, args.strict,
                         _llm_spec(args), args.llm_base_url)
    if not args.quiet:
        render_apply(result, out)
    return 0


def cmd_eval(args, out: Console, err: Console) -> int:
    from traitforge.evaluate.runner import run_eval
    from traitforge.reports.eval_console import print_comparison

    config = build(EvalConfig, given(args, EvalConfig))
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} seq"),
                  TimeElapsedColumn(), console=err, transient=True,
                  disable=args.quiet) as progress:
        doc = run_eval(config, progress)
    if not args.quiet:
        print_comparison(out, [doc | {"_name": doc["name"]}])
    out.print(f"wrote {args.out}/results.json", highlight=False, markup=False, soft_wrap=True)
    return 0


def cmd_generate(args, out: Console, err: Console) -> int:
    from traitforge.generate import run_chats, run_docs
    from traitforge.reports.generate_console import render_generate

    config_type, run = (DocsConfig, run_docs) if args.kind == "docs" else (ChatsConfig, run_chats)
    config = build(config_type, given(args, config_type))
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True,
                  disable=args.quiet) as progress:
        summary = run(config, progress)
    if not args.quiet:
        render_generate(summary, out)
    return 0


def cmd_report(args, out: Console, err: Console) -> int:
    from pathlib import Path

    from traitforge.evaluate.inspect_logs import inspect_logs

    if all((Path(d) / "results.json").is_file() or inspect_logs(d) for d in args.dir):
        from traitforge.reports.eval_console import load_results, print_comparison
        from traitforge.reports.eval_html import write_eval_report

        path = write_eval_report(args.dir, args.out)
        if not args.quiet:
            print_comparison(out, load_results(args.dir))
    elif len(args.dir) == 1:
        path = write_report(args.dir[0], args.out)
    else:
        raise InputError("report takes one audit directory, or eval directories that each "
                         "hold results.json")
    if not args.quiet:
        out.print(f"wrote {path}", highlight=False, markup=False, soft_wrap=True)
    return 0


def cmd_run(args, out: Console, err: Console) -> int:
    from contextlib import contextmanager

    from traitforge.pipeline import UI, load_pipeline, run_pipeline
    from traitforge.reports.pipeline_console import render_pipeline
    from traitforge.reports.pipeline_html import write_pipeline_report
    from traitforge.train.progress import RichProgress

    pipeline = load_pipeline(args.pipeline, args.out, args.full)

    @contextmanager
    def ui(stage):
        if stage.name.startswith("train/"):
            yield UI(train_callbacks=[RichProgress(err, disable=args.quiet)])
            return
        with step_progress(err, args.quiet) as progress:
            yield UI(progress)

    def told(name: str, status: str) -> None:
        if not args.quiet:
            err.print(f"[bold]{name}[/]: {status}", highlight=False)

    record = run_pipeline(pipeline, ui, told)
    page = write_pipeline_report(pipeline.out)
    if not args.quiet:
        render_pipeline(pipeline.out, record, out)
    out.print(f"wrote {page}", highlight=False, markup=False, soft_wrap=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["audit", "apply"]:
        argv = ["audit-apply"] + argv[2:]
    args = _parser().parse_args(argv)
    out, err = Console(), Console(stderr=True)
    try:
        return {"audit": cmd_audit, "clean": cmd_clean, "train": cmd_train,
                "audit-apply": cmd_audit_apply, "eval": cmd_eval,
                "report": cmd_report, "generate": cmd_generate,
                "run": cmd_run}[args.command](args, out, err)
    except InputError as e:
        err.print(f"traitforge: error: {e}", highlight=False, markup=False, soft_wrap=True)
        return 2
    except Exception as e:
        if not disk_full(e):
            traceback.print_exc()
            err.print(f"traitforge: internal error ({type(e).__name__}), a bug: please report it "
                      "with the traceback above", highlight=False, markup=False, soft_wrap=True)
            return 3
        where = f" writing {e.filename}" if getattr(e, "filename", None) else ""
        err.print(f"traitforge: error: the disk is full{where} ({e}); free some space, then run "
                  "it again", highlight=False, markup=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("traitforge: interrupted", highlight=False)
        return 130


def disk_full(e: BaseException) -> bool:
    """Whether `e` is the disk (or quota) running out: an OSError, or a library's own error
    that carries the system's message (safetensors, polars)."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return os.strerror(errno.ENOSPC) in str(e)


if __name__ == "__main__":
    sys.exit(main())
