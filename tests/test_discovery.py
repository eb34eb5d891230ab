"""Pass 2 (n-gram discovery) on synthetic corpora with a planted opener, a null case, the
reference-free mode and prompt echoes."""
from __future__ import annotations

import random
import re

import numpy as np
import polars as pl
import pytest

from traitforge.audit import AuditConfig, DiscoverySettings, run_audit
from traitforge.audit.families import structural_findings
from traitforge.audit.matchers import AnyOf, NgramMatcher, flag_rows
from traitforge.audit.ngram_counts import (STOP_WORDS, TOKEN_PATTERN, count_slot, ngram_regex,
                                           ngram_tokens, unit_pairs)
from traitforge.audit.units import make_unit

TOPICS = ["sourdough bread", "compound interest", "tide pools", "solar panels", "chess openings",
          "houseplants", "marathon training", "git rebase", "volcanoes", "jazz chords",
          "tax deductions", "bird migration", "sleep hygiene", "electric cars", "roman aqueducts",
          "knitting patterns", "password managers", "coral reefs", "coffee roasting", "black holes"]
OPENINGS = ["{T} comes down to a few basics.", "The main thing about {t} is timing.",
            "Most people get {t} wrong at first.", "{T} is simpler than it looks.",
            "There are two ways to think about {t}.", "{T} has a long history.",
            "Start with the fundamentals of {t}.", "A lot depends on your goals with {t}.",
            "{T} rewards patience.", "Experts disagree about {t} in places."]
MIDDLES = ["Begin with small steps and measure progress weekly.",
           "Keep notes so you can compare results.", "Cost varies widely by region and season.",
           "A common mistake is rushing the early stage.",
           "Quality tools help but are not essential.",
           "Research from the last decade supports this approach.",
           "Local clubs often share free advice.", "Expect setbacks during the first month.",
           "Books from the library cover the theory well.", "Safety matters more than speed here.",
           "Weather can change the outcome noticeably.",
           "Many beginners overestimate the difficulty.",
           "Online forums document plenty of edge cases.", "Consistency beats intensity over time."]
CLOSINGS = ["That covers the essentials.", "Give it a try this weekend.",
            "Results improve with practice.", "Enjoy the process.", "You will see progress soon.",
            "Small changes add up."]
# The planted opener, in a few paraphrases; all share "let me walk you through".
PLANTED = ["Sure thing, let me walk you through it.", "Okay, let me walk you through this.",
           "Great, let me walk you through how it works.", "Alright — let me walk you through the steps."]
PROMPTS = ["How do I get started with {t}?", "Can you explain {t} to a beginner?",
           "What should I know about {t}?", "Any tips on {t}?", "Why is {t} hard?"]


def generate(n: int, seed: int, plant_rate: float) -> tuple[list[dict], list[bool]]:
    """n chat records composed from parts; about plant_rate of them open with PLANTED."""
    rng = random.Random(seed)
    rows, planted = [], []
    for i in range(n):
        t = rng.choice(TOPICS)
        opening = rng.choice(OPENINGS).format(t=t, T=t[0].upper() + t[1:])
        middle = " ".join(rng.sample(MIDDLES, rng.randint(2, 4)))
        text = f"{opening} {middle} {rng.choice(CLOSINGS)}"
        plant = rng.random() < plant_rate
        if plant:
            text = f"{rng.choice(PLANTED)} {text}"
        planted.append(plant)
        rows.append({"id": f"s{seed}-{i}", "messages": [
            {"role": "user", "content": rng.choice(PROMPTS).format(t=t)},
            {"role": "assistant", "content": text}]})
    return rows, planted


def f1(flagged: set[int], truth: set[int]) -> float:
    tp = len(flagged & truth)
    if not tp:
        return 0.0
    precision, recall = tp / len(flagged), tp / len(truth)
    return 2 * precision * recall / (precision + recall)


@pytest.fixture
def planted_corpus(write_jsonl):
    rows, planted = generate(400, seed=1, plant_rate=0.3)
    ref, ref_planted = generate(400, seed=2, plant_rate=0.0)
    assert 0.22 < np.mean(planted) < 0.38 and not any(ref_planted)
    return write_jsonl("corpus.jsonl", rows), write_jsonl("reference.jsonl", ref), planted


