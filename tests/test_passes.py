"""The pass registry: a pass written outside the package, registered, takes part in an audit
like the built-in ones (its findings reconciled, graded, written, and replayed by its matcher)."""
from __future__ import annotations

import json
import time

import pytest

from traitforge.audit import AuditConfig, run_audit, write_outputs
from traitforge.audit.findings import from_spans
from traitforge.audit.matchers import RegexMatcher
from traitforge.audit.passes import PASSES, PassContext, merge_rules, register
from traitforge.audit.passes.base import PassBase
from traitforge.audit.reconcile import MergeRule
from traitforge.audit.replay import apply_audit


class ExclaimPass(PassBase):
    """A toy pass: openings that end in '!'."""

    name = "exclaim"
    merge = MergeRule(rank=0, alone=True)

    def find(self, units, reference, ctx: PassContext):
        matcher = RegexMatcher("opening", r"!\s*$")
        hits = matcher.match(ctx.corpus_match)
        f = from_spans(self.name, "exclaimed-opening", "opens with an exclamation", "",
                       matcher, hits, len(units))
        return [f] if len(f.units) else []


@pytest.fixture
def exclaim(monkeypatch):
    monkeypatch.setattr("traitforge.audit.passes.base.PASSES", PASSES + [])
    from traitforge.audit.passes import base

    register(ExclaimPass)
    yield base.PASSES[-1]


def test_a_registered_pass_runs_reconciles_and_replays(exclaim, write_jsonl, chat, tmp_path):
    rows = [chat(f"Question {k}?", ("Great news! " if k % 2 else "Well. ") + f"Answer {k} here.",
                 id=f"r{k}") for k in range(40)]
    corpus = write_jsonl("corpus.jsonl", rows)
    result = run_audit(AuditConfig(corpus=str(corpus), templates=False, clusters=False,
                                   builtin=False))
    [f] = [f for f in result.findings if f.id == "exclaimed-opening"]
    assert f.methods[0] == "exclaim" and len(f.units) == 20
    assert f.severity == "fail"  # half of the units, no reference: over fail_prevalence
    assert merge_rules()["exclaim"] == ExclaimPass.merge
    doc = write_outputs(result, tmp_path / "audit")
    assert any(x["id"] == "exclaimed-opening" for x in doc["findings"])
    applied = apply_audit(tmp_path / "audit", corpus, tmp_path / "apply")
    [row] = [x for x in applied["findings"] if x["finding_id"] == "exclaimed-opening"]
    assert row["n_flagged"] == 20
    assert json.loads((tmp_path / "audit" / "audit.json").read_text())["findings"]


def test_registering_appends_in_order(exclaim):
    from traitforge.audit.passes import base

    assert [p.name for p in base.PASSES] == ["detector", "ngram", "template", "cluster", "llm",
                                             "exclaim"]


def test_q_values_skip_a_finding_that_could_not_be_tested():
    import numpy as np

    from traitforge.audit.findings import Finding
    from traitforge.audit.passes.base import set_q_values

    def finding(p):
        f = Finding("f", ["llm"], "", "", "body", RegexMatcher("body", "x"),
                    np.zeros(0, np.int64), np.zeros((0, 2), np.int64), 10)
        f.p_value = p
        return f

    found = [finding(0.01), finding(None), finding(0.04)]
    set_q_values(found)
    assert [f.q_value for f in found] == [0.02, None, 0.04]


def test_phrasing_of_function_words_alone_is_at_most_info():
    import numpy as np

    from traitforge.audit.findings import Finding
    from traitforge.audit.policy import Policy

    def finding(bare: bool):
        f = Finding("ngram-body-and-the", ["ngram"], ", and the", "", "body",
                    RegexMatcher("body", "x"), np.arange(50, dtype=np.int64),
                    np.zeros((50, 2), np.int64), 100, function_words_only=bare)
        f.ref_units, f.ref_flagged, f.q_value = 100, 5, 1e-9
        return f

    words, bare = finding(False), finding(True)
    words.grade(Policy())
    bare.grade(Policy())
    assert (words.severity, bare.severity) == ("fail", "info")
    bare.grade(Policy(severity={"ngram-body-and-the": "warn"}))  # the user's word stands
    assert bare.severity == "warn"


class SlowAsidePass(PassBase):
    """A toy pass run in the second thread, slower than everything else."""

    name = "slow"
    merge = MergeRule(rank=0, alone=True)
    concurrent = True

    def find(self, units, reference, ctx: PassContext):
        ctx.steps.task("slow pass", 1)
        time.sleep(1.5)
        return []


def test_waiting_for_the_second_thread_is_no_step_of_the_first(monkeypatch, write_jsonl, chat):
    from traitforge.audit.passes import base

    monkeypatch.setattr(base, "PASSES", base.PASSES + [])
    register(SlowAsidePass)
    rows = [chat(f"Question {k}?", f"Answer {k} here.", id=f"r{k}") for k in range(40)]
    result = run_audit(AuditConfig(corpus=str(write_jsonl("c.jsonl", rows)), templates=False,
                                   clusters=False, ngrams=False))
    assert result.seconds["slow pass"] >= 1.5
    assert result.seconds["reading"] < 1.0  # the main thread's last step here


def test_the_second_thread_takes_the_last_concurrent_pass_first_and_this_one_the_rest():
    """The longest concurrent pass (the last registered) starts at once in the second thread;
    this thread runs its own passes, then the concurrent ones still waiting, in order."""
    import threading
    from types import SimpleNamespace

    from traitforge.audit.auditor import Steps, run_passes

    ran, first_ran = {}, threading.Event()

    class Fake(PassBase):
        def __init__(self, name, concurrent):
            self.name, self.concurrent = name, concurrent

        def find(self, units, reference, ctx):
            if self.name == "last":  # waits for the first concurrent pass, run by the other thread
                assert first_ran.wait(10)
            ran[self.name] = threading.current_thread()
            if self.name == "first":
                first_ran.set()
            return []

    passes = [Fake("first", True), Fake("own", False), Fake("middle", True), Fake("last", True)]
    ctx = SimpleNamespace(policy=SimpleNamespace(ignore=set()), steps=Steps())
    found = run_passes(passes, [], None, ctx, lambda: None)
    assert list(found) == ["first", "own", "middle", "last"]
    here = threading.current_thread()
    assert ran["own"] is here and ran["first"] is here and ran["last"] is not here


def test_passes_run_with_blas_on_one_thread_and_it_is_restored_after(exclaim, monkeypatch,
                                                                      write_jsonl, chat):
    """One BLAS thread: no pool spinning beside the audit's threads, and float results (the
    clustering's) that do not depend on how many cores the machine has."""
    from threadpoolctl import threadpool_info, threadpool_limits

    if not any(lib["user_api"] == "blas" for lib in threadpool_info()):
        pytest.skip("no BLAS library that threadpoolctl can limit")
    seen = []
    find = ExclaimPass.find

    def recording(self, units, reference, ctx):
        seen.extend(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")
        return find(self, units, reference, ctx)

    monkeypatch.setattr(ExclaimPass, "find", recording)
    corpus = write_jsonl("c.jsonl", [chat(f"Q {k}?", f"Hi! Answer {k}.") for k in range(20)])
    with threadpool_limits(2, user_api="blas"):
        run_audit(AuditConfig(corpus=str(corpus), templates=False, clusters=False))
        after = {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    assert seen and set(seen) == {1}
    assert after == {2}
