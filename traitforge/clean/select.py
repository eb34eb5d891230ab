"""Rebalancing a corpus from its audit: bring chosen findings down to target prevalences.

For each chosen finding (default: every fail and warn) the target is its reference prevalence,
or the policy's `clean_cap` without a reference. Documents are taken greedily: the finding
furthest over its target picks its documents, those carrying the most over-target patterns
first, so few documents go. With `stratify` columns each stratum is balanced on its own, which
keeps the mix of prompt types or traits. With the `strip` strategy a flagged opener or closer
is cut out instead, when it is whole sentences and the rest stands alone; otherwise the
document is dropped. Prevalence here is the share of documents carrying a finding.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from traitforge.clean.config import STRATEGIES, CleanConfig
from traitforge.io import InputError, Record

CUT_AT = re.compile(r"[.!?…][\"'”’)\]*_]*(?=\s|$)|\n\s*")
MIN_REST_CHARS = 40
MIN_REST_SHARE = 0.3


@dataclass
class CleanResult:
    kept: list[Record]
    dropped: list[tuple[Record, list[str]]]  # record, the findings it was dropped for
    stripped: list[tuple[Record, list[str], list[str]]]  # new record, findings, cut texts
    targets: dict[str, float]
    before: dict[str, float]
    after: dict[str, float]
    strata: dict[str, tuple[int, int]] = field(default_factory=dict)  # stratum: (before, after)


def chosen_findings(audit: dict, ids: tuple[str, ...]) -> list[dict]:
    by_id = {f["id"]: f for f in audit["findings"]}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise InputError(f"finding {unknown[0]!r} is not in the audit (ids are in audit.json)")
    if ids:
        return [by_id[i] for i in ids]
    return [f for f in audit["findings"] if f["severity"] in ("fail", "warn")]


def target_of(finding: dict, cap: float) -> float:
    ref = finding.get("reference_prevalence")
    return float(ref) if ref is not None else cap


def membership(records: list[Record], flags: pl.DataFrame, ids: list[str]) -> np.ndarray:
    """Documents x findings: whether a document carries a finding."""
    index = {r.id: k for k, r in enumerate(records)}
    m = np.zeros((len(records), len(ids)), dtype=bool)
    for j, fid in enumerate(ids):
        docs = flags.filter(pl.col("finding_id") == fid)["doc_id"].unique().to_list()
        m[[index[d] for d in docs if d in index], j] = True
    return m


def select(m: np.ndarray, targets: np.ndarray, strippable: np.ndarray, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """(alive, carried): which documents stay, and which findings each still carries, once every
    finding is down to its target.

    The finding with most documents over its target picks, among its documents, those carrying
    the most over-target findings (ties broken at random). A pick whose over-target findings
    can all be cut (`strippable`) is stripped of them, any other is dropped."""
    carried = m.copy()
    alive = np.ones(len(m), dtype=bool)
    tiebreak = rng.random(len(m))
    while True:
        need = carried[alive].sum(0) - targets * alive.sum()
        over = need > 1e-9
        if not over.any():
            return alive, carried
        j = int(np.argmax(need))
        score = carried[:, over].sum(1)
        cand = np.flatnonzero(alive & carried[:, j])
        cand = cand[np.lexsort((tiebreak[cand], -score[cand]))]
        # Dropping shrinks the corpus too, so it needs need / (1 - target) documents.
        k = need[j] if strippable.any() else need[j] / (1 - targets[j])
        for i in cand[:max(1, math.ceil(k - 1e-9))]:
            cut = carried[i] & over
            if (strippable[i] | ~cut).all():
                carried[i, cut] = False
            else:
                alive[i] = False


def sentence_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """[start, end) widened to whole sentences."""
    ends = [m.end() for m in CUT_AT.finditer(text)]
    before = [e for e in ends if e <= start]
    after = [e for e in ends if e >= end]
    return (before[-1] if before else 0), (after[0] if after else len(text))


def cut_span(text: str, start: int, end: int, slot: str) -> tuple[str, str] | None:
    """(the text without the sentences holding [start, end), what was cut) when they lead
    (opening) or close (closing) the text and what remains stands alone; None otherwise."""
    start, end = sentence_bounds(text, start, end)
    if slot == "opening" and not text[:start].strip():
        rest = text[end:].lstrip()
    elif slot == "closing" and not text[end:].strip():
        rest = text[:start].rstrip()
    else:
        return None
    if len(rest) < max(MIN_REST_CHARS, MIN_REST_SHARE * len(text.strip())):
        return None
    return rest, text[start:end].strip()


def _cuts(record: Record, flags: pl.DataFrame, slot: str) -> list[tuple[int, int, int]] | None:
    """(turn, start, end) of each flagged span in a record, or None if one cannot be cut."""
    spans = []
    for turn, start, end in flags.select("turn", "start", "end").iter_rows():
        text = record.text if record.kind == "document" else record.messages[turn]["content"]
        if cut_span(text, start, end, slot) is None:
            return None
        spans.append((turn, start, end))
    return spans


def strip_record(record: Record, spans: list[tuple[int, int, int, str]]) -> tuple[Record, list[str]]:
    """The record with each (turn, start, end, slot) span cut. Spans are widened to sentences
    and merged where they overlap (two findings may flag one opener), then cut from the end."""
    texts = {0: record.text} if record.kind == "document" else \
        {k: m["content"] for k, m in enumerate(record.messages)}
    merged: list[list] = []
    for turn, start, end, slot in sorted((t, *sentence_bounds(texts[t], a, b), s)
                                         for t, a, b, s in spans):
        if merged and merged[-1][0] == turn and start < merged[-1][2]:
            merged[-1][2] = max(merged[-1][2], end)
        else:
            merged.append([turn, start, end, slot])
    removed = []
    for turn, start, end, slot in reversed(merged):
        cut = cut_span(texts[turn], start, end, slot)
        if cut is not None:
            texts[turn] = cut[0]
            removed.append(cut[1])
    removed.reverse()
    if record.kind == "document":
        return Record(record.id, "document", text=texts[0], source=record.source,
                      line=record.line, meta=record.meta), removed
    messages = tuple({**m, "content": texts[k]} for k, m in enumerate(record.messages))
    return Record(record.id, "chat", messages=messages, source=record.source, line=record.line,
                  meta=record.meta), removed


def strata_of(records: list[Record], columns: tuple[str, ...], source: str) -> np.ndarray:
    if not columns:
        return np.zeros(len(records), dtype=np.int64)
    keys = []
    for r in records:
        missing = [c for c in columns if c not in r.meta]
        if missing:
            raise InputError(f"{source}:{r.line}: no field {missing[0]!r} to stratify by")
        keys.append(tuple(str(r.meta[c]) for c in columns))
    return np.unique(np.array([" | ".join(k) for k in keys]), return_inverse=True)[1]


def clean(records: list[Record], audit: dict, flags: pl.DataFrame, cap: float,
          settings: CleanConfig, source: str = "corpus") -> CleanResult:
    """Choose what to drop or strip so each chosen finding meets its target."""
    if settings.strategy not in STRATEGIES:
        raise InputError(f"--strategy must be one of {', '.join(STRATEGIES)}")
    findings = chosen_findings(audit, settings.findings)
    ids = [f["id"] for f in findings]
    slots = {f["id"]: f.get("slot", "body") for f in findings}
    targets = np.array([target_of(f, cap) for f in findings])
    m = membership(records, flags, ids)
    strippable = np.zeros_like(m)
    by_doc = flags.filter(pl.col("finding_id").is_in(ids)).partition_by(
        "doc_id", "finding_id", as_dict=True)
    if settings.strategy == "strip":
        for k, r in enumerate(records):
            for j, fid in enumerate(ids):
                if m[k, j]:
                    strippable[k, j] = _cuts(r, by_doc[(r.id, fid)], slots[fid]) is not None
    strata = strata_of(records, settings.stratify, source)
    rng = np.random.default_rng(settings.seed)
    alive = np.ones(len(records), dtype=bool)
    carried = m.copy()
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        alive[rows], carried[rows] = select(m[rows], targets, strippable[rows], rng)
    result = CleanResult([], [], [], dict(zip(ids, targets.tolist())), _shares(m, ids), {})
    for k, r in enumerate(records):
        carries = [fid for j, fid in enumerate(ids) if m[k, j]]
        cut = [fid for j, fid in enumerate(ids) if m[k, j] and not carried[k, j]]
        if not alive[k]:
            result.dropped.append((r, carries))
        elif cut:
            spans = [(t, a, b, slots[fid]) for fid in cut
                     for t, a, b in _cuts(r, by_doc[(r.id, fid)], slots[fid])]
            new, removed = strip_record(r, spans)
            result.stripped.append((new, cut, removed))
            result.kept.append(new)
        else:
            result.kept.append(r)
    result.after = _shares(carried[alive], ids)
    if settings.stratify:
        names = [" | ".join(str(r.meta[c]) for c in settings.stratify) for r in records]
        for s in np.unique(strata):
            rows = strata == s
            result.strata[names[int(np.flatnonzero(rows)[0])]] = (int(rows.sum()),
                                                                  int((rows & alive).sum()))
    return result


def _shares(m: np.ndarray, ids: list[str]) -> dict[str, float]:
    return dict(zip(ids, (m.mean(0) if len(m) else np.zeros(len(ids))).tolist()))
