"""Testing groups of sentences (template families, embedding clusters) for over-representation,
and turning the chosen ones into findings."""
from __future__ import annotations

import numpy as np
import polars as pl

from traitforge.audit.clusters import ClusterSettings, Clustering, cluster_texts, distinctive_terms
from traitforge.audit.findings import Finding, family_label, from_sentences, slug
from traitforge.audit.stats import benjamini_hochberg, over_representation_z, upper_p
from traitforge.audit.templates import family_table


def group_tests(sc: pl.DataFrame, sr: pl.DataFrame | None, n_units: int, n_ref: int | None,
                test: str = "z", prior_strength: float = 100.0) -> pl.DataFrame:
    """Units per group in the corpus (`df`) and reference (`ref_df`), with z, p and BH q.

    `sc` and `sr` hold one row per labelled sentence with columns unit, slot, group and stock
    (whether its skeleton recurs in another unit); a unit counts once per group however many of
    its sentences fall in it. `stock` is the share of a group's sentences that are stock."""
    out = sc.group_by("slot", "group").agg(pl.col("unit").n_unique().alias("df"),
                                           pl.col("stock").mean().alias("stock"))
    if sr is None or n_ref is None:
        return out.with_columns((pl.col("df") / n_units).alias("prevalence"))
    ref = sr.group_by("slot", "group").agg(pl.col("unit").n_unique().alias("ref_df"))
    out = out.join(ref, on=["slot", "group"], how="left").with_columns(pl.col("ref_df").fill_null(0))
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


def _most_common(rows: pl.DataFrame, col: str, k: int) -> list[str]:
    return (rows.group_by(col).agg(pl.col("unit").n_unique().alias("n"))
            .sort(["n", col], descending=[True, False]).head(k)[col].to_list())


def _family_finding(method: str, slot: str, label: str, description: str, rows: pl.DataFrame,
                    ref_rows: pl.DataFrame | None, n_units: int, n_ref: int | None, q: float | None,
                    test: str, prior_strength: float) -> Finding:
    f = from_sentences(method, f"{method}-{slot}-{slug(label)}", label, description, slot, rows,
                       n_units, None if ref_rows is None else ref_rows["unit"].n_unique(), n_ref,
                       test, prior_strength)
    if ref_rows is not None:
        f.ref_index = np.sort(ref_rows["unit"].unique().to_numpy()).astype(np.int64)
        f.q_value = q
    f.skeleton = _most_common(rows, "skeleton", 1)[0]
    return f


def template_findings(sc: pl.DataFrame, sr: pl.DataFrame | None, n_units: int, n_ref: int | None,
                      select, similarity: float, test: str, prior_strength: float) -> list[Finding]:
    """Findings for the over-represented skeleton families of the sentences `sc` (against `sr`).
    `select` filters a frame of group tests down to the reportable groups."""
    # Skeletons are chosen on both corpora together, so that neither side is picked for being frequent.
    pooled = sc if sr is None else pl.concat([
        sc.select("unit", "slot", "skeleton"),
        sr.select(pl.col("unit") + (sc["unit"].max() or 0) + 1, "slot", "skeleton")])
    table = family_table(pooled, similarity)
    lc = sc.join(table, on=["slot", "skeleton"])
    lr = sr.join(table, on=["slot", "skeleton"]) if sr is not None else None
    chosen = select(group_tests(lc, lr, n_units, n_ref, test, prior_strength))
    q = dict(zip(chosen["group"], chosen["q"])) if "q" in chosen.columns else {}
    findings = []
    for slot in chosen["slot"].unique(maintain_order=True):
        names = chosen.filter(pl.col("slot") == slot)["group"].to_list()
        members = [lc.filter(pl.col("group") == g) for g in names]
        for fam in merge_groups(members):
            g = [names[i] for i in fam]
            rows = lc.filter(pl.col("group").is_in(g))
            skels = _most_common(rows, "skeleton", 12)
            f = _family_finding("template", slot, skels[0],
                                f"Over-represented sentence template among the {slot} sentences: "
                                f"{skels[0]!r} and {rows['skeleton'].n_unique() - 1} variants.", rows,
                                lr.filter(pl.col("group").is_in(g)) if lr is not None else None,
                                n_units, n_ref, min((q[x] for x in g if x in q), default=None), test,
                                prior_strength)
            f.variants = skels
            f.label = family_label(skels[0], _most_common(rows, "text", 2))
            f.matcher = {"type": "template", "slot": slot, "skeletons": sorted(
                table.filter((pl.col("slot") == slot) & pl.col("group").is_in(g))["skeleton"])}
            findings.append(f)
    return findings


