"""The audit's outputs: audit.json, flags.parquet, rejected.jsonl, report.html and manifest.json,
written as one set that replaces the old one at once; and the one reader of an audit directory,
which refuses files that do not belong together."""
from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl

from traitforge import __version__
from traitforge.audit.auditor import AuditResult
from traitforge.audit.census import FLAGS, Census
from traitforge.audit.config import AuditConfig
from traitforge.audit.manifest import MANIFEST, mismatched_file, write_manifest
from traitforge.audit.units import Unit
from traitforge.io import (Corpus, InputError, atomic_write_bytes, atomic_write_text, sha256_file,
                           write_jsonl)
from traitforge.settings import restore
from traitforge.swap import check_replaceable, staged_dir

SIGNED = ("audit.json", "flags.parquet", "rejected.jsonl")  # the set the manifest names
OUTPUTS = (*SIGNED, "report.html", "clean.json", MANIFEST)
CACHE = "llm_cache"


def _corpus_stats(corpus: Corpus, units: list[Unit], census: Census | None) -> dict:
    """What was read, audited and rejected; with a census, the whole file's figures and the
    sample the passes looked in."""
    lengths = census.chars if census is not None else np.array([len(u.text) for u in units])
    lengths = lengths if len(lengths) else np.zeros(1)
    out = {"file": corpus.records[0].source if corpus.records else None, "sha256": corpus.sha256,
           "format": corpus.format, "read": corpus.n_read,
           "audited": census.n_records if census else len(corpus.records),
           "rejected": len(corpus.rejected), "units": census.n_units if census else len(units),
           "chars_mean": round(float(lengths.mean()), 1),
           "chars_median": float(np.median(lengths))}
    if census is not None:
        out["sample"] = {"records": len(corpus.records), "units": len(units)}
    return out


def audit_document(result: AuditResult, created_at: str | None = None) -> dict:
    """Everything audit.json holds. Only `created_at`, `seconds` (per step), `executor` (local
    or ray) and the LLM pass's `usage` (what the backend and its cache served) vary between
    identical runs."""
    config = asdict(result.config)
    executor = "ray" if config.pop("ray") else "local"  # where the blocks ran, not what was audited
    census = result.extras.get("census", {})
    stats = {"corpus": _corpus_stats(result.corpus, result.units, census.get("corpus")),
             "ngrams_examined": result.extras.get("ngrams_examined", 0)}
    if result.reference is not None:
        stats["reference"] = _corpus_stats(result.reference, result.ref_units,
                                           census.get("reference"))
        stats["length"] = result.extras.get("length")
    cfg = result.config
    return {
        "traitforge_version": __version__,
        "created_at": created_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": result.seconds,
        "executor": executor,
        "config": config,
        "policy": result.policy.as_dict(),
        "detectors": [d.as_dict() for d in result.detectors],
        "input_sha256": result.corpus.sha256,
        "stats": stats,
        "verdict": result.verdict,
        "counts": {s: sum(f.severity == s for f in result.findings) for s in ("fail", "warn", "info")},
        "findings": [f.as_dict(result.units, cfg.n_examples, cfg.seed) for f in result.findings],
        "distributions": result.extras["distributions"],
        "map": opening_map(result),
        "llm": result.extras.get("llm"),
    }


def opening_map(result: AuditResult) -> dict | None:
    """A 2-D PCA view of a sample of the clustered opening sentences (`clustering.plane`, drawn
    by the cluster pass), each point tagged with the finding its cluster ended up in."""
    m = result.extras.get("map")
    if not m:
        return None
    clustering, n_corpus, pick, xy = m["clustering"], m["n_corpus"], m["pick"], m["xy"]
    reported = {f.id for f in result.findings}  # a cluster's finding may have been dropped
    owner = {k: home for k, f in m["owner"].items()
             if (home := result.merged_into.get(f.id, f.id)) in reported}
    labels = clustering.labels[pick]
    return {"slot": "opening", "method": "PCA of the clustered sentence embeddings",
            "points": {"x": np.round(xy[:, 0], 4).tolist(), "y": np.round(xy[:, 1], 4).tolist(),
                       "source": ["corpus" if i < n_corpus else "reference" for i in pick],
                       "cluster": labels.tolist(),
                       "finding_id": [owner.get(int(c)) for c in labels],
                       "text": [t[:160] for t in m["texts"](pick)]}}


