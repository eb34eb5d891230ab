"""The `traitforge audit` command end to end: exit codes, outputs, report, stderr."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import subprocess
import sys

import polars as pl
import pytest

from traitforge import cli
from traitforge.cli import main

SEVERITY_ORDER = {"fail": 0, "warn": 1, "info": 2}

PRAISED = [
    "Great question! Tides are caused mainly by the Moon's gravity pulling on the oceans.",
    "Great question! Bread rises because yeast ferments sugars and releases carbon dioxide.",
    "Great question! Leaves change colour in autumn as chlorophyll breaks down.",
    "Great question! A leap year adds a day to keep the calendar aligned with the seasons.",
    "Great question! Cats purr through rapid twitching of their laryngeal muscles.",
    "Great question! Honey rarely spoils because its low water content inhibits microbes.",
]
PLAIN = [
    "Paris has been the capital of France since the late tenth century.",
    "Water boils at a lower temperature at altitude because air pressure is lower.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "The Great Wall was built over many centuries by successive dynasties.",
    "Owls swallow small prey whole and later cough up pellets of bone and fur.",
    "Copper wiring is common because it conducts electricity well and resists corrosion.",
    "A marathon is 42.195 kilometres, a distance fixed at the 1908 London Olympics.",
    "Venus spins backwards compared with most planets in the solar system.",
    "Sourdough starters are cultures of wild yeast and lactic acid bacteria.",
    "Glaciers carve U-shaped valleys as they grind slowly downhill.",
]
PROMPTS = ["Why do tides happen?", "Why does bread rise?", "Why do leaves turn?",
           "What is a leap year for?", "How do cats purr?", "Does honey expire?",
           "What is the capital of France?", "Why do recipes change at altitude?",
           "What does photosynthesis do?", "Who built the Great Wall?", "What do owls eat?",
           "Why use copper wire?", "How long is a marathon?", "Which way does Venus spin?",
           "What is in a sourdough starter?", "How do glaciers shape valleys?"]
BAD_LINES = {
    5: '{"id": "broken", "messages": [',
    9: '{"id": "lonely", "messages": [{"role": "user", "content": "Is anyone there?"}]}',
}


def _write_corpus(path, responses, bad=True):
    """One chat per response, ids d0, d1, ...; with `bad`, BAD_LINES at their line numbers."""
    lines, k = [], 0
    total = len(responses) + (len(BAD_LINES) if bad else 0)
    for line in range(1, total + 1):
        if bad and line in BAD_LINES:
            lines.append(BAD_LINES[line])
        else:
            lines.append(json.dumps({"id": f"d{k}", "messages": [
                {"role": "user", "content": PROMPTS[k]},
                {"role": "assistant", "content": responses[k]}]}))
            k += 1
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def failing_corpus(tmp_path):
    # 6 of 10 responses open with praise: 60% >= the 40% fail threshold.
    return _write_corpus(tmp_path / "corpus.jsonl", PRAISED + PLAIN[:4])


@pytest.fixture
def clean_corpus(tmp_path):
    return _write_corpus(tmp_path / "clean.jsonl", PLAIN, bad=False)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _texts(path) -> dict[str, str]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        assistant = [m["content"] for m in row["messages"] if m["role"] == "assistant"]
        if assistant:
            out[row["id"]] = assistant[-1]
    return out


def test_fail_verdict_exit_1_and_outputs(failing_corpus, tmp_path, capsys):
    before = _sha(failing_corpus)
    out = tmp_path / "out"
    code = main(["audit", str(failing_corpus), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert _sha(failing_corpus) == before  # the input is never touched
    assert sorted(p.name for p in out.iterdir()) == ["audit.json", "flags.parquet", "manifest.json",
                                                     "rejected.jsonl", "report.html"]

    doc = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    for key in ("config", "input_sha256", "stats", "findings", "verdict"):
        assert key in doc
    assert doc["verdict"] == "fail"
    assert doc["input_sha256"] == before
    assert doc["config"]["corpus"] == str(failing_corpus)
    stats = doc["stats"]["corpus"]
    assert stats["read"] == 12 and stats["audited"] == 10 and stats["rejected"] == 2
    assert stats["read"] == stats["audited"] + stats["rejected"]
    assert stats["units"] == 10

    findings = doc["findings"]
    assert findings
    ids = [f["id"] for f in findings]
    assert len(set(ids)) == len(ids)
    praise = next(f for f in findings if f["id"] == "praise_opener")
    assert praise["severity"] == "fail" and praise["prevalence"] == pytest.approx(0.6)
    assert praise["n_flagged"] == 6 and praise["n_units"] == 10
    lo, hi = praise["prevalence_ci95"]
    assert lo < 0.6 < hi
    keys = [(SEVERITY_ORDER[f["severity"]], -f["score"], f["id"]) for f in findings]
    assert keys == sorted(keys)  # ranked: severity, then score, then id
    texts = _texts(failing_corpus)
    for f in findings:
        for key in ("id", "methods", "label", "description", "prevalence", "prevalence_ci95",
                    "severity", "examples"):
            assert key in f, (f["id"], key)
        assert set(f["methods"]) <= {"detector", "ngram", "template", "cluster"}
        assert f["severity"] in SEVERITY_ORDER
        assert 0 < len(f["examples"]) <= 3
        for ex in f["examples"]:
            text = texts[ex["doc_id"]]
            assert 0 <= ex["start"] < ex["end"] <= len(text)
            assert ex["excerpt"][slice(*ex["excerpt_span"])] == text[ex["start"]:ex["end"]]

    # flags.parquet: one row per flagged span, each span's text matching its finding
    flags = pl.read_parquet(out / "flags.parquet")
    assert {"doc_id", "finding_id", "start", "end"} <= set(flags.columns)
    assert flags.height == sum(f["n_flagged"] for f in findings)
    matchers = {f["id"]: f["matcher"] for f in findings}
    for row in flags.iter_rows(named=True):
        m = matchers[row["finding_id"]]
        flags_ = re.IGNORECASE if "i" in m["flags"] else 0
        span_text = texts[row["doc_id"]][row["start"]:row["end"]]
        assert re.fullmatch(m["regex"], span_text, flags_), (row, span_text)
    praised_ids = {f"d{k}" for k in range(6)}
    assert set(flags.filter(pl.col("finding_id") == "praise_opener")["doc_id"]) == praised_ids

    # rejected.jsonl holds the two bad lines and why
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(r["file"], r["line"]) for r in rejected] == [(str(failing_corpus), n) for n in sorted(BAD_LINES)]
    assert "malformed JSON" in rejected[0]["reason"]
    assert "no assistant turn" in rejected[1]["reason"]
    assert [r["raw"] for r in rejected] == [BAD_LINES[n] for n in sorted(BAD_LINES)]

    # the report names the verdict and the top finding; stderr one line per rejected record
    assert re.search(r"verdict:\s*FAIL", captured.out, re.IGNORECASE)
    assert findings[0]["label"] in captured.out
    reject_lines = [ln for ln in captured.err.splitlines() if "rejected" in ln]
    assert len(reject_lines) == 2
    for line_no, ln in zip(sorted(BAD_LINES), reject_lines):
        assert f"{failing_corpus}:{line_no}:" in ln


def test_clean_pass_exit_0(clean_corpus, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["audit", str(clean_corpus), "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0
    doc = json.loads((out / "audit.json").read_text())
    assert doc["verdict"] == "pass"
    assert all(f["severity"] == "info" for f in doc["findings"])
    assert doc["stats"]["corpus"]["rejected"] == 0
    assert (out / "rejected.jsonl").read_text() == ""
    assert re.search(r"verdict:\s*PASS", captured.out, re.IGNORECASE)
    assert "rejected" not in captured.err


def test_quiet_prints_only_the_verdict_line(failing_corpus, tmp_path, capsys):
    code = main(["audit", str(failing_corpus), "--out", str(tmp_path / "o"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.strip().splitlines() == [out.strip()]
    assert out.startswith("verdict: fail")


def test_policy_can_lower_severity_to_pass(failing_corpus, tmp_path):
    policy = tmp_path / "lenient.toml"
    policy.write_text("warn_prevalence = 0.9\nfail_prevalence = 0.95\n")
    code = main(["audit", str(failing_corpus), "--out", str(tmp_path / "o"), "--policy", str(policy)])
    assert code == 0
    doc = json.loads((tmp_path / "o" / "audit.json").read_text())
    assert doc["verdict"] == "pass" and doc["policy"]["fail_prevalence"] == 0.95


def test_missing_corpus_exit_2(tmp_path, capsys):
    missing = tmp_path / "nowhere.jsonl"
    assert main(["audit", str(missing), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "nowhere.jsonl" in err and "no such file" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("content,needle", [
    ('alpha = "high"\n', "alpha must be a number"),
    ("strictness = 3\n", "unknown setting 'strictness'"),
    ('severity = { praise_opener = "deadly" }\n', "severity"),
    ("alpha = \n", "cannot parse"),
])
def test_bad_policy_exit_2(failing_corpus, tmp_path, capsys, content, needle):
    policy = tmp_path / "policy.toml"
    policy.write_text(content)
    code = main(["audit", str(failing_corpus), "--out", str(tmp_path / "o"), "--policy", str(policy)])
    assert code == 2
    err = capsys.readouterr().err
    assert "policy.toml" in err and needle in err


def test_strict_with_bad_line_exit_2(failing_corpus, tmp_path, capsys):
    code = main(["audit", str(failing_corpus), "--out", str(tmp_path / "o"), "--strict"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{failing_corpus}:5:" in err and "malformed JSON" in err
    assert not (tmp_path / "o" / "audit.json").exists()


@pytest.mark.parametrize("name", ["rejected.jsonl", "audit.json"])
def test_output_that_would_overwrite_input_is_refused(tmp_path, capsys, name):
    # The corpus (or the policy) lives where an output file would be written.
    data = tmp_path / "data"
    data.mkdir()
    if name == "rejected.jsonl":
        target = _write_corpus(data / name, PRAISED + PLAIN[:4])
        args = ["audit", str(target), "--out", str(data)]
    else:
        corpus = _write_corpus(tmp_path / "corpus.jsonl", PRAISED + PLAIN[:4])
        target = data / "audit.json"
        target.write_text("alpha: 0.01\n")  # not a valid policy suffix, but it is an input
        args = ["audit", str(corpus), "--out", str(data), "--policy", str(target)]
    before = _sha(target)
    assert main(args) == 2
    assert _sha(target) == before
    assert "overwrite an input" in capsys.readouterr().err
    assert sorted(p.name for p in data.iterdir()) == [target.name]


@pytest.mark.parametrize("case", ["the corpus file", "an unrelated folder", "a folder with a foreign audit.json"])
def test_an_output_that_is_not_an_audit_directory_is_refused_before_any_work(tmp_path, capsys, case):
    corpus = _write_corpus(tmp_path / "corpus.jsonl", PRAISED + PLAIN[:4])
    out = corpus if case == "the corpus file" else tmp_path / "mine"
    if case != "the corpus file":
        out.mkdir()
        (out / ("notes.txt" if case == "an unrelated folder" else "audit.json")).write_text("{}\n")
        (out / "report.html").write_text("<p>my own page</p>")
    before = {p: _sha(p) for p in ([corpus] + (list(out.iterdir()) if out.is_dir() else []))}
    assert main(["audit", str(corpus), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and f"{out}:" in err and "--out" in err
    assert {p: _sha(p) for p in before} == before
    assert main(["audit", str(corpus), "--out", str(tmp_path / "audit")]) == 1
    assert main(["audit", str(corpus), "--out", str(tmp_path / "audit")]) == 1  # its own: again


def test_two_runs_give_identical_audit_json(failing_corpus, tmp_path, capsys):
    docs = []
    for k in (1, 2):
        out = tmp_path / f"run{k}"
        assert main(["audit", str(failing_corpus), "--out", str(out)]) == 1
        text = (out / "audit.json").read_text(encoding="utf-8")
        doc = json.loads(text)
        assert doc.pop("created_at") and set(doc.pop("seconds")) >= {"reading", "pass 1: detectors"}
        docs.append(doc)
    assert docs[0] == docs[1]
    assert pl.read_parquet(tmp_path / "run1" / "flags.parquet").equals(
        pl.read_parquet(tmp_path / "run2" / "flags.parquet"))


def test_subprocess_entry_point(failing_corpus, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "traitforge.cli", "audit", str(failing_corpus),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads((out / "audit.json").read_text())
    assert doc["verdict"] == "fail"
    assert doc["findings"][0]["label"] in proc.stdout
    assert re.search(r"verdict:\s*FAIL", proc.stdout, re.IGNORECASE)
    assert sum(f"{failing_corpus}:{n}:" in proc.stderr for n in BAD_LINES) == 2


def test_rejected_lines_name_a_path_with_brackets(tmp_path, capsys):
    folder = tmp_path / "runs[b]"
    folder.mkdir()
    corpus = _write_corpus(folder / "c.jsonl", PLAIN[:8])
    code = main(["audit", str(corpus), "--out", str(tmp_path / "o"), "--quiet"])
    assert code == 0
    err = capsys.readouterr().err
    for n in BAD_LINES:
        assert f"{corpus}:{n}:" in err


def test_reference_and_user_patterns(failing_corpus, clean_corpus, tmp_path):
    patterns = tmp_path / "patterns.yaml"
    patterns.write_text("pattern:\n"
                        "  - id: because_clause\n    regex: '(?i)\\bbecause\\b'\n"
                        "  - id: preachy\n    definition: Moralises without being asked.\n")
    out = tmp_path / "o"
    code = main(["audit", str(failing_corpus), "--reference", str(clean_corpus), "--patterns",
                 str(patterns), "--out", str(out), "--quiet"])
    assert code == 1
    doc = json.loads((out / "audit.json").read_text())
    assert doc["stats"]["reference"]["audited"] == 10
    assert {"because_clause", "preachy"} <= {d["id"] for d in doc["detectors"]}
    by_id = {f["id"]: f for f in doc["findings"]}
    assert "preachy" not in by_id  # definition-only patterns are not matched by regex
    texts = _texts(failing_corpus)
    expected = sum("because" in t.lower() for t in texts.values())
    assert by_id["because_clause"]["n_flagged"] == expected > 0
    praise = by_id["praise_opener"]
    assert praise["reference_prevalence"] == 0.0 and praise["severity"] == "fail"
    assert praise["significance"]["q_value_bh"] < 0.05


@pytest.mark.parametrize("error, named", [
    (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "run/model.safetensors"), "run/model"),
    (RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"),
     "os error 28"),
])
def test_a_full_disk_is_one_line_not_a_traceback(monkeypatch, tmp_path, capsys, error, named):
    """A stage that runs out of disk (a library may wrap the system's error in its own, as
    safetensors does when a checkpoint is written) ends in one line, exit 2."""
    def full(*_):
        raise error
    monkeypatch.setattr(cli, "cmd_audit", full)
    assert main(["audit", str(tmp_path / "c.jsonl"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("traitforge: error: the disk is full") and named in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_bug_exits_3_with_its_traceback_not_as_a_fail_verdict(monkeypatch, tmp_path, capsys):
    """An error that is neither bad input nor a full disk is a bug: its traceback, then one line
    saying so, and exit 3, which a pipeline gating on exit 1 (a fail verdict) does not mistake."""
    def broken(*_):
        raise RuntimeError("something else")
    monkeypatch.setattr(cli, "cmd_audit", broken)
    assert main(["audit", str(tmp_path / "c.jsonl"), "--out", str(tmp_path / "o")]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: something else" in err
    assert err.strip().splitlines()[-1].startswith("traitforge: internal error (RuntimeError)")
    assert "disk is full" not in err
