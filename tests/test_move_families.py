"""Moves that come in several phrasings, or in two parts each varied on its own, come back as one
finding each (traitforge.audit.families), by each pass alone and by all together; two moves
that share a place in the reply but are planted independently stay apart."""
from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from traitforge.audit import AuditConfig, DiscoverySettings, run_audit
from traitforge.audit.families import frame_code, independent
from traitforge.audit.topics import topic_excess
from traitforge.audit.units import make_unit

NOUNS = ("harbor", "ledger", "pepper", "violin", "glacier", "tunnel", "orchard", "compass",
         "lantern", "saddle", "quarry", "meadow", "anchor", "kettle", "beacon", "canyon")
VERBS = ("shapes", "follows", "outlasts", "resembles", "feeds", "shelters", "warms", "tests")
# One move in five unrelated phrasings, opening a middle paragraph.
EMPHASIS = ("Tellingly", "Strikingly", "Pointedly", "Revealingly", "Tangibly")
# A second move in the same place, planted independently of the first.
ASIDE_LEAD = ("On balance", "By and large", "All told", "In the main")
# A two-part opener: its own paragraph, each part chosen on its own.
FIRST = tuple(f"{a} {b}!" for a in ("Splendid", "Wonderful", "Lovely") for b in ("prompt", "puzzle"))
SECOND = ("Onward we go.", "Off we set.", "Here we begin.")
# A closer in four phrasings. (A sentence of content words alone, "Want another angle?", has
# no skeleton for the template pass: the n-gram pass finds it.)
CLOSER = ("Does that settle it?", "Is that clear enough?", "Shall we go further?",
          "Would you like another angle?")


def sentence(rng: random.Random) -> str:
    return (f"The {rng.choice(NOUNS)} {rng.choice(VERBS)} the {rng.choice(NOUNS)} "
            f"{rng.choice(['today', 'slowly', 'in spring', 'at night', 'again'])}.")


def reply(rng: random.Random, plant: dict[str, bool], sentence=sentence) -> str:
    paras = [" ".join(sentence(rng) for _ in range(rng.randint(2, 3)))
             for _ in range(rng.randint(4, 6))]
    k, j = rng.sample(range(1, len(paras) - 1), 2)  # two middle paragraphs: the moves never compete
    if plant["emphasis"]:
        paras[k] = f"{rng.choice(EMPHASIS)}, {paras[k][0].lower()}{paras[k][1:]}"
    if plant["balance"]:
        paras[j] = f"{rng.choice(ASIDE_LEAD)}, {paras[j][0].lower()}{paras[j][1:]}"
    if plant["opener"]:
        paras.insert(0, f"{rng.choice(FIRST)} {rng.choice(SECOND)}")
    if plant["closer"]:
        paras.append(rng.choice(CLOSER))
    return "\n\n".join(paras)


RATES = {"emphasis": 0.2, "balance": 0.0, "opener": 0.15, "closer": 0.12}


def corpus(n: int, seed: int, rates: dict[str, float]) -> tuple[list[str], dict[str, set]]:
    rng, texts, truth = random.Random(seed), [], {name: set() for name in rates}
    for i in range(n):
        plant = {name: rng.random() < rate for name, rate in rates.items()}
        texts.append(reply(rng, plant))
        for name in rates:
            if plant[name]:
                truth[name].add(i)
    return texts, truth


def f1(flagged: set, truth: set) -> float:
    return 2 * len(flagged & truth) / (len(flagged) + len(truth)) if flagged or truth else 1.0


def written(folder, n: int, rates: dict[str, float]):
    """Corpus and reference files of n replies, and the planted units of each move."""
    texts, truth = corpus(n, 3, rates)
    ref, _ = corpus(n, 4, {name: 0.0 for name in rates})

    def write(name: str, xs: list[str], tag: str) -> str:
        path = folder / name
        path.write_text("".join(json.dumps({"id": f"{tag}{k}", "messages": [
            {"role": "user", "content": f"Tell me about case {tag}{k}."},
            {"role": "assistant", "content": t}]}) + "\n" for k, t in enumerate(xs)))
        return str(path)
    return write("c.jsonl", texts, "c"), write("r.jsonl", ref, "r"), \
        {name: units for name, units in truth.items() if rates[name]}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return written(tmp_path_factory.mktemp("moves"), 1000, RATES)


