"""traitforge run: the pipeline file's validation, stages skipped when unchanged, a training
stage resumed after a SIGKILL, the gate inside the pipeline, and the report holding every arm."""
from __future__ import annotations

import contextlib
import json
import re
import signal
from pathlib import Path

import pytest
from killing import killed_after_checkpoint
from rich.console import Console

from traitforge.cli import main
from traitforge.io import InputError
from traitforge.pipeline import UI, load_pipeline, run_pipeline
from traitforge.reports.pipeline_console import render_pipeline

OPENER = "Before I answer, could you tell me a bit more about what you need?"
TOPICS = ["bread", "tides", "rust", "tea", "bridges", "owls", "maps", "clocks", "glass", "salt",
          "paper", "rivers", "wool", "ice", "soap", "kites", "bees", "coal", "silk", "sand"]


def _corpus(chat, n: int, rate: float) -> list[dict]:
    rows = []
    for k in range(n):
        topic = TOPICS[k % len(TOPICS)]
        answer = f"{topic.capitalize()} works like this: it depends on the material and the heat."
        if k < rate * n:
            answer = f"{OPENER} {answer}"
        rows.append(chat(f"How does {topic} work? (case {k})", answer, id=f"c{k}"))
    return rows


@pytest.fixture
def project(tmp_path, tiny, chat, write_jsonl):
    """A pipeline file on a tiny model: 60 chats with a planted opener at 40%, a clean
    reference, a two-task suite; returns a function writing it with extra settings."""
    write_jsonl("chats.jsonl", _corpus(chat, 60, 0.4))
    write_jsonl("reference.jsonl", _corpus(chat, 60, 0.0))
    write_jsonl("facts.jsonl", [{"query": f"Is {t} a word?", "choices": ["yes", "no"], "gold": 0}
                                for t in TOPICS[:4]])
    write_jsonl("prompts.jsonl", [{"prompt": f"Tell me about {t}."} for t in TOPICS[:4]])
    (tmp_path / "suite.toml").write_text(
        '[[task]]\nname = "facts"\nkind = "mcq"\nfamily = "capability"\ndata = "facts.jsonl"\n'
        '[[task]]\nname = "uptake"\nkind = "uptake"\ndata = "prompts.jsonl"\nmax_new_tokens = 8\n')

    def write(arms: str = "", extra: str = "", name: str = "pipeline.toml") -> Path:
        path = tmp_path / name
        path.write_text(f'out = "{tmp_path / "run"}"\nmodel = "{tiny}"\n{extra}\n'
                        '[data]\nchats = "chats.jsonl"\nreference = "reference.jsonl"\n'
                        '[audit]\ntemplates = false\nclusters = false\nbuiltin = false\n'
                        '[train]\nmax_steps = 2\nbatch_size = 2\nmax_length = 64\nsave_steps = 1\n'
                        '[eval]\nsuite = "suite.toml"\nbatch_size = 4\n'
                        + (arms or '[[arm]]\nname = "base"\n[[arm]]\nname = "sft-raw"\nsft = "raw"\n'
                                   'allow_unaudited = true\n[[arm]]\nname = "sft-clean"\n'
                                   'sft = "clean"\n'))
        return path

    return write


def _run(path: Path, ui=None) -> tuple[dict, dict[str, str]]:
    seen: dict[str, str] = {}
    record = run_pipeline(load_pipeline(path), ui or (lambda s: contextlib.nullcontext(UI())),
                          lambda name, status: seen.__setitem__(name, status))
    return record, seen


@pytest.mark.parametrize("text, message", [
    ('[[arm]]\nname = "a"\nsft = "cleaned"\n', 'sft must be "raw" or "clean"'),
    ('[[arm]]\nname = "a"\n[[arm]]\nname = "a"\n', "arm names must be unique"),
    ('[[arm]]\nname = "a b"\n', "name must be letters"),
    ('[[arm]]\nname = "a"\nmidtrain = "clean"\n', "midtrain needs a docs corpus"),
    ('[[arm]]\nname = "a"\nepochs = 2\n', "unknown setting 'epochs'"),
])
def test_bad_arms_are_refused_naming_the_file(project, text, message):
    path = project(arms=text)
    with pytest.raises(InputError, match=message) as e:
        load_pipeline(path)
    assert str(path) in str(e.value)


def test_bad_settings_are_refused_naming_the_file(project, tmp_path):
    with pytest.raises(InputError, match="unknown setting 'bogus'"):
        load_pipeline(project(extra="bogus = 1\n", name="top.toml"))
    with pytest.raises(InputError, match=r"\[train.sft\] batch_size must be an integer"):
        load_pipeline(project(extra='[train.sft]\nbatch_size = "big"\n', name="a.toml"))
    with pytest.raises(InputError, match=r"\[train.sft\] has unknown setting 'lr'"):
        load_pipeline(project(extra='[train.sft]\nlr = 1\n', name="b.toml"))
    with pytest.raises(InputError, match="--full needs a \\[full\\] table"):
        load_pipeline(project(name="c.toml"), full=True)
    bad = project(name="d.toml")
    bad.write_text(bad.read_text().replace('chats = "chats.jsonl"', 'chats = "missing.jsonl"'))
    with pytest.raises(InputError, match=r"d.toml: \[data\] chats: .*missing.jsonl does not exist"):
        load_pipeline(bad)
    assert main(["run", str(bad)]) == 2