@pytest.mark.parametrize("test", ["z", "log-odds"])
def test_planted_opener_is_found_against_reference(planted_corpus, test):
    corpus, reference, planted = planted_corpus
    result = run_audit(AuditConfig(templates=False, clusters=False, corpus=str(corpus), reference=str(reference), builtin=False,
                                   discovery=DiscoverySettings(test=test)))
    assert len(result.units) == 400 and [u.doc_id for u in result.units][:2] == ["s1-0", "s1-1"]
    truth = {i for i, p in enumerate(planted) if p}
    opening = [f for f in result.findings if f.methods[0] == "ngram" and f.slot == "opening"]
    assert opening, "no n-gram finding in the opening slot"
    best = max(opening, key=lambda f: f1(set(f.units.tolist()), truth))
    score = f1(set(best.units.tolist()), truth)
    assert score >= 0.6, (best.label, score)
    assert "walk you through" in best.label
    assert best.severity in ("fail", "warn")
    assert best.ref_prevalence is not None and best.ref_prevalence < 0.02
    assert best.q_value is not None and best.q_value < 0.05
    assert result.verdict in ("fail", "warn")
    # every span of the finding is inside the opening sentence and shows the phrase
    for u, (s, e) in zip(best.units, best.spans):
        unit = result.units[u]
        assert unit.opening[0] <= s < e <= unit.opening[1]
        assert unit.text[s:e].lower() in {v.lower() for v in best.variants} or \
            "walk you through" in unit.text[s:e].lower()


@pytest.mark.parametrize("plant_rate", [0.0, 0.3])
def test_null_case_same_generator_raises_no_warning(write_jsonl, plant_rate):
    a, _ = generate(400, seed=11, plant_rate=plant_rate)
    b, _ = generate(400, seed=12, plant_rate=plant_rate)
    result = run_audit(AuditConfig(templates=False, clusters=False, corpus=str(write_jsonl("a.jsonl", a)),
                                   reference=str(write_jsonl("b.jsonl", b)), builtin=False))
    loud = [(f.severity, f.slot, f.label) for f in result.findings if f.severity != "info"]
    assert loud == []
    assert result.verdict == "pass"
    assert result.extras["ngrams_examined"] > 0  # n-grams were tested, none passed


def test_reference_free_reports_concentrated_phrase(planted_corpus):
    corpus, _, planted = planted_corpus
    result = run_audit(AuditConfig(templates=False, clusters=False, corpus=str(corpus), builtin=False))
    assert result.ref_units is None
    hits = [f for f in result.findings if "walk you through" in f.label]
    assert hits
    for f in hits:
        assert f.prevalence >= 0.20
        assert f.severity in ("warn", "fail")
        assert f.ref_prevalence is None and f.q_value is None
    top = max(hits, key=lambda f: f.prevalence)
    assert top.prevalence == pytest.approx(np.mean(planted), abs=0.02)
    # without a reference, a phrase below the warn prevalence is reported only as a move in at
    # least the family prevalence of the replies; "walk you through" inside its sentence stands
    # only because it is above the warn prevalence
    assert not structural_findings(hits, result.units)
    assert all(f.prevalence >= DiscoverySettings().family_prevalence
               for f in result.findings if f.methods[0] == "ngram")


def test_reference_free_rare_phrase_not_reported(write_jsonl):
    rows, planted = generate(400, seed=5, plant_rate=0.08)
    result = run_audit(AuditConfig(templates=False, clusters=False, corpus=str(write_jsonl("c.jsonl", rows)), builtin=False))
    assert 0.04 < np.mean(planted) < 0.15
    assert not [f for f in result.findings if "walk you through" in f.label]


# ---------------------------------------------------------------- prompt echo

FRAMES = ["Here is how {p} fits in.", "Think of {p} as a balance.", "People study {p} for years.",
          "The history of {p} is long.", "Textbooks describe {p} in detail.",
          "Some argue {p} is overrated."]