def best(result, truth: set) -> tuple[float, object]:
    return max(((f1(set(f.units.tolist()), truth), f) for f in result.findings),
               key=lambda x: x[0], default=(0.0, None))


# What each pass alone is for: n-grams see every phrasing; sentence templates see whole
# sentences (a one-word leading clause such as "Tellingly," has no skeleton worth grouping).
PASSES = {"n-grams alone": ({"templates": False, "clusters": False}, RATES),
          "templates alone": ({"ngrams": False, "clusters": False}, ("opener", "closer")),
          "all passes": ({}, RATES)}


@pytest.mark.parametrize("passes, moves", PASSES.values(), ids=PASSES.keys())
def test_each_move_is_one_finding(data, passes, moves):
    corpus_path, ref_path, truth = data
    result = run_audit(AuditConfig(corpus=corpus_path, reference=ref_path, builtin=False,
                                   **passes))
    for name in moves:
        if name not in truth:
            continue
        score, f = best(result, truth[name])
        assert score >= 0.85, (name, score, f and f.label)
        assert abs(f.prevalence - len(truth[name]) / 1000) <= 0.03, (name, f.prevalence)
        assert f.severity != "info", (name, f.label)


def test_without_families_the_phrasings_come_back_apart(data):
    corpus_path, ref_path, truth = data
    result = run_audit(AuditConfig(corpus=corpus_path, reference=ref_path, builtin=False,
                                   clusters=False, discovery=DiscoverySettings(families=False)))
    assert best(result, truth["emphasis"])[0] < 0.6  # five findings, one per phrasing
    assert best(result, truth["opener"])[0] < 0.85


def test_two_moves_in_one_place_planted_independently_stay_apart(tmp_path):
    """Both open a middle paragraph with a few words and a comma, in different paragraphs; they
    share replies as often as chance has it, so neither is taken for the other's alternative.
    (Two moves that compete for one paragraph exclude each other, and read as one move.)"""
    corpus_path, ref_path, truth = written(tmp_path, 3000, {"emphasis": 0.2, "balance": 0.25,
                                                            "opener": 0.0, "closer": 0.0})
    result = run_audit(AuditConfig(corpus=corpus_path, reference=ref_path, builtin=False,
                                   templates=False, clusters=False))
    for name in ("emphasis", "balance"):
        score, f = best(result, truth[name])
        assert score >= 0.85, (name, score, f and f.label)


def test_frame_codes_say_where_a_span_sits():
    text = "Hello there. It works.\n\nNotably, the kettle warms.\n\n- Item one — an aside — ends."
    notably = text.index("Notably")
    assert frame_code(text, notably, notably + 8) == ("middle", "plain", "first", "start", ".",
                                                      "a", ",")
    aside = text.index("an aside")
    code = frame_code(text, aside, aside + 8)
    assert code[:2] == ("last", "item") and code[3] == "inside" and code[5:] == ("mark", "—")
    assert frame_code(text, 13, 22)[:4] == ("first", "plain", "later", "whole")
    # Leading punctuation (the full stop before a paragraph's mark) is passed over.
    assert frame_code(text, notably - 3, notably + 8) == frame_code(text, notably, notably + 8)


@pytest.mark.parametrize("shared, expected, apart", [(0, 12.0, True), (0, 2.0, True), (30, 52.0, False),
                                                      (12, 12.0, False), (40, 12.0, True)])
def test_independence_is_judged_against_chance(shared, expected, apart):
    assert independent(shared, expected) is not apart


# Without a reference, the filler needs a vocabulary as wide as real text's: frame words are the
# frequent ones. A topic: a tenth of the replies are about baking, and their sentences often end
# in one stock phrase; it recurs as much as the moves do, but only in replies about one thing.
SYLLABLES = ("ka", "lo", "mi", "ren", "tu", "sa", "vel", "dor", "pi", "an", "ost", "ghe")
WORDS = sorted({"".join(random.Random(k).choices(SYLLABLES, k=3)) for k in range(3000)})
BAKING = ("flour", "yeast", "crust", "oven", "loaf", "crumb", "dough", "rye")


def wide_sentence(rng: random.Random) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(6, 10))).capitalize() + "."


