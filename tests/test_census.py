"""A corpus larger than the discovery sample: patterns found in a sample, counted in all."""
from __future__ import annotations

import json
import os
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from traitforge.audit import AuditConfig, run_audit, write_outputs
from traitforge.audit.auditor import unique_ids
from traitforge.audit import census
from traitforge.audit.census import corpus_file
from traitforge.cli import main
from traitforge.io import InputError, read_corpus

from test_families import generate


def _flags(audit_dir) -> pl.DataFrame:
    return pl.read_parquet(audit_dir / "flags.parquet")


@pytest.fixture(scope="module")
def sampled(tmp_path_factory):
    """900 replies (a quarter carrying a planted opener, and two bad lines) and a reference of
    400, both sampled to 300."""
    tmp = tmp_path_factory.mktemp("census")
    rows, planted = generate(900, seed=5, plant_rate=0.25)
    lines = [json.dumps(r) for r in rows]
    lines[10:10] = ["{not json", json.dumps({"id": "empty", "messages": []})]
    corpus = tmp / "corpus.jsonl"
    corpus.write_text("\n".join(lines) + "\n")
    ref = tmp / "ref.jsonl"
    ref.write_text("".join(json.dumps(r) + "\n" for r in generate(400, seed=6, plant_rate=0)[0]))
    config = AuditConfig(corpus=str(corpus), reference=str(ref), builtin=False, sample=300)
    doc = write_outputs(run_audit(config), tmp / "audit")
    return tmp, corpus, ref, doc, planted


def test_a_sampled_corpus_reports_the_whole_files_counts_and_the_sample(sampled):
    _, _, _, doc, _ = sampled
    stats = doc["stats"]["corpus"]
    assert (stats["read"], stats["audited"], stats["rejected"]) == (902, 900, 2)
    assert stats["units"] == 900 and stats["sample"] == {"records": 300, "units": 300}
    assert doc["stats"]["reference"]["units"] == 400
    for f in doc["findings"]:
        assert f["n_units"] == 900 and f["in_sample"]["n_units"] == 300
        assert f["in_sample"]["reference_units"] == 300
        assert f["prevalence"] == pytest.approx(f["n_flagged"] / 900, abs=1e-6)


def test_the_census_flags_every_record_and_agrees_with_the_sample(sampled):
    tmp, corpus, _, doc, _ = sampled
    flags = _flags(tmp / "audit")
    ids = {r.id for r in read_corpus(corpus).records}
    sample_ids = _sample_ids(tmp, corpus)
    assert set(flags["doc_id"]) <= ids
    assert len(set(flags["doc_id"]) - set(sample_ids)) > 100  # flags outside the sample too
    for f in doc["findings"]:
        mine = flags.filter(pl.col("finding_id") == f["id"])
        assert mine["doc_id"].n_unique() == f["n_flagged"]
        # replayed on the sampled records, the matcher flags what the passes flagged there
        assert mine.filter(pl.col("doc_id").is_in(sample_ids)).height == f["in_sample"]["n_flagged"]


def _sample_ids(tmp, corpus) -> list[str]:
    """The records the passes looked at: an audit of the same sample with no census."""
    result = run_audit(AuditConfig(corpus=str(corpus), builtin=False, sample=300, ngrams=False,
                                   templates=False, clusters=False))
    return [r.id for r in result.corpus.records]


def test_the_planted_move_is_counted_at_its_rate_in_all_records(sampled):
    _, _, _, doc, planted = sampled
    best = doc["findings"][0]
    assert best["severity"] in ("warn", "fail")
    assert best["prevalence"] == pytest.approx(np.mean(planted), abs=0.04)


def test_apply_replays_a_sampled_audit_as_its_census_counted(sampled):
    tmp, corpus, ref, doc, _ = sampled
    assert main(["audit", "apply", str(tmp / "audit"), str(corpus), "--out",
                 str(tmp / "apply"), "--quiet"]) == 0
    cols = ["doc_id", "turn", "finding_id", "start", "end"]
    applied = pl.read_parquet(tmp / "apply" / "flags.parquet").select(cols).sort(cols)
    assert applied.equals(_flags(tmp / "audit").select(cols).sort(cols))
    # and the reference's prevalences are its whole file's
    assert main(["audit", "apply", str(tmp / "audit"), str(ref), "--out",
                 str(tmp / "apply-ref"), "--quiet"]) == 0
    on_ref = json.loads((tmp / "apply-ref" / "apply.json").read_text())["findings"]
    for f, again in zip(doc["findings"], on_ref):
        assert again["n"] == 400
        assert f["reference_prevalence"] == pytest.approx(again["prevalence"], abs=1e-6)


def test_a_corpus_within_the_sample_is_audited_whole_and_the_sample_is_seeded(write_jsonl):
    rows, _ = generate(200, seed=7, plant_rate=0.2)
    path = str(write_jsonl("c.jsonl", rows))
    whole = run_audit(AuditConfig(corpus=path, builtin=False, sample=200, clusters=False))
    assert len(whole.corpus.records) == 200 and "census" not in whole.extras
    picks = [[r.id for r in run_audit(AuditConfig(corpus=path, builtin=False, sample=50,
                                                  seed=s, ngrams=False, templates=False,
                                                  clusters=False)).corpus.records]
             for s in (0, 0, 1)]
    assert len(picks[0]) == 50 and picks[0] == picks[1] != picks[2]
    order = {r["id"]: i for i, r in enumerate(rows)}
    assert picks[0] == sorted(picks[0], key=order.get)  # in file order


