"""The audit: read the corpora, run the registered passes, reconcile and grade their findings."""
from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from traitforge.audit.census import Census, CorpusFile, corpus_file, count_in_all
from traitforge.audit.config import AuditConfig
from traitforge.audit.families import PART_SHARE, forget_layouts, join_families, over_represented
from traitforge.audit.habits import Habits
from traitforge.audit.findings import Finding, rank, verdict
from traitforge.audit.lengths import match_lengths
from traitforge.audit.match_context import MatchContext
from traitforge.audit.passes import Pass, PassContext, enabled_passes, merge_rules
from traitforge.audit.passes.detectors import Detector, active_detectors, load_patterns
from traitforge.audit.policy import Policy, load_policy
from traitforge.audit.profile import distributions, word_counts
from traitforge.audit.reconcile import join_sampled, reconcile
from traitforge.audit.skeletons import frame_words
from traitforge.audit.units import TURNS, Unit, units_and_sentences
from traitforge.executors import one_blas_thread, running_on
from traitforge.io import Corpus, InputError


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
    merged_into: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time of each step
    extras: dict = field(default_factory=dict)  # what passes left for the outputs

    @property
    def verdict(self) -> str:
        return verdict(self.findings)


class Steps:
    """Rich progress when given a Progress, silence otherwise; records each step's seconds.
    Each thread has one open step at a time."""

    def __init__(self, progress=None):
        self.progress = progress
        self.docs = 0  # units a step covers (its bar's docs/s), once they are read
        self.seconds: dict[str, float] = {}
        self._open: dict[int, tuple] = {}  # thread -> (name, start, task id or None, total)

    def task(self, description: str, total: int):
        """Open a step (closing this thread's one before); returns its advance(n=1) function."""
        self.close()
        tid = None if self.progress is None else \
            self.progress.add_task(description, total=total, docs=self.docs)
        self._open[threading.get_ident()] = (description, time.perf_counter(), tid, total)
        if tid is None:
            return lambda advance=1: None
        return lambda advance=1: self.progress.advance(tid, advance)

    def close(self) -> None:
        """Close this thread's open step (its bar shown complete)."""
        opened = self._open.pop(threading.get_ident(), None)
        if opened:
            name, start, tid, total = opened
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)
            if tid is not None:
                self.progress.update(tid, completed=total)
                self.progress.stop_task(tid)


def _read(path: str, config: AuditConfig, what: str, files: ExitStack) -> tuple[Corpus, CorpusFile]:
    """The corpus at `path` (a uniform sample of `config.sample` records if it has more), and
    its file, open for the census."""
    file = files.enter_context(corpus_file(path, config.format, config.id_field, config.strict))
    corpus = file.sample(config.sample, config.seed)
    if not corpus.records:
        first = f"; first: {corpus.rejected[0]}" if corpus.rejected else ""
        raise InputError(f"{path}: no usable records in the {what} "
                         f"({corpus.n_read} read, {len(corpus.rejected)} rejected{first})")
    return corpus, file


def _units(corpus: Corpus, turns: str) -> tuple[list[Unit], pl.DataFrame]:
    return units_and_sentences(corpus.records, turns)


def run_audit(config: AuditConfig, progress=None) -> AuditResult:
    """The audit `config` describes, its per-block work run here or on Ray (`config.ray`)."""
    if config.turns not in TURNS:
        raise InputError(f"--turns must be one of {', '.join(TURNS)}")
    if config.sample < 0:
        raise InputError("--sample must be 0 (all records) or a positive number")
    with running_on(config.ray), one_blas_thread(), ExitStack() as files:
        return _audit(config, files, progress)


def _audit(config: AuditConfig, files: ExitStack, progress=None) -> AuditResult:
    steps = Steps(progress)
    policy = load_policy(config.policy)
    user = load_patterns(config.patterns) if config.patterns else []
    detectors = active_detectors(config.builtin, user)
    tick = steps.task("reading", 2 if config.reference else 1)
    corpus, corpus_at = _read(config.corpus, config, "corpus", files)
    tick()
    reference = ref_at = None
    if config.reference:
        reference, ref_at = _read(config.reference, config, "reference", files)
        tick()
    units, spans = _units(corpus, config.turns)
    ref_units, ref_spans = _units(reference, config.turns) if reference else (None, None)
    steps.docs = len(units) + len(ref_units or [])
    d = config.discovery
    frame = (d.lead, d.tail, d.middle, d.clauses)
    ctx = PassContext(config, policy, detectors, steps,
                      MatchContext(units, *frame, sentence_spans=spans),
                      MatchContext(ref_units, *frame, sentence_spans=ref_spans)
                      if ref_units is not None else None)

    def choose_frame_words() -> None:
        words = frame_words([u.text for u in units + (ref_units or [])], d.frame_share)
        for match in (ctx.corpus_match, ctx.reference_match):
            if match is not None:
                match.frame_words = words

    passes = enabled_passes(config)
    found = run_passes(passes, units, ref_units, ctx, choose_frame_words)
    with ThreadPoolExecutor(1) as aside:  # polars' work beside merging's, mostly Python's
        profile = aside.submit(corpus_profile, units, ref_units)
        findings, merged_into = merge(passes, found, config, policy, units, steps,
                                      ctx.corpus_match)
        words, ctx.extras["distributions"] = profile.result()
    if ref_units is not None:
        ctx.extras["length"] = match_lengths(findings, units, ref_units, words,
                                             ctx.extras.get("ngrams_examined", 0))
    for p in passes:
        if hasattr(p, "finish"):
            p.finish(ctx, merged_into)
    census = {what: count_all(findings, at, what, config, steps) for what, at in
              (("corpus", corpus_at), ("reference", ref_at)) if at is not None and at.sampled}
    if census:
        count_in_all(findings, census.get("corpus"), census.get("reference"))
        ctx.extras["census"] = census
    for f in findings:
        f.grade(policy)
    steps.close()
    return AuditResult(config, policy, corpus, reference, units, ref_units, detectors,
                       rank(findings), merged_into, steps.seconds, ctx.extras)


