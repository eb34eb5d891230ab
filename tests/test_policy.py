"""Policy.grade, read directly: significance first, then excess and lift with a reference,
prevalence without one; a fixed severity overrides all of it; ignored findings never reach it."""
from __future__ import annotations

import pytest

from traitforge.audit.policy import Policy, load_policy
from traitforge.io import InputError

P = Policy()  # alpha 0.05; warn 0.03 and 1.5x; fail 0.10 and 2x; reference-free 20% and 40%


@pytest.mark.parametrize("prevalence, ref, lift, q, grade", [
    (0.30, 0.10, 3.0, 0.001, "fail"),   # excess 0.20, lift 3
    (0.30, 0.10, 3.0, 0.05, "info"),    # q at alpha is not significant
    (0.30, 0.10, 3.0, None, "info"),    # untested
    (0.30, 0.18, 1.67, 0.001, "warn"),  # excess 0.12 but lift under 2
    (0.12, 0.01, 12.0, 0.001, "fail"),
    (0.06, 0.02, 3.0, 0.001, "warn"),   # excess 0.04
    (0.04, 0.02, 2.0, 0.001, "info"),   # excess 0.02: under the warn excess
    (0.50, 0.40, 1.25, 0.001, "info"),  # excess 0.10, lift too small to warn
])
def test_grade_against_a_reference(prevalence, ref, lift, q, grade):
    assert P.grade("f", prevalence, ref, lift, q) == grade


@pytest.mark.parametrize("prevalence, grade", [(0.45, "fail"), (0.40, "fail"), (0.25, "warn"),
                                                (0.20, "warn"), (0.19, "info")])
def test_grade_without_a_reference_reads_prevalence_alone(prevalence, grade):
    assert P.grade("f", prevalence, None, None, None) == grade


def test_settings_move_the_thresholds_and_a_fixed_severity_wins(tmp_path):
    strict = Policy(alpha=0.2, warn_excess=0.01, warn_lift=1.1, warn_prevalence=0.05,
                    severity={"known": "info", "banned": "fail"})
    assert strict.grade("f", 0.30, 0.10, 3.0, 0.1) == "fail"  # q 0.1 now significant
    assert strict.grade("f", 0.04, 0.02, 2.0, 0.01) == "warn"
    assert strict.grade("f", 0.06, None, None, None) == "warn"
    assert strict.grade("known", 0.90, 0.0, 90.0, 1e-9) == "info"
    assert strict.grade("banned", 0.0, 0.0, 0.0, 1.0) == "fail"
    path = tmp_path / "policy.toml"
    path.write_text('alpha = 0.2\nignore = ["noise"]\n[severity]\nknown = "info"\n')
    loaded = load_policy(path)
    assert loaded.alpha == 0.2 and loaded.ignore == ("noise",) and loaded.severity == {"known": "info"}
    path.write_text('[severity]\nknown = "loud"\n')
    with pytest.raises(InputError, match="maps finding ids to fail, warn or info"):
        load_policy(path)


def test_an_ignored_finding_never_reaches_the_audit(write_jsonl, chat, tmp_path):
    from traitforge.audit import AuditConfig, run_audit

    rows = [chat(f"Why {i}?", f"Great question! The answer is number {i}.") for i in range(30)]
    corpus = str(write_jsonl("corpus.jsonl", rows))
    base = dict(corpus=corpus, ngrams=False, templates=False, clusters=False)
    found = {f.id for f in run_audit(AuditConfig(**base)).findings}
    assert "praise_opener" in found
    path = tmp_path / "policy.toml"
    path.write_text('ignore = ["praise_opener"]\n')
    kept = {f.id for f in run_audit(AuditConfig(**base, policy=str(path))).findings}
    assert kept == found - {"praise_opener"}
