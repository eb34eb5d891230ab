"""The audit: read, run the passes, grade and rank the findings, write the outputs."""
from __future__ import annotations

import io
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.decomposition import PCA

from traitforge import __version__
from traitforge.audit.detectors import Detector, active_detectors, load_patterns
from traitforge.audit.discovery import (DiscoverySettings, candidate_tests, concentrated,
                                        ngram_findings)
from traitforge.audit.clusters import ClusterSettings
from traitforge.audit.families import cluster_findings, enriched, template_findings
from traitforge.audit.llm import LLMSettings, llm_pass
from traitforge.audit.manifest import MANIFEST, write_manifest
from traitforge.audit.findings import Finding, rank, verdict
from traitforge.audit.reconcile import join_sampled, reconcile
from traitforge.audit.sentences import edge_sentences
from traitforge.audit.templates import skeletons
from traitforge.audit.policy import Policy, load_policy
from traitforge.audit.profile import distributions
from traitforge.audit.stats import benjamini_hochberg
from traitforge.audit.units import TURNS, Unit, units_of
from traitforge.io import (Corpus, InputError, atomic_write_bytes, atomic_write_text, read_corpus,
                           write_jsonl)

OUTPUTS = ("audit.json", "flags.parquet", "rejected.jsonl", "report.html", MANIFEST)


@dataclass(frozen=True)
class AuditConfig:
    corpus: str
    reference: str | None = None
    patterns: str | None = None
    policy: str | None = None
    format: str | None = None
    id_field: str = "id"
    turns: str = "all"
    builtin: bool = True
    strict: bool = False
    seed: int = 0
    n_examples: int = 3
    templates: bool = True
    clusters: bool = True
    discovery: DiscoverySettings = field(default_factory=DiscoverySettings)
    clustering: ClusterSettings = field(default_factory=ClusterSettings)
    llm: LLMSettings | None = None  # the LLM pass (scan, merge, autorate); None: off


@dataclass
class AuditResult:
    config: AuditConfig
    policy: Policy
    corpus: Corpus
    reference: Corpus | None
    units: list[Unit]
    ref_units: list[Unit] | None
    detectors: list[Detector]
    findings: list[Finding]
    n_examined: int  # n-grams tested against the reference, or above the threshold without one
    sentences: pl.DataFrame | None = None  # leading and trailing corpus sentences, with skeletons
    map: dict | None = None  # the opening-sentence clustering, for the report
    merged_into: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step
    llm: dict | None = None  # the LLM pass's record, for audit.json

    @property
    def verdict(self) -> str:
        return verdict(self.findings)


class _Steps:
    """Rich progress when given a Progress, silence otherwise; records each step's seconds."""

    def __init__(self, progress=None):
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self._open: tuple[str, float] | None = None

    def task(self, description: str, total: int):
        self.close()
        self._open = (description, time.perf_counter())
        return self._task(description, total)

    def close(self) -> None:
        if self._open:
            name, start = self._open
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)
            self._open = None

    def _task(self, description: str, total: int):
        if self.progress is None:
            return lambda advance=1: None
        tid = self.progress.add_task(description, total=total)
        return lambda advance=1: self.progress.advance(tid, advance)


def _units(corpus: Corpus, turns: str) -> list[Unit]:
    return [u for r in corpus.records for u in units_of(r, turns)]


def _read(path: str, config: AuditConfig, what: str) -> Corpus:
    corpus = read_corpus(path, config.format, config.id_field, config.strict)
    if not corpus.records:
        raise InputError(f"{path}: no usable records in the {what} "
                         f"({corpus.n_read} read, {len(corpus.rejected)} rejected)")
    return corpus


def detector_findings(detectors: list[Detector], units: list[Unit], ref: list[Unit] | None,
                      settings: DiscoverySettings, tick) -> list[Finding]:
    findings = []
    for d in detectors:
        hits = d.find_all(units)
        tick()
        if not hits:
            continue
        f = Finding(id=d.id, method="detector", label=d.id.replace("_", " "),
                    description=d.description, slot=d.slot,
                    matcher={"type": "regex", "slot": d.slot, "regex": d.regex, "flags": ""},
                    units=np.array([i for i, _ in hits], np.int64),
                    spans=np.array([s for _, s in hits], np.int64).reshape(-1, 2),
                    n_units=len(units))
        if ref is not None:
            f.ref_index = np.array([i for i, _ in d.find_all(ref)], np.int64)
            f.ref_units, f.ref_flagged = len(ref), len(f.ref_index)
            f.test(settings.test, settings.prior_strength)
        findings.append(f)
    if ref is not None and findings:
        for f, q in zip(findings, benjamini_hochberg([f.p_value for f in findings])):
            f.q_value = float(q)
    return findings


