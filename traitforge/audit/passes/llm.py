"""The LLM pass: a model names the patterns it sees, then rates units for each of them.

- scan: shuffled batches of whole units (each clipped to `scan_chars`) go to the model, which
  names the structural, rhetorical or behavioural patterns recurring in them;
- merge: candidates of all batches are grouped by meaning (average-linkage clustering of their
  label and description embedded by all-MiniLM-L6-v2 itself: they are few); a group that at
  least `min_batches` batches found survives, and the model writes its label and classifier
  definition (the group's most central candidate stands in when that reply is malformed);
- autorate: for each surviving pattern, and each user pattern given as a `definition`, a
  classifier prompt labels units STRICT, BROAD or NO, on a sample sized for a 95% interval of
  half-width `halfwidth` (`sample_size`) or on all units; the same for the reference.
A reply that does not parse is asked again (new seed, temperature 0.8) up to `retries` times,
then recorded: an unparseable rating counts as neither and leaves the denominator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from traitforge.audit.config import LLMSettings
from traitforge.audit.findings import Finding, slug
from traitforge.audit.llm_prompts import (RATINGS, name_prompt, parse_named, parse_patterns,
                                          prompt_sha256, scan_prompt)
from traitforge.audit.llm_rating import Asker, Pattern, chat, rate, strict_units
from traitforge.audit.matchers import LLMMatcher
from traitforge.audit.passes.base import PassBase, PassContext, register, set_q_values
from traitforge.audit.stats import Z95, wilson
from traitforge.audit.units import Unit


@dataclass
class Candidate:
    label: str
    description: str
    batch: int
    examples: list[int]  # unit indices


def sample_size(population: int, halfwidth: float = 0.05, z: float = Z95) -> int:
    """Units to rate for a 95% interval of at most ±`halfwidth` at worst (p = 0.5), with the
    finite-population correction: n0 = z²·0.25/h², n = n0 / (1 + (n0 - 1)/N)."""
    if population <= 0:
        return 0
    n0 = z * z * 0.25 / halfwidth ** 2
    return min(population, math.ceil(n0 / (1 + (n0 - 1) / population)))


def sample(population: int, how: str | int, halfwidth: float, rng) -> np.ndarray:
    """Sorted indices of the units to rate: `how` is 'auto', 'all' or a number."""
    size = (population if how == "all" else sample_size(population, halfwidth) if how == "auto"
            else min(int(how), population))
    return np.sort(rng.choice(population, size=size, replace=False)).astype(np.int64)


def default_min_batches(batches: int) -> int:
    return min(batches, max(2, math.ceil(batches / 4)))


def batches(n_units: int, n_batches: int, size: int, rng) -> list[np.ndarray]:
    """Batches of `size` distinct units: slices of a shuffled order, reshuffled when it runs
    out, so that no two batches share a unit while the corpus lasts."""
    size = min(size, n_units)
    order, at, out = rng.permutation(n_units), 0, []
    for _ in range(n_batches):
        if at + size > n_units:
            order, at = rng.permutation(n_units), 0
        out.append(order[at:at + size])
        at += size
    return out


def scan(asker: Asker, units: list[Unit], settings: LLMSettings, rng, tick=None
         ) -> tuple[list[Candidate], list[dict]]:
    """The candidates every batch named, and the batches whose replies never parsed."""
    groups = batches(len(units), settings.batches, settings.batch_docs, rng)
    chats = [chat(scan_prompt([units[i].text for i in g], settings.scan_chars)) for g in groups]
    parsed, raw = asker.ask("scan", chats, parse_patterns, tick)
    found, failed = [], []
    for k, (g, named, reply) in enumerate(zip(groups, parsed, raw)):
        if named is None:
            failed.append({"batch": k, "reply": reply[:300]})
        for label, description, refs in named or []:
            found.append(Candidate(label, description, k,
                                   sorted({int(g[r - 1]) for r in refs if 1 <= r <= len(g)})))
    return found, failed


def group(vectors: np.ndarray, similarity: float) -> list[list[int]]:
    """Indices grouped by average-linkage clustering at cosine similarity >= `similarity`."""
    if len(vectors) < 2:
        return [list(range(len(vectors)))] if len(vectors) else []
    distance = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    labels = fcluster(linkage(squareform(distance, checks=False), "average"),
                      1.0 - similarity, "distance")
    return [list(np.flatnonzero(labels == c)) for c in np.unique(labels)]


def merge(asker: Asker, candidates: list[Candidate], embedder, settings: LLMSettings,
          min_batches: int) -> list[Pattern]:
    """Patterns that at least `min_batches` batches found, most batches first, each named by
    the model (or by its most central candidate)."""
    if not candidates:
        return []
    vectors = embedder.encode([f"{c.label}: {c.description}" for c in candidates])
    kept = []
    for g in group(vectors, settings.merge_similarity):
        found_by = len({candidates[i].batch for i in g})
        if found_by >= min_batches:
            centrality = (vectors[g] @ vectors[g].T).sum(1)
            kept.append((found_by, [g[i] for i in np.argsort(-centrality, kind="stable")]))
    kept.sort(key=lambda x: (-x[0], -len(x[1]), candidates[x[1][0]].label))
    kept = kept[:settings.max_patterns]
    notes = [[f"{candidates[i].label}: {candidates[i].description}".rstrip(": ")
              for i in members[:8]] for _, members in kept]
    named, _ = asker.ask("merge", [chat(name_prompt(n)) for n in notes], parse_named)
    out, ids = [], set()
    for (found_by, members), name in zip(kept, named):
        centre = candidates[members[0]]
        label, definition = name or (centre.label, centre.description or centre.label)
        pid = f"llm-{slug(label)}"
        while pid in ids:
            pid += "-2"
        ids.add(pid)
        out.append(Pattern(pid, label, definition, batches=found_by,
                           members=list(dict.fromkeys(candidates[i].label for i in members)),
                           named_by="model" if name else "fallback"))
    return out


def user_patterns(detectors: list) -> list[Pattern]:
    """The user's plain-language patterns, rated like the discovered ones."""
    return [Pattern(d.id, d.id.replace("_", " "), d.definition, d.slot, "patterns file")
            for d in detectors if d.definition]


