"""The n-gram pass: over-represented slot n-grams nobody named, merged into findings.

With a reference corpus every frequent slot n-gram is tested for over-representation (log-odds
with an informative prior) and the false discovery rate is held by Benjamini-Hochberg across
all of them. Without one, recurring phrases are candidates (`recurring_findings`).
Nested and overlapping n-grams that flag mostly the same units become one finding.
"""
from __future__ import annotations

import math
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
from scipy import sparse

from traitforge.audit.config import DiscoverySettings
from traitforge.audit.findings import Finding, shared_units, slug
from traitforge.audit.matchers import NgramMatcher
from traitforge.audit.ngram_counts import (SlotCounts, count_slot, detokenize, ngram_regex,
                                           ngram_tokens, unit_pairs)
from traitforge.audit.passes.base import PassBase, PassContext, register
from traitforge.audit.reconcile import MergeRule
from traitforge.audit.stats import (benjamini_hochberg, over_representation_z, still_over,
                                    upper_p)
from traitforge.audit.units import SLOTS, Unit


def _texts(units: list[Unit], slot: str) -> list[str]:
    return [u.slot_text(slot) for u in units]


def candidate_tests(corpus: list[Unit], reference: list[Unit], settings: DiscoverySettings,
                    step=lambda: None) -> tuple[list[SlotCounts], list[SlotCounts], pl.DataFrame]:
    """Count every slot's n-grams in both corpora and test each one.

    Returns the corpus and reference counts per slot and one frame of tests with columns
    slot, key, n, df, ref_df, echo, z, p, q.
    """
    min_df = max(settings.min_df, math.ceil(settings.min_prevalence * len(corpus)))
    prompts_c, prompts_r = [u.prompt for u in corpus], [u.prompt for u in reference]
    counts, ref_counts, tests = [], [], []
    for slot in SLOTS:
        c = count_slot(slot, _texts(corpus, slot), prompts_c, settings.max_n, min_df)
        r = count_slot(slot, _texts(reference, slot), prompts_r, settings.max_n, 1,
                       keep=c.stats.select("key"))
        joined = c.stats.join(r.stats.select("key", pl.col("df").alias("ref_df")), on="key",
                              how="left").with_columns(pl.col("ref_df").fill_null(0))
        z = over_representation_z(settings.test, joined["df"].to_numpy(), len(corpus),
                                  joined["ref_df"].to_numpy(), len(reference),
                                  settings.prior_strength)
        tests.append(joined.with_columns(pl.lit(slot).alias("slot"), pl.Series("z", z),
                                         pl.Series("p", upper_p(z)),
                                         reportable(c, joined).alias("reportable")))
        counts.append(c)
        ref_counts.append(r)
        step()
    frame = pl.concat(tests)
    return counts, ref_counts, frame.with_columns(pl.Series("q", benjamini_hochberg(frame["p"].to_numpy())))


def reportable(counts: SlotCounts, stats: pl.DataFrame) -> pl.Series:
    """Which n-grams can stand as a pattern on their own.

    Everywhere: any n-gram with a content word. In the opening and closing sentence also any
    phrase of two or more tokens and lone punctuation (an opening that ends in "?"); in the
    body, phrases of three or more tokens. A lone function word is never a pattern.
    """
    n = stats["n"].to_numpy()
    content = stats["content"].to_numpy()
    if counts.slot == "body":
        return pl.Series(content | (n >= 3))
    ones = np.flatnonzero(n == 1)
    firsts = [t[0] for t in ngram_tokens(counts.texts, stats["pos"].to_numpy()[ones], n[ones])]
    punct = np.zeros(len(n), bool)
    punct[ones] = pl.Series(firsts, dtype=pl.String).str.contains(r"^[^\w\s]$").to_numpy()
    return pl.Series(content | (n >= 2) | punct)