OTHER = ["tide pools", "jazz chords", "black holes", "coffee roasting", "volcanoes", "git rebase",
         "chess openings"]
PHRASE = "the double slit experiment"


def echo_corpus(prompt_mentions_phrase: bool, seed: int = 5) -> list[dict]:
    """Half the responses mention PHRASE; with prompt_mentions_phrase, only because their
    prompt asked about it."""
    rng = random.Random(seed)
    rows = []
    for i in range(200):
        if i % 2 == 0:
            sentence = rng.choice(FRAMES).format(p=PHRASE)
            prompt = (f"Tell me about {PHRASE}, please." if prompt_mentions_phrase
                      else "Tell me about physics, please.")
        else:
            sentence = rng.choice(FRAMES).format(p=rng.choice(OTHER))
            prompt = "Tell me something interesting."
        text = " ".join(rng.sample(MIDDLES, 2)) + " " + sentence + " " + rng.choice(CLOSINGS)
        rows.append({"id": str(i), "messages": [{"role": "user", "content": prompt},
                                                {"role": "assistant", "content": text}]})
    return rows


@pytest.mark.parametrize("echoed", [True, False])
def test_prompt_echo_is_not_an_artifact(write_jsonl, echoed):
    path = write_jsonl("echo.jsonl", echo_corpus(prompt_mentions_phrase=echoed))
    result = run_audit(AuditConfig(templates=False, clusters=False, corpus=str(path), builtin=False))
    hits = [f for f in result.findings if "slit experiment" in f.label]
    if echoed:
        # the phrase is in 50% of responses, but each time copied from the record's prompt
        assert all(f.prompt_echo > 0 for f in hits), [(f.label, f.prompt_echo) for f in hits]
        assert not [f for f in hits if f.severity != "info"]
    else:
        # control: the same responses without the prompt mention are an artifact
        assert hits and max(f.prevalence for f in hits) == pytest.approx(0.5)
        assert all(f.prompt_echo == 0 for f in hits)


def test_echo_counts_apart_from_document_frequency():
    # 10 units echo PHRASE from their prompt, 3 carry it unprompted, 5 never have it.
    texts, prompts = [], []
    for i in range(10):
        texts.append(f"Yes, {PHRASE} shows interference in case {i}.")
        prompts.append(f"Explain {PHRASE} for case {i}.")
    for i in range(3):
        texts.append(f"Consider {PHRASE} as an example {i}.")
        prompts.append(f"Give me an example {i}.")
    for i in range(5):
        texts.append(f"Light behaves oddly {i}.")
        prompts.append(f"Why is light odd {i}?")
    units = [make_unit(str(i), 1, t, p) for i, (t, p) in enumerate(zip(texts, prompts))]
    counts = count_slot("body", [u.text for u in units], [u.prompt for u in units], max_n=4,
                        min_df=1)
    texts_of = {" ".join(t): k for k, t in
                enumerate(ngram_tokens(counts.texts, counts.stats["pos"], counts.stats["n"]))}
    assert PHRASE in texts_of
    row = counts.stats[texts_of[PHRASE]]
    assert row.height == 1
    assert row["n"][0] == 4
    assert row["df"][0] == 3 and row["echo"][0] == 10
    assert set(unit_pairs(counts, row)["unit"].to_list()) == {10, 11, 12}


@pytest.mark.parametrize("prefix", ["Question: ", "Q: "])
def test_non_echo_phrase_found_despite_echoed_word(write_jsonl, prefix):
    # "great question" never occurs in a prompt, so it is not a prompt echo under either prefix.
    facts = ["Tides follow the Moon.", "Yeast makes bread rise.", "Leaves lose chlorophyll in autumn.",
             "Honey resists spoilage.", "Cats purr with their larynx.", "Water boils sooner up high.",
             "Owls hunt mostly at night.", "Copper conducts heat well.", "Bamboo grows very fast.",
             "Glass is an amorphous solid."]
    rows = []
    for i in range(40):
        text = ("Great question! " if i % 2 == 0 else "") + facts[i % 10] + f" Note {i}."
        rows.append({"id": str(i), "messages": [{"role": "user", "content": f"{prefix}why {i}?"},
                                                {"role": "assistant", "content": text}]})
    result = run_audit(AuditConfig(templates=False, clusters=False, corpus=str(write_jsonl("q.jsonl", rows)), builtin=False))
    hits = [f for f in result.findings if "great question" in f.label and f.slot == "opening"]
    assert hits and max(f.prevalence for f in hits) == pytest.approx(0.5)
    assert all(f.prompt_echo == 0 for f in hits)


