"""Replaying an audit's findings on new text: every finding's matcher (regex, template family,
embedding cluster, LLM classifier, or any of several) says which units of another corpus carry
the pattern. An LLM finding needs a backend to label the new units; without one it is skipped
and listed as such. Used by `traitforge audit apply` and by the pattern-uptake eval."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import polars as pl

from traitforge.audit.auditor import sentence_frame
from traitforge.audit.clusters import assign
from traitforge.audit.discovery import DiscoverySettings
from traitforge.audit.llm import Asker, LLMSettings, Pattern, rate, strict_units
from traitforge.audit.stats import wilson
from traitforge.audit.units import Unit, units_of
from traitforge.io import InputError, atomic_write_bytes, atomic_write_text, read_corpus, write_jsonl

FLAG_SCHEMA = {"unit": pl.Int64, "finding_id": pl.String, "start": pl.Int64, "end": pl.Int64}


def load_audit(audit_dir: str | Path) -> dict:
    path = Path(audit_dir) / "audit.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: not found; run `traitforge audit` first") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}: malformed JSON ({e.msg})") from None


class Replayer:
    """Finds where the findings of one audit occur in new units; with `backend`, LLM findings
    too (their units labelled by the model), otherwise those are listed in `skipped`."""

    def __init__(self, doc: dict, backend=None, seed: int = 0):
        self.asker = Asker(backend, seed) if backend is not None else None
        self.rate_chars = (doc["config"].get("llm") or {}).get("rate_chars", LLMSettings.rate_chars)
        self.skipped = [] if backend is not None else [
            {"finding_id": f["id"], "label": f["label"],
             "reason": "an LLM finding: replaying it needs a model (--llm)"}
            for f in doc["findings"] if _uses_llm(f["matcher"])]
        skip = {x["finding_id"] for x in self.skipped}
        self.findings = [f for f in doc["findings"] if f["id"] not in skip]
        self.discovery = DiscoverySettings(**{k: v for k, v in doc["config"]["discovery"].items()
                                              if k in DiscoverySettings.__dataclass_fields__})
        self._embedders: dict[bool, object] = {}
        for f in self.findings:
            if not _replayable(f["matcher"]):
                raise InputError(f"finding {f['id']}: its matcher cannot be replayed (audited by "
                                 "an older traitforge?); run the audit again")

    def flags(self, units: list[Unit]) -> pl.DataFrame:
        """One row (unit index, finding_id, start, end) per unit that carries a finding."""
        self._units, self._sentences, self._vectors = units, None, {}
        frames = [self._match(f["matcher"]).with_columns(pl.lit(f["id"]).alias("finding_id"))
                  for f in self.findings]
        if not frames:
            return pl.DataFrame(schema=FLAG_SCHEMA)
        cast = [pl.col(k).cast(t) for k, t in FLAG_SCHEMA.items()]
        return pl.concat([x.select(cast) for x in frames]).sort("unit", "finding_id")

    def _match(self, m: dict) -> pl.DataFrame:
        kind = m.get("type")
        if kind == "regex":
            return self._regex(m)
        if kind == "template":
            rows = self._edges(m["slot"]).filter(pl.col("skeleton").is_in(m["skeletons"]))
            return _first(rows)
        if kind == "cluster":
            rows = self._edges(m["slot"])
            labels = assign(self._embed(m["slot"], rows, m.get("accurate", False)), m["space"])
            return _first(rows.filter(pl.Series(np.isin(labels, m["clusters"]))))
        if kind == "llm":
            p = Pattern("", m["label"], m["definition"], m["slot"])
            idx = np.arange(len(self._units), dtype=np.int64)
            flagged, _ = strict_units(idx, rate(self.asker, [p], self._units, idx,
                                                self.rate_chars)[0])
            spans = [self._units[i].span(m["slot"]) for i in flagged]
            return pl.DataFrame({"unit": flagged, "start": [s for s, _ in spans],
                                 "end": [e for _, e in spans]},
                                schema={"unit": pl.Int64, "start": pl.Int64, "end": pl.Int64})
        if kind == "any":
            found = [self._match(x) for x in m["matchers"]]
            return pl.concat(found).unique("unit", keep="first", maintain_order=True).sort("unit")
        raise InputError(f"finding matcher of type {kind!r} cannot be replayed")

    def _regex(self, m: dict) -> pl.DataFrame:
        pattern = re.compile(m["regex"], re.IGNORECASE if "i" in m.get("flags", "") else 0)
        rows = {"unit": [], "start": [], "end": []}
        for i, u in enumerate(self._units):
            start = u.span(m["slot"])[0]
            hit = pattern.search(u.slot_text(m["slot"]))
            if hit:
                rows["unit"].append(i)
                rows["start"].append(start + hit.start())
                rows["end"].append(start + hit.end())
        return pl.DataFrame(rows, schema={"unit": pl.Int64, "start": pl.Int64, "end": pl.Int64})

    def _edges(self, slot: str) -> pl.DataFrame:
        if self._sentences is None:
            self._sentences = sentence_frame(self._units, self.discovery).with_row_index("row")
        return self._sentences.filter(pl.col("slot") == slot)

    def _embed(self, slot: str, rows: pl.DataFrame, accurate: bool) -> np.ndarray:
        key = (slot, accurate)
        if key not in self._vectors:
            if accurate not in self._embedders:
                from traitforge.backends.embed import Embedder

                self._embedders[accurate] = Embedder(accurate)
            self._vectors[key] = self._embedders[accurate].encode(rows["masked"].to_list())
        return self._vectors[key]


NEEDS = {"regex": ("regex",), "template": ("skeletons",), "cluster": ("clusters", "space"),
         "llm": ("label", "definition"), "any": ("matchers",)}


def _uses_llm(m: dict) -> bool:
    return m.get("type") == "llm" or any(_uses_llm(x) for x in m.get("matchers", []))


def _replayable(m: dict) -> bool:
    kind = m.get("type")
    return (kind in NEEDS and all(k in m for k in NEEDS[kind]) and "slot" in m
            and all(_replayable(x) for x in m.get("matchers", [])))


def _first(rows: pl.DataFrame) -> pl.DataFrame:
    """Each unit's earliest matching sentence."""
    return (rows.sort("unit", "pos").unique("unit", keep="first", maintain_order=True)
            .select(pl.col("unit").cast(pl.Int64), "start", "end"))