def recurring_findings(corpus: list[Unit], settings: DiscoverySettings, threshold: float,
                       step=lambda: None) -> tuple[list[Finding], int]:
    """Reference-free: the findings of the slot n-grams in at least `threshold` of units that
    say something (`recurring_phrases`), and how many n-grams reached the threshold. Each
    slot's findings are made in a second thread while the next slot is counted (the body, the
    longest, first): they are mostly Python, the counting mostly polars and numpy."""
    min_df = max(settings.min_df, math.ceil(threshold * len(corpus)))
    prompts = [u.prompt for u in corpus]
    made, examined, last = {}, 0, None
    with ThreadPoolExecutor(1) as aside:
        for slot in sorted(SLOTS, key=lambda s: s != "body"):
            c = count_slot(slot, _texts(corpus, slot), prompts, settings.max_n, min_df)
            examined += len(c.stats)
            if last is not None:
                last.result()  # an error there now, not after the other slots' work
            made[slot] = last = aside.submit(slot_findings, c, None, recurring_phrases(c, slot),
                                             corpus, settings)
            step()
        findings = [f for slot in SLOTS for f in made[slot].result()]
    return fold_duplicates(findings, len(corpus)), examined


def recurring_phrases(c: SlotCounts, slot: str) -> pl.DataFrame:
    """The counted n-grams of `c` (at least min_df units) that say something.

    An n-gram must hold a content word (not a stop word) or a symbol, and two or more tokens
    (three in the body) unless it is a lone symbol: function words and punctuation, frequent
    everywhere, say nothing. (Not the corpus's frame words: a habit in most replies makes its own words
    frequent.) Whether one is a move, not a topic, is decided on the merged findings
    (`audit/habits.py`).
    """
    ones = np.flatnonzero(c.stats["n"].to_numpy() == 1)
    symbol = np.zeros(len(c.stats), bool)
    symbol[ones] = [unicodedata.category(t[0][0]) == "So" for t in
                    ngram_tokens(c.texts, c.stats["pos"].to_numpy()[ones], np.ones(len(ones), int))]
    n = c.stats["n"].to_numpy()
    says = c.stats["content"].to_numpy() & ((n >= (3 if slot == "body" else 2)) | symbol)
    return c.stats.filter(pl.Series(says)).with_columns(pl.lit(slot).alias("slot"))


def merge_ngrams(pairs: pl.DataFrame, chosen: pl.DataFrame, n_units: int,
                 threshold: float, rows_at_once: int = 1024) -> list[list[int]]:
    """Group chosen n-grams (rows of `chosen`) whose unit sets (in `pairs`, columns unit and
    key) overlap with Jaccard >= threshold (> 0).

    Greedy leader clustering in order of excess documents: each n-gram joins the most similar
    existing group leader (the earliest of equals), or leads a new group. Shared units are
    counted `rows_at_once` n-grams at a time, as a sparse matrix: a leader sharing no unit with
    an n-gram has Jaccard 0 with it, so only those sharing one are compared.
    """
    keys = chosen["key"].to_numpy()
    sorter = np.argsort(keys)
    col = sorter[np.searchsorted(keys, pairs["key"].to_numpy(), sorter=sorter)]
    x = sparse.csc_matrix((np.ones(len(pairs), np.float32), (pairs["unit"].to_numpy(), col)),
                          shape=(n_units, len(keys)))
    xt = x.T.tocsr()
    df = np.asarray(x.multiply(x).sum(0), np.float32).ravel()  # the diagonal of x.T @ x
    place = np.full(len(keys), -1)  # each n-gram's place among the leaders, if it leads
    groups: list[list[int]] = []
    for lo in range(0, len(keys), rows_at_once):
        co = (xt[lo:lo + rows_at_once] @ x).tocsr()
        co.sort_indices()
        for i in range(lo, min(lo + rows_at_once, len(keys))):
            j = co.indices[co.indptr[i - lo]:co.indptr[i - lo + 1]]
            inter = co.data[co.indptr[i - lo]:co.indptr[i - lo + 1]]
            lead = place[j] >= 0
            if lead.any():
                j, inter = j[lead], inter[lead]
                jac = inter / (df[i] + df[j] - inter)
                tied = np.flatnonzero(jac == jac.max())
                best = place[j[tied]].min()  # the earliest leader of those most alike
                if jac[tied[0]] >= threshold:
                    groups[best].append(i)
                    continue
            place[i] = len(groups)
            groups.append([i])
    return groups


