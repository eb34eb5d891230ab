"""Groups of sentences (template families, embedding clusters): testing them for
over-representation, choosing the reportable ones, joining them into families, and the finding
of a family."""
from __future__ import annotations

import numpy as np
import polars as pl

from traitforge.audit.config import DiscoverySettings
from traitforge.audit.findings import Finding, from_spans, slug
from traitforge.audit.matchers import first_sentences
from traitforge.audit.policy import Policy
from traitforge.audit.stats import benjamini_hochberg, over_representation_z, upper_p


def group_tests(sc: pl.DataFrame, sr: pl.DataFrame | None, n_units: int, n_ref: int | None,
                test: str = "z", prior_strength: float = 100.0) -> pl.DataFrame:
    """Units per group in the corpus (`df`) and reference (`ref_df`), with z, p and BH q.

    `sc` and `sr` hold one row per labelled sentence with columns unit, slot, group and stock
    (whether its skeleton recurs in another unit); a unit counts once per group however many of
    its sentences fall in it. `stock` is the share of a group's sentences that are stock."""
    out = (sc.group_by("slot", "group").agg(pl.col("unit").n_unique().alias("df"),
                                            pl.col("stock").mean().alias("stock"))
           .sort("slot", "group"))  # in a fixed order, so that ids do not vary from run to run
    if sr is None or n_ref is None:
        return out.with_columns((pl.col("df") / n_units).alias("prevalence"))
    ref = sr.group_by("slot", "group").agg(pl.col("unit").n_unique().alias("ref_df"))
    out = (out.join(ref, on=["slot", "group"], how="left", maintain_order="left")
           .with_columns(pl.col("ref_df").fill_null(0)))
    z = over_representation_z(test, out["df"].to_numpy(), n_units, out["ref_df"].to_numpy(), n_ref,
                              prior_strength)
    p = upper_p(z)
    return out.with_columns(pl.Series("z", z), pl.Series("p", p),
                            pl.Series("q", benjamini_hochberg(p)),
                            (pl.col("df") / n_units).alias("prevalence"),
                            (pl.col("ref_df") / n_ref).alias("ref_prevalence"))


def enriched(tests: pl.DataFrame, alpha: float, min_df: int, min_lift: float,
             min_prevalence_free: float, min_stock: float = 0.5) -> pl.DataFrame:
    """Groups over-represented against the reference (q < alpha, lift >= min_lift), or without
    one, groups covering at least `min_prevalence_free` of units and made mostly of stock
    sentences (`min_stock`): a family of set phrases, not a topic."""
    keep = pl.col("df") >= min_df
    if "q" in tests.columns:
        lift = pl.col("prevalence") / pl.max_horizontal(pl.col("ref_prevalence"), pl.lit(1e-9))
        keep &= (pl.col("q") < alpha) & (pl.col("z") > 0) & (lift >= min_lift)
    else:
        keep &= (pl.col("prevalence") >= min_prevalence_free) & (pl.col("stock") >= min_stock)
    return tests.filter(keep)


def _profile(texts: pl.Series, edge: pl.Expr) -> dict[str, float]:
    """The distribution of one edge of the sentences (e.g. their first word), or {} when one
    value takes most of it: only a slot that varies inside a group can link it to another."""
    counts = (texts.to_frame("t").select(edge.alias("v")).drop_nulls()["v"].value_counts())
    p = counts["count"].to_numpy() / max(1, counts["count"].sum())
    entropy = float(-(p * np.log(p)).sum()) if len(p) else 0.0
    return dict(zip(counts["v"], p)) if entropy >= np.log(3) - 1e-9 else {}


def _cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    return dot / (np.sqrt(sum(v * v for v in a.values())) * np.sqrt(sum(v * v for v in b.values())))


EDGES = (pl.col("t").str.to_lowercase().str.extract(r"^\W*(\w[\w'’]*)"),
         pl.col("t").str.to_lowercase().str.extract(r"(\w[\w'’]*\W*\s+\w[\w'’]*\W*)$"))


def merge_groups(groups: list[pl.DataFrame], centroids: np.ndarray | None = None,
                 merge_cos: float = 0.8, min_overlap: float = 0.6, min_profile: float = 0.8) -> list[list[int]]:
    """Join over-represented groups of one slot into families (single linkage). Two groups are
    one family when
    - their centroids are within `merge_cos` (paraphrases of one move), or
    - their units overlap by `min_overlap` of the smaller (one move spanning two sentences), or
    - they vary alike in one slot: the same spread of first words, or of last words, inside
      each (compositional variants: "Yes/No/Partly, with a few caveats." and
      "Yes/No/Partly, that's the short answer.")."""
    k = len(groups)
    parent = list(range(k))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    units = [np.unique(g["unit"].to_numpy()) for g in groups]
    profiles = [[_profile(g["text"], e) for e in EDGES] for g in groups]
    sim = centroids @ centroids.T if centroids is not None and k else None
    for i in range(k):
        for j in range(i + 1, k):
            inter = len(np.intersect1d(units[i], units[j], assume_unique=True))
            linked = (sim is not None and sim[i, j] >= merge_cos
                      or inter / max(1, min(len(units[i]), len(units[j]))) >= min_overlap
                      or any(_cosine(a, b) >= min_profile for a, b in zip(profiles[i], profiles[j])))
            if linked:
                parent[root(i)] = root(j)
    families: dict[int, list[int]] = {}
    for i in range(k):
        families.setdefault(root(i), []).append(i)
    return list(families.values())


def most_common(rows: pl.DataFrame, col: str, k: int) -> list[str]:
    return (rows.group_by(col).agg(pl.col("unit").n_unique().alias("n"))
            .sort(["n", col], descending=[True, False]).head(k)[col].to_list())


def family_select(policy: Policy, settings: DiscoverySettings):
    """The reportable groups of a frame of group tests; reference-free, groups at the variant
    prevalence, which may join a family."""
    return lambda tests: enriched(tests, policy.alpha, max(settings.min_df, 2),
                                  settings.family_lift, settings.variant_prevalence)


def family_finding(method: str, label: str, description: str, matcher, rows: pl.DataFrame,
                   ref_rows: pl.DataFrame | None, n_units: int, n_ref: int | None,
                   q: float | None, settings: DiscoverySettings) -> Finding:
    """The finding of one family: the units of its sentences `rows`, each at its earliest,
    against those of `ref_rows` in the reference."""
    f = from_spans(method, f"{method}-{matcher.slot}-{slug(label)}", label, description,
                   matcher, first_sentences(rows), n_units)
    if ref_rows is not None:
        f.against(np.sort(ref_rows["unit"].unique().to_numpy()), n_ref, settings.test,
                  settings.prior_strength)
        f.q_value = q
    f.skeleton = most_common(rows, "skeleton", 1)[0]
    return f