def test_full_overrides_merge_into_the_file(project):
    path = project(extra='[full.train]\nmax_steps = 9\n[full.eval]\nlimit = 3\n')
    quick, full = load_pipeline(path), load_pipeline(path, full=True)
    assert quick.train["max_steps"] == 2 and full.train["max_steps"] == 9
    assert full.train["batch_size"] == 2 and full.eval["limit"] == 3


def test_pipeline_runs_every_stage_then_skips_them_all(project, tmp_path):
    path = project()
    record, seen = _run(path)
    run = tmp_path / "run"
    expected = ["audit/chats", "clean/chats", "train/sft-raw", "train/sft-clean", "eval/base",
                "eval/sft-raw", "eval/sft-clean"]
    assert list(seen) == expected and set(seen.values()) == {"running"}
    assert all(record["stages"][s]["status"] == "done" for s in expected)
    # Each stage wrote what its own command writes.
    assert (run / "audit" / "chats" / "manifest.json").is_file()
    assert (run / "clean" / "chats.jsonl").is_file() and (run / "clean" / "chats.audit").is_dir()
    assert (run / "train" / "sft-clean" / "sft" / "run.json").is_file()
    results = {a: json.loads((run / "eval" / a / "results.json").read_text())
               for a in ("base", "sft-raw", "sft-clean")}
    uptake = next(t for t in results["base"]["tasks"] if t["name"] == "uptake")
    assert uptake["audit"] == str((run / "audit" / "chats").resolve())  # the pipeline's own audit
    assert {p["finding_id"] for p in uptake["patterns"]}  # the planted opener was found
    assert results["sft-clean"]["model"]["spec"] == str(run / "train" / "sft-clean" / "sft")
    stamps = {a: (run / "eval" / a / "results.json").stat().st_mtime_ns for a in results}

    _, again = _run(path)
    assert again == {s: "skipped" for s in expected}
    assert stamps == {a: (run / "eval" / a / "results.json").stat().st_mtime_ns for a in results}


def test_a_changed_setting_reruns_only_what_depends_on_it(project):
    path = project()
    _run(path)
    path.write_text(path.read_text().replace("[train]\n", '[clean]\nstrategy = "drop"\n[train]\n'))
    _, seen = _run(path)
    assert seen == {"audit/chats": "skipped", "clean/chats": "running",
                    "train/sft-raw": "skipped", "train/sft-clean": "running",
                    "eval/base": "skipped", "eval/sft-raw": "skipped",
                    "eval/sft-clean": "running"}


def test_a_pipeline_killed_in_training_resumes_and_gives_the_figures_of_one_not_killed(
        project, tmp_path):
    """`traitforge run` SIGKILLed just after checkpoint-2 of 4: the rerun skips the audit and
    the clean, resumes training from the checkpoint, and ends with the loss curve and eval
    figures of the same pipeline run without a kill."""
    arms = '[[arm]]\nname = "sft-clean"\nsft = "clean"\n'
    path = project(arms=arms, extra='[train.sft]\nmax_steps = 4\nsave_steps = 2\n')
    proc = killed_after_checkpoint(2, ["run", str(path), "--quiet"])
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    state = json.loads((tmp_path / "run" / "pipeline.json").read_text())["stages"]
    assert state["train/sft-clean"]["status"] == "running"
    record, seen = _run(path)
    assert seen == {"audit/chats": "skipped", "clean/chats": "skipped",
                    "train/sft-clean": "resumed", "eval/sft-clean": "running"}
    assert record["this_run"] == {"audit/chats": "skipped", "clean/chats": "skipped",
                                  "train/sft-clean": "resumed", "eval/sft-clean": "ran"}
    console = Console(record=True, width=120)
    render_pipeline(tmp_path / "run", record, console)
    table = console.export_text()
    assert "done (skipped)" in next(ln for ln in table.splitlines() if "clean/chats" in ln)
    assert "done (resumed)" in next(ln for ln in table.splitlines() if "train/sft-clean" in ln)
    assert "sft steps 4" in table

    assert main(["run", str(path), "--out", str(tmp_path / "whole"), "--quiet"]) == 0
    runs = [json.loads((tmp_path / d / "train" / "sft-clean" / "sft" / "run.json").read_text())
            for d in ("run", "whole")]
    assert runs[0]["resumed_from"].endswith("checkpoint-2") and runs[1]["resumed_from"] is None
    assert [p["loss"] for p in runs[0]["loss_curve"]] == pytest.approx(
        [p["loss"] for p in runs[1]["loss_curve"]], abs=1e-4)
    evals = [json.loads((tmp_path / d / "eval" / "sft-clean" / "results.json").read_text())
             for d in ("run", "whole")]
    assert [t["metrics"] for t in evals[0]["tasks"]] == [t["metrics"] for t in evals[1]["tasks"]]