def _stitch(a: list[str], b: list[str]) -> list[str] | None:
    """Join two token windows where a suffix of `a` is a prefix of `b`, or one holds the other."""
    if " ".join(b) in " ".join(a):
        return a
    for k in range(min(len(a), len(b)) - 1, 0, -1):
        if a[-k:] == b[:k]:
            return a + b[k:]
    return None


def label_of(pieces: list[tuple[float, list[str]]], limit: int = 4) -> str:
    """The common form of a group: overlapping n-grams stitched into phrases, in reading
    order, and phrases that stand apart joined by '…' ("before i … could you … ?")."""
    phrases: list[tuple[float, list[str]]] = []
    for offset, toks in sorted(pieces, key=lambda p: (p[0], -len(p[1]))):
        for i, (o, ph) in enumerate(phrases):
            joined = _stitch(ph, toks) or _stitch(toks, ph)
            if joined is not None:
                phrases[i] = (min(o, offset), joined)
                break
        else:
            phrases.append((offset, toks))
    best = sorted(phrases, key=lambda p: -len(p[1]))[:limit]
    return " … ".join(detokenize(t) for _, t in sorted(best, key=lambda p: p[0]))


def ngram_findings(counts: list[SlotCounts], ref_counts: list[SlotCounts],
                   chosen: pl.DataFrame, corpus: list[Unit],
                   settings: DiscoverySettings) -> list[Finding]:
    """With a reference: the chosen n-grams of every slot as merged findings (`slot_findings`),
    duplicates across slots folded. A merged finding's q-value is the smallest of its
    members', each of which passed the false-discovery control over all n-grams tested."""
    findings = []
    for c, r in zip(counts, ref_counts):
        findings += slot_findings(c, r, chosen.filter(pl.col("slot") == c.slot), corpus, settings)
    return fold_duplicates(findings, len(corpus))


def slot_findings(c: SlotCounts, r: SlotCounts | None, rows: pl.DataFrame, corpus: list[Unit],
                  settings: DiscoverySettings) -> list[Finding]:
    """Turn one slot's chosen n-grams (`rows`) into merged findings with spans and matchers; a
    merged finding flags the union of its n-grams' units. `r`: the reference's counts, if any.
    The slot's tokens are let go once its n-grams' units are known."""
    held = [c] + ([r] if r is not None else [])
    if rows.is_empty():
        _release(held)
        return []
    excess = rows["df"].cast(pl.Float64)
    if r is not None:
        excess = excess - rows["ref_df"].cast(pl.Float64)
    rows = rows.with_columns(excess.alias("excess")).sort(["excess", "key"],
                                                           descending=[True, False])
    pairs = unit_pairs(c, rows)
    ref_pairs = unit_pairs(r, rows) if r is not None else None
    _release(held)
    toks = ngram_tokens(c.texts, rows["pos"], rows["n"])
    by_key = KeyUnits(pairs)
    ref_by_key = KeyUnits(ref_pairs) if ref_pairs is not None else None
    groups = merge_ngrams(pairs, rows, len(corpus), settings.merge_jaccard)
    return [_finding(c, by_key, r, ref_by_key, part, [toks[i] for i in members], corpus,
                     settings) for members, part in zip(groups, _partition(rows, groups))]


def _partition(rows: pl.DataFrame, groups: list[list[int]]) -> list[pl.DataFrame]:
    """rows[members] of each group (groups in order of their first member, members ascending),
    in one pass over `rows`."""
    label = np.empty(len(rows), np.int64)
    for g, members in enumerate(groups):
        label[members] = g
    return rows.with_columns(pl.Series("_group", label)).partition_by(
        "_group", maintain_order=True, include_key=False)


