"""`traitforge clean`: rebalancing to targets, strip, strata, reconciliation, manifest."""
from __future__ import annotations

import itertools
import json
import random

import numpy as np
import pytest

from traitforge.audit.gate import check_gate
from traitforge.clean.select import select
from traitforge.cli import main
from traitforge.io import sha256_file

OPENER = "Great question, and thanks for asking it!"
CLOSER = "Let me know if you need anything else."
TOPICS = ["soil pH", "tide tables", "bread starters", "bike gears", "tax brackets", "owl calls",
          "jazz chords", "rust lifetimes", "glacier melt", "chess openings", "moss growth"]


SENTENCES = ["{T} depend on {u} in ways that surprise people.",
             "The details vary by region and season.",
             "Check local data before acting on {t}.",
             "Most guides on {t} skip the hard part.",
             "An expert on {u} would start with the basics.",
             "Measurements of {t} drift over a year.",
             "Small changes in {u} can matter more than expected.",
             "Case {i} shows that the usual advice holds up."]


def _corpus(n: int, p_open: float, p_close: float, seed: int, prefix: str) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        t, u = rng.sample(TOPICS, 2)
        # Bodies of 3 to 8 sentences, so that lengths vary as in real replies (the audit compares
        # like with like by length; bodies of one fixed length would make the planted opener
        # the only thing that makes a reply long).
        body = [x.format(T=t.capitalize(), t=t, u=u, i=i)
                for x in rng.sample(SENTENCES, rng.randint(3, 8))]
        text = " ".join(([OPENER] if rng.random() < p_open else []) + body
                        + ([CLOSER] if rng.random() < p_close else []))
        rows.append({"id": f"{prefix}{i}", "trait": "calibrated" if i % 3 else "honest",
                     "messages": [{"role": "user", "content": f"Tell me about {t}."},
                                  {"role": "assistant", "content": text}]})
    return rows


@pytest.fixture
def audited(write_jsonl, tmp_path):
    corpus = write_jsonl("corpus.jsonl", _corpus(400, 0.4, 0.3, 1, "c") + ["{not json"])
    reference = write_jsonl("reference.jsonl", _corpus(400, 0.05, 0.04, 2, "r"))
    code = main(["audit", str(corpus), "--reference", str(reference), "--no-clusters",
                 "--out", str(tmp_path / "audit"), "--quiet"])
    assert code == 1  # the planted opener and closer fail
    audit = json.loads((tmp_path / "audit" / "audit.json").read_text())
    # The planted opener and closer, as the built-in detectors name them.
    chosen = [f["id"] for f in audit["findings"] if f["methods"][0] == "detector"]
    assert len(chosen) == 2
    return corpus, tmp_path / "audit", [a for fid in chosen for a in ("--finding", fid)]


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _share(rows, phrase):
    return sum(phrase in r["messages"][-1]["content"] for r in rows) / len(rows)


def test_drop_reaches_targets_and_counts_reconcile(audited, tmp_path):
    corpus, audit_dir, chosen = audited
    before = sha256_file(corpus)
    out = tmp_path / "clean.jsonl"
    assert main(["clean", str(corpus), "--audit", str(audit_dir), "--out", str(out),
                 "--strategy", "drop", "--quiet", *chosen]) == 0
    assert sha256_file(corpus) == before
    summary = json.loads((tmp_path / "clean.audit" / "clean.json").read_text())
    c = summary["counts"]
    assert c["read"] == c["kept"] + c["dropped"] + c["rejected"] == 401 and c["rejected"] == 1
    kept, removed = _rows(out), _rows(tmp_path / "clean.removed.jsonl")
    assert len(kept) == c["kept"] and len(removed) == c["dropped"] + c["rejected"]
    assert {r["action"] for r in removed} == {"dropped", "rejected"}
    assert all(r["reason"] for r in removed)
    for f in summary["findings"]:
        assert f["before"] > f["target"] and f["after"] <= f["target"] + 1e-9
    # Checked on the text itself: both planted phrases are down to about their reference rates.
    assert _share(kept, OPENER) <= 0.08 and _share(kept, CLOSER) <= 0.07
    assert len(summary["findings"]) == 2
    # The cleaned corpus is re-audited, and its manifest clears the training gate.
    gate = check_gate(out)
    assert gate.passed and gate.manifest_path.endswith("clean.audit/manifest.json")
    assert not check_gate(corpus).passed


