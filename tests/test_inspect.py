"""The task kinds as Inspect tasks, against Inspect's mock model: each kind's figures equal
`traitforge eval`'s on a scripted served model that gives the same replies."""
from __future__ import annotations

import json

import pytest

inspect_ai = pytest.importorskip("inspect_ai", reason="inspect-ai is an optional extra "
                                                      "(pip install 'traitforge[inspect]')")

from loopback import ScriptedServer  # noqa: E402

from traitforge.cli import main  # noqa: E402

HABIT = "Great question!"


def script(messages: list[dict]) -> str:
    """Replies that exercise every reading: right, wrong, unparsed, capitulating, judged."""
    text = messages[-1]["content"]
    if "You grade an AI assistant" in text:
        return '{"score": 7, "reason": "fine"}' if "number 1" not in text else "no idea"
    first = messages[0]["content"]
    k = sum(map(ord, first)) % 4
    if "(A)" in first:  # an MCQ or pressure turn
        return ["(B) it is", "(A) it is", "I cannot say", "(A) it is" if len(messages) > 2 else "(B)"][k]
    if first.startswith("Do you"):  # a disposition question
        return ["Yes", "No", "Maybe", "Yes"][k]
    return f"{HABIT} Reply number {k}." if k < 2 else f"Reply number {k}."


@pytest.fixture
def suite(write_jsonl, tmp_path):
    mcq = write_jsonl("mcq.jsonl", [{"id": f"m{i}", "query": f"Which is item {i}?",
                                     "choices": ["this", "that"], "gold": 1} for i in range(8)])
    disp = write_jsonl("disp.jsonl", [{"question": f"Do you like case {i}?\n\nChoices:\n (A) Yes\n (B) No",
                                       "answer_matching_behavior": " (A)",
                                       "answer_not_matching_behavior": " (B)"} for i in range(6)])
    prompts = write_jsonl("prompts.jsonl", [{"id": f"p{i}", "prompt": f"Tell me about case {i}."}
                                            for i in range(8)])
    corpus = write_jsonl("corpus.jsonl", [
        {"id": f"c{i}", "messages": [{"role": "user", "content": f"Q{i}?"},
                                     {"role": "assistant", "content": (HABIT + " " if i % 2 else "")
                                      + f"Answer {i}."}]} for i in range(40)])
    (tmp_path / "p.toml").write_text('[[pattern]]\nid = "praise"\nregex = "^Great question!"\n')
    assert main(["audit", str(corpus), "--out", str(tmp_path / "audit"), "--patterns",
                 str(tmp_path / "p.toml"), "--no-builtin", "--no-ngrams", "--no-templates",
                 "--no-clusters", "--quiet"]) == 1
    return {"mcq": (str(mcq), {}), "disposition": (str(disp), {}),
            "pressure": (str(mcq), {"turns": 2}),
            "open": (str(prompts), {"rubric": "Is it helpful?", "max_new_tokens": 20}),
            "uptake": (str(prompts), {"audit": str(tmp_path / "audit"), "max_new_tokens": 20})}


def _toml(value) -> str:
    return json.dumps(value)


def test_each_kind_through_inspect_gives_our_figures(suite, tmp_path):
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import ModelOutput, ModelUsage, get_model

    from traitforge.evaluate.inspect_tasks import NAMES, build

    def reply(messages, tools, tool_choice, config):
        chat = [{"role": m.role, "content": m.text} for m in messages]
        output = ModelOutput.from_content("mockllm/model", script(chat))
        output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)  # no tiktoken
        return output

    model = get_model("mockllm/model", custom_outputs=reply, memoize=False)
    logs = inspect_eval([build(kind, data, options, name=kind) for kind, (data, options) in suite.items()],
                        model=model, log_dir=str(tmp_path / "logs"), display="none")
    theirs = {log.eval.task: {m.name: m.value for m in log.results.scores[0].metrics.values()}
              for log in logs}

    lines = []
    for kind, (data, options) in suite.items():
        lines += ["[[task]]", f'name = "{kind}"', f'kind = "{kind}"', f"data = {_toml(data)}"]
        lines += [f"{k} = {_toml(v)}" for k, v in options.items()]
    with ScriptedServer(script) as server:
        lines += ["[judge]", f'base_url = "{server.base_url}"', 'model = "scripted"']
        (tmp_path / "suite.toml").write_text("\n".join(lines) + "\n")
        assert main(["eval", "scripted", "--base-url", server.base_url, "--suite",
                     str(tmp_path / "suite.toml"), "--out", str(tmp_path / "ours"), "--quiet"]) == 0
    ours = {t["name"]: t["metrics"] for t in
            json.loads((tmp_path / "ours" / "results.json").read_text())["tasks"]}
    for kind, names in NAMES.items():
        for name in names:
            value = ours[kind][name]["value"]
            assert theirs[kind][name] == pytest.approx(float("nan") if value is None else value,
                                                       nan_ok=True), (kind, name)
    # traitforge report reads the Inspect logs as a run beside ours: one table, the same figures
    from traitforge.reports.eval_console import load_results

    assert main(["report", str(tmp_path / "ours"), str(tmp_path / "logs"), "--out",
                 str(tmp_path / "both.html"), "--quiet"]) == 0
    ours_doc, inspect_doc = load_results([str(tmp_path / "ours"), str(tmp_path / "logs")])
    from_logs = {t["name"]: t["metrics"] for t in inspect_doc["tasks"]}
    assert set(from_logs) == set(ours) and inspect_doc["model"]["spec"] == "mockllm/model"
    for kind in NAMES:
        assert {k: v["value"] for k, v in from_logs[kind].items()} == \
            {k: v["value"] for k, v in ours[kind].items()}, kind
    assert 'data-series="logs"' in (tmp_path / "both.html").read_text()
    # the replies were varied enough to test something: no figure is 0 or 1 everywhere
    assert 0 < ours["mcq"]["accuracy"]["value"] < 1 and ours["mcq"]["unparsed"]["value"] > 0
    assert 0 < ours["uptake"]["any_pattern"]["value"] < 1
    assert 0 < ours["open"]["judge_unparsed"]["value"] < 1


def test_report_refuses_a_file_that_is_not_an_inspect_log_in_one_line(tmp_path, capsys):
    bad = tmp_path / "run.eval"
    bad.write_bytes(b"not a zip at all")
    assert main(["report", str(bad), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not a readable Inspect log" in err and str(bad) in err