def _release(counts: list[SlotCounts]) -> None:
    """Let the slot's held or spilled tokens go: its n-grams' units are known."""
    for c in counts:
        c.blocks.release()


def fold_duplicates(findings: list[Finding], n_units: int, threshold: float = 0.8) -> list[Finding]:
    """Fold a finding into an earlier one (by slot: opening, closing, body) that flags nearly
    the same units, e.g. a phrase counted both in the opening sentence and in the whole text:
    the earliest kept one with unit Jaccard >= `threshold`. The kept finding lists the folded
    one's variants."""
    if len(findings) < 2:
        return findings
    order = {s: i for i, s in enumerate(SLOTS)}
    findings = sorted(findings, key=lambda f: (order[f.slot], -len(f.units)))
    near = _alike_earlier(shared_units(findings, n_units),
                          np.array([len(f.units) for f in findings], float), threshold)
    kept = np.zeros(len(findings), bool)
    for i, f in enumerate(findings):
        j = near.indices[near.indptr[i]:near.indptr[i + 1]]
        j = j[kept[j]]
        if not len(j):
            kept[i] = True
            continue
        home = findings[j.min()]
        extra = [v for v in f.variants if v not in home.variants]
        home.variants = (home.variants + extra)[:12]
    return [f for f, k in zip(findings, kept) if k]


def _alike_earlier(shared: sparse.csr_matrix, size: np.ndarray, threshold: float,
                   rows_at_once: int = 1024) -> sparse.csr_matrix:
    """For each finding, the earlier ones (by index) it shares units with at a unit Jaccard of
    at least `threshold`, as the column indices of its row; read `rows_at_once` rows at a time."""
    rows, cols = [], []
    for lo in range(0, shared.shape[0], rows_at_once):
        block = shared[lo:lo + rows_at_once].tocoo()
        row, inter = block.row + lo, block.data.astype(np.float64)
        alike = (block.col < row) & (inter / (size[row] + size[block.col] - inter) >= threshold)
        rows.append(row[alike])
        cols.append(block.col[alike])
    return sparse.csr_matrix((np.ones(sum(map(len, rows)), bool),
                              (np.concatenate(rows), np.concatenate(cols))), shape=shared.shape)


class KeyUnits:
    """The units that carry each key of a frame of (unit, key) pairs, looked up by key."""

    def __init__(self, pairs: pl.DataFrame):
        keys, units = pairs["key"].to_numpy(), pairs["unit"].to_numpy()
        order = np.argsort(keys, kind="stable")
        self.keys, starts = np.unique(keys[order], return_index=True)
        self.units = np.split(units[order], starts[1:]) if len(keys) else []

    def of(self, rows: pl.DataFrame) -> np.ndarray:
        """The units carrying any n-gram of `rows`, ascending."""
        at = np.searchsorted(self.keys, rows["key"].to_numpy())
        found = [self.units[i] for i, k in zip(at, rows["key"].to_numpy())
                 if i < len(self.keys) and self.keys[i] == k]
        return np.unique(np.concatenate(found)) if found else np.zeros(0, np.uint32)


def _inside(part: list[str], whole: list[str]) -> bool:
    """Whether the tokens `part` occur contiguously in `whole`."""
    k = len(part)
    return any(whole[i:i + k] == part for i in range(len(whole) - k + 1))


def _over_beyond(i: int, longer: list[int], rows: pl.DataFrame, pairs: KeyUnits,
                 ref_pairs: KeyUnits, n: int, n_ref: int, settings: DiscoverySettings) -> bool:
    """Whether n-gram `i` of `rows` is still over-represented (`still_over`) in the units that
    carry none of the `longer` ones holding it."""
    def beyond(by_key: KeyUnits, total: int) -> tuple[int, int]:
        longer_units = by_key.of(rows[longer])
        own = np.setdiff1d(by_key.of(rows[i:i + 1]), longer_units, assume_unique=True)
        return len(own), total - len(longer_units)

    (a, n_a), (b, n_b) = beyond(pairs, n), beyond(ref_pairs, n_ref)
    return n_a > 0 and n_b > 0 and still_over(settings.test, a, n_a, b, n_b,
                                              settings.prior_strength)