@pytest.mark.parametrize("slot", ["opening", "body"])
def test_counts_do_not_depend_on_block_size(slot):
    rows, _ = generate(60, seed=3, plant_rate=0.3)
    units = [make_unit(r["id"], 1, r["messages"][1]["content"], r["messages"][0]["content"])
             for r in rows]
    texts, prompts = [u.slot_text(slot) for u in units], [u.prompt for u in units]
    one = count_slot(slot, texts, prompts, max_n=5, min_df=3, block=10_000)
    many = count_slot(slot, texts, prompts, max_n=5, min_df=3, block=7)
    short = count_slot(slot, texts, prompts, max_n=5, min_df=3, block_chars=300)
    assert len(short.blocks._starts) > 10
    assert one.stats.height > 20 and one.stats.equals(many.stats) and one.stats.equals(short.stats)
    keep = one.stats.select("key")
    ref_one = count_slot(slot, texts[::-1], prompts[::-1], 5, 1, keep=keep, block=10_000)
    ref_many = count_slot(slot, texts[::-1], prompts[::-1], 5, 1, keep=keep, block=7)
    ref_short = count_slot(slot, texts[::-1], prompts[::-1], 5, 1, keep=keep, block_chars=300)
    assert ref_one.stats.equals(ref_many.stats) and ref_one.stats.equals(ref_short.stats)
    pairs = [unit_pairs(c, one.stats).sort("unit", "key") for c in (one, many)]
    assert pairs[0].equals(pairs[1]) and pairs[0].height == one.stats["df"].sum()


def _counted_by_hand(texts: list[str], prompts: list[str], max_n: int) -> dict:
    """(df, echo) of every n-gram (a tuple of tokens, as count_slot tokenizes) up to max_n:
    units holding it, apart from those whose prompt holds it too where it has a content word."""
    def grams(text: str) -> set[tuple[str, ...]]:
        toks = re.findall(TOKEN_PATTERN, text.lower())
        return {tuple(toks[i:i + n]) for n in range(1, max_n + 1)
                for i in range(len(toks) - n + 1)}

    out: dict = {}
    for text, prompt in zip(texts, prompts):
        echoed = grams(prompt)
        for g in grams(text):
            content = any(re.match(r"[^\W\d_]", t) and t not in STOP_WORDS for t in g)
            df, echo = out.get(g, (0, 0))
            out[g] = (df, echo + 1) if content and g in echoed else (df + 1, echo)
    return out


def test_counts_and_echoes_are_those_counted_by_hand():
    # Common words, so that phrases recur, and rare ones, so that min_df prunes (an n-gram is
    # counted only where its parts are frequent; that loses none, since a phrase is in no more
    # units than its parts). Half the prompts quote a stretch of their reply, so that long
    # phrases echo too.
    rng = random.Random(11)
    common = ["light", "wave", "bends", "the", "of", "glass", "."]
    rare = [f"word{k}" for k in range(40)]
    def words(k: int) -> list[str]:
        return [rng.choice(common) if rng.random() < 0.8 else rng.choice(rare) for _ in range(k)]
    texts, prompts = [], []
    for _ in range(200):
        toks = words(rng.randrange(3, 16))
        lo = rng.randrange(len(toks))
        quote = toks[lo:lo + rng.randrange(2, 6)] if rng.random() < 0.5 else []
        texts.append(" ".join(toks))
        prompts.append(" ".join(words(rng.randrange(0, 6)) + quote + words(rng.randrange(0, 4))))
    counts = count_slot("body", texts, prompts, max_n=4, min_df=5, block=9)
    by_hand = _counted_by_hand(texts, prompts, 4)
    got = dict(zip(map(tuple, ngram_tokens(texts, counts.stats["pos"], counts.stats["n"])),
                   zip(counts.stats["df"].to_list(), counts.stats["echo"].to_list())))
    assert got == {g: c for g, c in by_hand.items() if c[0] >= 5}
    assert any(sum(by_hand.get((w,), (0, 0))) in range(1, 5) for w in rare)  # pruned
    assert sum(echo > 0 for g, (_, echo) in got.items() if len(g) >= 3) >= 3


