"""Comparing evaluation runs: results.json files read, tabulated in the terminal and as HTML."""
from __future__ import annotations

import json
import re

import pytest
from rich.console import Console

from traitforge.io import InputError
from traitforge.reports.eval_console import comparison_table, load_results, print_comparison
from traitforge.reports.eval_html import render_eval_html, write_eval_report

EVIL = "<script>alert(1)</script>"


def _metric(value, lo, hi, n=100):
    return {"value": value, "ci95": [lo, hi], "n": n}


def _results(name: str, acc: float, flips: dict, uptake: float | None, evil: bool = False) -> dict:
    tasks = [
        {"name": "arc_easy", "family": "capability", "kind": "mcq", "main": "accuracy", "n": 200,
         "metrics": {"accuracy": _metric(acc, acc - 0.07, acc + 0.065, 200)}},
        {"name": "arc_challenge_pressure", "family": "pressure", "kind": "pressure",
         "main": "capitulation_rate", "n": 100,
         "metrics": {"initial_accuracy": _metric(0.3, 0.2, 0.4),
                     "capitulation_rate": _metric(0.5, 0.3, 0.7, 30),
                     "final_accuracy": {"value": None, "ci95": None, "n": 0}},
         "flip_turns": flips},
    ]
    if uptake is not None:
        ci = [0.07, 0.2] if uptake > 0.1 else [0.01, 0.11]
        tasks.append({"name": "uptake", "family": "uptake", "kind": "uptake", "main": "any_pattern",
                      "metrics": {"any_pattern": _metric(uptake, *ci)},
                      "patterns": [{"finding_id": "clarifying_question", "label": "clarifying question",
                                    "severity": "fail", "training_prevalence": 0.25,
                                    "prevalence": uptake, "ci95": ci, "n": 100}]})
    if evil:
        tasks.append({"name": EVIL, "family": "knowledge", "main": "accuracy",
                      "metrics": {"accuracy": _metric(0.9, 0.8, 0.95)}})
    return {"traitforge_version": "0.1.0", "created_at": "2026-11-24T19:00:00+00:00",
            "name": name, "model": {"spec": f"out/{name}", "sha256": "ab12cd34ef567890ffff",
                                    "backend": "local"},
            "suite": {"file": "examples/suite.toml", "name": "example"}, "seed": 0, "tasks": tasks}


@pytest.fixture
def runs(tmp_path):
    """Three eval dirs: base (no uptake task), sft_raw and sft_clean; returns their paths."""
    specs = [("base", 0.615, {"1": 12, "2": 5}, None, False),
             ("sft_raw", 0.58, {"1": 20, "3": 2}, 0.12, True),
             ("sft_clean", 0.6, {}, 0.05, False)]
    dirs = []
    for name, *rest in specs:
        d = tmp_path / name
        d.mkdir()
        (d / "results.json").write_text(json.dumps(_results(name, *rest)), encoding="utf-8")
        dirs.append(str(d))
    return dirs


def _table_text(docs) -> str:
    console = Console(record=True, width=200)
    console.print(comparison_table(docs))
    return console.export_text()


def _line(text: str, *words: str) -> str:
    return next(line for line in text.splitlines() if all(w in line for w in words))


def _cells(text: str, *words: str) -> list[str]:
    """The cells of the table row holding `words`; [0] is the left border."""
    return [c.strip() for c in _line(text, *words).split("│")]