def test_records_without_ids_keep_one_name_in_sample_and_census(write_jsonl, tmp_path):
    rows, _ = generate(120, seed=8, plant_rate=0.3)
    for r in rows[:60]:
        del r["id"]
    rows[70]["id"] = "5"  # the name line 5's id-less record would take
    path = write_jsonl("c.jsonl", rows)
    doc = write_outputs(run_audit(AuditConfig(corpus=str(path), builtin=False, sample=40,
                                              clusters=False)), tmp_path / "a")
    ids = {r.id for r in read_corpus(path).records}
    assert "line-5" in ids and set(_flags(tmp_path / "a")["doc_id"]) <= ids
    assert doc["stats"]["corpus"]["units"] == 120


def test_a_negative_sample_is_refused(write_jsonl, capsys):
    path = write_jsonl("c.jsonl", generate(20, seed=1, plant_rate=0)[0])
    assert main(["audit", str(path), "--out", str(path.parent / "a"), "--sample", "-1"]) == 2
    assert "--sample" in capsys.readouterr().err


def test_finding_ids_made_unique_skip_a_name_already_taken():
    found = unique_ids([SimpleNamespace(id=x) for x in ("a", "a", "a-2", "a")])
    assert [f.id for f in found] == ["a", "a-3", "a-2", "a-4"]


def test_an_unknown_format_is_refused_before_reading(write_jsonl):
    path = write_jsonl("c.jsonl", generate(20, seed=1, plant_rate=0)[0])
    with pytest.raises(InputError, match="unknown format 'nope'"):
        with corpus_file(path, "nope", "id", False):
            pass


def _die(block):
    os._exit(3)  # a census process killed (out of memory, say)


def test_a_census_process_that_dies_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(census, "cores", lambda: 2)
    with pytest.raises(InputError, match="a census process died"):
        list(census.replayed(_die, iter([[1], [2], [3]])))


def test_a_replay_builds_only_the_sentences_its_matchers_read_and_flags_the_same():
    from traitforge.audit.match_context import MatchContext
    from traitforge.audit.matchers import (AnyOf, RegexMatcher, TemplateMatcher,
                                           flag_rows, frame_read)
    from traitforge.audit.units import corpus_units
    from traitforge.io import Record

    rows, _ = generate(200, seed=7, plant_rate=0.3)
    units = corpus_units([Record(r["id"], "chat", messages=tuple(r["messages"])) for r in rows])
    full = MatchContext(units, 3, 2, True, True)
    common = {slot: full.sentences(slot)["skeleton"].value_counts(sort=True)["skeleton"]
              .head(5).to_list() for slot in ("opening", "closing", "middle", "clause")}
    edges = [("o", TemplateMatcher("opening", common["opening"], full.frame_words)),
             ("c", AnyOf("closing", [TemplateMatcher("closing", common["closing"], full.frame_words),
                                     RegexMatcher("body", r"\bthe\b")]))]
    assert frame_read(full.frame, [m for _, m in edges]) == (3, 2, False, False)
    narrow = MatchContext(units, *frame_read(full.frame, [m for _, m in edges]))
    assert set(narrow.sentences()["slot"]) == {"opening", "closing"}
    expected = flag_rows(edges, full)
    assert len(expected) > 20 and flag_rows(edges, narrow).equals(expected)
    middle = ("m", TemplateMatcher("middle", common["middle"], full.frame_words))
    clause = ("k", TemplateMatcher("clause", common["clause"], full.frame_words))
    assert frame_read(full.frame, [m for _, m in edges + [middle]]) == (3, 2, True, False)
    assert frame_read(full.frame, [m for _, m in edges + [clause]]) == (3, 2, False, True)
    assert frame_read((3, 2, False, False), [middle[1]]) == (3, 2, False, False)


def test_a_script_without_a_main_guard_spawns_workers_that_do_not_run_it_again(tmp_path):
    import subprocess
    import sys
    (tmp_path / "jobs.py").write_text("import os\n\ndef pid(block):\n    return os.getpid()\n")
    runs = tmp_path / "runs.txt"
    (tmp_path / "audit_my_data.py").write_text(
        "import os\n"
        f"open({str(runs)!r}, 'a').write(f'{{os.getpid()}}\\n')  # once per run of the script\n"
        "import jobs\n"
        "from traitforge.audit import census\n"
        "census.cores = lambda: 2\n"
        "print(*census.replayed(jobs.pid, iter([[1], [2], [3]])))\n"
        "assert __file__.endswith('audit_my_data.py') and __spec__ is None  # as they were\n")
    out = subprocess.run([sys.executable, "audit_my_data.py"], capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    workers = set(map(int, out.stdout.split()))
    assert len(runs.read_text().split()) == 1  # the workers did not run it
    assert workers and int(runs.read_text()) not in workers  # yet they ran apart