def cluster_findings(sc: pl.DataFrame, sr: pl.DataFrame | None, n_units: int, n_ref: int | None,
                     select, embedder, settings: ClusterSettings, test: str, prior_strength: float,
                     seed: int = 0, step=lambda advance=1: None) -> tuple[list[Finding], dict]:
    """Findings for over-represented families of embedding clusters, per slot, and the
    clustering of the opening sentences (for the report's map)."""
    findings, maps = [], {}
    for slot in ("opening", "closing"):
        c = sc.filter(pl.col("slot") == slot)
        r = sr.filter(pl.col("slot") == slot) if sr is not None else None
        texts = c["masked"].to_list() + (r["masked"].to_list() if r is not None else [])
        if len(texts) < 20:
            continue
        result = cluster_texts(texts, embedder, settings, seed, step)
        space = result.space()
        lc = c.with_columns(pl.Series("group", result.labels[:len(c)]).cast(pl.String)).with_row_index("row")
        lr = r.with_columns(pl.Series("group", result.labels[len(c):]).cast(pl.String)) \
            if r is not None else None
        keep = pl.col("group") != "-1"
        lc = lc.filter(keep)
        lr = lr.filter(keep) if lr is not None else None
        chosen = select(group_tests(lc, lr, n_units, n_ref, test, prior_strength))
        ids = [int(g) for g in chosen["group"]]
        q = dict(zip(chosen["group"], chosen["q"])) if "q" in chosen.columns else {}
        families = merge_groups([lc.filter(pl.col("group") == str(i)) for i in ids],
                                result.centroids[ids], settings.merge_cos)
        groups = [[str(ids[m]) for m in fam] for fam in families]
        docs = [" ".join(lc.filter(pl.col("group").is_in(g))["text"].head(2000).to_list())
                for g in groups]
        background = " ".join(c["text"].sample(min(len(c), 4000), seed=seed).to_list())
        terms = distinctive_terms(docs, background) if docs else []
        owner = {}
        for g, words in zip(groups, terms):
            rows = lc.filter(pl.col("group").is_in(g))
            medoid = _medoid(rows, result)
            label = f"{' · '.join(words)} — {medoid}"
            f = _family_finding(
                "cluster", slot, label,
                f"Over-represented family of {len(g)} embedding cluster{'s' * (len(g) > 1)} among "
                f"the {slot} sentences; distinctive terms {', '.join(words)}; medoid {medoid!r}.", rows,
                lr.filter(pl.col("group").is_in(g)) if lr is not None else None, n_units, n_ref,
                min((q[x] for x in g if x in q), default=None), test, prior_strength)
            f.variants = _most_common(rows, "text", 12)
            f.label = family_label(f.skeleton, f.variants)
            f.matcher = {"type": "cluster", "slot": slot, "accurate": settings.accurate,
                         "clusters": sorted(int(x) for x in g), "space": space}
            findings.append(f)
            owner.update({int(x): f for x in g})
        if slot == "opening":
            maps = {"clustering": result, "n_corpus": len(c), "owner": owner,
                    "texts": c["text"].to_list() + (r["text"].to_list() if r is not None else [])}
    return findings, maps


def _medoid(rows: pl.DataFrame, result: Clustering) -> str:
    """The sentence of `rows` nearest their mean embedding."""
    points = result.points[rows["row"].to_numpy()]
    return rows["text"][int(np.argmax(points @ points.mean(0)))]