def uptake(findings: list[dict], units: list[Unit], flags: pl.DataFrame) -> list[dict]:
    """Each finding's prevalence among `units`, beside its prevalence in the audited data."""
    n = len(units)
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
    LLM findings skipped without `llm`) and OUT/rejected.jsonl. With `llm` (a model spec, or
    the served model's name with `llm_base_url`) LLM findings are replayed, the calls cached
    in OUT/llm_cache."""
    doc = load_audit(audit_dir)
    out = Path(out_dir)
    if (out / "flags.parquet").resolve() == (Path(audit_dir) / "flags.parquet").resolve():
        raise InputError(f"{out}: would overwrite the audit's own flags; choose another --out")
    cfg = doc["config"]
    corpus = read_corpus(corpus_path, fmt or cfg.get("format"), cfg.get("id_field", "id"), strict)
    units = [u for r in corpus.records for u in units_of(r, cfg.get("turns", "all"))]
    if not units:
        raise InputError(f"{corpus_path}: no responses to flag ({corpus.n_read} read, "
                         f"{len(corpus.rejected)} rejected)")
    backend = None
    if llm:
        from traitforge.backends import open_backend

        backend = open_backend(llm, base_url=llm_base_url, cache_dir=out / "llm_cache")
    replayer = Replayer(doc, backend, cfg.get("seed", 0))
    flags = replayer.flags(units)
    ids = pl.DataFrame({"unit": np.arange(len(units), dtype=np.int64),
                        "doc_id": [u.doc_id for u in units],
                        "turn": pl.Series([u.turn for u in units], dtype=pl.Int32)})
    table = flags.join(ids, on="unit").select("doc_id", "turn", "finding_id", "start", "end")
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    table.write_parquet(buf)
    atomic_write_bytes(out / "flags.parquet", buf.getvalue())
    write_jsonl(out / "rejected.jsonl", [r.as_dict() for r in corpus.rejected])
    result = {"audit": str(audit_dir), "audit_sha256": doc.get("input_sha256"),
              "corpus": str(corpus_path), "sha256": corpus.sha256, "read": corpus.n_read,
              "used": len(corpus.records), "rejected": len(corpus.rejected), "units": len(units),
              "findings": uptake(replayer.findings, units, flags),
              "skipped": replayer.skipped}
    atomic_write_text(out / "apply.json", json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    return result