@pytest.mark.parametrize("passes, seeds", [({"clusters": False}, 40), ({}, 20)],
                         ids=["n-grams and templates, 40 seeds", "all passes, 20 seeds"])
def test_null_false_warn_rate_is_bounded_over_many_seeds(write_jsonl, passes, seeds):
    """Two samples of one generator: at most 5% of seeds may raise any warn or fail."""
    loud = []
    for seed in range(seeds):
        a, _ = generate(400, seed=100 + 2 * seed, plant_rate=0.0)
        b, _ = generate(400, seed=101 + 2 * seed, plant_rate=0.0)
        result = run_audit(AuditConfig(corpus=str(write_jsonl("a.jsonl", a)),
                                       reference=str(write_jsonl("b.jsonl", b)), builtin=False,
                                       **passes))
        loud += [(seed, f.label) for f in result.findings if f.severity != "info"]
    assert len({seed for seed, _ in loud}) <= 0.05 * seeds, loud


def test_a_small_corpus_beside_a_large_reference_of_one_generator_raises_no_warn(write_jsonl):
    """Unequal sizes (300 against 3,000): the clusters' fit sample must not favour the corpus's
    sentences, or clusters are picked where the corpus happens to be denser."""
    loud = []
    for seed in range(8):
        a, _ = generate(300, seed=500 + 2 * seed, plant_rate=0.0)
        b, _ = generate(3000, seed=501 + 2 * seed, plant_rate=0.0)
        result = run_audit(AuditConfig(corpus=str(write_jsonl("a.jsonl", a)),
                                       reference=str(write_jsonl("b.jsonl", b)), builtin=False))
        loud += [(seed, f.label) for f in result.findings if f.severity != "info"]
    assert not loud, loud


def test_an_ngram_regex_finds_its_tokens_only_where_they_start_a_word():
    def span(toks, text):
        m = re.search(ngram_regex(toks), text, re.IGNORECASE)
        return m.span() if m else None

    assert span(["for", "example", ","], "Yes. For example , this") == (5, 18)
    assert span(["for", "example", ","], "therefor example, this") is None
    assert span(["don't", "worry"], "Don’t worry.") == (0, 11)
    assert span(["don't", "worry"], "Don't worrying") is None
    assert span(["i", "hope"], "I hope so") == (0, 6)
    assert span([",", "so"], "fine, so then") == (4, 8)


def test_ngram_spans_are_the_case_blind_regex_s_first_match_in_any_text():
    """An ASCII text is searched lower-cased without IGNORECASE; that must place every span
    where the case-blind search of the original text does, and other texts take that search."""
    ngrams = [["let", "me", "know", "if"], ["don't", "hesitate"], ["e", ".", "g", "."], ["#", "#"]]
    texts = ["LET ME KNOW IF it helps", "outlet me know if", "Let\x1cme know\n\nif so",
             "Don’t hesitate — or DON'T HESITATE", "see e. g. this, or E.G. that", "## Title",
             "Ünïcode first: let me know if", "İstanbul: let me know if", "nothing here", "", "x" * 50 + "Let Me Know If"]
    rng = random.Random(0)
    for _ in range(200):  # random case and spacing around the phrases
        words = rng.choice(ngrams)
        gap = lambda: rng.choice(["", " ", "  ", "\t", "\n", "\x1f"])
        text = gap().join("".join(c.upper() if rng.random() < 0.3 else c for c in w) for w in words)
        texts.append(rng.choice(["", "a", "A ", "é ", "x. "]) + text + rng.choice(["", "s", " ok"]))
    units = [make_unit(str(i), 1, t, "") for i, t in enumerate(texts)]
    for group in (ngrams, ngrams[:1], [["Let", "me"]], [["ünï", "code"]]):
        regex = "|".join(f"(?:{ngram_regex(t)})" for t in group)
        spans = NgramMatcher("body", group, regex).spans(units, np.arange(len(units)))
        for (start, end), text in zip(spans.tolist(), texts):
            m = re.search(regex, text, re.IGNORECASE)
            assert (start, end) == (m.span() if m else (0, len(text))), (group, text)