def _finding(c: SlotCounts, pairs: KeyUnits, r: SlotCounts | None, ref_pairs: KeyUnits | None,
             rows: pl.DataFrame, toks: list[list[str]], corpus: list[Unit],
             settings: DiscoverySettings) -> Finding:
    """One merged finding of `rows` (their tokens `toks`); `pairs` and `ref_pairs` say which
    units carry `rows`: what its matcher finds, counted once for all the slot's n-grams. An
    n-gram inside a longer member ("easy to" in "which is easy to overlook") is a variant only:
    where it occurs without the rest, it is another phrase; unless, with a reference, it is
    still over-represented there ("# overview" beside "# # overview": one move), in an opening
    or closing sentence (a sentence is not much longer in a longer reply; the whole text is,
    so a phrase's bare count in it is not evidence)."""
    label = label_of(list(zip(rows["offset"].to_list(), toks)))
    variants = sorted({detokenize(t) for t in toks}, key=lambda v: (-len(v), v))
    tests = len(rows)
    keep = []
    for i, t in enumerate(toks):
        longer = [j for j, o in enumerate(toks) if len(o) > len(t) and _inside(t, o)]
        keep.append(not longer or (ref_pairs is not None and c.slot != "body" and
                                   _over_beyond(i, longer, rows, pairs, ref_pairs, len(corpus),
                                                r.n_units, settings)))
    if not all(keep):  # most groups keep every member: no filter to run
        toks, rows = [t for t, k in zip(toks, keep) if k], rows.filter(pl.Series(keep))
    longest = sorted(toks, key=len, reverse=True)
    matcher = NgramMatcher(c.slot, longest, "|".join(f"(?:{ngram_regex(t)})" for t in longest))
    flagged = pairs.of(rows)
    where = {"opening": "the opening sentence", "closing": "the closing sentence",
             "body": "the text"}[c.slot]
    finding = Finding(
        id=f"ngram-{c.slot}-{slug(label)}", methods=["ngram"], label=label,
        description=f"Over-represented phrasing in {where}: {label!r} "
                    f"({len(rows)} merged n-gram{'s' if len(rows) > 1 else ''}).",
        slot=c.slot, units=flagged.astype(np.int64), spans=matcher.spans(corpus, flagged),
        n_units=len(corpus), matcher=matcher, variants=variants[:12],
        prompt_echo=int(rows["echo"].sum()), function_words_only=not rows["content"].any(),
        tests=tests,
    )
    if r is not None:
        finding.against(ref_pairs.of(rows), r.n_units, settings.test,
                        settings.prior_strength)
        finding.q_value = float(rows["q"].min())
    return finding


@register
class NgramPass(PassBase):
    """Slot n-grams: against a reference, every frequent one tested (BH across all); without
    one, the recurring phrases that say something (from the variant prevalence)."""

    name = "ngram"
    merge = MergeRule(rank=3, widens_others=False)
    concurrent = True
    switch = "ngrams"

    def find(self, units: list[Unit], reference: list[Unit] | None,
             ctx: PassContext) -> list[Finding]:
        settings, policy = ctx.config.discovery, ctx.policy
        tick = ctx.steps.task("pass 2: slot n-grams", 3)
        if reference is None:
            findings, ctx.extras["ngrams_examined"] = recurring_findings(
                units, settings, settings.variant_prevalence, tick)
            return findings
        counts, ref_counts, tests = candidate_tests(units, reference, settings, tick)
        ctx.extras["ngrams_examined"] = len(tests)
        lift_ok = pl.col("df") / len(units) >= 1.2 * pl.col("ref_df") / len(reference)
        chosen = tests.filter((pl.col("q") < policy.alpha) & (pl.col("z") > 0) & lift_ok
                              & pl.col("reportable"))
        return ngram_findings(counts, ref_counts, chosen, units, settings)