def flags_frame(result: AuditResult) -> pl.DataFrame:
    """Each finding's flags, in rank order: of every record where the corpus was counted in
    full (`census`), else of the records the passes saw."""
    census = result.extras.get("census", {}).get("corpus")
    counted = set(census.flagged) if census is not None else set()
    rows = {"unit": [], "doc_id": [], "turn": [], "finding_id": [], "start": [], "end": []}
    for f in result.findings:
        if f.id in counted:
            continue
        for u, (s, e) in zip(f.units, f.spans):
            unit = result.units[u]
            rows["unit"].append(int(u))
            rows["doc_id"].append(unit.doc_id)
            rows["turn"].append(unit.turn)
            rows["finding_id"].append(f.id)
            rows["start"].append(int(s))
            rows["end"].append(int(e))
    sampled = pl.DataFrame(rows, schema={"unit": pl.Int64, **FLAGS})
    if census is None:
        return sampled.drop("unit")
    order = pl.DataFrame({"finding_id": [f.id for f in result.findings],
                          "rank": range(len(result.findings))})
    return (pl.concat([census.flags, sampled]).join(order, on="finding_id")
            .sort("rank", "unit").select(list(FLAGS)))


def audit_inputs(config: AuditConfig) -> set[Path]:
    """The files an audit reads (resolved): corpus, reference, patterns and policy."""
    return {Path(p).resolve() for p in (config.corpus, config.reference, config.patterns,
                                        config.policy) if p}


def check_outputs(config: AuditConfig, out_dir: str | Path) -> None:
    """Refuse, before any work, an output directory that is a file, that holds something other
    than an audit, or whose files would overwrite an input."""
    out = Path(out_dir)
    inputs = audit_inputs(config)
    for name in OUTPUTS:
        if (out / name).resolve() in inputs:
            raise InputError(f"{out / name}: output would overwrite an input; "
                             "choose another --out")
    check_replaceable(out, OUTPUTS, (CACHE,))
    if (out / "audit.json").is_file() and not _is_an_audit(out / "audit.json"):
        raise InputError(f"{out}: holds an audit.json that is not an audit's; choose a new or "
                         "empty --out")


def _is_an_audit(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and {"findings", "verdict"} <= set(doc)


def write_outputs(result: AuditResult, out_dir: str | Path, render=None, extras=None) -> dict:
    """Write the audit's files as one set replacing any old one (`swap.staged_dir`): with
    `render(doc, flags)` its report.html, and with `extras(doc)` more files (name -> text) that
    the manifest names too. Returns the audit document."""
    doc = audit_document(result)
    flags = flags_frame(result)
    rejected = [r.as_dict() for c in (result.corpus, result.reference) if c for r in c.rejected]
    with staged_dir(out_dir, OUTPUTS, keep=(CACHE,)) as stage:
        write_jsonl(stage / "rejected.jsonl", rejected)
        buf = io.BytesIO()
        flags.write_parquet(buf)
        atomic_write_bytes(stage / "flags.parquet", buf.getvalue())
        atomic_write_text(stage / "audit.json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
        more = extras(doc) if extras else {}
        for name, text in more.items():
            atomic_write_text(stage / name, text)
        if render is not None:
            atomic_write_text(stage / "report.html", render(doc, flags))
        write_manifest(stage, doc, {name: sha256_file(stage / name) for name in (*SIGNED, *more)})
    return doc


@dataclass
class AuditDir:
    """An audit directory as read back: its audit.json, and its flags and settings on demand."""

    path: Path
    doc: dict

    def flags(self) -> pl.DataFrame:
        path = self.path / "flags.parquet"
        if not path.is_file():
            raise InputError(f"{path}: not found; is {self.path} an audit directory?")
        try:
            return pl.read_parquet(path)
        except Exception as e:  # polars' own errors for a damaged file
            raise InputError(f"{path}: cannot be read ({str(e).splitlines()[0]})") from None

    def config(self) -> AuditConfig:
        """The audit's own settings (older audit.json files are refused with a reason)."""
        where = f"{self.path / 'audit.json'}: config"
        if not isinstance(self.doc.get("config"), dict):
            raise InputError(f"{where} is missing")
        return restore(AuditConfig, self.doc["config"], where)


def load_audit(audit_dir: str | Path) -> AuditDir:
    d = Path(audit_dir)
    path = d / "audit.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file (run `traitforge audit CORPUS --out {d}` first)") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot be read ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("findings"), list):
        raise InputError(f"{path}: malformed audit.json (no list of findings)")
    _check_set(d)
    return AuditDir(d, doc)


def _check_set(d: Path) -> None:
    """Refuse an audit directory whose files are not the set its manifest was written with."""
    path = d / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: missing, so {d}'s files cannot be told to belong together "
                         "(an interrupted audit, or one from an older traitforge); audit again") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: cannot be read ({e.__class__.__name__}); audit again") from None
    problem = mismatched_file(manifest, d) if isinstance(manifest, dict) else f"{path}: malformed"
    if problem:
        raise InputError(problem)