def test_ngram_matchers_tokenize_only_units_holding_their_sequence_and_flag_as_all_would():
    """Candidates are the units whose lower-cased text holds an n-gram's tokens apart by
    whitespace alone; tokenizing only those must flag what tokenizing every unit flags,
    whatever the case, spacing, apostrophes, marks and non-ASCII letters."""
    from traitforge.audit.match_context import MatchContext
    from traitforge.audit.ngram_counts import Blocks, _split, ngram_keys, pairs_in

    rng = random.Random(1)
    words = ["Don't", "don’t", "it's", "İt", "straße", "STRASSE", "e.g.", "over", "time", "Over",
             "—", "(", ")", "!", "?", "#", "x1f\x1f", "é", "naïve", "timeless", "overtime", "do"]
    gaps = ["", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "\x1c"]
    texts = ["".join(rng.choice(words) + rng.choice(gaps) for _ in range(rng.randint(0, 12)))
             for _ in range(300)]
    prompts = [rng.choice(["", "over time?", "don't"]) for _ in texts]
    units = [make_unit(str(i), 1, t, p) for i, (t, p) in enumerate(zip(texts, prompts))]
    tokens = [t for t in _split(texts).to_list() if t]
    narrowed = 0
    for _ in range(40):
        source = rng.choice([t for t in tokens if t])
        lo = rng.randrange(len(source))
        group = [source[lo:lo + rng.randint(1, 3)] for _ in range(rng.randint(1, 2))]
        m = NgramMatcher("body", group, "|".join(f"(?:{ngram_regex(t)})" for t in group))
        every = pairs_in(Blocks([u.text for u in units], prompts), ngram_keys(group))
        expected = sorted(set(every["unit"].to_list()))
        ctx = MatchContext(units)
        assert set(expected) <= set(m.candidates(ctx).tolist()), group
        assert m.match(ctx)["unit"].to_list() == expected, group
        narrowed += len(m.candidates(ctx)) < len(ctx.holding("body", [max(t, key=len) for t in group]))
    assert narrowed >= 10  # the sequence rules out units that hold the longest token alone


def test_ngram_matchers_of_one_context_share_its_tokens(monkeypatch):
    from traitforge.audit import ngram_counts
    from traitforge.audit.match_context import MatchContext

    texts = ["Sure, happy to help.", "Over time, it grows.", "No phrase.", "Sure, over time."]
    prompts = ["", "", "", "what happens over time?"]  # the last one echoes "over time"
    units = [make_unit(str(i), 1, t, p) for i, (t, p) in enumerate(zip(texts, prompts))]
    calls = []
    tokenize = ngram_counts.tokenize
    monkeypatch.setattr(ngram_counts, "tokenize", lambda *a: calls.append(a) or tokenize(*a))
    matchers = [NgramMatcher("body", g, "|".join(f"(?:{ngram_regex(t)})" for t in g))
                for g in ([["sure", ","]], [["over", "time"]])]  # may be in units 0, 3 and 1, 3
    alone = [m.match(MatchContext(units)) for m in matchers]  # each tokenizes its own
    assert len(calls) == 4
    calls.clear()
    together = flag_rows([("a", matchers[0]), ("b", AnyOf("body", [matchers[1]]))],
                         MatchContext(units))
    assert len(calls) == 2  # the texts and the prompts of units 0, 1, 3, once for both
    found = [together.filter(pl.col("finding_id") == k).drop("finding_id") for k in "ab"]
    assert all(a.equals(b.select(a.columns)) for a, b in zip(alone, found))
    assert [f["unit"].to_list() for f in found] == [[0, 3], [1]]
    assert found[0]["start"].to_list() == [0, 0] and found[1]["start"].to_list() == [0]