def corpus_profile(units: list[Unit], ref_units: list[Unit] | None) -> tuple[np.ndarray, dict]:
    """Each reply's word count (the corpus's, then the reference's) and the report's length
    and markdown distributions (`profile.distributions`)."""
    texts = [u.text for u in units]
    ref_texts = [u.text for u in ref_units] if ref_units is not None else None
    words = word_counts(texts + (ref_texts or []))
    return words, distributions(texts, ref_texts, words)


def count_all(findings: list[Finding], at: CorpusFile, what: str, config: AuditConfig,
              steps: Steps) -> Census:
    """The findings replayed on every record of a sampled corpus (or reference) file."""
    d = config.discovery
    steps.docs = at.n_records
    tick = steps.task(f"census of the {what}", at.n_records)
    return at.census([(f.id, f.matcher) for f in findings], config.turns,
                     (d.lead, d.tail, d.middle, d.clauses), tick)


def run_passes(passes: list[Pass], units: list[Unit], ref_units: list[Unit] | None,
               ctx: PassContext, prepare) -> dict[str, list[Finding]]:
    """Each pass's findings (less those the policy ignores), by name. The passes marked
    `concurrent` are shared by two threads: a second one takes them from the last registered
    back (the n-gram pass first, the longest of them), while this one runs the others in order
    after `prepare()` (what only they need) and then takes, in order, any not yet started. The
    n-gram pass's work is mostly in polars and numpy, which let go of the interpreter, so two
    cores share it."""
    def find(p: Pass) -> list[Finding]:
        try:
            return [f for f in p.find(units, ref_units, ctx) if f.id not in ctx.policy.ignore]
        finally:
            if p.concurrent:
                ctx.steps.close()

    waiting = deque(p for p in passes if p.concurrent)
    taking = threading.Lock()
    found: dict[str, list[Finding]] = {}

    def take_all(last: bool) -> None:
        while True:
            with taking:
                if not waiting:
                    return
                p = waiting.pop() if last else waiting.popleft()
            found[p.name] = find(p)

    with ThreadPoolExecutor(1) as pool:
        aside = pool.submit(take_all, True)
        prepare()
        for p in passes:
            if not p.concurrent:
                found[p.name] = find(p)
        ctx.steps.close()  # a concurrent pass opens its own step; waiting is no step
        take_all(False)
        aside.result()
    return {p.name: found[p.name] for p in passes}


def merge(passes: list[Pass], found: dict[str, list[Finding]], config: AuditConfig,
          policy: Policy, units: list[Unit], steps: Steps,
          match: MatchContext) -> tuple[list[Finding], dict[str, str]]:
    """Every pass's findings as one list of merged findings, and where each one went: the
    counting passes reconcile (their ids made unique first, in pass order); alternatives and
    parts of one move then join into families; without a reference only habits stay
    (`Habits`); then the sampled ones join the result (ids unique among it, the user's
    patterns before the scan's)."""
    s = config.discovery
    counted = unique_ids([f for p in passes if not p.sampled for f in found[p.name]])
    rules = merge_rules()
    steps.task("reconciling findings", 1)
    findings, merged_into = reconcile(counted, rules, s.reconcile_jaccard, test=s.test,
                                      prior_strength=s.prior_strength)
    named = frozenset(name for name, r in rules.items() if r.alone)
    habits = None
    if not config.reference:
        steps.task("moves and topics", 1)
        habits = Habits(findings, units, match.embedder, s, named, policy.warn_prevalence,
                        config.seed)
    if s.families:
        steps.task("joining families", 1)
        candidate = (over_represented(policy.alpha, s.family_lift) if habits is None
                     else habits.may_join)
        findings, home = join_families(findings, units, candidate, s.frame_cos, named, s.test,
                                       s.prior_strength, PART_SHARE[habits is None])
        merged_into = {k: home.get(v, v) for k, v in merged_into.items()}
    if habits is not None:
        findings = habits.reportable(findings)
        kept = {f.id for f in findings}
        merged_into = {k: v for k, v in merged_into.items() if v in kept}
    forget_layouts()  # the frame codes' cache holds the replies themselves
    sampled = [f for p in passes if p.sampled for f in found[p.name]]
    if sampled:
        users = [f for f in sampled if f.user_pattern]
        scanned = [f for f in sampled if not f.user_pattern]
        unique_ids(findings + users + scanned)
        findings, joined = join_sampled(findings + users, scanned, s.reconcile_jaccard)
        merged_into.update({f.id: f.id for f in users} | joined)
    return findings, merged_into


def unique_ids(findings: list[Finding]) -> list[Finding]:
    """A second finding with an id already taken becomes id-2, a third id-3, ... (skipping a
    name another finding has)."""
    taken = {f.id for f in findings}
    seen: dict[str, int] = {}
    for f in findings:
        if f.id in seen:
            k = seen[f.id] + 1
            while f"{f.id}-{k}" in taken:  # a finding already called id-2 keeps that name
                k += 1
            seen[f.id] = k
            f.id = f"{f.id}-{k}"
            taken.add(f.id)
        else:
            seen[f.id] = 1
    return findings