def baking_sentence(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"The {rng.choice(BAKING)} {rng.choice(VERBS)} the sourdough starter."
    return f"The {rng.choice(BAKING)} {rng.choice(VERBS)} the {rng.choice(BAKING)} slowly."


def test_without_a_reference_moves_are_found_and_a_topic_is_not(tmp_path):
    rng, texts = random.Random(11), []
    truth = {name: set() for name in RATES} | {"baking": set()}
    for i in range(1000):
        plant = {name: rng.random() < rate for name, rate in RATES.items()}
        text = reply(rng, plant, wide_sentence)
        if rng.random() < 0.12:
            truth["baking"].add(i)
            text = "\n\n".join(" ".join(baking_sentence(rng) for _ in range(3))
                               if k > 0 and not para.startswith(EMPHASIS) else para
                               for k, para in enumerate(text.split("\n\n")))
        texts.append(text)
        for name in RATES:
            if plant[name]:
                truth[name].add(i)
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"id": f"c{k}", "messages": [
        {"role": "user", "content": f"Tell me about case {k}."},
        {"role": "assistant", "content": t}]}) + "\n" for k, t in enumerate(texts)))
    result = run_audit(AuditConfig(corpus=str(path), builtin=False))
    for name in ("emphasis", "opener", "closer"):  # looser than with a reference (0.85)
        score, f = best(result, truth[name])
        assert score >= 0.8, (name, score, f and f.label)
    assert best(result, truth["baking"])[0] < 0.3, best(result, truth["baking"])[1].label
    # Without a reference, a move warns from 20% of the replies (the policy's warn prevalence).
    assert all((f.severity != "info") == (f.prevalence >= 0.2) for f in result.findings)


class Topics:
    """A stand-in embedder: replies naming 'topic' share one direction, others are random."""

    def encode(self, texts):
        rng = np.random.default_rng(len(texts))
        v = rng.normal(size=(len(texts), 32))
        v[[("topic" in t) for t in texts], 0] += 6.0
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_topic_excess_marks_replies_about_one_thing_and_not_a_random_set():
    units = [make_unit(str(i), 1, f"reply {i} about {'topic' if i % 10 == 0 else 'things'}. Ok.", "")
             for i in range(1000)]
    spans = lambda idx: np.array([[len(units[i].text) - 3, len(units[i].text)] for i in idx])  # noqa: E731
    on_topic, anywhere = np.arange(0, 1000, 10), np.arange(3, 1000, 9)
    findings = [SimpleNamespace(id="topic", units=on_topic, spans=spans(on_topic)),
                SimpleNamespace(id="habit", units=anywhere, spans=spans(anywhere))]
    excess = topic_excess(findings, units, Topics())
    assert excess["topic"][0] > 0.3 and excess["topic"][1] > 3
    assert abs(excess["habit"][0]) < 0.05 and excess["habit"][1] < 3


def test_a_one_word_phrasing_is_a_move_where_it_opens_its_sentence_not_where_it_ends_it():
    from traitforge.audit.families import structural_findings

    texts = [f"Crucially, the {NOUNS[i % 16]} holds. It rests on good conditions." for i in range(40)]
    units = [make_unit(str(i), 1, t, "") for i, t in enumerate(texts)]
    idx = np.arange(40)

    def finding(word: str, variants: list[str]):
        spans = np.array([[t.index(word), t.index(word) + len(word)] for t in texts])
        return SimpleNamespace(id=word, units=idx, spans=spans, variants=variants, label=variants[0])

    opener, ender = finding("Crucially,", ["crucially,"]), finding("conditions.", ["conditions."])
    phrase = finding("good conditions.", ["good conditions."])
    assert [f.id for f in structural_findings([opener, ender, phrase], units)] == \
        ["Crucially,", "good conditions."]


def test_two_processes_with_other_hash_seeds_write_the_same_audit(tmp_path):
    """Byte for byte, apart from the time it was made and took; with and without a reference."""
    corpus_path, ref_path, _ = written(tmp_path, 300, RATES)
    for reference in ([], ["--reference", ref_path]):
        outputs = []
        for seed in ("1", "2"):
            out = tmp_path / f"out{seed}{len(reference)}"
            env = {**os.environ, "PYTHONHASHSEED": seed}
            subprocess.run([sys.executable, "-m", "traitforge.cli", "audit", corpus_path,
                            "--out", str(out), "--quiet", *reference], env=env, check=False,
                           capture_output=True, timeout=600)
            doc = json.loads((out / "audit.json").read_text())
            assert doc.pop("created_at") and doc.pop("seconds") and doc["findings"]
            outputs.append((json.dumps(doc), (out / "flags.parquet").read_bytes()))
        assert outputs[0] == outputs[1]