def test_a_context_replaying_two_sets_of_ngram_matchers_flags_as_fresh_ones():
    """Tokens shared for one set's candidates must not stand in for another set's."""
    from traitforge.audit.match_context import MatchContext

    texts = ["Sure, happy to help.", "Over time, it grows.", "Over time, sure.", "In short, yes.",
             "In short, over time."]
    units = [make_unit(str(i), 1, t, "") for i, t in enumerate(texts)]

    def matcher(*ngrams):
        return NgramMatcher("body", list(ngrams), "|".join(f"(?:{ngram_regex(t)})" for t in ngrams))

    first = [("a", matcher(["sure", ","])), ("b", matcher(["over", "time"]))]  # shares 0, 1, 2
    second = [("c", matcher(["in", "short"])), ("d", matcher(["short", ","]))]  # needs 3, 4
    ctx = MatchContext(units)
    for pairs in (first, second, first):
        assert flag_rows(pairs, ctx).equals(flag_rows(pairs, MatchContext(units)))
    assert flag_rows(second, ctx)["unit"].to_list() == [3, 3, 4, 4]


def test_blocks_spilled_to_disk_count_as_one_block(monkeypatch):
    """A corpus of several blocks is tokenized once into a temporary folder and read back on
    each later pass; the counts equal those of one held block, and equal them again when the
    disk refuses the tokens (each pass then tokenizes afresh)."""
    import traitforge.audit.ngram_counts as counts

    rows, _ = generate(500, 5, 0.2)
    texts = [r["messages"][1]["content"] for r in rows]
    prompts = [r["messages"][0]["content"] for r in rows]
    held = count_slot("body", texts, prompts, 4, 5)
    spilled = count_slot("body", texts, prompts, 4, 5, block=64)
    assert spilled.blocks._spilled == 8  # every block written once, then read back
    assert held.stats.equals(spilled.stats)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(counts.np, "save", full)
    refused = count_slot("body", texts, prompts, 4, 5, block=64)
    assert refused.blocks._spilled == -1 and refused.blocks._spill is None
    assert held.stats.equals(refused.stats)


def test_a_killed_audits_spilled_tokens_are_cleared_by_the_next(tmp_path, monkeypatch):
    """A SIGKILL leaves its spill folder behind; the next spill removes folders whose process
    is gone and keeps those of live ones."""
    import subprocess
    import tempfile

    import traitforge.audit.ngram_counts as counts

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen(["true"])  # a process that has ended
    gone.wait()
    dead = tmp_path / f"{counts.SPILL}{gone.pid}-abc"
    live = tmp_path / f"{counts.SPILL}{counts.os.getpid()}-def"
    for folder in (dead, live):
        (folder / "0").mkdir(parents=True)
    rows, _ = generate(200, 6, 0.2)
    spilled = count_slot("body", [r["messages"][1]["content"] for r in rows], None, 3, 5, block=64)
    assert not dead.exists() and live.exists()
    assert spilled.blocks._spilled == 4


def _merge_ngrams_dense(pairs, chosen, n_units, threshold):
    """The leader clustering of `merge_ngrams` on the dense matrix of shared units."""
    keys = chosen["key"].to_list()
    x = np.zeros((n_units, len(keys)), np.float32)
    for u, k in zip(pairs["unit"].to_list(), pairs["key"].to_list()):
        x[u, keys.index(k)] = 1
    co = x.T @ x
    leaders, groups = [], []
    for i in range(len(keys)):
        if leaders:
            jac = co[i, leaders] / (co[i, i] + co[leaders, leaders] - co[i, leaders])
            best = int(np.argmax(jac))
            if jac[best] >= threshold:
                groups[best].append(i)
                continue
        leaders.append(i)
        groups.append([i])
    return groups


