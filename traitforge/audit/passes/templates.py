"""The template pass: families of sentence skeletons (see audit/skeletons.py) over-represented
among the leading or trailing sentences, tested against the reference."""
from __future__ import annotations

import polars as pl

from traitforge.audit.findings import Finding, family_label
from traitforge.audit.groups import (family_finding, family_select, group_tests,
                                     merge_groups, most_common)
from traitforge.audit.matchers import TemplateMatcher
from traitforge.audit.passes.base import PassBase, PassContext, register
from traitforge.audit.reconcile import MergeRule
from traitforge.audit.sentences import with_texts
from traitforge.audit.skeletons import family_table
from traitforge.audit.units import Unit


def template_findings(sc: pl.DataFrame, sr: pl.DataFrame | None, units: list[Unit],
                      n_ref: int | None, select, settings, frame_words: list[str]) -> list[Finding]:
    """Findings for the over-represented skeleton families of the sentences `sc` of `units`
    (against `sr`), whose skeletons keep `frame_words`. `select` filters a frame of group tests
    down to the reportable groups."""
    # Skeletons are chosen on both corpora together, so that neither side is picked for being frequent.
    pooled = sc if sr is None else pl.concat([
        sc.select("unit", "slot", "skeleton"),
        sr.select(pl.col("unit") + (sc["unit"].max() or 0) + 1, "slot", "skeleton")])
    table = family_table(pooled, settings.template_similarity)
    lc = sc.join(table, on=["slot", "skeleton"])
    lr = sr.join(table, on=["slot", "skeleton"]) if sr is not None else None
    n_units = len(units)
    chosen = select(group_tests(lc, lr, n_units, n_ref, settings.test, settings.prior_strength))
    q = dict(zip(chosen["group"], chosen["q"])) if "q" in chosen.columns else {}
    lc = with_texts(lc.filter(pl.col("group").is_in(chosen["group"].to_list())), units)
    findings = []
    for slot in chosen["slot"].unique(maintain_order=True):
        names = chosen.filter(pl.col("slot") == slot)["group"].to_list()
        members = [lc.filter(pl.col("group") == g) for g in names]
        for fam in merge_groups(members):
            g = [names[i] for i in fam]
            rows = lc.filter(pl.col("group").is_in(g))
            skels = most_common(rows, "skeleton", 12)
            matcher = TemplateMatcher(slot, sorted(
                table.filter((pl.col("slot") == slot) & pl.col("group").is_in(g))["skeleton"]),
                frame_words)
            f = family_finding(
                "template", skels[0], f"Over-represented sentence template among the {slot} "
                f"sentences: {skels[0]!r} and {rows['skeleton'].n_unique() - 1} variants.",
                matcher, rows, lr.filter(pl.col("group").is_in(g)) if lr is not None else None,
                n_units, n_ref, min((q[x] for x in g if x in q), default=None), settings)
            f.variants, f.tests = skels, len(g)
            f.label = family_label(skels[0], most_common(rows, "text", 2))
            findings.append(f)
    return findings


@register
class TemplatePass(PassBase):
    name = "template"
    merge = MergeRule(rank=2)
    switch = "templates"

    def find(self, units: list[Unit], reference: list[Unit] | None,
             ctx: PassContext) -> list[Finding]:
        sc, sr = ctx.sentence_frames()
        settings = ctx.config.discovery
        tick = ctx.steps.task("pass 3: sentence templates", 1)
        found = template_findings(sc, sr, units, len(reference) if reference else None,
                                  family_select(ctx.policy, settings), settings,
                                   ctx.corpus_match.frame_words)
        tick()
        return found