def counts(ratings: list[str | None]) -> dict[str, int]:
    out = {r: sum(x == r for x in ratings) for r in RATINGS}
    out["unparseable"] = sum(x is None for x in ratings)
    return out


def summary(c: dict[str, int], population: int) -> dict:
    """Prevalence of STRICT, and of STRICT or BROAD, among the parseable ratings, with 95%
    Wilson intervals."""
    n = c["STRICT"] + c["BROAD"] + c["NO"]
    wide = c["STRICT"] + c["BROAD"]
    return {"n_flagged": c["STRICT"], "n_rated": n, "unparseable": c["unparseable"],
            "population": population, "prevalence": round(c["STRICT"] / n, 6) if n else None,
            "ci95": [round(x, 6) for x in wilson(c["STRICT"], n)],
            "strict_or_broad": round(wide / n, 6) if n else None,
            "strict_or_broad_ci95": [round(x, 6) for x in wilson(wide, n)]}


def finding(p: Pattern, units: list[Unit], idx: np.ndarray, ratings: list[str | None],
            ref: tuple[int, np.ndarray, list[str | None]] | None, test: str,
            prior_strength: float) -> Finding:
    """The finding of one rated pattern: STRICT units flagged among those rated; with `ref`
    (reference size, its sample, their ratings) tested against the reference sample."""
    flagged, rated = strict_units(idx, ratings)
    evidence = {"method": "llm", "id": p.id, "label": p.label, "definition": p.definition,
                **summary(counts(ratings), len(units)), "jaccard": 1.0, "contained": 1.0}
    matcher = LLMMatcher(p.slot, p.label, p.definition, prompt_sha256(p.label, p.definition))
    f = Finding(id=p.id, methods=["llm"], label=p.label, description=p.definition, slot=p.slot,
                matcher=matcher, units=flagged, n_units=len(rated), rated=rated,
                spans=np.array([units[i].span(p.slot) for i in flagged], np.int64).reshape(-1, 2),
                user_pattern=p.source != "scan")
    if ref is not None:
        n_ref, ref_idx, ref_ratings = ref
        ref_flagged, ref_rated = strict_units(ref_idx, ref_ratings)
        f.against(ref_flagged, len(ref_rated), test, prior_strength)
        evidence["reference"] = summary(counts(ref_ratings), n_ref)
    f.evidence = [evidence]
    return f


def identity(backend) -> str:
    inner = getattr(backend, "backend", backend)
    return getattr(backend, "identity", None) or getattr(inner, "description", inner.name)


