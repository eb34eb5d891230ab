"""The cluster pass: families of embedding clusters (see audit/clustering.py) over-represented
among the leading or trailing sentences, tested against the reference (the clusters fitted on
a sample of both sides at one rate)."""
from __future__ import annotations

import numpy as np
import polars as pl

from traitforge.audit.clustering import (Clustering, Fitter, cluster_texts, distinctive_terms,
                                         fit_indices, plane)
from traitforge.audit.config import ClusterSettings, DiscoverySettings
from traitforge.audit.findings import Finding, family_label
from traitforge.audit.groups import (family_finding, family_select, group_tests,
                                     merge_groups, most_common)
from traitforge.audit.matchers import ClusterMatcher
from traitforge.audit.passes.base import PassBase, PassContext, register
from traitforge.audit.reconcile import MergeRule
from traitforge.audit.sentences import EMBEDDED, with_texts
from traitforge.audit.units import Unit


def cluster_findings(sc: pl.DataFrame, sr: pl.DataFrame | None, units: list[Unit],
                     ref_units: list[Unit] | None, select, embedder, settings: ClusterSettings,
                     discovery: DiscoverySettings, frame_words: list[str], seed: int = 0,
                     step=lambda advance=1: None, fitter: Fitter | None = None
                     ) -> tuple[list[Finding], dict]:
    """Findings for over-represented families of embedding clusters among the sentences `sc`
    of `units` (against `sr` of `ref_units`), per slot, and the clustering of the opening
    sentences (for the report's map); the sentences' masked texts keep `frame_words`. HDBSCAN
    is fitted by `fitter` (here by default). Every slot is clustered before any slot's
    findings are made, so that where the fitter runs apart, a slot's terms are worked out there
    while the next slot is embedded here."""
    fitter = fitter or Fitter(processes=False)
    context = (units, ref_units, select, embedder, settings, discovery, frame_words, seed, step,
               fitter)
    findings, maps = [], {}
    for finish in [_clustered(slot, sc, sr, *context) for slot in EMBEDDED]:
        if finish is not None:
            found, slot_map = finish()
            findings += found
            maps = slot_map or maps
    return findings, maps


def _clustered(slot: str, sc: pl.DataFrame, sr: pl.DataFrame | None, units: list[Unit],
               ref_units: list[Unit] | None, select, embedder, settings: ClusterSettings,
               discovery: DiscoverySettings, frame_words: list[str], seed: int, step,
               fitter: Fitter):
    """One slot's sentences clustered, its families chosen and their terms started on
    `fitter`; returns what makes the slot's findings and map (None for the closing slot) once
    the terms are in, or None if the slot has too few sentences."""
    n_units, n_ref = len(units), len(ref_units) if ref_units is not None else None
    c = sc.filter(pl.col("slot") == slot)
    r = sr.filter(pl.col("slot") == slot) if sr is not None else None
    texts = c["masked"].to_list() + (r["masked"].to_list() if r is not None else [])
    if len(texts) < 20 or len(c) < 2:
        return None
    result = cluster_texts(texts, embedder, settings, seed, step, fitter,
                           len(c) if r is not None else None)
    space = result.space()
    lc = c.with_columns(pl.Series("group", result.labels[:len(c)]).cast(pl.String)).with_row_index("row")
    lr = r.with_columns(pl.Series("group", result.labels[len(c):]).cast(pl.String)) \
        if r is not None else None
    keep = pl.col("group") != "-1"
    lc = lc.filter(keep)
    lr = lr.filter(keep) if lr is not None else None
    chosen = select(group_tests(lc, lr, n_units, n_ref, discovery.test, discovery.prior_strength))
    ids = [int(g) for g in chosen["group"]]
    q = dict(zip(chosen["group"], chosen["q"])) if "q" in chosen.columns else {}
    lc = with_texts(lc.filter(pl.col("group").is_in(chosen["group"].to_list())), units)
    families = merge_groups([lc.filter(pl.col("group") == str(i)) for i in ids],
                            result.centroids[ids], settings.merge_cos)
    groups = [[str(ids[m]) for m in fam] for fam in families]
    docs = [" ".join(lc.filter(pl.col("group").is_in(g))["text"].head(2000).to_list())
            for g in groups]
    background = " ".join(with_texts(c.sample(min(len(c), 4000), seed=seed), units)["text"])
    terms = fitter.run(distinctive_terms, docs, background) if docs else lambda: []
    view = fitter.run(plane, result.points, seed) if slot == "opening" else None

    def finish() -> tuple[list[Finding], dict | None]:
        findings, owner = [], {}
        for g, words in zip(groups, terms()):
            rows = lc.filter(pl.col("group").is_in(g))
            medoid = _medoid(rows, result)
            label = f"{' · '.join(words)} — {medoid}"
            matcher = ClusterMatcher(slot, sorted(int(x) for x in g), space, frame_words,
                                     settings.accurate)
            f = family_finding(
                "cluster", label,
                f"Over-represented family of {len(g)} embedding cluster{'s' * (len(g) > 1)} among "
                f"the {slot} sentences; distinctive terms {', '.join(words)}; medoid {medoid!r}.",
                matcher, rows, lr.filter(pl.col("group").is_in(g)) if lr is not None else None,
                n_units, n_ref, min((q[x] for x in g if x in q), default=None), discovery)
            f.variants = most_common(rows, "text", 12)
            f.label = family_label(f.skeleton, f.variants)
            findings.append(f)
            owner.update({int(x): f for x in g})
        if view is None:
            return findings, None
        pick, xy = view()
        return findings, {"clustering": result, "n_corpus": len(c), "owner": owner, "pick": pick,
                          "xy": xy, "texts": _map_texts(c.select("unit", "start", "end"),
                                                        r.select("unit", "start", "end")
                                                        if r is not None else None,
                                                        units, ref_units)}
    return finish