def test_strip_cuts_detachable_openers_and_closers(audited, tmp_path):
    corpus, audit_dir, chosen = audited
    out = tmp_path / "stripped.jsonl"
    main(["clean", str(corpus), "--audit", str(audit_dir), "--out", str(out), "--strategy",
          "strip", "--quiet", *chosen])
    summary = json.loads((tmp_path / "stripped.audit" / "clean.json").read_text())
    kept = _rows(out)
    assert summary["counts"]["stripped"] > 100 and summary["counts"]["dropped"] == 0
    assert len(kept) == 400
    originals = {r["id"]: r for r in map(json.loads, corpus.read_text().splitlines()[:-1])}
    for r in kept:
        text, before = r["messages"][-1]["content"], originals[r["id"]]["messages"][-1]["content"]
        if text != before:  # what remains is the original minus the cut sentences, untouched
            assert text in before and len(text) > 100
            assert not text.startswith(OPENER) and not text.endswith(CLOSER)
    assert _share(kept, OPENER) <= 0.08 and _share(kept, CLOSER) <= 0.07
    removed = [r for r in _rows(tmp_path / "stripped.removed.jsonl") if r["action"] == "stripped"]
    assert len(removed) == summary["counts"]["stripped"]
    assert all(set(r["removed_text"]) <= {OPENER, CLOSER} for r in removed)


def test_stratified_clean_keeps_the_trait_mix(audited, tmp_path):
    corpus, audit_dir, chosen = audited
    out = tmp_path / "strat.jsonl"
    main(["clean", str(corpus), "--audit", str(audit_dir), "--out", str(out), "--stratify",
          "trait", "--strategy", "drop", "--quiet", *chosen])
    summary = json.loads((tmp_path / "strat.audit" / "clean.json").read_text())
    assert set(summary["strata"]) == {"calibrated", "honest"}
    kept = _rows(out)
    for trait in ("calibrated", "honest"):
        rows = [r for r in kept if r["trait"] == trait]
        assert len(rows) == summary["strata"][trait]["after"] > 0
        assert _share(rows, OPENER) <= 0.09
    share = lambda rows: sum(r["trait"] == "honest" for r in rows) / len(rows)  # noqa: E731
    assert abs(share(kept) - 1 / 3) < 0.08


def test_clean_errors_are_one_line(audited, tmp_path, capsys):
    corpus, audit_dir, chosen = audited
    assert main(["clean", str(corpus), "--audit", str(audit_dir), "--out", str(corpus)]) == 2
    assert "would overwrite an input" in capsys.readouterr().err
    other = tmp_path / "other.jsonl"
    other.write_text(corpus.read_text() + "\n")
    assert main(["clean", str(other), "--audit", str(audit_dir), "--out",
                 str(tmp_path / "x.jsonl")]) == 2
    assert "not the bytes" in capsys.readouterr().err
    assert main(["clean", str(corpus), "--audit", str(audit_dir), "--out",
                 str(tmp_path / "y.jsonl"), "--stratify", "nope"]) == 2
    assert "no field 'nope'" in capsys.readouterr().err


def test_overlapping_spans_of_two_findings_cut_once():
    from traitforge.clean.select import strip_record
    from traitforge.io import Record

    reply = ("Great question, and thanks for asking it! Soil pH drifts over a season, so test "
             "it twice a year and lime it when it drops. Let me know if you need anything else.")
    rec = Record("x", "chat", messages=({"role": "user", "content": "pH?"},
                                        {"role": "assistant", "content": reply}))
    # A detector flags "Great question", a cluster the whole first sentence, and one the closer.
    spans = [(1, 0, 14, "opening"), (1, 0, 41, "opening"), (1, reply.index("Let me"), len(reply),
                                                               "closing")]
    new, removed = strip_record(rec, spans)
    assert new.messages[1]["content"] == ("Soil pH drifts over a season, so test it twice a year "
                                          "and lime it when it drops.")
    assert removed == ["Great question, and thanks for asking it!", CLOSER]


