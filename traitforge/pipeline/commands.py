"""What `traitforge audit` and `traitforge clean` do, step by step, as one function each: the
CLI and the pipeline's stages both call these, so a command and its stage cannot differ."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from traitforge.audit import AuditConfig, AuditResult, run_audit, write_outputs
from traitforge.audit.outputs import check_outputs
from traitforge.clean import CleanConfig, clean_corpus
from traitforge.reports.html import render_html


def audit(config: AuditConfig, out_dir: str | Path, progress=None) -> tuple[AuditResult, dict]:
    """Audit into OUT_DIR (audit.json, flags, manifest, report.html); the LLM pass's calls are
    cached in OUT_DIR/llm_cache unless the config names another cache."""
    if config.llm is not None and config.llm.cache_dir is None:
        config = replace(config, llm=replace(config.llm, cache_dir=str(Path(out_dir) / "llm_cache")))
    check_outputs(config, out_dir)
    result = run_audit(config, progress)
    doc = write_outputs(result, out_dir, render_html)
    return result, doc


def clean(config: CleanConfig, progress=None) -> dict:
    """Clean by an audit and audit the result (with its report); the summary."""
    return clean_corpus(config, progress, render_html)
