"""Replaying an audit's findings on new text: every finding's matcher (regex, n-grams, template
family, embedding cluster, LLM classifier, or any of several) says which units of another corpus
carry the pattern. An LLM finding needs a backend to label the new units; without one it is skipped
and listed as such. Used by `traitforge audit apply` and by the pattern-uptake eval."""
from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl

from traitforge.audit.census import FLAGS, CorpusFile, corpus_file, unit_ids
from traitforge.audit.config import LLMSettings
from traitforge.audit.llm_rating import Asker
from traitforge.audit.match_context import MatchContext
from traitforge.audit.matchers import flag_rows, frame_read, from_json
from traitforge.audit.outputs import CACHE, load_audit
from traitforge.audit.stats import wilson
from traitforge.audit.units import Unit, corpus_units
from traitforge.io import InputError, atomic_write_bytes, atomic_write_text, write_jsonl
from traitforge.swap import check_replaceable, staged_dir

APPLY_OUTPUTS = ("flags.parquet", "rejected.jsonl", "apply.json")


class Replayer:
    """Finds where the findings of one audit occur in new units; with `backend`, LLM findings
    too (their units labelled by the model), otherwise those are listed in `skipped`."""

    def __init__(self, doc: dict, backend=None, seed: int = 0):
        self.asker = Asker(backend, seed) if backend is not None else None
        self.rate_chars = (doc["config"].get("llm") or {}).get("rate_chars", LLMSettings.rate_chars)
        d = doc["config"].get("discovery", {})  # an older audit read no middle sentences
        self.frame = (d.get("lead", 3), d.get("tail", 2), d.get("middle", False),
                      d.get("clauses", False))
        matchers = {}
        for f in doc["findings"]:
            try:
                matchers[f["id"]] = from_json(f["matcher"])
            except InputError as e:
                raise InputError(f"finding {f['id']}: {e}") from None
        self.skipped = [] if backend is not None else [
            {"finding_id": f["id"], "label": f["label"],
             "reason": "an LLM finding: replaying it needs a model (--llm)"}
            for f in doc["findings"] if matchers[f["id"]].needs_model]
        skip = {x["finding_id"] for x in self.skipped}
        self.findings = [f for f in doc["findings"] if f["id"] not in skip]
        self.matchers = [matchers[f["id"]] for f in self.findings]

    def flags(self, units: list[Unit]) -> pl.DataFrame:
        """One row (unit index, finding_id, start, end) per unit that carries a finding."""
        ctx = MatchContext(units, *frame_read(self.frame, self.matchers), asker=self.asker,
                           rate_chars=self.rate_chars)
        return flag_rows([(f["id"], m) for f, m in zip(self.findings, self.matchers)], ctx)


def uptake(findings: list[dict], n: int, flags: pl.DataFrame) -> list[dict]:
    """Each finding's prevalence among `n` units, beside its prevalence in the audited data."""
    out = []
    for f in findings:
        k = int(flags.filter(pl.col("finding_id") == f["id"])["unit"].n_unique())
        lo, hi = wilson(k, n) if n else (0.0, 0.0)
        out.append({"finding_id": f["id"], "label": f["label"], "severity": f["severity"],
                    "training_prevalence": f["prevalence"], "n": n, "n_flagged": k,
                    "prevalence": k / n if n else None, "ci95": [lo, hi]})
    return out


def apply_audit(audit_dir: str | Path, corpus_path: str | Path, out_dir: str | Path,
                fmt: str | None = None, strict: bool = False, llm: str | None = None,
                llm_base_url: str | None = None) -> dict:
    """Flag a new corpus with an audit's findings: writes OUT/flags.parquet (doc_id, turn,
    finding_id, start, end), OUT/apply.json (per-finding prevalence, new against audited; the
    LLM findings skipped without `llm`) and OUT/rejected.jsonl. Without `llm` the corpus is
    replayed as an audit's census replays it, a block at a time on every core; with `llm` (a
    model spec, or the served model's name with `llm_base_url`) it is read whole and LLM
    findings are replayed too, the calls cached in OUT/llm_cache."""
    out = Path(out_dir)
    if (out / "flags.parquet").resolve() == (Path(audit_dir) / "flags.parquet").resolve():
        raise InputError(f"{out}: would overwrite the audit's own flags; choose another --out")
    check_replaceable(out, APPLY_OUTPUTS, (CACHE,))
    doc = load_audit(audit_dir).doc
    cfg = doc["config"]
    backend = None
    if llm:
        from traitforge.backends import open_backend

        backend = open_backend(llm, base_url=llm_base_url, cache_dir=out / CACHE)
    replayer = Replayer(doc, backend, cfg.get("seed", 0))
    with corpus_file(corpus_path, fmt or cfg.get("format"), cfg.get("id_field", "id"),
                     strict) as file:
        corpus, flags, n_units = _flagged(file, replayer, cfg.get("turns", "all"), backend)
    if not n_units:
        raise InputError(f"{corpus_path}: no responses to flag ({corpus.n_read} read, "
                         f"{len(corpus.rejected)} rejected)")
    result = {"audit": str(audit_dir), "audit_sha256": doc.get("input_sha256"),
              "corpus": str(corpus_path), "sha256": corpus.sha256, "read": corpus.n_read,
              "used": corpus.n_read - len(corpus.rejected), "rejected": len(corpus.rejected),
              "units": n_units, "findings": uptake(replayer.findings, n_units, flags),
              "skipped": replayer.skipped}
    with staged_dir(out, APPLY_OUTPUTS, keep=(CACHE,)) as stage:  # replaces the old three at once
        buf = io.BytesIO()
        flags.select(list(FLAGS)).write_parquet(buf)
        atomic_write_bytes(stage / "flags.parquet", buf.getvalue())
        write_jsonl(stage / "rejected.jsonl", [r.as_dict() for r in corpus.rejected])
        atomic_write_text(stage / "apply.json", json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return result


def _flagged(file: CorpusFile, replayer: Replayer, turns: str, backend):
    """The corpus read (its records kept only when a model labels them), its flags (unit,
    doc_id, turn, finding_id, start, end) and its count of units."""
    if backend is None:
        corpus = file.scan()
        census = file.census(list(zip((f["id"] for f in replayer.findings), replayer.matchers)),
                             turns, replayer.frame)
        return corpus, census.flags, census.n_units
    corpus = file.sample(0, 0)
    units = corpus_units(corpus.records, turns)
    return corpus, replayer.flags(units).join(unit_ids(units), on="unit"), len(units)