def run_audit(config: AuditConfig, progress=None) -> AuditResult:
    if config.turns not in TURNS:
        raise InputError(f"--turns must be one of {', '.join(TURNS)}")
    steps = _Steps(progress)
    policy = load_policy(config.policy)
    user = load_patterns(config.patterns) if config.patterns else []
    detectors = active_detectors(config.builtin, user)
    tick = steps.task("reading", 2 if config.reference else 1)
    corpus = _read(config.corpus, config, "corpus")
    tick()
    reference = _read(config.reference, config, "reference") if config.reference else None
    tick()
    units = _units(corpus, config.turns)
    ref_units = _units(reference, config.turns) if reference else None
    matchable = [d for d in detectors if d.matchable]
    settings = config.discovery
    findings = detector_findings(matchable, units, ref_units, settings,
                                 steps.task("pass 1: detectors", len(matchable)))
    tick = steps.task("pass 2: slot n-grams", 3)
    if ref_units is not None:
        counts, ref_counts, tests = candidate_tests(units, ref_units, settings, tick)
        examined = len(tests)
        lift_ok = pl.col("df") / len(units) >= 1.2 * pl.col("ref_df") / len(ref_units)
        chosen = tests.filter((pl.col("q") < policy.alpha) & (pl.col("z") > 0) & lift_ok
                              & pl.col("reportable"))
    else:
        counts, chosen, examined = concentrated(units, settings, policy.warn_prevalence, tick)
        ref_counts = None
    findings += ngram_findings(counts, ref_counts, chosen, units, settings)
    sc, maps = None, None
    if config.templates or config.clusters:
        steps.task("sentences and skeletons", 1)
        sc, sr = sentence_frame(units, settings), sentence_frame(ref_units, settings) if ref_units else None
        n_ref = len(ref_units) if ref_units is not None else None

        def select(tests):  # reference-free, groups a third of the family bar may join one
            return enriched(tests, policy.alpha, max(settings.min_df, 2), settings.family_lift,
                            settings.family_prevalence / 3)

        found = []
        if config.templates:
            tick = steps.task("pass 3: sentence templates", 1)
            found += template_findings(sc, sr, len(units), n_ref, select,
                                       settings.template_similarity, settings.test,
                                       settings.prior_strength)
            tick()
        if config.clusters:
            from traitforge.backends.embed import Embedder

            cs = config.clustering
            both = pl.concat([sc.select("slot"), sr.select("slot")]) if sr is not None else sc
            sizes = both["slot"].value_counts()["count"].to_list()
            tick = steps.task("pass 4: embedding clusters",
                              sum(1 + -(-max(0, n - cs.fit_sample) // cs.chunk) for n in sizes))
            clustered, maps = cluster_findings(sc, sr, len(units), n_ref, select,
                                               Embedder(cs.accurate), cs, settings.test,
                                               settings.prior_strength, config.seed, tick)
            found += clustered
        findings += [f for f in found if sr is not None or f.prevalence >= settings.family_prevalence]
    findings = [f for f in findings if f.id not in policy.ignore]
    steps.task("reconciling findings", 1)
    findings, merged_into = reconcile(_unique_ids(findings), settings.reconcile_jaccard,
                                      test=settings.test, prior_strength=settings.prior_strength)
    llm = None
    if config.llm:
        found, named, llm = llm_pass(config.llm, units, ref_units, detectors, steps, config.seed,
                                     settings.test, settings.prior_strength)
        found, named = ([f for f in x if f.id not in policy.ignore] for x in (found, named))
        own = {f.id: f for f in found + named}  # by pattern id, before ids are made unique
        _unique_ids(findings + named + found)
        findings, joined = join_sampled(findings + named, found, settings.reconcile_jaccard)
        merged_into.update(joined)
        for p in llm["patterns"]:  # the finding that carries each pattern, if any
            f = own.get(p["id"])
            p["finding"] = merged_into.get(f.id, f.id) if f else None
    for f in findings:
        f.grade(policy)
    steps.close()
    return AuditResult(config, policy, corpus, reference, units, ref_units, detectors,
                       rank(findings), examined, sc, maps, merged_into, steps.seconds, llm)


def sentence_frame(units: list[Unit], settings: DiscoverySettings, block: int = 20_000) -> pl.DataFrame:
    """Leading and trailing sentences with their skeletons, built a block of units at a time
    so that memory does not grow with the corpus."""
    parts = []
    for lo in range(0, len(units), block):
        sents = edge_sentences(units[lo:lo + block], settings.lead, settings.tail)
        sents = pl.concat([sents, skeletons(sents, [u.prompt for u in units[lo:lo + block]])],
                          how="horizontal")
        parts.append(sents.with_columns(pl.col("unit") + lo))
    sents = pl.concat(parts)
    stock = pl.col("unit").n_unique().over("slot", "skeleton") >= 2
    return sents.with_columns(stock.alias("stock"))


def _unique_ids(findings: list[Finding]) -> list[Finding]:
    seen: dict[str, int] = {}
    for f in findings:
        if f.id in seen:
            seen[f.id] += 1
            f.id = f"{f.id}-{seen[f.id]}"
        else:
            seen[f.id] = 1
    return findings


def _corpus_stats(corpus: Corpus, units: list[Unit]) -> dict:
    lengths = np.array([len(u.text) for u in units]) if units else np.zeros(1)
    return {"file": corpus.records[0].source if corpus.records else None, "sha256": corpus.sha256,
            "format": corpus.format, "read": corpus.n_read, "audited": len(corpus.records),
            "rejected": len(corpus.rejected), "units": len(units),
            "chars_mean": round(float(lengths.mean()), 1),
            "chars_median": float(np.median(lengths))}


def audit_document(result: AuditResult, created_at: str | None = None) -> dict:
    """Everything audit.json holds. Only `created_at`, `seconds` (per step) and the LLM pass's
    `usage` (what the backend and its cache served) vary between identical runs."""
    config = asdict(result.config)
    stats = {"corpus": _corpus_stats(result.corpus, result.units), "ngrams_examined": result.n_examined}
    if result.reference is not None:
        stats["reference"] = _corpus_stats(result.reference, result.ref_units)
    cfg = result.config
    return {
        "traitforge_version": __version__,
        "created_at": created_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": result.seconds,
        "config": config,
        "policy": result.policy.as_dict(),
        "detectors": [d.as_dict() for d in result.detectors],
        "input_sha256": result.corpus.sha256,
        "stats": stats,
        "verdict": result.verdict,
        "counts": {s: sum(f.severity == s for f in result.findings) for s in ("fail", "warn", "info")},
        "findings": [f.as_dict(result.units, cfg.n_examples, cfg.seed) for f in result.findings],
        "distributions": distributions([u.text for u in result.units],
                                       [u.text for u in result.ref_units] if result.ref_units else None),
        "map": opening_map(result),
        "llm": result.llm,
    }


def opening_map(result: AuditResult, max_points: int = 2500) -> dict | None:
    """A 2-D PCA view of a sample of the clustered opening sentences, each point tagged with
    the finding its cluster ended up in."""
    if not result.map:
        return None
    clustering, n_corpus = result.map["clustering"], result.map["n_corpus"]
    n = len(clustering.labels)
    rng = np.random.default_rng(result.config.seed)
    pick = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    xy = PCA(2, random_state=0).fit_transform(clustering.points[pick]) if len(pick) > 2 \
        else np.zeros((len(pick), 2))
    owner = {k: result.merged_into.get(f.id, f.id) for k, f in result.map["owner"].items()}
    labels = clustering.labels[pick]
    return {"slot": "opening", "method": "PCA of the clustered sentence embeddings",
            "points": {"x": np.round(xy[:, 0], 4).tolist(), "y": np.round(xy[:, 1], 4).tolist(),
                       "source": ["corpus" if i < n_corpus else "reference" for i in pick],
                       "cluster": labels.tolist(),
                       "finding_id": [owner.get(int(c)) for c in labels],
                       "text": [result.map["texts"][i][:160] for i in pick]}}


def flags_frame(result: AuditResult) -> pl.DataFrame:
    rows = {"doc_id": [], "turn": [], "finding_id": [], "start": [], "end": []}
    for f in result.findings:
        for u, (s, e) in zip(f.units, f.spans):
            unit = result.units[u]
            rows["doc_id"].append(unit.doc_id)
            rows["turn"].append(unit.turn)
            rows["finding_id"].append(f.id)
            rows["start"].append(int(s))
            rows["end"].append(int(e))
    return pl.DataFrame(rows, schema={"doc_id": pl.String, "turn": pl.Int32, "finding_id": pl.String,
                                      "start": pl.Int64, "end": pl.Int64})


def check_outputs(config: AuditConfig, out_dir: str | Path) -> None:
    """Refuse an output directory whose files would overwrite an input."""
    inputs = {Path(p).resolve() for p in (config.corpus, config.reference, config.patterns,
                                          config.policy) if p}
    for name in OUTPUTS:
        if (Path(out_dir) / name).resolve() in inputs:
            raise InputError(f"{Path(out_dir) / name}: output would overwrite an input; "
                             "choose another --out")


def write_outputs(result: AuditResult, out_dir: str | Path) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = audit_document(result)
    rejected = [r.as_dict() for c in (result.corpus, result.reference) if c for r in c.rejected]
    write_jsonl(out / "rejected.jsonl", rejected)
    buf = io.BytesIO()
    flags_frame(result).write_parquet(buf)
    atomic_write_bytes(out / "flags.parquet", buf.getvalue())
    atomic_write_text(out / "audit.json", json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    write_manifest(out, doc)
    return doc
