"""Moves that sit inside a reply: a sentence in the middle of the body and a clause glued onto
the reply's own first sentence are found by the template pass, alone and with the others, and
its findings replay on new text."""
from __future__ import annotations

import random

import pytest

from traitforge.audit import AuditConfig, run_audit
from traitforge.audit.sentences import edge_sentences, sentence_spans
from traitforge.audit.units import SENTENCE_END, make_unit

NOUNS = ("harbor", "ledger", "pepper", "violin", "glacier", "tunnel", "orchard", "compass",
         "lantern", "saddle", "quarry", "meadow", "anchor", "kettle", "beacon", "canyon")
VERBS = ("shapes", "follows", "outlasts", "resembles", "feeds", "shelters", "warms", "tests")
ASIDES = tuple(f"Here's the {a} {b}." for a in ("key", "real", "main", "hard")
               for b in ("point", "catch", "issue", "question"))  # one frame, varied words
CANDOUR = tuple(f"To be {w}" for w in ("honest", "frank", "blunt", "candid", "fair"))


def body(rng: random.Random, k: int) -> list[str]:
    return [f"The {rng.choice(NOUNS)} {rng.choice(VERBS)} the {rng.choice(NOUNS)} "
            f"{rng.choice(['today', 'slowly', 'in spring', 'at night', 'again'])}."
            for _ in range(k)]


def corpus(n: int, seed: int, aside: float, candour: float) -> tuple[list[str], set, set]:
    rng, texts, asides, candours = random.Random(seed), [], set(), set()
    for i in range(n):
        sents = body(rng, rng.randint(7, 11))
        if rng.random() < aside:
            sents.insert(len(sents) // 2, rng.choice(ASIDES))
            asides.add(i)
        if rng.random() < candour:
            first = sents[0]
            sents[0] = f"{rng.choice(CANDOUR)}, {first[0].lower()}{first[1:]}"
            candours.add(i)
        texts.append(" ".join(sents))
    return texts, asides, candours


def f1(flagged: set, truth: set) -> float:
    return 2 * len(flagged & truth) / (len(flagged) + len(truth)) if flagged or truth else 1.0


@pytest.fixture
def audited(chat, write_jsonl):
    def run(**passes):
        texts, asides, candours = corpus(600, 1, 0.25, 0.2)
        ref, _, _ = corpus(600, 2, 0.0, 0.0)
        rows = lambda xs, tag: [chat(f"Tell me about {tag}{k}.", t, id=f"{tag}{k}")  # noqa: E731
                                for k, t in enumerate(xs)]
        result = run_audit(AuditConfig(corpus=str(write_jsonl("c.jsonl", rows(texts, "c"))),
                                       reference=str(write_jsonl("r.jsonl", rows(ref, "r"))),
                                       builtin=False, **passes))
        return result, asides, candours
    return run


@pytest.mark.parametrize("passes", [{"clusters": False}, {}], ids=["templates alone", "all passes"])
def test_a_mid_body_aside_and_a_glued_clause_are_each_one_finding(audited, passes):
    result, asides, candours = audited(**passes)
    loud = [f for f in result.findings if f.severity != "info"]
    best = {name: max(((f1(set(f.units.tolist()), truth), f) for f in loud),
                      key=lambda x: x[0], default=(0.0, None))
            for name, truth in (("aside", asides), ("candour", candours))}
    for name, (score, f) in best.items():
        assert score >= 0.9, (name, score, f and f.label)
        # A template family at the move's own position (n-grams alone find the literal words).
        assert f.slot == ("middle" if name == "aside" else "clause") and "template" in f.methods
        assert ("here's the" if name == "aside" else "to be") in f.label.lower(), f.label
        assert abs(f.prevalence - len(asides if name == "aside" else candours) / 600) < 0.03


def test_sentences_keep_their_positions():
    text = "To be honest, the tide turns. It helps. Here's the thing. It floats. Bye now."
    rows = edge_sentences([make_unit("a", 1, text, "")], lead=1, tail=1, middle=True,
                          clauses=True).rows(named=True)
    by_slot = {}
    for r in rows:
        by_slot.setdefault(r["slot"], []).append((r["pos"], r["text"]))
    assert by_slot["opening"] == [(0, "To be honest, the tide turns.")]
    assert by_slot["closing"] == [(0, "Bye now.")]
    assert [t for _, t in by_slot["middle"]] == ["It helps.", "Here's the thing.", "It floats."]
    assert by_slot["clause"] == [(0, "To be honest")]


def _split_plainly(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The sentences of text[start:end] as SENTENCE_END alone splits them."""
    out = []
    for m in SENTENCE_END.finditer(text, start, end):
        if m.start() > start:
            out.append((start, m.start()))
        start = m.end()
    return out + ([(start, end)] if end > start else [])


def test_sentence_spans_split_any_stretch_as_sentence_end_does():
    rng = random.Random(7)
    pieces = ["Yes", "no", ".", "!", "?", "?!", "...", ")", "\"", "’", "**", "_", " ", "  ",
              "\n", " \n\n ", "\t", "e.g.", "3.5", "é", "\x1c"]
    checked = fast = 0
    for _ in range(400):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
        for _ in range(6):
            start = rng.randrange(len(text) + 1)
            end = rng.randrange(start, len(text) + 1)
            assert sentence_spans(text, start, end) == _split_plainly(text, start, end), \
                (text, start, end)
            checked += 1
            fast += "\n" not in text[start:end]
    assert fast > checked / 4  # both ways of splitting were tried
    assert all(sentence_spans("a. b", lo, hi) == _split_plainly("a. b", lo, hi)
               for lo, hi in [(4, 4), (5, 5), (6, 8)])  # at the end and past it
