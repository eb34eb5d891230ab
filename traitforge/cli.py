"""The `traitforge` command: parses flags and calls one function per command.

Exit codes: 0 pass, 1 a fail verdict (so a pipeline can gate on it), 2 usage or input error.
"""
from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from traitforge import __version__
from traitforge.audit import AuditConfig, DiscoverySettings, run_audit, write_outputs
from traitforge.audit.auditor import check_outputs
from traitforge.audit.clean import STRATEGIES, CleanSettings
from traitforge.audit.clean_files import clean_files
from traitforge.audit.clusters import ClusterSettings
from traitforge.audit.llm import LLMSettings
from traitforge.audit.stats import TESTS
from traitforge.audit.units import TURNS
from traitforge.io import FORMATS, InputError
from traitforge.reports.audit_console import render_audit
from traitforge.reports.clean_console import render_apply, render_clean
from traitforge.train.config import METHODS
from traitforge.reports.html import write_report

MAX_REJECT_LINES = 20


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="traitforge", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"traitforge {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    a = sub.add_parser("audit", help="find over-represented structural patterns in a corpus")
    a.add_argument("corpus", help="JSONL, JSONL.gz, Parquet or CSV of chats or documents")
    a.add_argument("--reference", help="a corpus of the same shape to compare against")
    a.add_argument("--patterns", help="TOML or YAML file of your own patterns")
    a.add_argument("--policy", help="TOML or YAML file of severity thresholds")
    a.add_argument("--out", required=True, help="output directory")
    a.add_argument("--format", choices=FORMATS, help="record shape (detected when omitted)")
    a.add_argument("--id-field", default="id", help="field holding record ids (default: id)")
    a.add_argument("--turns", choices=TURNS, default="all", help="assistant turns to audit")
    a.add_argument("--no-builtin", action="store_true", help="switch off the built-in detectors")
    a.add_argument("--strict", action="store_true", help="stop at the first bad record (exit 2)")
    a.add_argument("--seed", type=int, default=0, help="seed for the example choice")
    a.add_argument("--max-n", type=int, default=5, help="longest n-gram counted (default 5)")
    a.add_argument("--min-prevalence", type=float, default=0.005,
                   help="smallest share of units an n-gram needs to be tested (default 0.005)")
    a.add_argument("--test", choices=TESTS, default="z",
                   help="over-representation test against the reference (default: z)")
    a.add_argument("--no-templates", action="store_true", help="skip the sentence-template pass")
    a.add_argument("--no-clusters", action="store_true", help="skip the embedding-cluster pass")
    a.add_argument("--accurate", action="store_true",
                   help="embed with all-MiniLM-L6-v2 itself, not the fast static model")
    a.add_argument("--llm", metavar="SPEC", help="run the LLM pass (scan, merge, autorate) "
                   "with 'default' (embedded SmolLM2), a model path, or with --llm-base-url the "
                   "served model's name")
    a.add_argument("--llm-base-url", metavar="URL", help="an OpenAI-compatible server for --llm")
    a.add_argument("--llm-sample", type=_sample, default="auto", metavar="{auto,all,N}",
                   help="units autorated per pattern: sized by --llm-halfwidth (auto), all, or N")
    a.add_argument("--llm-batches", type=int, default=8, help="scan batches (default 8)")
    a.add_argument("--llm-batch-docs", type=int, default=8, help="documents per batch (default 8)")
    a.add_argument("--llm-halfwidth", type=float, default=0.05,
                   help="target 95%% interval half-width of the auto sample (default 0.05)")
    a.add_argument("--quiet", action="store_true", help="print only the verdict line")
    c = sub.add_parser("clean", help="rebalance a corpus by its audit, then audit the result")
    c.add_argument("corpus", help="the corpus that was audited")
    c.add_argument("--audit", required=True, help="its audit directory")
    c.add_argument("--out", required=True, help="the cleaned corpus (JSONL); beside it go "
                   "NAME.removed.jsonl and the re-audit in NAME.audit/")
    c.add_argument("--finding", action="append", default=[],
                   help="a finding id to bring down (repeatable; default: every fail and warn)")
    c.add_argument("--strategy", choices=STRATEGIES, default="drop",
                   help="drop flagged documents, or strip a detachable opener or closer")
    c.add_argument("--stratify", action="append", default=[],
                   help="a field whose values are balanced separately, e.g. trait (repeatable)")
    c.add_argument("--cap", type=float, help="target prevalence for findings with no reference "
                   "(default: the policy's clean_cap, 0.05)")
    c.add_argument("--seed", type=int, default=0, help="seed for ties between documents")
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
        k.add_argument("--model", help="'default' (embedded SmolLM2-135M-Instruct), a "
                       "checkpoint, a hub id, or an earlier run directory")
        k.add_argument("--method", choices=METHODS)
        k.add_argument("--lr", dest="learning_rate", type=float, help="learning rate")
        k.add_argument("--epochs", type=float)
        k.add_argument("--max-steps", type=int, help="optimizer steps (overrides --epochs)")
        k.add_argument("--batch-size", type=int)
        k.add_argument("--grad-accum", type=int, help="gradient accumulation steps")
        k.add_argument("--max-length", type=int, help="tokens per sequence")
        k.add_argument("--lora-r", type=int)
        k.add_argument("--save-steps", type=int, help="checkpoint every N steps")
        k.add_argument("--seed", type=int)
        k.add_argument("--fp32", dest="bf16", action="store_false", default=None,
                       help="train in fp32 instead of bf16 mixed precision")
        if kind == "sft":
            k.add_argument("--keep-system", action="store_true", default=None,
                           help="keep system prompts (the recipe drops them)")
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
    e.add_argument("model", help="'default', a checkpoint, a train run directory, or with "
                   "--base-url the served model's name")
    e.add_argument("--suite", required=True, help="TOML or YAML eval suite")
    e.add_argument("--out", required=True, help="output directory for results.json")
    e.add_argument("--name", help="the run's name in reports (default: the --out folder's name)")
    e.add_argument("--task", action="append", default=[], help="run only this task (repeatable)")
    e.add_argument("--limit", type=int, help="at most N items per task")
    e.add_argument("--seed", type=int, default=0, help="seed for sampling items and generation")
    e.add_argument("--batch-size", type=int, default=8, help="sequences per forward pass")
    e.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    e.add_argument("--max-new-tokens", type=int, default=256, help="longest generated reply")
    e.add_argument("--base-url", help="an OpenAI-compatible server for the model under test, "
                   "e.g. http://127.0.0.1:8000/v1")
    e.add_argument("--api-key", help="its key (or TRAITFORGE_API_KEY / OPENAI_API_KEY)")
    e.add_argument("--cache-dir", help="cache HTTP responses here, so a rerun costs nothing")
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
        k.add_argument("traits", help="the traits document (Markdown: one bullet per trait)")
        k.add_argument("--n", type=int, required=True, help="records to generate")
        k.add_argument("--out", required=True, help="output JSONL; beside it go NAME.failed.jsonl, "
                       "NAME.generate.json and the work directory OUT.work/ (resumed on rerun)")
        k.add_argument("--model", default="default", help="'default' (embedded "
                       "SmolLM2-135M-Instruct), a checkpoint, or with --base-url the served model")
        k.add_argument("--base-url", help="an OpenAI-compatible server, e.g. "
                       "http://127.0.0.1:8000/v1")
        k.add_argument("--api-key", help="its key (or TRAITFORGE_API_KEY / OPENAI_API_KEY)")
        k.add_argument("--concurrency", type=int, help="HTTP requests in flight (default 4)")
        k.add_argument("--batch-size", type=int, default=8, help="local sequences per batch")
        k.add_argument("--device", help="cpu or cuda for a local model (default: cuda if any)")
        k.add_argument("--wave", type=int, default=16,
                       help="records per wave; each step is one backend call over a wave")
        k.add_argument("--retries", type=int, default=2,
                       help="asks again after an unusable reply (default 2)")
        k.add_argument("--seed", type=int, default=0)
        k.add_argument("--temperature", type=float, default=0.7,
                       help="for the writing steps (judging steps are greedy)")
        k.add_argument("--max-new-tokens", type=int, default=1024, help="longest reply")
        k.add_argument("--avoid", metavar="AUDIT_DIR",
                       help="an audit whose warn/fail patterns the prompts say to avoid")
        k.add_argument("--price-in", type=float, help="$ per million prompt tokens, for the cost")
        k.add_argument("--price-out", type=float, help="$ per million completion tokens")
        if kind == "docs":
            k.add_argument("--types", dest="doc_types", type=int, default=5,
                           help="document types brainstormed per trait, at least (default 5)")
        else:
            k.add_argument("--min-rating", type=float, default=6.0,
                           help="keep a chat when the autorater's realism and quality (1-10) "
                                "both reach this (default 6)")
            k.add_argument("--dedup", type=float, default=0.92,
                           help="drop a prompt this close (cosine) to an accepted one; 0 keeps "
                                "all (default 0.92)")
        k.add_argument("--quiet", action="store_true", help="no progress display or table")


