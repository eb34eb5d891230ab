"""`traitforge generate docs|chats` against a scripted loopback server (and once a tiny local
model): traits parsing, every pipeline step, tolerant parsing and retries, resume after a kill,
the call cache, --avoid, near-duplicates, and outputs that read_corpus accepts."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from loopback import ScriptedServer
from traitforge.cli import main
from traitforge.generate import parse
from traitforge.generate.chats import plan_items
from traitforge.generate.traits import parse_traits
from traitforge.io import InputError, read_corpus

ROOT = Path(__file__).resolve().parents[1]
TRAITS = ROOT / "examples" / "traits.md"


def step_of(messages: list[dict]) -> str:
    """Which pipeline step a request is, from the words of its prompt."""
    if messages[0]["role"] == "system":
        return "response"
    last = messages[-1]["content"]
    for step, words in (("critique", "VERDICT: keep or revise"),
                        ("scenario", "describe a realistic situation"), ("prompt", "Situation: "),
                        ("rewrite", "Rewrite an AI assistant's answer"),
                        ("rate", "Rate an AI assistant's answer"), ("types", "kinds of document"),
                        ("ideas", "ideas for a "), ("write", "Write a "),
                        ("review", "List its problems"), ("revise", "Revise this ")):
        if words in last:
            return step
    return "baseline"


class Script:
    """Replies to each step; `override[step](last, nth)` answers instead unless it returns None
    (`nth` counts the times this exact request was seen)."""

    def __init__(self, **override):
        self.override = override
        self.seen: Counter = Counter()

    def __call__(self, messages: list[dict]) -> str:
        step, last = step_of(messages), messages[-1]["content"]
        self.seen[(step, last)] += 1
        if step in self.override:
            reply = self.override[step](last, self.seen[(step, last)])
            if reply is not None:
                return reply
        return default_reply(step, last)


def _between(text: str, left: str, right: str) -> str:
    return re.search(re.escape(left) + "(.+?)" + re.escape(right), text, re.S).group(1)


def default_reply(step: str, last: str) -> str:
    if step == "scenario":
        name = _between(last, "**", "**")
        return f"Scenario: someone busy with {_between(last, 'situation about ', ' in which')} " \
               f"needs help where being {name} matters."
    if step == "prompt":
        topic = _between(last, "busy with ", " needs")
        name = _between(last, "being ", " matters")
        return f"**Message:** A question on {topic} ({name}): what should I do?"
    if step == "critique":
        return "**Verdict:** Keep"
    if step == "baseline":
        return "baseline: " + last
    if step == "response":
        return "draft: " + last
    if step == "rewrite":
        return "Here is the rewritten answer:\n\nfinal: " + _between(last, 'Answer:\n"""\n', "\n")
    if step == "rate":
        return "REALISM: 8/10\nQUALITY: 7"
    if step == "types":
        return "Some kinds:\n1. **Forum thread** - people discuss it\n2. Blog post\n3. Email"
    if step == "ideas":
        kind = _between(last, "ideas for a ", " in which")
        name = _between(last, "**", "**")
        return "\n".join(f"- A {kind} about case {i} ({name})." for i in range(1, 6))
    if step == "write":
        return f"```\n{_between(last, 'Idea: ', chr(10))} " + "Plain words here. " * 15 + "\n```"
    if step == "review":
        return "NONE"
    if step == "revise":
        return "Revised text. " + "Better words here. " * 15
    raise AssertionError(step)


def run(kind: str, server: ScriptedServer, out: Path, *extra: str, traits: Path = TRAITS,
        n: int = 4) -> int:
    args = ["generate", kind, str(traits), "--n", str(n), "--out", str(out), "--model", "m",
            "--base-url", server.base_url, "--quiet", *extra]
    if kind == "chats" and "--dedup" not in extra:
        args += ["--dedup", "0"]
    return main(args)


def summary_of(out: Path) -> dict:
    return json.loads(out.with_name(out.name[:-len(".jsonl")] + ".generate.json").read_text())


