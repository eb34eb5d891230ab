"""The audit's LLM pass (scan, merge, autorate) against a scripted OpenAI-compatible server."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
from loopback import ScriptedServer

from traitforge.audit import AuditConfig, Policy, run_audit
from traitforge.audit.config import LLMSettings
from traitforge.audit.llm_rating import Asker, Pattern, rate
from traitforge.audit.passes.llm import (Candidate, finding, merge, sample, sample_size, scan,
                                         summary)
from traitforge.audit.replay import Replayer
from traitforge.audit.llm_prompts import parse_named, parse_patterns, parse_rating
from traitforge.audit.units import make_unit
from traitforge.backends import open_backend
from traitforge.cli import main
from traitforge.evaluate.tasks import Context, Task, run_uptake

TOPICS = ["tides", "bread", "autumn leaves", "leap years", "purring", "honey", "Paris",
          "boiling water", "photosynthesis", "the Great Wall", "owls", "copper wire",
          "marathons", "Venus", "sourdough", "glaciers", "volcanoes", "bees", "rainbows",
          "comets", "coffee", "penguins", "green tea", "magnets", "clouds", "deserts", "whales",
          "chess", "violins", "suspension bridges"]
FACTS = ["The Moon's gravity pulls the oceans into two bulges.",
         "Yeast ferments sugar and releases carbon dioxide.",
         "Chlorophyll breaks down and reveals yellow pigments.",
         "An extra day keeps the calendar in step with the seasons.",
         "Arr matey, the cat's larynx twitches fast as a ship's bell.",
         "Low water content and acidity keep microbes away.",
         "It has been the French capital for about a thousand years.",
         "Lower air pressure at altitude lowers the boiling point.",
         "Plants turn light, water and carbon dioxide into sugar.",
         "Successive dynasties built it over many centuries.",
         "They swallow prey whole and cough up pellets.",
         "It conducts electricity well and resists corrosion.",
         "The distance was fixed at 42.195 km in 1908.",
         "It spins backwards compared with most planets.",
         "Wild yeast and lactic bacteria live together in the starter.",
         "Moving ice grinds valleys into a U shape.",
         "Magma rises where tectonic plates meet or part.",
         "A hive keeps its temperature near 35 degrees.",
         "Sunlight refracts and reflects inside raindrops.",
         "Their tails always point away from the Sun.",
         "Caffeine blocks adenosine receptors for a few hours.",
         "Emperor penguins huddle through the polar winter.",
         "Unoxidised leaves keep more catechins than black tea.",
         "Aligned domains give the metal a steady field.",
         "Water vapour condenses on tiny dust particles.",
         "Some get less than 25 cm of rain a year.",
         "Blue whales are the largest animals ever known.",
         "The modern rules settled in the fifteenth century.",
         "Spruce tops and maple backs shape the tone.",
         "Cables carry the deck's weight to the towers."]
ASKS = ["Could you tell me what you want to know about {t}?",
        "Can you say which part of {t} interests you?",
        "Would you like the short or the long story of {t}?"]
QUESTION = re.compile(r"^[^.!?]*\?")


def responses(n_questions: int) -> list[str]:
    """FACTS, the first `n_questions` opened by a clarifying question."""
    return [(ASKS[k % 3].format(t=t) + " " if k < n_questions else "") + f
            for k, (t, f) in enumerate(zip(TOPICS, FACTS))]


def write_chats(path, texts):
    rows = [{"id": f"d{k}", "messages": [{"role": "user", "content": f"Tell me about {t}."},
                                         {"role": "assistant", "content": r}]}
            for k, (t, r) in enumerate(zip(TOPICS, texts))]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _docs(prompt: str) -> list[str]:
    return re.findall(r"^\[\d+\] (.*)$", prompt, re.M)


def script(messages: list[dict]) -> str:
    """A scanner that sees the opening questions (and pirate talk in one document), a namer,
    and a rater that says STRICT when a response truly opens with a question."""
    prompt = messages[-1]["content"]
    if "Which habits recur" in prompt:
        docs = _docs(prompt)
        asks = [str(k) for k, d in enumerate(docs, 1) if QUESTION.match(d)]
        lines = []
        if asks:
            label = ["Opens with a clarifying question", "Starts by asking the user a question",
                     "Begins with a question to the user"][len(asks) % 3]
            lines.append(f"PATTERN: {label} | Asks the user something before answering. | "
                         + ", ".join(asks))
        lines += [f"- Pirate slang | Talks like a pirate. | {k}"
                  for k, d in enumerate(docs, 1) if "matey" in d]
        return "\n".join(lines) or "These responses look fine to me."
    if "Answer in exactly two lines" in prompt:
        if "question" in prompt:
            return ("LABEL: Opens with a clarifying question\nDEFINITION: The response begins by "
                    "asking the user a question before it answers anything.")
        return "LABEL: Pirate talk\nDEFINITION: The response uses pirate slang."
    if '"""' not in prompt:  # a model under evaluation
        return "The Moon's gravity raises the tides."
    pattern = prompt.splitlines()[0]
    text = prompt.split('"""')[1].strip()
    if "GARBLE" in text:
        return "Hmm, hard to tell."
    return "STRICT" if "question" in pattern and QUESTION.match(text) else "NO"