def _sample(value: str) -> str | int:
    if value in ("auto", "all"):
        return value
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise argparse.ArgumentTypeError("expected auto, all or a positive number")


def _llm_spec(args) -> str | None:
    if args.llm_base_url and not args.llm:
        raise InputError("--llm-base-url needs --llm MODEL (the served model's name)")
    return args.llm


def _llm_settings(args) -> LLMSettings | None:
    if not _llm_spec(args):
        return None
    from pathlib import Path

    return LLMSettings(spec=args.llm, base_url=args.llm_base_url,
                       cache_dir=str(Path(args.out) / "llm_cache"), sample=args.llm_sample,
                       halfwidth=args.llm_halfwidth, batches=args.llm_batches,
                       batch_docs=args.llm_batch_docs)


def _report_rejects(result, err: Console) -> None:
    rejected = [r for c in (result.corpus, result.reference) if c for r in c.rejected]
    for r in rejected[:MAX_REJECT_LINES]:
        err.print(f"[yellow]rejected[/] {escape(str(r))}", highlight=False, soft_wrap=True)
    if len(rejected) > MAX_REJECT_LINES:
        err.print(f"[yellow]… and {len(rejected) - MAX_REJECT_LINES} more rejected records[/]")


def cmd_audit(args, out: Console, err: Console) -> int:
    config = AuditConfig(
        corpus=args.corpus, reference=args.reference, patterns=args.patterns, policy=args.policy,
        format=args.format, id_field=args.id_field, turns=args.turns, builtin=not args.no_builtin,
        strict=args.strict, seed=args.seed, templates=not args.no_templates,
        clusters=not args.no_clusters, clustering=ClusterSettings(accurate=args.accurate),
        discovery=DiscoverySettings(max_n=args.max_n, min_prevalence=args.min_prevalence,
                                    test=args.test), llm=_llm_settings(args))
    check_outputs(config, args.out)
    with _progress(err, args.quiet) as progress:
        result = run_audit(config, progress)
        doc = write_outputs(result, args.out)
        write_report(args.out)
    _report_rejects(result, err)
    if args.quiet:
        out.print(f"verdict: {doc['verdict']}  ({doc['counts']['fail']} fail, "
                  f"{doc['counts']['warn']} warn, {doc['counts']['info']} info)")
    else:
        render_audit(doc, args.out, out)
    return 1 if doc["verdict"] == "fail" else 0