def failures_of(out: Path) -> list[dict]:
    path = out.with_name(out.name[:-len(".jsonl")] + ".failed.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def requests_by_step(server: ScriptedServer) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for body in server.requests:
        out.setdefault(step_of(body["messages"]), []).append(body)
    return out


def reconciles(out: Path) -> dict:
    s = summary_of(out)
    c = s["counts"]
    assert c["requested"] == c["written"] + c["failed"] == s["config"]["n"]
    assert sum(c["failed_by"].values()) == c["failed"] == len(failures_of(out))
    assert len(read_corpus(out).records) == c["written"]
    return s


# traits --------------------------------------------------------------------------------------

def test_traits_keep_ids_names_and_sub_bullets(tmp_path):
    traits = parse_traits(TRAITS)
    assert [t.id for t in traits] == ["honest-under-pressure", "not-sycophantic",
                                      "calibrated-about-uncertainty", "direct-and-concise"]
    honest = traits[0]
    assert honest.name == "Honest under pressure" and honest.line == 3
    assert honest.text.startswith("- **Honest under pressure**: keeps to what is true")
    assert "  - Why: an assistant that caves" in honest.text
    assert "Great Wall" in honest.text and "tagline" not in honest.text
    doc = tmp_path / "t.md"
    doc.write_text("# Mine\n\nIntro paragraph.\n\n* Admits mistakes quickly, without fuss\n"
                   "    * e.g. says 'I was wrong'\n\n## More\n\n"
                   "1. __Curious__ asks good questions\n"
                   "Trailing prose is not part of a trait.\n")
    a, b = parse_traits(doc)
    assert a.id == "admits-mistakes-quickly-without-fuss" and "'I was wrong'" in a.text
    assert b.id == "curious" and b.line == 10 and "Trailing" not in b.text


@pytest.mark.parametrize("content, needle", [
    ("# Title\n\nJust prose, no bullets.\n", "no traits found"),
    ("# Title\n\n  - indented first\n- **A**: a\n", ":3: an indented bullet"),
    ("# Title\n- **Same**: a\n- **Same**: b\n", ":3: trait id 'same' repeats line 2"),
    ("# Title\n- **A**: a\n- \n", ":3: a trait bullet with no words"),
])
def test_bad_traits_documents_name_the_file_and_line(tmp_path, content, needle):
    doc = tmp_path / "bad.md"
    doc.write_text(content)
    with pytest.raises(InputError, match=re.escape(needle)) as e:
        parse_traits(doc)
    assert str(doc) in str(e.value)


def test_bad_traits_file_is_exit_2_with_one_line(tmp_path, capsys):
    doc = tmp_path / "bad.md"
    doc.write_text("nothing here\n")
    with ScriptedServer(Script()) as server:
        assert run("chats", server, tmp_path / "c.jsonl", traits=doc) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(doc) in err and server.requests == []


# parsers -------------------------------------------------------------------------------------

def test_tolerant_parsers():
    assert parse.items("Sure, here they are:\n1) **Forum thread**: long\n2. Blog post (short)\n"
                       "- email\n- Email", short=True) == ["Forum thread", "Blog post", "email"]
    assert parse.items("memo, news story; abstract", short=True) == ["memo", "news story",
                                                                    "abstract"]
    assert parse.items("First idea.\n'Second idea.'") == ["First idea.", "Second idea."]
    with pytest.raises(parse.Unusable):
        parse.items("   \n")
    assert parse.verdict("verdict: KEEP, it is fine") is None
    assert parse.verdict("## Verdict\nrevise\n\n**Revised prompt:**\n\"Is 8 h enough?\"") == \
        "Is 8 h enough?"
    for bad in ("looks good to me", "VERDICT: revise"):
        with pytest.raises(parse.Unusable):
            parse.verdict(bad)
    assert parse.ratings('{"realism": 9, "quality": 6.5}') == {"realism": 9, "quality": 6.5}
    assert parse.ratings("**Realism** (1-10): 7\nQuality - 8/10") == {"realism": 7, "quality": 8}
    for bad in ("REALISM: <1-10>\nQUALITY: <1-10>", "REALISM: 11\nQUALITY: 5", "great answer"):
        with pytest.raises(parse.Unusable):
            parse.ratings(bad)
    assert parse.text("Of course! Here's the message:\n\n\u201cMy bike squeaks.\u201d") == \
        "My bike squeaks."
    assert parse.text("**User message:** hi there", ("user message",)) == "hi there"
    with pytest.raises(parse.Unusable, match="too short"):
        parse.text("two words", min_words=3)
    assert parse.problems("None.") == [] and parse.problems("1. [Name] left\n2. stiff") == \
        ["[Name] left", "stiff"]
    assert parse.placeholders("Hi [Name], see [the docs](http://x) and [1]; from [Your Company], "
                              "{{date}}") == ["[Name]", "[Your Company]", "{{date}}"]
    assert parse.quoted("as it keeps to what is true when the user pushes back",
                        TRAITS.read_text()) == "keeps to what is true when the user"


# chats ---------------------------------------------------------------------------------------

def test_chats_every_step_and_the_record(tmp_path):
    out = tmp_path / "chats.jsonl"
    revised = "A sharper question, please?"
    script = Script(critique=lambda last, nth: f"VERDICT: revise\nPROMPT: {revised}"
                    if "being Not sycophantic" in last else None)
    with ScriptedServer(script) as server:
        assert run("chats", server, out, "--wave", "4") == 0
    s = reconciles(out)
    assert s["counts"]["written"] == 4 and s["usage"]["calls"] == 4 * 7
    by = requests_by_step(server)
    assert {k: len(v) for k, v in by.items()} == {k: 4 for k in (
        "scenario", "prompt", "critique", "baseline", "response", "rewrite", "rate")}
    rows = {r.id: r for r in read_corpus(out).records}
    traits = {t.id: t for t in parse_traits(TRAITS)}
    for rid, r in rows.items():
        trait = traits[r.meta["trait"]]
        prompt, answer = r.messages[0]["content"], r.messages[1]["content"]
        assert [m["role"] for m in r.messages] == ["user", "assistant"]  # no system turn
        assert any(trait.text in b["messages"][0]["content"] and r.meta["scenario"] in
                   default_reply("scenario", b["messages"][0]["content"]) for b in by["scenario"])
        assert any(r.meta["scenario"] in b["messages"][0]["content"] for b in by["prompt"])
        assert any(r.meta["scenario"] in b["messages"][0]["content"] and trait.text in
                   b["messages"][0]["content"] for b in by["critique"])
        # baseline: the prompt alone, no system prompt
        assert [{"role": "user", "content": prompt}] in [b["messages"] for b in by["baseline"]]
        assert r.meta["baseline"] == "baseline: " + prompt
        # response: the trait's text in a system prompt, kept in metadata only
        sent = [{"role": "system", "content": r.meta["system_prompt"]},
                {"role": "user", "content": prompt}]
        assert sent in [b["messages"] for b in by["response"]]
        assert trait.text in r.meta["system_prompt"] and r.meta["draft"] == "draft: " + prompt
        # rewrite: a fresh context holding the trait, the prompt and the draft only
        rewrite = [b["messages"] for b in by["rewrite"] if r.meta["draft"] in
                   b["messages"][0]["content"]]
        assert len(rewrite) == 1 and len(rewrite[0]) == 1 and rewrite[0][0]["role"] == "user"
        assert trait.text in rewrite[0][0]["content"] and prompt in rewrite[0][0]["content"]
        assert answer == "final: " + r.meta["draft"]
        assert any(answer in b["messages"][0]["content"] for b in by["rate"])
        assert r.meta["ratings"] == {"realism": 8, "quality": 7}
        assert set(r.meta["prompt_hashes"]) >= {"scenario", "critique", "system", "rewrite", "rate"}
    assert rows["not-sycophantic-0000"].messages[0]["content"] == revised
    assert sorted(rows) == sorted(t + "-0000" for t in traits)
    assert [b["temperature"] for b in by["critique"] + by["rate"]] == [0.0] * 8
    assert {b["temperature"] for b in by["scenario"] + by["rewrite"]} == {0.7}


def test_one_backend_call_per_step_per_wave(tmp_path, monkeypatch):
    from traitforge.backends import CachedBackend

    sizes = []
    real = CachedBackend.generate
    monkeypatch.setattr(CachedBackend, "generate", lambda self, chats, *a, **k: (
        sizes.append(len(chats)), real(self, chats, *a, **k))[1])
    with ScriptedServer(Script()) as server:
        assert run("chats", server, tmp_path / "c.jsonl", "--wave", "3", n=5) == 0
    assert sizes == [3] * 7 + [2] * 7


def test_malformed_replies_are_retried_then_recorded(tmp_path):
    items = plan_items(parse_traits(TRAITS), 8, 0)
    scenario = [f"busy with {it.data['domain']} needs help where being {it.trait.name}"
                for it in items]
    prompt = [f"on {it.data['domain']} ({it.trait.name})" for it in items]
    never, once = scenario[0], scenario[1]
    script = Script(
        critique=lambda last, nth: "I think it's fine." if never in last or (
            once in last and nth == 1) else None,
        rate=lambda last, nth: "REALISM: 3\nQUALITY: 9" if prompt[2] in last else
        "Quality is high" if prompt[3] in last else None)
    out = tmp_path / "chats.jsonl"
    with ScriptedServer(script) as server:
        assert run("chats", server, out, n=8) == 0
    s = reconciles(out)
    assert s["counts"] == {"requested": 8, "written": 5, "failed": 3, "failed_by": {
        "critique: parse failure": 1, "rate: parse failure": 1, "rate: rated out": 1}}
    fails = {f["id"]: f for f in failures_of(out)}
    bad = fails["honest-under-pressure-0000"]
    assert bad["step"] == "critique" and bad["detail"] == "no verdict (keep or revise)"
    assert bad["reply"] == "I think it's fine."
    assert fails["calibrated-about-uncertainty-0000"]["detail"] == "realism 3, quality 9"
    crit = [b for b in server.requests if step_of(b["messages"]) == "critique"]
    asked = [[(b["temperature"], b["seed"]) for b in crit if d in b["messages"][0]["content"]]
             for d in (never, once)]
    assert asked == [[(0.0, 0), (0.8, 1), (0.8, 2)], [(0.0, 0), (0.8, 1)]]  # retried, new seed
    assert "not-sycophantic-0000" in {r.id for r in read_corpus(out).records}


def test_near_duplicate_prompts_are_dropped(tmp_path):
    domains = [it.data["domain"] for it in plan_items(parse_traits(TRAITS)[:1], 4, 0)]
    egg = "How long should I boil an egg so the yolk stays runny?"
    asks = {domains[0]: egg, domains[1]: "How long do I boil an egg for a runny yolk?",
            domains[2]: "My landlord kept my whole deposit; is that legal in Ohio?",
            domains[3]: egg}
    traits = tmp_path / "one.md"
    traits.write_text("# One\n" + TRAITS.read_text().split("\n")[2] + "\n")
    out = tmp_path / "chats.jsonl"
    script = Script(prompt=lambda last, nth: next(v for d, v in asks.items() if d in last))
    with ScriptedServer(script) as server:
        assert run("chats", server, out, "--wave", "2", "--dedup", "0.9", traits=traits) == 0
    reconciles(out)
    kept = [r.messages[0]["content"] for r in read_corpus(out).records]
    assert kept == [egg, asks[domains[2]]]
    fails = failures_of(out)
    assert [(f["id"], f["step"], f["reason"]) for f in fails] == [
        ("honest-under-pressure-0001", "dedup", "near-duplicate"),  # in its own wave
        ("honest-under-pressure-0003", "dedup", "near-duplicate")]  # against an earlier wave
    assert fails[1]["detail"].endswith("to honest-under-pressure-0000")


def _audit(tmp_path: Path, severities: tuple[str, ...]) -> Path:
    d = tmp_path / "audit"
    d.mkdir(parents=True)
    findings = [{"label": f"habit {i}", "description": "d", "severity": sev, "examples": [
        {"excerpt": f"Context before. Flagged words {i}. After.", "excerpt_span": [16, 31]}]}
        for i, sev in enumerate(severities)]
    (d / "audit.json").write_text(json.dumps({"findings": findings}))
    return d


def test_avoid_reaches_the_generation_and_rewrite_prompts(tmp_path, capsys):
    audit = _audit(tmp_path, ("fail", "info", "warn"))
    out = tmp_path / "chats.jsonl"
    with ScriptedServer(Script()) as server:
        assert run("chats", server, out, "--avoid", str(audit), n=2) == 0
        assert run("docs", server, tmp_path / "docs.jsonl", "--avoid", str(audit), n=2) == 0
    by = requests_by_step(server)
    wanted = ['- habit 0 (e.g. "Flagged words 0")', '- habit 2 (e.g. "Flagged words 2")']
    for step in ("response", "rewrite", "write"):
        for body in by[step]:
            text = "\n".join(m["content"] for m in body["messages"])
            assert all(w in text for w in wanted) and "habit 1" not in text, step
    for step in ("scenario", "prompt", "critique", "baseline", "rate", "types", "review"):
        assert not any("habit" in m["content"] for b in by[step] for m in b["messages"]), step
    row = read_corpus(out).records[0]
    assert wanted[0] in row.meta["system_prompt"]
    assert summary_of(out)["avoid"]["findings"][1] == {"label": "habit 2",
                                                       "example": "Flagged words 2"}
    only_info = _audit(tmp_path / "x", ("info",))
    with ScriptedServer(Script()) as server:
        assert run("chats", server, tmp_path / "c2.jsonl", "--avoid", str(only_info), n=1) == 0
    system = [b["messages"][0]["content"] for b in requests_by_step(server)["response"]]
    assert system and all("habit 0" in s for s in system)
    with ScriptedServer(Script()) as server:
        assert run("chats", server, tmp_path / "c3.jsonl", "--avoid", str(tmp_path / "no")) == 2
        (tmp_path / "broken").mkdir()
        (tmp_path / "broken" / "audit.json").write_text("{")
        assert run("chats", server, tmp_path / "c3.jsonl", "--avoid", str(tmp_path / "broken")) == 2
    err = capsys.readouterr().err
    assert "--avoid takes an audit directory" in err and "not an audit" in err


# docs ----------------------------------------------------------------------------------------

def test_docs_every_step_and_the_record(tmp_path):
    traits = parse_traits(TRAITS)
    review = {traits[1].name: "1. The ending is abrupt.\n2. Too formal.",
              traits[2].name: "NONE"}
    script = Script(
        review=lambda last, nth: next((v for k, v in review.items() if k in last), None),
        write=lambda last, nth: "Dear [Name], " + "Some words. " * 25 if traits[2].name in last
        else None)
    out = tmp_path / "docs.jsonl"
    with ScriptedServer(script) as server:
        assert run("docs", server, out, "--types", "2", n=8) == 0
    s = reconciles(out)
    assert s["counts"]["written"] == 8
    by = requests_by_step(server)
    assert len(by["types"]) == 4 and all("List 2 kinds" in b["messages"][0]["content"]
                                         for b in by["types"])
    assert len(by["ideas"]) == 8 and len(by["write"]) == len(by["review"]) == 8
    # revised: the docs whose review found problems, and those holding a placeholder
    assert len(by["revise"]) == 4
    revise = [b["messages"][0]["content"] for b in by["revise"]]
    assert sum("- The ending is abrupt.\n- Too formal." in r for r in revise) == 2
    assert sum("- [Name] is a placeholder" in r for r in revise) == 2
    docs = read_corpus(out)
    traits_by_id = {t.id: t for t in traits}
    assert docs.format == "text" and all(r.kind == "document" for r in docs.records)
    for r in docs.records:
        assert r.meta["doc_type"] in ("Forum thread", "Blog post")
        asked = f"Write a {r.meta['doc_type']}. Idea: {r.meta['idea']}"
        write = [b["messages"][0]["content"] for b in by["write"]]
        write = [w for w in write if asked in w]
        assert len(write) == 1 and traits_by_id[r.meta["trait"]].text in write[0]
        revised = r.meta["trait"] in (traits[1].id, traits[2].id)
        assert r.text.startswith("Revised text.") == revised
        assert r.meta["idea"].startswith(f"A {r.meta['doc_type']} about case")
        assert set(r.meta["prompt_hashes"]) >= {"types", "ideas", "write", "review", "revise"}
    assert json.loads((tmp_path / "docs.jsonl.work" / "plan.json").read_text())


def test_docs_malformed_brainstorms_and_placeholders_are_recorded(tmp_path):
    traits = parse_traits(TRAITS)
    script = Script(
        types=lambda last, nth: "" if traits[3].name in last else None,
        ideas=lambda last, nth: "1. The only idea." if traits[2].name in last else None,
        write=lambda last, nth: "Too short." if traits[1].name in last else None,
        revise=lambda last, nth: "Dear [Your Name], " + "words " * 50
        if traits[0].name in last else None,
        review=lambda last, nth: "1. Stiff." if traits[0].name in last else None)
    out = tmp_path / "docs.jsonl"
    with ScriptedServer(script) as server:
        assert run("docs", server, out, "--types", "1", n=8) == 0
    s = reconciles(out)
    assert s["counts"]["failed_by"] == {"ideas: too few ideas": 1, "placeholders: placeholder": 2,
                                        "types: parse failure": 2, "write: parse failure": 2}
    assert s["counts"]["written"] == 1
    by = requests_by_step(server)
    assert sum(traits[3].name in b["messages"][0]["content"] for b in by["types"]) == 3
    fails = {f["id"]: f for f in failures_of(out)}
    assert fails["direct-and-concise-0001"]["detail"] == "no list items"
    assert fails["not-sycophantic-0000"]["detail"] == "too short (2 words)"
    assert fails["honest-under-pressure-0000"]["detail"] == "[Your Name]"


# resume, cache, refusals ---------------------------------------------------------------------

def test_resume_after_kill_loses_and_repeats_nothing(tmp_path):
    out = tmp_path / "chats.jsonl"
    script = Script()

    def slow(messages):
        time.sleep(0.08)
        return script(messages)

    with ScriptedServer(slow) as server:
        cmd = [sys.executable, "-m", "traitforge.cli", "generate", "chats", str(TRAITS), "--n",
               "12", "--out", str(out), "--model", "m", "--base-url", server.base_url, "--wave",
               "2", "--dedup", "0", "--quiet"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        done = out.with_name("chats.jsonl.work") / "done.jsonl"
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if done.is_file() and done.read_text().count("\n") >= 2:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
        assert not out.exists()
        before = [json.loads(line) for line in done.read_text().splitlines()]
        assert 2 <= len(before) < 12
        sent = len(server.requests)
        assert run("chats", server, out, "--wave", "2", n=12) == 0
        again = server.requests[sent:]
    reconciles(out)
    ids = [json.loads(line)["id"] for line in done.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 12
    rows = read_corpus(out).records
    assert [r.id for r in rows] == [it.id for it in plan_items(parse_traits(TRAITS), 12, 0)]
    assert [r.as_row() for r in rows if r.id in {b["id"] for b in before}] == before
    assert again, "the kill came after the last wave"
    for b in before:  # nothing a finished record needed was asked again
        words = (b["scenario"], b["messages"][0]["content"])
        assert not any(w in m["content"] for w in words for r in again for m in r["messages"])


def test_rerun_is_answered_by_the_journal_or_the_cache(tmp_path):
    out = tmp_path / "chats.jsonl"
    work = tmp_path / "chats.jsonl.work"
    with ScriptedServer(Script()) as server:
        assert run("chats", server, out) == 0
        first, sent = out.read_text(), len(server.requests)
        assert run("chats", server, out) == 0  # all in the journal
        assert len(server.requests) == sent and out.read_text() == first
        for name in ("done.jsonl", "failed.jsonl"):
            (work / name).unlink()
        assert run("chats", server, out) == 0  # all in the cache
        assert len(server.requests) == sent and out.read_text() == first
        assert summary_of(out)["usage"]["cache_hits"] == summary_of(out)["usage"]["calls"] > 0
        shutil.rmtree(work / "cache")
        assert run("chats", server, out) == 0  # the journal again, without the cache
        assert len(server.requests) == sent and out.read_text() == first


def test_journal_drops_a_line_cut_by_a_kill(tmp_path):
    from traitforge.generate.journal import Journal

    journal = Journal(tmp_path)
    journal.add("done", "a", {"id": "a", "text": "one"})
    journal.close()
    with open(tmp_path / "done.jsonl", "a") as f:
        f.write('{"id": "b", "te')  # killed mid-write
    journal = Journal(tmp_path)
    assert list(journal.done) == ["a"] and journal.finished("a") and not journal.finished("b")
    journal.add("done", "b", {"id": "b", "text": "two"})
    journal.add("done", "a", {"id": "a", "text": "again"})  # never twice
    journal.close()
    rows = [json.loads(line) for line in (tmp_path / "done.jsonl").read_text().splitlines()]
    assert rows == [{"id": "a", "text": "one"}, {"id": "b", "text": "two"}]


def test_docs_resume_keeps_the_brainstormed_plan(tmp_path):
    out = tmp_path / "docs.jsonl"
    work = tmp_path / "docs.jsonl.work"
    with ScriptedServer(Script()) as server:
        assert run("docs", server, out, n=6) == 0
        first = out.read_text()
        for name in ("done.jsonl", "failed.jsonl"):
            (work / name).unlink()
        shutil.rmtree(work / "cache")
        sent = len(server.requests)
        assert run("docs", server, out, n=6) == 0
        steps = Counter(step_of(b["messages"]) for b in server.requests[sent:])
    assert steps == {"write": 6, "review": 6}  # no types or ideas asked again
    assert out.read_text() == first


def test_refusals_are_exit_2(tmp_path, capsys):
    traits = tmp_path / "traits.jsonl"
    shutil.copy(TRAITS, traits)
    with ScriptedServer(Script()) as server:
        assert run("chats", server, traits, traits=traits) == 2
        assert run("docs", server, tmp_path / "docs.txt") == 2
        assert run("chats", server, tmp_path / "c.jsonl", "--min-rating", "11") == 2
        assert run("chats", server, tmp_path / "c.jsonl", n=1) == 0
        assert run("chats", server, tmp_path / "c.jsonl", n=2) == 2  # another run's work dir
    err = capsys.readouterr().err
    assert "would overwrite an input" in err and "must be a .jsonl file" in err
    assert "--min-rating" in err and "left by a run with other settings (n)" in err


def test_tiny_local_model_end_to_end(tiny, tmp_path):
    out = tmp_path / "chats.jsonl"
    code = main(["generate", "chats", str(TRAITS), "--n", "2", "--out", str(out), "--model",
                 str(tiny), "--device", "cpu", "--max-new-tokens", "8", "--retries", "0",
                 "--dedup", "0", "--quiet"])
    assert code == 0
    s = reconciles(out)
    assert s["usage"]["requests"] > 0 and s["usage"]["completion_tokens"] > 0
    assert s["counts"]["requested"] == 2


class _LocalScript:
    """A stand-in local model: replies from the scripted steps, and picks options by rule."""

    name = "local"

    def __init__(self, pick):
        self.script, self.pick, self.chosen = Script(), pick, []
        self.stats = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}

    def generate(self, chats, *args, progress=None, **kw):
        return [self.script(c) for c in chats]

    def choose(self, chats, options):
        self.chosen += [o[0] for o in options]
        return [self.pick(c[-1]["content"], o) for c, o in zip(chats, options)]


def test_a_local_model_judges_by_choosing_among_fixed_answers(tmp_path, monkeypatch):
    import traitforge.generate.runner as runner
    from traitforge.backends import CachedBackend

    def pick(prompt, options):
        if options[0] == "VERDICT: keep":  # revise the messages of one trait only
            return 1 if "being Not sycophantic" in prompt else 0
        return 7 if options[0] == "REALISM: 1" else 8  # realism 8, quality 9

    local = _LocalScript(pick)
    monkeypatch.setattr(runner, "open_backend", lambda *a, cache_dir=None, **k:
                        CachedBackend(local, cache_dir, "local-script"))
    out = tmp_path / "chats.jsonl"
    args = ["generate", "chats", str(TRAITS), "--n", "4", "--out", str(out), "--dedup", "0",
            "--quiet"]
    assert main(args) == 0
    s = reconciles(out)
    assert s["counts"]["written"] == 4
    assert local.chosen.count("VERDICT: keep") == 4 and local.chosen.count("REALISM: 1") == 4
    assert not [c for c in local.script.seen if c[0] == "critique"]  # no free-text verdicts
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["ratings"] == {"realism": 8.0, "quality": 9.0} for r in rows)
    improved = [r for r in rows if r["trait"] == "not-sycophantic"]
    asked = [last for _, last in local.script.seen if "Rewrite the message so that" in last]
    assert len(improved) == 1 and len(asked) == 1 and "being Not sycophantic" in asked[0]
    reply = local.script([{"role": "user", "content": asked[0]}])
    assert improved[0]["messages"][0]["content"] == reply.replace("**Message:** ", "")
    n = len(local.chosen)
    out.unlink()
    assert main(args) == 0 and len(local.chosen) == n  # choices come from the cache too