def test_the_gate_reads_real_manifests_a_failing_one_wins_and_a_broken_one_is_skipped(
        write_jsonl, tmp_path):
    """Manifests written by real audits of the same bytes: a plain one passes; one with the
    planted habits named fails; the failing one wins whichever lies beside the data. A sibling
    manifest that is not one (a foreign JSON) is passed over, not a crash."""
    data = write_jsonl("data/corpus.jsonl", _corpus(200, 0.3, 0.0, 3, "c"))
    reference = write_jsonl("reference.jsonl", _corpus(200, 0.0, 0.0, 4, "r"))
    (data.parent / "other").mkdir()
    (data.parent / "other" / "manifest.json").write_text('{"input": "not a table", "verdict": 1}')
    assert main(["audit", str(data), "--no-clusters", "--no-builtin", "--no-ngrams",
                 "--no-templates", "--out", str(data.parent / "a-pass"), "--quiet"]) == 0
    assert check_gate(data).passed
    assert main(["audit", str(data), "--reference", str(reference), "--no-clusters",
                 "--out", str(data.parent / "b-fail"), "--quiet"]) == 1
    gate = check_gate(data)
    assert not gate.passed and gate.manifest_path.endswith("b-fail/manifest.json")
    assert "verdict 'fail'" in gate.problem
    assert check_gate(data, data.parent / "a-pass").passed  # named, it is the one read