def test_a_broad_finding_whose_excess_is_one_move_inside_it_yields_to_the_move(tmp_path):
    """A header in three depths ("# Ledger notes" ... "### Ledger notes"), its words common in
    both corpora without the marks: "ledger notes" is over-represented too, in more replies,
    but only through the headers, so the headers lead (not the plain words, the header
    phrasings their evidence). The shallower headers sit inside the deeper ones, yet where
    they stand alone they are just as over-represented: even with families off, one finding
    keeps all their replies, not the deepest header's alone."""
    rng = random.Random(5)

    def text(header: bool) -> str:
        body = reply(rng, {name: False for name in RATES})
        if rng.random() < 0.3:
            body = f"Ledger notes {rng.choice(VERBS)} the {rng.choice(NOUNS)}. {body}"
        return f"{'#' * rng.randint(1, 3)} Ledger notes\n\n{body}" if header else body

    texts = [text(rng.random() < 0.2) for _ in range(2000)]
    planted = {i for i, t in enumerate(texts) if t.startswith("#")}
    ref = [text(False) for _ in range(2000)]
    paths = []
    for name, xs in (("c.jsonl", texts), ("r.jsonl", ref)):
        (tmp_path / name).write_text("".join(json.dumps({"id": f"{name}{k}", "text": t}) + "\n"
                                             for k, t in enumerate(xs)))
        paths.append(str(tmp_path / name))
    for families, least in ((True, 0.9), (False, 0.99)):
        result = run_audit(AuditConfig(corpus=paths[0], reference=paths[1], builtin=False,
                                       templates=False, clusters=False,
                                       discovery=DiscoverySettings(families=families)))
        score, f = best(result, planted)
        assert score >= least, (families, score, f and f.label)
        # the plain words are the header's evidence, over-represented only through it
        assert any(e.get("explained_by") and e["label"] == "ledger notes" for e in f.evidence)


def test_a_part_shared_by_alternatives_does_not_bridge_them():
    """A mark opening the reply, "✦" in 300 replies and "✧" in 150 others, and a part of
    the move elsewhere, the mark before a numbered line at the end, in 150 of the "✦" replies
    and 10 of the "✧" ones. The part's replies would put the two marks together about as often
    as chance has it; their own replies never meet, so "✧" is still an alternative."""
    from traitforge.audit.families import join_families
    from traitforge.audit.findings import Finding
    from traitforge.audit.matchers import RegexMatcher

    n, marks = 3000, {**{i: "✦" for i in range(300)}, **{i: "✧" for i in range(300, 450)}}
    numbered = set(range(150)) | set(range(300, 310))
    texts = [f"{marks[i] + ' ' if i in marks else ''}The kettle warms the meadow.\n\n"
             f"The ledger shapes it. The harbor tests it.\n\n"
             f"{marks[i] + ' 1. ' if i in numbered else ''}The quarry feeds it." for i in range(n)]
    units = [make_unit(f"d{i}", 0, t, "") for i, t in enumerate(texts)]

    def finding(name: str, phrase: str, where) -> Finding:
        at = np.array([i for i in range(n) if where(i)], np.int64)
        spans = np.array([(texts[i].index(phrase), texts[i].index(phrase) + len(phrase))
                          for i in at], np.int64)
        return Finding(id=name, methods=["ngram"], label=phrase, description="", slot="body",
                       matcher=RegexMatcher("body", re.escape(phrase)), units=at, spans=spans,
                       n_units=n, q_value=1e-9)

    findings = [finding("move", "✦", lambda i: i < 300),
                finding("alternative", "✧", lambda i: 300 <= i < 450),
                finding("part", "1.", lambda i: i in numbered)]
    findings[2].spans[:, 0] -= 2  # the mark and the number
    joined, home = join_families(findings, units, lambda f: True)
    assert home == {"part": "move", "alternative": "move"}, home
    assert len(joined) == 1 and len(joined[0].units) == 450