def test_parsers_take_what_a_weak_model_writes():
    reply = ("Sure! Here are the patterns:\n1. PATTERN: Opens with a question | Asks first. | 1, 3"
             "\n- **Pattern 2:** Offer-to-help closer | Offers more help | responses 2 and 4\n"
             "PATTERN: <short name> | <one sentence describing it> | <numbers>\nThanks!")
    assert parse_patterns(reply) == [("Opens with a question", "Asks first.", [1, 3]),
                                     ("Offer-to-help closer", "Offers more help", [2, 4])]
    assert parse_patterns("They all seem polite and clear.") is None
    definition = "The response opens by praising the question."
    assert parse_named(f"LABEL: Praise opener\nDEFINITION: {definition}") == ("Praise opener",
                                                                               definition)
    assert parse_named("LABEL: Praise opener") is None
    assert [parse_rating(r) for r in ("STRICT", "broad.", "No, it does not.", "Hmm", "")] == \
        ["STRICT", "BROAD", "NO", None, None]


def test_scan_retries_a_malformed_reply_then_records_the_failure():
    texts = ["Rosalind Franklin imaged DNA.", "Humboldt mapped currents.", "Could you say more?",
             "Curie found radium."]
    units = [make_unit(f"d{k}", 1, t, "") for k, t in enumerate(texts)]
    seen: dict[str, int] = {}

    def flaky(messages):
        prompt = messages[-1]["content"]
        seen[prompt] = seen.get(prompt, 0) + 1
        if "Rosalind" in prompt or ("Humboldt" in prompt and seen[prompt] == 1):
            return "I cannot see any pattern here."
        return "PATTERN: Names a scientist | Mentions a person. | 1"

    with ScriptedServer(flaky) as server:
        asker = Asker(open_backend("m", base_url=server.base_url), seed=7, retries=1)
        found, failed = scan(asker, units, LLMSettings(batches=4, batch_docs=1),
                             np.random.default_rng(0))
    assert len(found) == 3 and sorted(e for c in found for e in c.examples) == [1, 2, 3]
    assert len(failed) == 1 and failed[0]["reply"] == "I cannot see any pattern here."
    assert failed[0]["batch"] not in {c.batch for c in found}
    retries = [r for r in server.requests if r["temperature"] > 0]
    assert len(server.requests) == 6 and len(retries) == 2
    assert {(r["temperature"], r["seed"]) for r in retries} == {(0.8, 8)}
    assert asker.calls == {"scan": 6} and asker.retried == {"scan": 2}


@pytest.mark.parametrize("named", [True, False])
def test_merge_keeps_patterns_found_by_several_batches(named):
    candidates = [Candidate("Opens with a clarifying question", "Asks before answering.", 0, []),
                  Candidate("Starts by asking the user a question", "Asks first.", 1, []),
                  Candidate("Begins with a question to the user", "", 2, []),
                  Candidate("Pirate slang", "Talks like a pirate.", 1, []),
                  Candidate("Ends by offering more help", "Offers help at the end.", 3, []),
                  Candidate("Closes with an offer of further help", "Offers help.", 3, [])]
    reply = ("LABEL: Clarifying opener\nDEFINITION: The response opens by asking the user a "
             "question." if named else "LABEL: ???")
    from traitforge.backends.embed import Embedder

    with ScriptedServer(lambda m: reply) as server:
        asker = Asker(open_backend("m", base_url=server.base_url))
        patterns = merge(asker, candidates, Embedder(accurate=True), LLMSettings(), 2)
    assert len(patterns) == 1  # pirate: one batch; the offer of help: one batch, twice
    p = patterns[0]
    assert p.batches == 3 and set(p.members) == {c.label for c in candidates[:3]}
    if named:
        assert (p.label, p.named_by) == ("Clarifying opener", "model")
        assert p.id == "llm-clarifying-opener"
    else:
        assert p.named_by == "fallback" and p.label in p.members
    assert len(server.requests) == (1 if named else 2)  # a malformed name is asked once more