def cmd_clean(args, out: Console, err: Console) -> int:
    settings = CleanSettings(tuple(args.finding), args.strategy, tuple(args.stratify), args.seed)
    with _progress(err, args.quiet) as progress:
        summary = clean_files(args.corpus, args.audit, args.out, settings, args.cap, progress)
        write_report(summary["reaudit"])
    if args.quiet:
        out.print(f"re-audit verdict: {summary['reaudit_verdict']}")
    else:
        render_clean(summary, out)
    return 1 if summary["reaudit_verdict"] == "fail" else 0


def cmd_train(args, out: Console, err: Console) -> int:
    from traitforge.train.config import load_train_config
    from traitforge.train.progress import RichProgress
    from traitforge.train.trainer import train

    keys = ("model", "method", "learning_rate", "epochs", "max_steps", "batch_size", "grad_accum",
            "max_length", "lora_r", "save_steps", "seed", "keep_system", "bf16")
    cfg = load_train_config(args.config, {k: getattr(args, k, None) for k in keys})
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


def _progress(err: Console, quiet: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err, transient=True, disable=quiet)


def cmd_audit_apply(args, out: Console, err: Console) -> int:
    from traitforge.audit.apply import apply_audit

    result = apply_audit(args.audit_dir, args.corpus, args.out, args.format, args.strict,
                         _llm_spec(args), args.llm_base_url)
    if not args.quiet:
        render_apply(result, out)
    return 0


def cmd_eval(args, out: Console, err: Console) -> int:
    from traitforge.evaluate.runner import EvalConfig, run_eval
    from traitforge.reports.eval_console import print_comparison

    config = EvalConfig(args.model, args.suite, args.out, args.name, args.task, args.limit,
                        args.seed, args.batch_size, args.device, args.max_new_tokens,
                        args.base_url, args.api_key, args.cache_dir)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} seq"),
                  TimeElapsedColumn(), console=err, transient=True,
                  disable=args.quiet) as progress:
        doc = run_eval(config, progress)
    if not args.quiet:
        print_comparison(out, [doc | {"_name": doc["name"]}])
    out.print(f"wrote {args.out}/results.json", highlight=False, markup=False, soft_wrap=True)
    return 0


def cmd_generate(args, out: Console, err: Console) -> int:
    from dataclasses import fields

    from traitforge.generate import ChatsConfig, DocsConfig, run_chats, run_docs
    from traitforge.reports.generate_console import render_generate

    config_type, run = (DocsConfig, run_docs) if args.kind == "docs" else (ChatsConfig, run_chats)
    config = config_type(**{f.name: getattr(args, f.name) for f in fields(config_type)})
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True,
                  disable=args.quiet) as progress:
        summary = run(config, progress)
    if not args.quiet:
        render_generate(summary, out)
    return 0


def cmd_report(args, out: Console, err: Console) -> int:
    from pathlib import Path

    if all((Path(d) / "results.json").is_file() for d in args.dir):
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
        with _progress(err, args.quiet) as progress:
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
    except KeyboardInterrupt:
        err.print("traitforge: interrupted", highlight=False)
        return 130


if __name__ == "__main__":
    sys.exit(main())