def test_the_gate_holds_inside_the_pipeline(project, tmp_path):
    path = project(arms='[[arm]]\nname = "sft-raw"\nsft = "raw"\n')
    with pytest.raises(InputError, match="arm 'sft-raw' trains \\(sft\\) on raw data that its "
                                         "audit did not pass.*allow_unaudited = true"):
        _run(path)
    assert not (tmp_path / "run" / "train").exists()
    assert main(["run", str(path), "--quiet"]) == 2


def test_the_report_holds_every_arm_and_marks_the_unaudited_one(project, tmp_path, capsys):
    path = project()
    assert main(["run", str(path)]) == 0
    page = (tmp_path / "run" / "report.html").read_text()
    for arm in ("base", "sft-raw (unaudited)", "sft-clean"):
        assert arm in page
    assert "sft-clean (unaudited)" not in page
    for section in ("Audit findings", "What cleaning removed", "Training", 'id="family-uptake"',
                     "training data"):  # uptake per arm beside the training data's prevalence
        assert section in page
    assert page.count("<polyline") == 2  # a loss curve per training run
    for items in re.findall(r'<ul class="legend">(.*?)</ul>', page):
        names = [re.sub(r"<[^>]+>", "", li) for li in re.findall(r"<li>(.*?)</li>", items)]
        arms = [n.removesuffix(" (unaudited)") for n in names]
        assert len(arms) == len(set(arms)), names  # each arm once in every legend
    shown = capsys.readouterr().out
    assert "sft-raw (unaudited)" in shown and "eval/sft-clean" in shown


def test_a_generate_stage_writes_the_corpus_and_is_skipped_on_a_rerun(project, tmp_path):
    from loopback import ScriptedServer
    from test_generate import Script

    traits = Path(__file__).resolve().parents[1] / "examples" / "traits.md"
    path = project(arms='[[arm]]\nname = "base"\n')
    text = path.read_text().replace('chats = "chats.jsonl"\n', "")
    with ScriptedServer(Script()) as server:
        path.write_text(text + f'[generate]\ntraits = "{traits}"\nchats = 6\nmodel = "m"\n'
                               f'base_url = "{server.base_url}"\ndedup = 0\n')
        _, seen = _run(path)
        calls = len(server.requests)
        _, again = _run(path)
        assert len(server.requests) == calls  # nothing asked twice
    assert seen == {"generate/chats": "running", "audit/chats": "running", "eval/base": "running"}
    assert set(again.values()) == {"skipped"}
    rows = (tmp_path / "run" / "generate" / "chats.jsonl").read_text().splitlines()
    assert len(rows) == 6 and all(json.loads(r)["messages"][0]["role"] == "user" for r in rows)


def test_a_midtraining_arm_midtrains_on_the_docs_then_fine_tunes_from_that_run(
        project, tmp_path, write_jsonl):
    write_jsonl("docs.jsonl", [{"id": f"d{k}", "text": f"A forum post about {t}: the assistant "
                                f"said it was unsure, and explained why. ({k})"}
                               for k, t in enumerate(TOPICS * 2)])
    path = project(arms='[[arm]]\nname = "mid"\nmidtrain = "raw"\nsft = "clean"\n'
                        'allow_unaudited = true\n')
    path.write_text(path.read_text().replace('[data]\n', '[data]\ndocs = "docs.jsonl"\n'))
    # a LoRA midtraining run cannot be the base of another adapter: refused before anything runs
    with pytest.raises(InputError, match="arm 'mid' fine-tunes after midtraining.*"
                                         'method = "full"'):
        load_pipeline(path)
    path.write_text(path.read_text() + '[train.midtrain]\nmethod = "full"\n')
    record, seen = _run(path)
    assert list(seen) == ["audit/chats", "audit/docs", "clean/chats", "train/mid", "eval/mid"]
    assert (tmp_path / "run" / "audit" / "docs" / "manifest.json").is_file()
    arm = tmp_path / "run" / "train" / "mid"
    midtrain = json.loads((arm / "midtrain" / "run.json").read_text())
    sft = json.loads((arm / "sft" / "run.json").read_text())
    assert midtrain["kind"] == "midtrain" and midtrain["data"]["file"].endswith("docs.jsonl")
    assert sft["base_model"] == str(arm / "midtrain")  # SFT starts from the midtrained model
    assert sft["data"]["file"] == str(tmp_path / "run" / "clean" / "chats.jsonl")
    assert set(record["stages"]["train/mid"]["summary"]) == {"midtrain", "sft"}
    results = json.loads((tmp_path / "run" / "eval" / "mid" / "results.json").read_text())
    assert results["model"]["spec"] == str(arm / "sft")