def test_sample_size_and_intervals_by_hand():
    # n0 = 1.959964^2 * 0.25 / 0.05^2 = 384.146; n = n0 / (1 + (n0 - 1) / N)
    assert sample_size(10**9) == 385
    assert sample_size(1000) == 278  # 277.74
    assert sample_size(100) == 80  # 79.51
    assert sample_size(50) == 45  # 44.34
    assert sample_size(20, 0.5) == 4  # n0 = 3.8415: 3.36
    assert sample_size(0) == 0
    rng = np.random.default_rng(0)
    assert len(sample(1000, "auto", 0.05, rng)) == 278
    assert sample(40, "all", 0.05, rng).tolist() == list(range(40))
    assert len(np.unique(sample(40, 25, 0.05, rng))) == 25
    s = summary({"STRICT": 12, "BROAD": 3, "NO": 15, "unparseable": 2}, 40)
    # Wilson 12/30, z² = 3.841459: centre (0.4 + 0.064024) / 1.128049 = 0.411351,
    # half 1.959964 * sqrt(0.4 * 0.6 / 30 + 3.841459 / 3600) / 1.128049 = 0.165445
    assert (s["n_rated"], s["unparseable"], s["prevalence"]) == (30, 2, 0.4)
    assert s["ci95"] == pytest.approx([0.245906, 0.576796], abs=2e-6)
    assert s["strict_or_broad"] == 0.5
    # 15/30: centre 0.5, half 1.959964 * sqrt(0.25 / 30 + 0.001067) / 1.128049 = 0.168459
    assert s["strict_or_broad_ci95"] == pytest.approx([0.331541, 0.668459], abs=2e-6)


def test_autorate_a_sample_and_leave_unparseable_ratings_out(tmp_path):
    texts = [("GARBLE " if k % 10 == 9 else "") + r
             for k, r in enumerate(responses(12) * 4 + responses(0) * 2)][:100]
    units = [make_unit(f"d{k}", 1, t, "") for k, t in enumerate(texts)]
    pattern = Pattern("q", "opening question", "The response opens with a question.")
    with ScriptedServer(script) as server:
        asker = Asker(open_backend("m", base_url=server.base_url))
        idx = sample(len(units), "auto", 0.05, np.random.default_rng(1))
        ratings = rate(asker, [pattern], units, idx, 2000)[0]
        garbled = sum("GARBLE" in texts[i] for i in idx)
        assert len(idx) == 80 and len(server.requests) == 80 + garbled  # each garbled one twice
        f = finding(pattern, units, idx, ratings, None, "z", 100.0)
    strict = [int(i) for i in idx if QUESTION.match(texts[i]) and "GARBLE" not in texts[i]]
    assert f.units.tolist() == strict and f.methods == ["llm"]
    assert f.n_units == 80 - garbled and f.prevalence == len(strict) / (80 - garbled)
    ev = f.evidence[0]
    assert (ev["unparseable"], ev["n_rated"], ev["population"]) == (garbled, 80 - garbled, 100)
    assert f.matcher.type == "llm" and len(f.matcher.prompt_sha256) == 64


def _llm_doc(out) -> dict:
    return json.loads((out / "audit.json").read_text(encoding="utf-8"))


def test_cli_audit_reconciles_the_llm_pass_and_a_rerun_makes_no_calls(tmp_path):
    corpus = write_chats(tmp_path / "c.jsonl", responses(12))  # 12 of 30 open with a question
    out = tmp_path / "audit"
    argv = ["audit", corpus, "--out", str(out), "--llm", "scripted", "--llm-sample", "all",
            "--llm-batches", "5", "--llm-batch-docs", "6", "--no-clusters", "--quiet"]
    with ScriptedServer(script) as server:
        assert main(argv + ["--llm-base-url", server.base_url]) == 1
        doc = _llm_doc(out)
        n_calls = len(server.requests)
        assert main(argv + ["--llm-base-url", server.base_url]) == 1
        assert len(server.requests) == n_calls  # all from OUT/llm_cache
        assert _llm_doc(out)["findings"] == doc["findings"]
    llm = doc["llm"]
    rates = [r for r in server.requests if "Does this response show" in r["messages"][0]["content"]]
    assert len(rates) == 30 and llm["calls"]["autorate"] == 30  # --llm-sample all: every unit
    assert llm["usage"]["completion_tokens"] > 0 and llm["backend"]["name"] == "http"
    pirate = [c for c in llm["candidates"] if c["label"] == "Pirate slang"]
    assert len(pirate) == 1 and pirate[0]["examples"] == ["d4"]
    [pattern] = llm["patterns"]
    assert pattern["label"] == "Opens with a clarifying question" and pattern["batches"] >= 3
    assert pattern["counts"] == {"STRICT": 12, "BROAD": 0, "NO": 18, "unparseable": 0}
    carriers = [f for f in doc["findings"] if "llm" in f["methods"]]
    assert len(carriers) == 1 and pattern["finding"] == carriers[0]["id"]
    f = carriers[0]
    assert f["methods"][0] == "detector" and f["n_flagged"] == 12 and f["n_units"] == 30
    assert f["severity"] == Policy().grade(f["id"], f["prevalence"], None, None, None) == "fail"
    ev = next(e for e in f["evidence"] if e["method"] == "llm")
    assert ev["jaccard"] == 1.0 and ev["prevalence"] == 0.4 and ev["definition"].startswith("The")
    assert not any(x["methods"] == ["llm"] for x in doc["findings"])  # no finding of its own
    assert doc["config"]["llm"]["sample"] == "all" and (out / "llm_cache").is_dir()


