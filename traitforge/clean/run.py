"""`traitforge clean`: read a corpus and its audit, rebalance, write, and audit the result."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from traitforge.audit import audit_inputs, check_outputs, load_audit, run_audit, write_outputs
from traitforge.audit.config import AuditConfig
from traitforge.clean.config import CleanConfig
from traitforge.clean.originals import as_input, raw_rows
from traitforge.clean.select import CleanResult, clean
from traitforge.io import InputError, atomic_write_text, read_snapshot, snapshot, write_jsonl


def audit_paths(out: str | Path) -> tuple[Path, Path]:
    """Where clean writes the removed records and the re-audit of its output."""
    out = Path(out)
    stem = out.name[:-len(".jsonl")] if out.name.endswith(".jsonl") else out.stem
    return out.with_name(f"{stem}.removed.jsonl"), out.with_name(f"{stem}.audit")

def clean_corpus(settings: CleanConfig, progress=None, render=None) -> dict:
    """Rebalance the corpus by its audit into `settings.out`, then audit that with the audit's
    own settings (with `render`, its report too). Returns the summary, which the new audit
    directory also holds as clean.json."""
    corpus, audit_dir, out = settings.corpus, settings.audit, settings.out
    audited = load_audit(audit_dir)
    audit, flags = audited.doc, audited.flags()
    removed_path, new_audit = audit_paths(out)
    config = replace(audited.config(), corpus=corpus)
    _check_outputs(config, Path(audit_dir), [Path(out), removed_path, new_audit])
    check_outputs(replace(config, corpus=str(out)), new_audit)
    if not Path(corpus).is_file():
        raise InputError(f"{corpus}: no such file")
    with snapshot(Path(corpus)) as (copy, digest):
        data = read_snapshot(copy, digest, corpus, config.format, config.id_field)
        raws = raw_rows(copy, corpus)
    if data.sha256 != audit["input_sha256"]:
        raise InputError(f"{corpus}: not the bytes {audit_dir} audited (sha256 differs); "
                         f"audit it again or pass the matching file")
    cap = audit["policy"].get("clean_cap", 0.05) if settings.cap is None else settings.cap
    result = clean(data.records, audit, flags, cap, settings, corpus)
    before = {r.line: r for r in data.records}
    atomic_write_text(out, "".join(as_input(raws[r.line], before[r.line], r, data.format) + "\n"
                                   for r in result.kept))
    write_jsonl(removed_path, _removed_rows(result, data.rejected, corpus, raws))
    after = run_audit(replace(config, corpus=str(out)), progress)
    summary = {}

    def summarize(doc: dict) -> dict[str, str]:
        summary.update(_summary(settings, cap, data, result, removed_path, new_audit, doc))
        return {"clean.json": json.dumps(summary, indent=1) + "\n"}

    write_outputs(after, new_audit, render, summarize)
    return summary

def _summary(settings: CleanConfig, cap: float, data, result: CleanResult, removed_path: Path,
             new_audit: Path, doc: dict) -> dict:
    corpus, out = settings.corpus, settings.out
    return {
        "corpus": corpus, "audit": str(settings.audit), "out": str(out), "removed": str(removed_path),
        "reaudit": str(new_audit), "strategy": settings.strategy, "cap": cap,
        "stratify": list(settings.stratify),
        "counts": {"read": data.n_read, "kept": len(result.kept), "dropped": len(result.dropped),
                   "rejected": len(data.rejected), "stripped": len(result.stripped)},
        "findings": [{"id": fid, "target": t, "before": result.before[fid],
                      "after": result.after[fid]} for fid, t in result.targets.items()],
        "strata": {k: {"before": a, "after": b} for k, (a, b) in result.strata.items()},
        "reaudit_verdict": doc["verdict"], "reaudit_counts": doc["counts"],
    }

def _check_outputs(config: AuditConfig, audit_dir: Path, outputs: list[Path]) -> None:
    """Refuse outputs that would overwrite what the audit read or wrote (the corpus, its
    reference, patterns and policy, the audit directory's files) or that go inside it."""
    inputs = audit_inputs(config)
    home = audit_dir.resolve()
    for p in outputs:
        where = p.resolve()
        if where in inputs or where == home or home in where.parents:
            raise InputError(f"{p}: would overwrite an input of the audit, or write inside "
                             f"{audit_dir}; choose another --out")

def _removed_rows(result: CleanResult, rejected, source: str, raws: dict[int, str]) -> list[dict]:
    rows = [{"id": r.id, "file": source, "line": r.line, "action": "dropped",
             "reason": "carries " + ", ".join(fids) + " (over target)", "findings": fids,
             "record": json.loads(raws[r.line])} for r, fids in result.dropped]
    rows += [{"id": r.id, "file": source, "line": r.line, "action": "stripped",
              "reason": "cut " + ", ".join(fids), "findings": fids, "removed_text": cut}
             for r, fids, cut in result.stripped]
    rows += [{"id": None, "file": b.source, "line": b.line, "action": "rejected",
              "reason": b.reason, "raw": b.raw} for b in rejected]
    return rows