def llm_pass(settings: LLMSettings, units: list[Unit], ref_units: list[Unit] | None,
             detectors: list, steps, seed: int = 0, test: str = "z",
             prior_strength: float = 100.0) -> tuple[list[Finding], dict]:
    """(the findings of the discovered patterns and of the user's definition patterns, the
    `llm` section of audit.json). Findings that flag no unit are left out."""
    from traitforge.backends import open_backend
    from traitforge.backends.embed import Embedder

    backend = open_backend(settings.spec, base_url=settings.base_url, cache_dir=settings.cache_dir)
    asker = Asker(backend, seed, settings.retries)
    candidates, failed = scan(asker, units, settings, np.random.default_rng([seed, 1]),
                              steps.task("LLM pass: scan", settings.batches))
    min_batches = settings.min_batches or default_min_batches(settings.batches)
    tick = steps.task("LLM pass: merge", 1)
    embedder = Embedder(accurate=True) if candidates else None
    patterns = merge(asker, candidates, embedder, settings, min_batches)
    tick()
    patterns += user_patterns(detectors)
    idx = sample(len(units), settings.sample, settings.halfwidth, np.random.default_rng([seed, 2]))
    ref_idx = (sample(len(ref_units), settings.sample, settings.halfwidth,
                      np.random.default_rng([seed, 3])) if ref_units else np.zeros(0, np.int64))
    tick = steps.task("LLM pass: autorate", len(patterns) * (len(idx) + len(ref_idx)))
    ratings = rate(asker, patterns, units, idx, settings.rate_chars, tick)
    ref_ratings = (rate(asker, patterns, ref_units, ref_idx, settings.rate_chars, tick)
                   if ref_units else [None] * len(patterns))
    findings = [finding(p, units, idx, r, (len(ref_units), ref_idx, rr) if ref_units else None,
                        test, prior_strength) for p, r, rr in zip(patterns, ratings, ref_ratings)]
    set_q_values(findings)
    section = {
        "backend": {"name": backend.name, "identity": identity(backend)},
        "calls": asker.calls, "retried": asker.retried, "usage": backend.stats,
        "sample": {"rule": sample_rule(settings), "units": len(units), "rated": len(idx),
                   "reference_units": len(ref_units) if ref_units else None,
                   "reference_rated": len(ref_idx) if ref_units else None},
        "scan": {"batches": settings.batches, "batch_docs": settings.batch_docs,
                 "failed": failed, "min_batches": min_batches},
        "candidates": [{"label": c.label, "description": c.description, "batch": c.batch,
                        "examples": [units[i].doc_id for i in c.examples]} for c in candidates],
        "patterns": [{"id": p.id, "label": p.label, "definition": p.definition,
                      "source": p.source, "batches": p.batches, "members": p.members,
                      "named_by": p.named_by, "counts": counts(r),
                      "reference_counts": counts(rr) if ref_units else None}
                     for p, r, rr in zip(patterns, ratings, ref_ratings)],
    }
    return [f for f in findings if len(f.units)], section


def sample_rule(settings: LLMSettings) -> str:
    if settings.sample == "all":
        return "all units"
    if settings.sample == "auto":
        return (f"95% interval half-width {settings.halfwidth} at p = 0.5 with the finite-"
                f"population correction: n0 = z²/(4h²), n = n0/(1 + (n0 - 1)/N)")
    return f"{settings.sample} units at most"


@register
class LLMPass(PassBase):
    """Runs when `--llm` names a model. Its findings rate a sample of units, so they join the
    merged findings afterwards; the user's definition patterns stand on their own."""

    name = "llm"
    sampled = True
    switch = "llm"

    def find(self, units: list[Unit], reference: list[Unit] | None,
             ctx: PassContext) -> list[Finding]:
        s = ctx.config.discovery
        found, ctx.extras["llm"] = llm_pass(ctx.config.llm, units, reference, ctx.detectors,
                                            ctx.steps, ctx.config.seed, s.test, s.prior_strength)
        ctx.extras["llm_findings"] = {f.id: f for f in found}  # by pattern id
        return found

    def finish(self, ctx: PassContext, merged_into: dict[str, str]) -> None:
        """Each pattern of the record names the finding that carries it, if any."""
        own = ctx.extras.pop("llm_findings")
        for p in ctx.extras["llm"]["patterns"]:
            f = own.get(p["id"])
            p["finding"] = merged_into.get(f.id) if f else None