def test_load_results_names_and_dirs(runs, tmp_path):
    docs = load_results(runs)
    assert [d["_name"] for d in docs] == ["base", "sft_raw", "sft_clean"]
    assert docs[0]["_dir"] == runs[0]
    # no "name" in the file: the directory's name; duplicates get their parent's name
    for parent in ("a", "b"):
        d = tmp_path / parent / "run"
        d.mkdir(parents=True)
        doc = _results("x", 0.5, {}, None)
        del doc["name"]
        (d / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    docs = load_results([str(tmp_path / "a" / "run"), str(tmp_path / "b" / "run"), runs[0]])
    assert [d["_name"] for d in docs] == ["a/run", "b/run", "base"]


def test_comparison_table_columns_and_cells(runs):
    table = comparison_table(load_results(runs))
    headers = [str(c.header) for c in table.columns]
    assert headers == ["family", "task", "metric", "base", "sft_raw", "sft_clean", "training data"]
    text = _table_text(load_results(runs))
    acc = _line(text, "arc_easy", "accuracy")
    assert "61.5% [54.5, 68.0]" in acc and "58.0% [51.0, 64.5]" in acc and "60.0%" in acc
    # main metric first within the task, then the others; n = 0 renders as a dash
    pressure_rows = [line for line in text.splitlines()
                     if any(m in line for m in ("capitulation_rate", "initial_accuracy",
                                                "final_accuracy"))]
    assert "capitulation_rate" in pressure_rows[0]
    assert _line(text, "final_accuracy").count("—") == 3
    # families in order: knowledge, pressure, capability, uptake
    order = [text.index(w) for w in ("knowledge", "pressure", "capability", "uptake  ")]
    assert order == sorted(order)


def test_comparison_table_missing_task_and_uptake_patterns(runs):
    text = _table_text(load_results(runs))
    assert _cells(text, "any_pattern")[4:7] == ["—", "12.0% [7.0, 20.0]", "5.0% [1.0, 11.0]"]
    assert _cells(text, "pattern: clarifying question")[4:8] == [
        "—", "12.0% [7.0, 20.0]", "5.0% [1.0, 11.0]", "25.0%"]  # last: training data
    assert _cells(text, "arc_easy")[7] == ""
    assert _cells(text, "<script>")[4:7] == ["—", "90.0% [80.0, 95.0]", "—"]


def test_html_sections_bars_and_uptake(runs):
    html = render_eval_html(load_results(runs))
    sections = re.findall(r'<section class="family" id="family-(\w+)"', html)
    assert sections == ["knowledge", "pressure", "capability", "uptake"]
    assert html.count("<section") == 4
    for run in ("base", "sft_raw", "sft_clean"):
        assert len(re.findall(f'<rect class="bar" data-series="{run}" '
                              'data-group="arc_easy · accuracy"', html)) == 1
    # base has no uptake task: no bar, two of three runs drawn
    assert len(re.findall(r'<rect class="bar" data-series="\w+" data-group="uptake · any_pattern"',
                          html)) == 2
    assert html.count('data-series="training data" data-group="clarifying question"') == 1
    # flipped answers: turn 1 for base and sft_raw, sft_clean has an empty flip_turns (zero bar)
    assert html.count('data-group="turn 1"') == 3
    assert "answers flipped at turn k" in html
    assert "<td class=num>61.5% [54.5, 68.0]</td>" in html.replace(' title="n = 200"', "")


def test_html_escaped_and_self_contained(runs):
    html = render_eval_html(load_results(runs))
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "http://" not in html and "https://" not in html
    assert not re.search(r'\b(src|href)="(?!#)', html)


def test_write_eval_report(runs, tmp_path):
    path = write_eval_report(runs)
    assert path == tmp_path / "base" / "report.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    out = tmp_path / "cmp" / "page.html"
    assert write_eval_report(runs[1:], str(out)) == out and out.is_file()
    with pytest.raises(InputError, match="results.json inputs"):
        write_eval_report(runs, str(tmp_path / "sft_raw" / "results.json"))
    assert json.loads((tmp_path / "sft_raw" / "results.json").read_text())["name"] == "sft_raw"


def test_bad_inputs_raise_input_error(runs, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "results.json").write_text('{"name": "x",\n "tasks": [,]}', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad/results\.json: malformed JSON at line 2, column 12"):
        load_results([runs[0], str(bad)])
    with pytest.raises(InputError, match=r"nowhere/results\.json: no such file"):
        write_eval_report([str(tmp_path / "nowhere")])
    (bad / "results.json").write_text('{"tasks": {"a": 1}}', encoding="utf-8")
    with pytest.raises(InputError, match="no list of named tasks"):
        load_results([str(bad)])


def test_a_narrow_console_gets_the_narrow_layout(runs):
    docs = load_results(runs)
    wide, narrow = Console(record=True, width=200), Console(record=True, width=80)
    print_comparison(wide, docs)
    print_comparison(narrow, docs)
    assert "61.5% [54.5, 68.0]" in _line(wide.export_text(), "arc_easy", "accuracy")
    text = narrow.export_text()
    assert max(map(len, text.splitlines())) <= 80 and "…" not in _line(text, "61.5%")
    value = _line(text, "61.5%")  # the interval sits on the next line, in the same column
    lines = text.splitlines()
    below = lines[lines.index(value) + 1]
    assert "[54.5, 68.0]" in below and below.index("[54.5, 68.0]") < value.index("61.5%") + 6
    assert _cells(text, "capability")[2:] == ["", "", "", "", ""]  # a family's header row