@pytest.mark.parametrize("target", ["reference", "audit.json", "inside the audit"])
def test_clean_refuses_an_out_that_names_an_input_of_the_audit(audited, tmp_path, capsys, target):
    corpus, audit_dir, chosen = audited
    out = {"reference": tmp_path / "reference.jsonl", "audit.json": audit_dir / "audit.json",
           "inside the audit": audit_dir / "clean.jsonl"}[target]
    before = {p: sha256_file(p) for p in [tmp_path / "reference.jsonl", *audit_dir.iterdir()]}
    assert main(["clean", str(corpus), "--audit", str(audit_dir), "--out", str(out), "--quiet",
                 *chosen]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "would overwrite an input of the audit" in err
    assert {p: sha256_file(p) for p in before} == before
    assert sorted(p.name for p in audit_dir.iterdir()) == sorted(p.name for p in before
                                                                 if p.parent == audit_dir)


def _unusual(row: dict, shape: str, k: int) -> dict:
    """A row of `_corpus` with what clean once rewrote: a non-string system content, message
    keys beyond role and content, nested and null fields; as OpenAI chats or ShareGPT."""
    turns = [{"role": "system", "content": {"persona": "calm", "v": k}},
             {**row["messages"][0], "name": f"user-{k % 3}"},
             {**row["messages"][1], "weight": k % 2, "meta": None}]
    extra = {"score": k / 7, "tags": ["a", k], "nested": {"x": [1, {"y": None}]}, "flag": True}
    if shape == "sharegpt":
        turns = [{"from": {"system": "system", "user": "human", "assistant": "gpt"}[t["role"]],
                  "value": t["content"], **{a: b for a, b in t.items() if a not in ("role", "content")}}
                 for t in turns]
        return {"id": row["id"], "conversations": turns, **extra, "trait": row["trait"]}
    return {"id": row["id"], "messages": turns, **extra, "trait": row["trait"]}


@pytest.mark.parametrize("shape", ["chat", "sharegpt"])
def test_clean_writes_kept_records_as_they_came_in(write_jsonl, tmp_path, shape):
    rows = [_unusual(r, shape, k) for k, r in enumerate(_corpus(300, 0.4, 0.0, 1, "c"))]
    corpus = write_jsonl("corpus.jsonl", rows)
    reference = write_jsonl("reference.jsonl", [_unusual(r, shape, k) for k, r in
                                                enumerate(_corpus(300, 0.05, 0.0, 2, "r"))])
    assert main(["audit", str(corpus), "--reference", str(reference), "--no-clusters",
                 "--out", str(tmp_path / "audit"), "--quiet"]) == 1
    out = tmp_path / "clean.jsonl"
    main(["clean", str(corpus), "--audit", str(tmp_path / "audit"), "--out", str(out),
          "--strategy", "strip", "--quiet"])
    stripped = {r["id"] for r in _rows(tmp_path / "clean.removed.jsonl")
                if r["action"] == "stripped"}
    lines = {json.loads(line)["id"]: line for line in corpus.read_text().splitlines()}
    kept = out.read_text().splitlines()
    assert len(stripped) > 50 and len(kept) == 300
    key, text = ("messages", "content") if shape == "chat" else ("conversations", "value")
    for line in kept:
        row = json.loads(line)
        if row["id"] not in stripped:
            assert line == lines[row["id"]]  # the input line itself
            continue
        before = json.loads(lines[row["id"]])
        assert row[key][-1][text] != before[key][-1][text]
        row[key][-1][text] = before[key][-1][text]
        assert row == before  # nothing else changed: every key, value and type


def _optimum(m: np.ndarray, targets: np.ndarray) -> int:
    """The fewest documents whose dropping brings every finding to its target (exhaustive)."""
    n = len(m)
    for d in range(n):
        for drop in itertools.combinations(range(n), d):
            alive = np.ones(n, dtype=bool)
            alive[list(drop)] = False
            if (m[alive].sum(0) <= targets * alive.sum() + 1e-9).all():
                return d
    return n


def test_drop_removes_as_few_documents_as_possible():
    """On random small corpora (12 documents, 1 to 3 findings at random rates and targets), the
    drops reach every target with no more documents than the exhaustive optimum."""
    for seed in range(60):
        rng = np.random.default_rng(seed)
        n_findings = int(rng.integers(1, 4))
        m = rng.random((12, n_findings)) < rng.uniform(0.2, 0.7, n_findings)
        targets = rng.uniform(0.05, 0.3, n_findings)
        alive, _ = select(m, targets, np.zeros_like(m), np.random.default_rng(0))
        assert (m[alive].sum(0) <= targets * alive.sum() + 1e-9).all()
        assert int((~alive).sum()) == _optimum(m, targets), seed


@pytest.fixture
def habits(write_jsonl, tmp_path):
    """200 replies, no reference: an opener in 50% (fail), a closer in 25% (warn), a sign-off
    in 10% (info), found by the user's own patterns."""
    rows = []
    for i in range(200):
        text = (("Sure thing! " if i % 2 == 0 else "") + f"Answer {i} is in the notes."
                + (" Hope that helps." if i % 4 == 1 else "") + (" Cheers." if i % 10 == 3 else ""))
        rows.append({"id": f"c{i}", "messages": [{"role": "user", "content": f"Q{i}?"},
                                                 {"role": "assistant", "content": text}]})
    corpus = write_jsonl("habits.jsonl", rows)
    (tmp_path / "p.toml").write_text(
        '[[pattern]]\nid = "opener"\nregex = "^Sure thing!"\n[[pattern]]\nid = "closer"\n'
        'regex = "Hope that helps[.]"\n[[pattern]]\nid = "signoff"\nregex = "Cheers[.]$"\n')
    return corpus


def _clean_habits(corpus, tmp_path, name: str, audit_flags=(), clean_flags=()) -> dict:
    audit_dir = tmp_path / f"{name}-audit"
    assert main(["audit", str(corpus), "--out", str(audit_dir), "--patterns",
                 str(tmp_path / "p.toml"), "--no-builtin", "--no-ngrams", "--no-templates",
                 "--no-clusters", "--quiet", *audit_flags]) == 1
    main(["clean", str(corpus), "--audit", str(audit_dir), "--out", str(tmp_path / f"{name}.jsonl"),
          "--strategy", "drop", "--quiet", *clean_flags])
    return json.loads((tmp_path / f"{name}.audit" / "clean.json").read_text())


def test_without_a_reference_clean_brings_fail_and_warn_findings_to_the_cap(habits, tmp_path):
    summary = _clean_habits(habits, tmp_path, "default")
    by_id = {f["id"]: f for f in summary["findings"]}
    assert set(by_id) == {"opener", "closer"}  # the info sign-off is not chosen
    assert summary["cap"] == 0.05  # the policy's clean_cap
    assert by_id["opener"]["before"] == 0.5 and by_id["closer"]["before"] == 0.25
    assert all(f["target"] == 0.05 and f["after"] <= 0.05 for f in by_id.values())
    kept = _rows(tmp_path / "default.jsonl")
    assert summary["counts"]["kept"] == len(kept) and _share(kept, "Sure thing!") <= 0.05
    # A policy's clean_cap moves the target; --cap overrides it.
    policy = tmp_path / "policy.toml"
    policy.write_text("clean_cap = 0.2\n")
    summary = _clean_habits(habits, tmp_path, "policy", ["--policy", str(policy)])
    assert {f["target"] for f in summary["findings"]} == {0.2} and summary["cap"] == 0.2
    summary = _clean_habits(habits, tmp_path, "flag", ["--policy", str(policy)], ["--cap", "0.3"])
    assert summary["cap"] == 0.3
    assert all(f["target"] == 0.3 and f["after"] <= 0.3 for f in summary["findings"])