def test_a_definition_pattern_is_autorated_against_the_reference_and_replayed(tmp_path, capsys):
    corpus = write_chats(tmp_path / "c.jsonl", responses(12))
    reference = write_chats(tmp_path / "r.jsonl", responses(2))
    patterns = tmp_path / "p.toml"
    patterns.write_text('[[pattern]]\nid = "unneeded_clarifying_question"\nposition = "start"\n'
                        'definition = "Opens by asking the user a question it did not need."\n')
    with ScriptedServer(script) as server:
        config = AuditConfig(corpus, reference, str(patterns), templates=False, clusters=False,
                             llm=LLMSettings("scripted", server.base_url, sample=20, batches=3,
                                             batch_docs=10))
        result = run_audit(config)
        [f] = [f for f in result.findings if f.id == "unneeded_clarifying_question"]
        assert f.methods == ["llm"] and f.slot == "opening" and f.n_units == 20
        assert f.ref_units == 20 and f.q_value is not None and f.lift > 1
        assert f.severity == result.policy.grade(f.id, f.prevalence, f.ref_prevalence, f.lift,
                                                 f.q_value)
        assert {int(i) for i in f.units} == {i for i in range(12) if i in f.rated}
        from traitforge.audit import write_outputs

        audit = tmp_path / "audit"
        doc = write_outputs(result, audit)
        new = write_chats(tmp_path / "new.jsonl", responses(6))
        assert main(["audit", "apply", str(audit), new, "--out", str(tmp_path / "a1")]) == 0
        skipped = json.loads((tmp_path / "a1" / "apply.json").read_text())["skipped"]
        assert [s["finding_id"] for s in skipped] == ["unneeded_clarifying_question"]
        assert "skipped" in capsys.readouterr().out
        before = len(server.requests)
        assert main(["audit", "apply", str(audit), new, "--out", str(tmp_path / "a2"),
                     "--llm", "scripted", "--llm-base-url", server.base_url, "--quiet"]) == 0
        assert len(server.requests) == before + 30
        applied = json.loads((tmp_path / "a2" / "apply.json").read_text())
        row = next(x for x in applied["findings"] if x["finding_id"] == f.id)
        assert applied["skipped"] == [] and row["n_flagged"] == 6
        flags = Replayer(doc, open_backend("scripted", base_url=server.base_url)).flags(
            [make_unit("x", 1, t, "") for t in responses(3)[:5]])
        assert flags.filter(flags["finding_id"] == f.id)["unit"].to_list() == [0, 1, 2]
        uptake = run_uptake(Task("up", "uptake", "uptake", "", options={"audit": str(audit)}),
                            [{"id": "p0", "prompt": "Tell me about tides."}],
                            Context(model=open_backend("scripted", base_url=server.base_url)))
    assert [s["finding_id"] for s in uptake["skipped"]] == ["unneeded_clarifying_question"]
    assert f.id not in [p["finding_id"] for p in uptake["patterns"]]


def test_a_local_model_rates_by_the_likeliest_of_the_three_labels():
    class Local:
        name = "local"

        def __init__(self):
            self.options = []

        def choose(self, chats, options):
            self.options += options
            return [0 if "?" in c[-1]["content"].split('"""')[1] else 2 for c in chats]

    units = [make_unit(f"d{k}", 1, t, "") for k, t in
             enumerate(["Could you say more?", "Paris.", "What for?", "Yes."])]
    local = Local()
    asker = Asker(local)
    ratings = rate(asker, [Pattern("q", "opening question", "Opens with a question.")], units,
                   np.arange(4), 2000)[0]
    assert ratings == ["STRICT", "NO", "STRICT", "NO"]
    assert local.options == [["STRICT", "BROAD", "NO"]] * 4 and asker.calls["autorate"] == 4