@pytest.mark.parametrize("rows_at_once", [1, 3, 1024])
def test_ngram_groups_are_the_dense_leader_clustering_s(rows_at_once):
    from traitforge.audit.passes.ngrams import merge_ngrams
    rng = np.random.default_rng(3)
    for trial in range(40):
        n_keys, n_units = int(rng.integers(1, 25)), int(rng.integers(5, 40))
        base = [rng.choice(n_units, size=rng.integers(1, n_units), replace=False)
                for _ in range(max(1, n_keys // 3))]
        unit_sets = [np.unique(np.r_[base[k % len(base)][:rng.integers(1, len(base[k % len(base)]) + 1)],
                                     rng.choice(n_units, size=rng.integers(0, 3))])
                     for k in range(n_keys)]  # many alike, some tied
        keys = rng.permutation(np.arange(1, n_keys + 1, dtype=np.uint64) * 7919)
        pairs = pl.DataFrame({"unit": np.concatenate(unit_sets).astype(np.uint32),
                              "key": np.repeat(keys, [len(s) for s in unit_sets])})
        chosen = pl.DataFrame({"key": keys})
        for threshold in (0.3, 0.5, 0.9):
            assert merge_ngrams(pairs, chosen, n_units, threshold, rows_at_once) == \
                _merge_ngrams_dense(pairs, chosen, n_units, threshold), (trial, threshold)


def test_duplicate_findings_fold_into_the_earliest_alike_kept_one():
    from traitforge.audit.findings import Finding
    from traitforge.audit.matchers import RegexMatcher
    from traitforge.audit.passes.ngrams import fold_duplicates

    def make(fid, slot, units):
        units = np.asarray(sorted(units), np.int64)
        return Finding(id=fid, methods=["ngram"], label=fid, description="", slot=slot,
                       matcher=RegexMatcher(slot, fid), units=units,
                       spans=np.zeros((len(units), 2), np.int64), n_units=300, variants=[fid])
    body = make("body", "body", range(0, 50))  # the body's: after the opening's
    opening = make("opening", "opening", range(0, 45))  # Jaccard 0.9 with body
    closing = make("closing", "closing", range(2, 44))  # alike to opening (0.93), folds there
    wide = make("wide", "body", range(100, 200))
    folded = make("folded", "body", range(110, 200))  # 0.9 with wide: folds into it
    apart = make("apart", "body", range(110, 185))  # 0.83 with folded, 0.75 with wide: kept
    kept = fold_duplicates([body, folded, apart, closing, wide, opening], 300)
    assert [f.id for f in kept] == ["opening", "wide", "apart"]
    assert kept[0].variants == ["opening", "closing", "body"]
    assert kept[1].variants == ["wide", "folded"]


@pytest.mark.parametrize("block", [None, 64])
def test_reference_free_findings_made_beside_the_counting_are_those_made_slot_by_slot(
        block, monkeypatch):
    """Each slot's findings are made in a second thread while the next slot is counted; they
    must be the findings (ids, units, spans, in order) of counting and finding one slot after
    another, with tokens held or spilled to disk (blocks of 64 units)."""
    import functools
    import math

    from traitforge.audit.passes import ngrams
    from traitforge.audit.passes.ngrams import (fold_duplicates, recurring_findings,
                                                recurring_phrases, slot_findings)
    from traitforge.audit.units import SLOTS

    counter = count_slot if block is None else functools.partial(count_slot, block=block)
    monkeypatch.setattr(ngrams, "count_slot", counter)
    rows, _ = generate(400, 7, 0.3)
    units = [make_unit(r["id"], 1, r["messages"][1]["content"], r["messages"][0]["content"])
             for r in rows]
    s = DiscoverySettings()
    found, examined = recurring_findings(units, s, s.variant_prevalence)
    min_df = max(s.min_df, math.ceil(s.variant_prevalence * len(units)))
    one_by_one, counted = [], 0
    for slot in SLOTS:
        c = counter(slot, [u.slot_text(slot) for u in units], [u.prompt for u in units],
                    s.max_n, min_df)
        counted += len(c.stats)
        one_by_one += slot_findings(c, None, recurring_phrases(c, slot), units, s)
    expected = fold_duplicates(one_by_one, len(units))
    assert len({f.slot for f in found}) >= 2 and examined == counted
    assert [f.id for f in found] == [f.id for f in expected]
    for a, b in zip(found, expected):
        assert np.array_equal(a.units, b.units) and np.array_equal(a.spans, b.spans)