def _map_texts(c: pl.DataFrame, r: pl.DataFrame | None, units: list[Unit],
               ref_units: list[Unit] | None):
    """The texts of the map's sentences at given indices (the corpus's `c`, then the
    reference's `r`), read when the map is drawn."""
    def texts(indices: np.ndarray) -> list[str]:
        mine = indices[indices < len(c)]
        out = with_texts(c[mine], units)["text"].to_list()
        if r is not None:
            out += with_texts(r[indices[indices >= len(c)] - len(c)], ref_units)["text"].to_list()
        return out
    return texts


def _embedding_steps(sc: pl.DataFrame, sr: pl.DataFrame | None, cs: ClusterSettings) -> int:
    """The chunks `cluster_texts` embeds over the slots it clusters: per slot, the fit sample
    (see `fit_indices`), then the other sentences a chunk at a time."""
    def counts(frame: pl.DataFrame | None) -> dict[str, int]:
        return {} if frame is None else dict(frame["slot"].value_counts().iter_rows())

    mine, theirs, steps = counts(sc), counts(sr), 0
    for slot in EMBEDDED:
        c, r = mine.get(slot, 0), theirs.get(slot, 0)
        if c + r >= 20 and c >= 2:
            fitted = len(fit_indices(c + r, c if sr is not None else None, cs.fit_sample)[0])
            steps += 1 + -(-(c + r - fitted) // cs.chunk)
    return steps


def _medoid(rows: pl.DataFrame, result: Clustering) -> str:
    """The sentence of `rows` nearest their mean embedding."""
    points = result.points[rows["row"].to_numpy()]
    return rows["text"][int(np.argmax(points @ points.mean(0)))]


@register
class ClusterPass(PassBase):
    name = "cluster"
    merge = MergeRule(rank=1)
    switch = "clusters"

    def find(self, units: list[Unit], reference: list[Unit] | None,
             ctx: PassContext) -> list[Finding]:
        sc, sr = ctx.sentence_frames()
        cs, settings = ctx.config.clustering, ctx.config.discovery
        tick = ctx.steps.task("pass 4: embedding clusters", _embedding_steps(sc, sr, cs))
        with Fitter() as fitter:
            found, ctx.extras["map"] = cluster_findings(
                sc, sr, units, reference, family_select(ctx.policy, settings),
                ctx.corpus_match.embedder(cs.accurate), cs, settings,
                ctx.corpus_match.frame_words, ctx.config.seed, tick, fitter)
        return found
